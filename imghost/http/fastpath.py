"""Image GETs straight to their handler, around Starlette's router and middleware stack.

Serving images is most of the traffic, and the per-request work of routing and exception
middleware costs as much as the rest of a cached 100 kB GET. Anything that fails here is
handed to the full app, which answers it with the proper envelope.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from imghost.http.images import serve_image

_IMAGE_PATH = re.compile(r"/uploads/([^/]+)/([^/]+)/([^/]+)")


class ImageFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            match = _IMAGE_PATH.fullmatch(scope["path"])
            if match is not None:
                scope["app"] = self.app
                scope["path_params"] = {"year": match[1], "month": match[2], "name": match[3]}
                try:
                    response = await serve_image(Request(scope, receive))
                except Exception:  # the full app answers it again, rendered and logged
                    response = None
                if response is not None:
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
