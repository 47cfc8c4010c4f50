"""The default store: files under the data folder, moved into place with an atomic rename."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from imghost.store.base import StoreUnavailable, check_key

_READ_CHUNK = 256 * 1024


class LocalStore:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        destination = self._path(key)
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            _fsync_file(path)
            os.replace(path, destination)
            _fsync_dir(destination.parent)
        except OSError as exc:
            raise StoreUnavailable(f"cannot write {destination}: {exc.strerror}") from exc

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def open_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        with self._path(key).open("rb") as file:
            file.seek(start)
            remaining = end - start
            while remaining > 0:
                chunk = file.read(min(_READ_CHUNK, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def public_url(self, key: str) -> str | None:
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
