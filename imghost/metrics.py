"""Prometheus metrics, shared by every worker of an instance.

`imghost serve` points PROMETHEUS_MULTIPROC_DIR at a folder of its own before this module is
first imported (prometheus_client decides how to store values at import), so each worker
writes its own file and `/metrics` adds them up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from time import perf_counter
from typing import Any, ParamSpec, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine.interfaces import DBAPICursor, ExecutionContext
from starlette.requests import Request
from starlette.responses import Response

from imghost.metrics_dir import MULTIPROC_ENV
from imghost.store.base import Store

REQUESTS = Counter("imghost_requests_total", "Requests answered.", ["route", "status"])
LATENCY = Histogram(
    "imghost_request_duration_seconds",
    "Time to answer a request.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UPLOADED_BYTES = Counter("imghost_uploaded_bytes_total", "Bytes of images stored.")
SERVED_BYTES = Counter("imghost_served_bytes_total", "Bytes of images sent.")
REJECTIONS = Counter("imghost_rejections_total", "Refused requests, by error code.", ["code"])
SWEEPS = Counter("imghost_sweeps_total", "Sweeper rounds run.")
SWEPT = Counter("imghost_swept_uploads_total", "Uploads the sweeper deleted.")
LIMIT_REFUSALS = Counter(
    "imghost_limit_refusals_total", "Requests refused by a key's rate limit or quota.", ["kind"]
)
STORE_LATENCY = Histogram(
    "imghost_store_operation_duration_seconds",
    "Time a storage backend took to answer a call (a read: until its first chunk).",
    ["backend", "operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
STORE_ERRORS = Counter(
    "imghost_store_errors_total", "Storage backend calls that raised.", ["backend", "operation"]
)
DB_LATENCY = Histogram(
    "imghost_db_query_duration_seconds",
    "Time the database took to run a statement.",
    ["dialect", "statement"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30),
)

_ROUTES = (
    "/api/upload", "/api/settings", "/api/keys", "/api/stats", "/v1/files/uploads/base64",
    "/v1/files/uploads/url", "/v1/files/uploads", "/v1/files", "/healthz", "/readyz",
    "/metrics", "/openapi.json", "/admin", "/static",
)  # fmt: skip


def route_of(path: str) -> str:
    """A bounded label for a path: ids and file names never become label values."""
    if path.startswith("/uploads/"):
        return "/uploads"
    if path == "/":
        return "/"
    return next((route for route in _ROUTES if path.startswith(route)), "other")


async def metrics(request: Request) -> Response:
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


_P = ParamSpec("_P")
_T = TypeVar("_T")


class _Operation:
    """One backend's timer and error count for one operation, labelled once, not per call."""

    __slots__ = ("errors", "latency")

    def __init__(self, backend: str, operation: str) -> None:
        self.latency = STORE_LATENCY.labels(backend, operation)
        self.errors = STORE_ERRORS.labels(backend, operation)

    def call(self, call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        started = perf_counter()
        try:
            return call(*args, **kwargs)
        except Exception:
            self.errors.inc()
            raise
        finally:
            self.latency.observe(perf_counter() - started)


class TimedStore:
    """A store whose calls to its backend are timed, and counted when they raise.

    What a store works out on this machine (a path, a URL, a presigned URL) is its own bound
    method, not wrapped: it asks no backend anything, and the image GET path calls it on every
    request. A local file is then sent by the server itself, so only proxied reads time `get`.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self.name = store.name
        self.local_path = store.local_path
        self.public_url = store.public_url
        self.redirect_url = store.redirect_url
        self.close = store.close
        self._put, self._copy, self._get, self._exists, self._delete, self._check, self._ping = (
            _Operation(store.name, operation)
            for operation in ("put", "copy", "get", "exists", "delete", "check", "ping")
        )

    def put_file(self, key: str, path: Path, content_type: str) -> str:
        return self._put.call(self._store.put_file, key, path, content_type)

    def copy(self, location: str, key: str) -> str:
        return self._copy.call(self._store.copy, location, key)

    def open_range(self, location: str, start: int, end: int) -> Iterator[bytes]:
        # Timed to the first chunk only: the rest goes at the pace of whoever reads it. Backends
        # do their work lazily, on the first next(), so that is where the clock runs.
        started = perf_counter()
        try:
            chunks = self._store.open_range(location, start, end)
            first = next(chunks, None)
        except Exception:
            self._get.errors.inc()
            raise
        finally:
            self._get.latency.observe(perf_counter() - started)
        if first is None:
            return
        yield first
        try:
            yield from chunks
        except Exception:
            self._get.errors.inc()
            raise

    def exists(self, location: str) -> bool:
        return self._exists.call(self._store.exists, location)

    def delete(self, location: str) -> None:
        self._delete.call(self._store.delete, location)

    def check(self) -> None:
        self._check.call(self._store.check)

    def ping(self) -> None:
        self._ping.call(self._store.ping)


def time_statements(engine: Engine) -> None:
    """Time every statement `engine` runs to completion, by dialect and kind."""
    dialect = engine.dialect.name
    other = DB_LATENCY.labels(dialect, "other")
    # The kinds told apart are all six letters long, so six characters decide: no scan of
    # the statement, no regular expression, on every query.
    kinds = {
        kind.upper(): DB_LATENCY.labels(dialect, kind)
        for kind in ("select", "insert", "update", "delete")
    }

    def started(
        conn: Connection,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> tuple[str, Any]:
        if context is not None:
            timer = kinds.get(statement[:6].upper(), other)
            context.imghost_timing = (timer, perf_counter())  # type: ignore[attr-defined]
        return statement, parameters

    def finished(
        conn: Connection,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> None:
        if context is not None:
            timer, since = context.imghost_timing  # type: ignore[attr-defined]
            timer.observe(perf_counter() - since)

    # retval: answering the statement as given spares SQLAlchemy wrapping the listener.
    event.listen(engine, "before_cursor_execute", started, retval=True)
    event.listen(engine, "after_cursor_execute", finished)
