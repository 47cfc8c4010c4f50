"""A Store in this process's memory, for in-process app tests; held to the backends' contract by
tests/store/test_contract.py.

It can be told to fail an operation as a backend that went away does, which a real store cannot
be made to do at a chosen call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from imghost.store.base import ObjectExists, ObjectMissing, StoreUnavailable
from imghost.store.keys import check as check_key

Operation = Literal["put_file", "copy", "open_range", "exists", "delete", "check", "ping"]

# Chunks as small as a real backend's would be wasteful here; a few make a read more than one.
_READ_CHUNK = 64 * 1024


class MemoryStore:
    name = "memory"

    def __init__(self) -> None:
        # The app calls stores from its worker threads.
        self._lock = threading.Lock()
        self._objects: dict[str, bytes] = {}
        self._failures: dict[Operation, StoreUnavailable] = {}

    @property
    def objects(self) -> dict[str, bytes]:
        """A snapshot of what is stored, by key."""
        with self._lock:
            return dict(self._objects)

    def fail(self, operation: Operation, error: StoreUnavailable | None = None) -> None:
        """Make every later call of `operation` raise `error` (a StoreUnavailable by default)."""
        self._failures[operation] = error or StoreUnavailable(f"memory store: {operation} failed")

    def recover(self) -> None:
        self._failures.clear()

    def _maybe_fail(self, operation: Operation) -> None:
        if failure := self._failures.get(operation):
            raise failure

    def put_file(self, key: str, path: Path, content_type: str) -> str:
        check_key(key)
        self._maybe_fail("put_file")
        data = path.read_bytes()
        with self._lock:
            if key in self._objects:
                raise ObjectExists(f"{key} exists already")
            self._objects[key] = data
        path.unlink()
        return key

    def copy(self, location: str, key: str) -> str:
        check_key(key)
        self._maybe_fail("copy")
        with self._lock:
            data = self._objects.get(check_key(location))
            if data is None:
                raise ObjectMissing(f"no object at {location}")
            if key in self._objects:
                raise ObjectExists(f"{key} exists already")
            self._objects[key] = data
        return key

    def local_path(self, location: str) -> Path | None:
        return None

    def open_range(self, location: str, start: int, end: int) -> Iterator[bytes]:
        # A generator, as the real backends are: nothing happens before the first next().
        check_key(location)
        self._maybe_fail("open_range")
        with self._lock:
            data = self._objects.get(location)
        if data is None:
            raise ObjectMissing(f"no object at {location}")
        end = min(end, len(data))
        for offset in range(start, end, _READ_CHUNK):
            yield data[offset : min(offset + _READ_CHUNK, end)]

    def exists(self, location: str) -> bool:
        check_key(location)
        self._maybe_fail("exists")
        with self._lock:
            return location in self._objects

    def delete(self, location: str) -> None:
        check_key(location)
        self._maybe_fail("delete")
        with self._lock:
            self._objects.pop(location, None)

    def public_url(self, location: str) -> str | None:
        return None

    def redirect_url(self, location: str) -> str | None:
        return None

    def check(self) -> None:
        self._maybe_fail("check")

    def ping(self) -> None:
        self._maybe_fail("ping")

    def close(self) -> None:
        return None
