"""The bytes interface. A backend stores finished files under generated keys.

Keys are URL paths such as `uploads/2026/11/<id>.png`; they are made by imghost, never taken
from a client, and checked again here before any backend touches them. All methods are
synchronous; the app calls them from worker threads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

KEY_PATTERN = re.compile(r"uploads/[0-9]{4}/[0-9]{2}/[A-Za-z0-9_-]{16,64}\.(?:jpg|png|gif|webp)")


class StoreUnavailable(Exception):
    """The backend failed or cannot be reached; the message says what it answered."""


class InvalidKey(ValueError):
    """A key that imghost would never generate."""


def check_key(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key):
        raise InvalidKey(f"not a storage key: {key!r}")
    return key


class Store(Protocol):
    name: str

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store the finished file at `path` under `key`, atomically, and take the file away."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A path on this machine to send the bytes from without copying, if there is one."""
        ...

    def open_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """The bytes in [start, end) of the object at `key`."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object; removing one that is not there is not an error."""
        ...

    def public_url(self, key: str) -> str | None:
        """A URL that serves the object without imghost on the read path, if there is one."""
        ...

    def check(self) -> None:
        """Raise StoreUnavailable unless the backend can be written and read now."""
        ...
