"""A request id for every request, echoed in `X-Request-Id`, and one JSON log line per request.

The id comes from the client's `X-Request-Id` when it looks like one (so a proxy's id carries
through), else it is new. Log lines name the API key by its name, never the key itself.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imghost.process import metrics

REQUEST_ID_HEADER = b"x-request-id"
_ACCEPTABLE_ID = re.compile(rb"[A-Za-z0-9._-]{8,128}")

access_log = logging.getLogger("imghost.access")


def configure_access_log() -> None:
    """One JSON object per line on stderr, whatever the server's own logging does."""
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False


def request_id_of(scope: Scope) -> str:
    return scope.get("imghost.request_id", "")


def _incoming_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER and _ACCEPTABLE_ID.fullmatch(value):
            return value.decode()
    return secrets.token_hex(12)


class RouteLabels:
    """Bounded metric labels, from the app's own routes: a path is labelled with its route's
    path up to the first parameter (`/v1/files/{file_id}` is `/v1/files`), so ids and file
    names never become label values."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self._routes = [
            (route.path_regex, route.path.split("{", 1)[0].rstrip("/") or "/")
            for route in routes
            if isinstance(route, Route | Mount)
        ]

    def __call__(self, path: str) -> str:
        return next((label for regex, label in self._routes if regex.match(path)), "other")


class RequestLog:
    def __init__(self, app: ASGIApp, route_of: RouteLabels) -> None:
        self.app = app
        self.route_of = route_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope)
        scope["imghost.request_id"] = request_id
        started = time.perf_counter()
        outcome: dict[str, int] = {"status": 500, "bytes": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                headers = [*message.get("headers", ()), (REQUEST_ID_HEADER, request_id.encode())]
                message = {**message, "headers": headers}
                # Files go out by pathsend, not as body messages: their length is the header's.
                for name, value in headers:
                    if name == b"content-length" and scope["method"] != "HEAD":
                        outcome["bytes"] = int(value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            route = self.route_of(scope["path"])
            metrics.REQUESTS.labels(route, str(outcome["status"])).inc()
            metrics.LATENCY.labels(route).observe(duration)
            if route == "/uploads" and outcome["status"] in (200, 206):
                metrics.SERVED_BYTES.inc(outcome["bytes"])
            access_log.info(
                json.dumps(
                    {
                        "time": round(time.time(), 3),
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": route,
                        "status": outcome["status"],
                        "bytes_out": outcome["bytes"],
                        "duration_ms": round(duration * 1000, 2),
                        "key": scope.get("imghost.key_name"),
                    }
                )
            )
