"""A store whose backend calls are timed and counted, for `/metrics`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from time import perf_counter
from typing import ParamSpec, TypeVar

from imghost.process.metrics import STORE_ERRORS, STORE_LATENCY
from imghost.store.base import Store

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
