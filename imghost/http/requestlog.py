"""A request id for every request, echoed in `X-Request-Id`, and one JSON log line per request.

The id comes from the client's `X-Request-Id` when it looks like one (so a proxy's id carries
through), else it is new. Log lines name the API key by its name, never the key itself.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imghost.process import metrics

REQUEST_ID_HEADER = b"x-request-id"
# The metric label of the images' route, whose answered bytes are counted.
IMAGE_ROUTE = "/uploads"
_ACCEPTABLE_ID = re.compile(rb"[A-Za-z0-9._-]{8,128}")

# What a request leaves behind (its log line and its metrics) is written a batch at a time, as
# nginx's `access_log … buffer= flush=` does: writing each line through `logging` cost a quarter
# of a cached image GET, and each metric increment, which locks and writes the worker's shared
# file, a twentieth. A worker that is killed (SIGKILL, the OOM killer) loses at most this long
# of its log and counts; `/metrics` writes its own worker's batch before it reads.
FLUSH_SECONDS = 0.2
BATCH_LINES = 256


class RequestRecords:
    """The JSON access log (one object per line on stderr) and the request metrics."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._answers: Counter[tuple[str, str]] = Counter()
        self._durations: list[tuple[str, float]] = []
        self._served_bytes = 0
        self._flushing: asyncio.Handle | None = None

    def add(self, entry: dict[str, Any], duration: float) -> None:
        """One answered request: `entry` is its log line, with its route, status and bytes."""
        self._lines.append(json.dumps(entry))
        route, status = entry["route"], entry["status"]
        self._answers[route, str(status)] += 1
        self._durations.append((route, duration))
        if route == IMAGE_ROUTE and status in (200, 206):
            self._served_bytes += entry["bytes_out"]
        if self._flushing is None:
            loop = asyncio.get_running_loop()
            if len(self._lines) >= BATCH_LINES:
                self._flushing = loop.call_soon(self.flush)
            else:
                self._flushing = loop.call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        for (route, status), count in self._answers.items():
            metrics.REQUESTS.labels(route, status).inc(count)
        for route, duration in self._durations:
            metrics.LATENCY.labels(route).observe(duration)
        if self._served_bytes:
            metrics.SERVED_BYTES.inc(self._served_bytes)
        self._answers.clear()
        self._durations.clear()
        self._served_bytes = 0
        if self._lines:
            text = "\n".join(self._lines) + "\n"
            self._lines.clear()
            sys.stderr.write(text)
            sys.stderr.flush()


def request_id_of(scope: Scope) -> str:
    return scope.get("imghost.request_id", "")


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER and _ACCEPTABLE_ID.fullmatch(value):
            return value.decode()
    return None


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
    def __init__(self, app: ASGIApp, route_of: RouteLabels, records: RequestRecords) -> None:
        self.app = app
        self.route_of = route_of
        self.records = records
        # Ids only need to be unique: a random prefix per app (each worker makes its own) and a
        # counter cost a tenth of 24 random bytes per request (a getrandom call).
        self._id_prefix = secrets.token_hex(8)
        self._serial = itertools.count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id, started = self.begin(scope)
        await self.answer(self.app, scope, receive, send, request_id, started)

    def begin(self, scope: Scope) -> tuple[str, float]:
        """The request's id (kept in its scope) and the time it started."""
        request_id = _incoming_id(scope) or f"{self._id_prefix}{next(self._serial):08x}"
        scope["imghost.request_id"] = request_id
        return request_id, time.perf_counter()

    async def answer(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, request_id: str,
        started: float,
    ) -> None:  # fmt: skip
        """`app`'s answer, with the request id added and the request recorded."""
        outcome: dict[str, int] = {"status": 500, "bytes": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                headers = [*message.get("headers", ()), id_header(request_id)]
                message = {**message, "headers": headers}
                # Files go out by pathsend, not as body messages: their length is the header's.
                for name, value in headers:
                    if name == b"content-length" and scope["method"] != "HEAD":
                        outcome["bytes"] = int(value)
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            self.record(scope, request_id, started, outcome["status"], outcome["bytes"])

    def record(
        self,
        scope: Scope,
        request_id: str,
        started: float,
        status: int,
        bytes_out: int,
        route: str | None = None,
    ) -> None:
        """One answered request; `route` is its label when the caller knows it already."""
        duration = time.perf_counter() - started
        self.records.add(
            {
                "time": round(time.time(), 3),
                "request_id": request_id,
                "method": scope["method"],
                "path": scope["path"],
                "route": route or self.route_of(scope["path"]),
                "status": status,
                "bytes_out": bytes_out,
                "duration_ms": round(duration * 1000, 2),
                "key": scope.get("imghost.key_name"),
            },
            duration,
        )


def id_header(request_id: str) -> tuple[bytes, bytes]:
    return REQUEST_ID_HEADER, request_id.encode()
