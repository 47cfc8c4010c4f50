"""A temporary file that an upload streams into: hashed as it is written, capped in size."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from blake3 import blake3

from imghost.errors import Refusal, TooLarge, insufficient_storage, out_of_space
from imghost.ingest.formats import SNIFF_BYTES


def too_large(limit: int) -> Refusal:
    return TooLarge(
        "file_too_large",
        f"The file is larger than the {_human(limit)} limit. Compress or resize it and try again.",
    )


def _human(size: int) -> str:
    mib = size / (1024 * 1024)
    return f"{mib:g} MiB" if mib >= 1 else f"{size} bytes"


def unwritable(exc: OSError) -> Exception:
    """What to raise for a failed write of a temporary file: a full disk is the server's 507."""
    return insufficient_storage() if out_of_space(exc) else exc


class Spool:
    """Bytes on their way in; `discard()` removes whatever of them is still here."""

    def __init__(
        self, directory: Path, limit: int, on_head: Callable[[bytes], None] | None = None
    ) -> None:
        self.path = directory / f"{secrets.token_hex(16)}.part"
        self.limit = limit
        self.size = 0
        self.head = b""
        self._on_head = on_head
        self._hasher = blake3()
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise unwritable(exc) from exc

    def write(self, data: bytes | memoryview) -> None:
        if self.size + len(data) > self.limit:
            raise too_large(self.limit)
        if self._fd is None:
            raise RuntimeError("write to a closed spool")
        if len(self.head) < SNIFF_BYTES:
            self._take_head(bytes(data[: SNIFF_BYTES - len(self.head)]))
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            raise unwritable(exc) from exc
        self._hasher.update(data)
        self.size += len(data)

    def _take_head(self, data: bytes) -> None:
        self.head += data
        if len(self.head) >= SNIFF_BYTES and self._on_head is not None:
            self._on_head(self.head)
            self._on_head = None

    def finish(self) -> str:
        """Close the file; returns the hex BLAKE3 digest of everything written."""
        if self._on_head is not None and self.head:
            self._on_head(self.head)
            self._on_head = None
        self._close()
        return self._hasher.hexdigest()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        self._close()
        self.path.unlink(missing_ok=True)
