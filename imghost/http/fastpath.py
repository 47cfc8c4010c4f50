"""Image GETs straight to their handler, around Starlette's router and middleware stack.

Serving images is most of the traffic, and the per-request work of routing and exception
middleware costs as much as the rest of a cached 100 kB GET. A failure is answered here too,
by the app's own `failure_response`: handing it to the full app would run the handler again
(another lookup of an unknown id, another try of a failing store). Unlike Starlette, which
hands a bug's exception on to the server after answering it, so that it is logged twice, the
fast path logs it once and stops there. Paths that are no image's key go to the full app.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from imghost.http.errors import failure_response
from imghost.http.images import serve_key
from imghost.store import keys


class ImageFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _image_key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app
        response = await _answer(Request(scope, receive), key)
        await response(scope, receive, send)


async def _answer(request: Request, key: keys.ImageKey) -> Response:
    try:
        return await serve_key(request, key)
    except Exception as exc:
        return failure_response(request, exc)


def _image_key(scope: Scope) -> keys.ImageKey | None:
    """The key of the image a request asks for; None for other requests, left to the app."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        return None
    try:
        return keys.parse(scope["path"].removeprefix("/"))
    except keys.InvalidKey:
        return None
