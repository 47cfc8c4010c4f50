"""The bytes interface. A backend stores finished files under generated keys.

Keys are URL paths such as `uploads/2026/11/<id>.png`, made and checked by `imghost.store.keys`:
never taken from a client, and checked again before any backend touches them. `put_file`
answers the object's *location*, which the upload record keeps and hands back to every other
call: the key itself for `local` and `s3`, the URL another image host gave for `remote`. All
methods are synchronous; the app calls them from worker threads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol


class StoreUnavailable(Exception):
    """The backend failed or cannot be reached; the message says what it answered."""


class StoreFull(StoreUnavailable):
    """The backend has no room for the object (a full disk)."""


class UpstreamRejected(StoreUnavailable):
    """A store that is another service (an image host) answered, but refused the object;
    `status` is its HTTP status, when it gave one."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


class ObjectExists(StoreUnavailable):
    """`put_file` found an object at the key already: URLs never change what they serve."""


class ObjectMissing(StoreUnavailable):
    """There is no object at that location."""


class Store(Protocol):
    name: str

    def put_file(self, key: str, path: Path, content_type: str) -> str:
        """Store the finished file at `path` under `key`, atomically, never replacing an
        object already there; the file is taken away. Returns the object's location."""
        ...

    def copy(self, location: str, key: str) -> str:
        """Store the bytes of the object at `location` under the new `key` too, as cheaply as
        the backend can (a hard link, a server-side copy); ObjectMissing if it is gone. Returns
        the new object's location; deleting either object leaves the other whole."""
        ...

    def local_path(self, location: str) -> Path | None:
        """A path on this machine to send the bytes from without copying, if there is one."""
        ...

    def open_range(self, location: str, start: int, end: int) -> Iterator[bytes]:
        """The bytes in [start, end) of the object; ObjectMissing if there is none."""
        ...

    def exists(self, location: str) -> bool: ...

    def delete(self, location: str) -> None:
        """Remove the object; removing one that is not there is not an error."""
        ...

    def public_url(self, location: str) -> str | None:
        """The URL to give uploaders when the backend serves the object itself, else None."""
        ...

    def redirect_url(self, location: str) -> str | None:
        """Where a GET of imghost's own URL should redirect to, or None to serve it here."""
        ...

    def check(self) -> None:
        """Raise StoreUnavailable unless the backend can be written and read now."""
        ...

    def ping(self) -> None:
        """Raise StoreUnavailable unless the backend answers; cheap enough for /readyz."""
        ...

    def close(self) -> None:
        """Release connections; the store is not used again."""
        ...
