"""Image GETs straight to their handler, around Starlette's router and middleware stack.

Serving images is most of the traffic, and the per-request work of routing and exception
middleware costs as much as the rest of a cached 100 kB GET. Anything that fails here is
handed to the full app, which answers it with the proper envelope.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from imghost.http.images import serve_key
from imghost.store import keys


class ImageFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _image_key(scope)
        if key is not None:
            scope["app"] = self.app
            try:
                response = await serve_key(Request(scope, receive), key)
            except Exception:  # the full app answers it again, rendered and logged
                response = None
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _image_key(scope: Scope) -> keys.ImageKey | None:
    """The key of the image a request asks for; None for other requests, left to the app."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        return None
    try:
        return keys.parse(scope["path"].removeprefix("/"))
    except keys.InvalidKey:
        return None
