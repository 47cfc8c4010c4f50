"""A bounded read-through disk cache in front of a store that proxies (S3 `proxy`, `remote`).

The first whole GET of an object streams it from the backend as before and keeps a copy; later
GETs send that copy from disk (`local_path`, so the server's own sendfile path), the way a local
store's files go. Several workers (and instances on one machine) share the folder:

- a copy is written to a file of its own under `.tmp/` and renamed into place only when it is
  whole and its BLAKE3 is the upload's digest, so no reader ever sees a partial or wrong copy;
- `delete` drops the copy before the object, so a deleted image is not served from here by
  this machine (another machine's cache may still hold it while that machine remembers the
  record, up to `imghost.recent.TTL_SECONDS`); expiry is checked on every GET before any
  store is asked;
- the total is bounded: every worker measures the folder when it has added a sixteenth of the
  bound since it last did, and removes the least recently used copies (by modification time,
  which a hit renews at most once a minute) down to nine tenths of it;
- a copy that cannot be written (a full disk) is simply not kept: the GET is served as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from blake3 import blake3

from imghost.store.base import Store

TOUCH_SECONDS = 60.0
# Half-written copies of a worker that died: older than this, nobody is writing them.
STALE_SECONDS = 3600.0
_REMEMBERED_TOUCHES = 10_000


class DiskCache:
    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._partial = folder / ".tmp"
        self._added_since_measure = max_bytes  # measure (and sweep) on the first copy kept
        self._touched: dict[str, tuple[Path, float]] = {}

    def path(self, location: str) -> Path:
        digest = hashlib.sha256(location.encode()).hexdigest()
        return self.folder / digest[:2] / digest

    def get(self, location: str) -> Path | None:
        """The copy of `location`, if there is one."""
        now = time.monotonic()
        # A hot image's path is remembered with its last touch: no digest of its name per GET.
        known = self._touched.get(location)
        try:
            if known is None or now - known[1] >= TOUCH_SECONDS:
                path = known[0] if known else self.path(location)
                os.utime(path)
                if len(self._touched) >= _REMEMBERED_TOUCHES:
                    self._touched.clear()
                self._touched[location] = (path, now)
            else:
                path = known[0]
                if not path.exists():
                    return None
        except FileNotFoundError:
            return None
        return path

    def fill(
        self, location: str, chunks: Iterator[bytes], size: int, digest: str
    ) -> Iterator[bytes]:
        """`chunks` (the whole object) passed on, and kept if they are what the record says."""
        if size > self.max_bytes // 16:
            yield from chunks
            return
        partial = self._partial / f"{secrets.token_hex(8)}.part"
        try:
            self._partial.mkdir(parents=True, exist_ok=True)
            copy: BinaryIO | None = partial.open("wb")
        except OSError:
            yield from chunks
            return
        hasher, written, kept = blake3(), 0, False
        try:
            for chunk in chunks:
                if copy is not None:
                    try:
                        copy.write(chunk)
                    except OSError:
                        _closed(copy)
                        copy = None
                hasher.update(chunk)
                written += len(chunk)
                # Kept before the last chunk goes out: a client that has all the bytes it was
                # promised may hang up before this generator is asked for more.
                if written == size and copy is not None:
                    whole = _closed(copy) is copy and hasher.hexdigest() == digest
                    copy = None
                    kept = whole and self._install(partial, location, size)
                elif written > size and kept:
                    self.discard(location)  # the object is longer than its record says
                    kept = False
                yield chunk
        finally:
            if copy is not None:
                _closed(copy)
            if not kept:
                with contextlib.suppress(OSError):
                    partial.unlink()

    def discard(self, location: str) -> None:
        self._touched.pop(location, None)
        with contextlib.suppress(FileNotFoundError):
            self.path(location).unlink()

    def _install(self, partial: Path, location: str, size: int) -> bool:
        path = self.path(location)
        try:
            path.parent.mkdir(exist_ok=True)
            os.replace(partial, path)
        except OSError:
            return False
        self._added_since_measure += size
        if self._added_since_measure >= self.max_bytes // 16:
            self.shrink()
        return True

    def shrink(self) -> None:
        """Remove the least recently used copies while the folder holds over its bound, down to
        nine tenths of it; and half-written copies nobody is writing any more."""
        self._added_since_measure = 0
        copies: list[tuple[float, int, Path]] = []
        now = time.time()
        for sub in _entries(self.folder):
            if sub.is_dir():
                stale = sub.name == ".tmp"
                for entry in _entries(Path(sub.path)):
                    try:
                        stat = entry.stat()
                    except FileNotFoundError:
                        continue
                    if stale:
                        if now - stat.st_mtime > STALE_SECONDS:
                            with contextlib.suppress(FileNotFoundError):
                                os.unlink(entry.path)
                    else:
                        copies.append((stat.st_mtime, stat.st_size, Path(entry.path)))
        total = sum(size for _, size, _ in copies)
        if total <= self.max_bytes:
            return
        copies.sort()
        for _, size, path in copies:
            if total <= self.max_bytes * 9 // 10:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            total -= size
        self._touched.clear()  # remembered paths may be gone: the next hits look again


def _closed(copy: BinaryIO) -> BinaryIO | None:
    """Close `copy`; itself if all it was given is written, None if the disk refused some."""
    try:
        copy.close()
    except OSError:
        return None
    return copy


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except FileNotFoundError:
        return []


class CachedStore:
    """`store` with its objects' bytes kept in `cache` once read whole."""

    def __init__(self, store: Store, cache: DiskCache) -> None:
        self._store = store
        self.cache = cache
        self.name = store.name
        self.put_file = store.put_file
        self.copy = store.copy
        self.open_range = store.open_range
        self.exists = store.exists
        self.public_url = store.public_url
        self.redirect_url = store.redirect_url
        self.check = store.check
        self.ping = store.ping
        self.close = store.close
        self.local_path = cache.get

    def read_through(self, location: str, size: int, digest: str) -> Iterator[bytes]:
        """The whole object, kept in the cache on the way if it is as the record says."""
        return self.cache.fill(location, self._store.open_range(location, 0, size), size, digest)

    def delete(self, location: str) -> None:
        self.cache.discard(location)
        self._store.delete(location)
