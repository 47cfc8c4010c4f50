"""Image GETs straight to their handler, around Starlette's router and middleware stack.

Serving images is most of the traffic, and the per-request work of routing and exception
middleware costs as much as the rest of a cached 100 kB GET. A failure is answered here too,
by the app's own `failure_response`: handing it to the full app would run the handler again
(another lookup of an unknown id, another try of a failing store). Unlike Starlette, which
hands a bug's exception on to the server after answering it, so that it is logged twice, the
fast path logs it once and stops there. Paths that are no image's key go to the full app.
It sits in front of the request log too, so that an image sent by pathsend (nearly every GET)
is logged without the log's wrapping of each message: 1.04x the cached GET rate in an A/B.
A whole GET of an image it has answered before is sent from `HotImages` (no key parsing, record
lookup, store choice or headers to build): 1.29x the cached GET rate in an A/B.
"""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from imghost.http.errors import failure_response
from imghost.http.hotimages import HotImage
from imghost.http.images import serve_key
from imghost.http.ranges import PathSend
from imghost.http.requestlog import IMAGE_ROUTE, RequestLog, id_header
from imghost.http.services import Services
from imghost.store import keys


class ImageFastPath:
    """In front of the request log (`app`): an image answered by pathsend gets its request id
    and its log line here, without the log's wrapping of every message; any other answer goes
    through the log's own wrapping."""

    def __init__(self, app: RequestLog, services: Services) -> None:
        self.app = app
        self.starlette = app.app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            hot = self.services.hot.get(scope["path"], self.services.settings.fresh())
            if hot is not None and _whole_get(scope) and await self._send_hot(hot, scope, send):
                return
        key = _image_key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        log = self.app
        request_id, started = log.begin(scope)
        scope["app"] = self.starlette
        response = await _answer(Request(scope, receive), key)
        if isinstance(response, PathSend):
            await self._send_whole(response, scope, send, request_id, started)
        else:
            await log.answer(response, scope, receive, send, request_id, started)

    async def _send_hot(self, hot: HotImage, scope: Scope, send: Send) -> bool:
        """A remembered image's whole file; False, with it forgotten, if the file is gone."""
        try:
            os.stat(hot.answer.path)
        except FileNotFoundError:
            self.services.hot.forget(scope["path"])
            return False
        request_id, started = self.app.begin(scope)
        await self._send_whole(hot.answer, scope, send, request_id, started)
        return True

    async def _send_whole(
        self, answer: PathSend, scope: Scope, send: Send, request_id: str, started: float
    ) -> None:
        """`answer` with the request id added (it may be remembered, so it is not changed),
        logged here rather than by the request log's wrapping of each message."""
        headers = [*answer.raw_headers, id_header(request_id)]
        try:
            await send(
                {"type": "http.response.start", "status": answer.status_code, "headers": headers}
            )
            await send({"type": "http.response.pathsend", "path": answer.path})
        finally:
            self.app.record(
                scope, request_id, started, answer.status_code, answer.size, IMAGE_ROUTE
            )


def _whole_get(scope: Scope) -> bool:
    """Whether a GET asks for the whole file, which the server can send itself."""
    if "http.response.pathsend" not in scope.get("extensions", ()):
        return False
    return not any(name in _PARTIAL for name, _ in scope["headers"])


# Headers that make the answer something other than the whole file (a range, or a 304).
_PARTIAL = (b"range", b"if-none-match")


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
