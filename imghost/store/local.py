"""The default store: files under the data folder, linked into place atomically."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from imghost.store import keys
from imghost.store.base import ObjectExists, ObjectMissing, StoreFull, StoreUnavailable

_READ_CHUNK = 256 * 1024


class LocalStore:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, location: str) -> Path:
        return self.root / keys.check(location)

    def put_file(self, key: str, path: Path, content_type: str) -> str:
        destination = self._path(key)
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            _fsync_file(path)
            # link() fails where a file exists, so a URL's bytes can never be replaced.
            os.link(path, destination)
            path.unlink()
            _fsync_dir(destination.parent)
        except FileExistsError as exc:
            raise ObjectExists(f"{key} exists already") from exc
        except OSError as exc:
            raise _write_failed(destination, exc) from exc
        return key

    def copy(self, location: str, key: str) -> str:
        destination = self._path(key)
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            # A second name for the same inode: no bytes are written, and deleting one name
            # leaves the other.
            os.link(self._path(location), destination)
            _fsync_dir(destination.parent)
        except FileNotFoundError as exc:
            raise ObjectMissing(f"no object at {location}") from exc
        except FileExistsError as exc:
            raise ObjectExists(f"{key} exists already") from exc
        except OSError as exc:
            raise _write_failed(destination, exc) from exc
        return key

    def local_path(self, location: str) -> Path | None:
        return self._path(location)

    def open_range(self, location: str, start: int, end: int) -> Iterator[bytes]:
        try:
            file = self._path(location).open("rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(f"no object at {location}") from exc
        with file:
            file.seek(start)
            remaining = end - start
            while remaining > 0:
                chunk = file.read(min(_READ_CHUNK, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk

    def exists(self, location: str) -> bool:
        return self._path(location).is_file()

    def delete(self, location: str) -> None:
        self._path(location).unlink(missing_ok=True)

    def public_url(self, location: str) -> str | None:
        return None

    def redirect_url(self, location: str) -> str | None:
        return None

    def check(self) -> None:
        probe = self.root / "uploads" / f".probe-{secrets.token_hex(8)}"
        try:
            probe.parent.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"ok")
            if probe.read_bytes() != b"ok":
                raise StoreUnavailable(f"{self.root} did not read back what was written")
        except OSError as exc:
            raise StoreUnavailable(f"cannot write to {self.root}: {exc.strerror}") from exc
        finally:
            probe.unlink(missing_ok=True)

    def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StoreUnavailable(f"{self.root} is not writable")

    def close(self) -> None:
        return None


def _write_failed(destination: Path, exc: OSError) -> StoreUnavailable:
    failure = StoreFull if exc.errno in (errno.ENOSPC, errno.EDQUOT) else StoreUnavailable
    return failure(f"cannot write {destination}: {exc.strerror}")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
