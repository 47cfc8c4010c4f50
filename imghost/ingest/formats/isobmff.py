"""Boxes of the ISO base media file format (ISO/IEC 14496-12), the container of HEIF and AVIF."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from imghost.ingest.formats._common import Budget, FormatError, damaged, skip_padding, truncated


@dataclass(frozen=True, slots=True)
class Box:
    kind: bytes
    start: int  # the size field
    body: int  # just past the header (past the version and flags of a full box: see `fields`)
    end: int

    @property
    def name(self) -> str:
        return self.kind.decode("latin-1")


def boxes(
    view: memoryview, start: int, end: int, budget: Budget, top: bool = False
) -> Iterator[Box]:
    """The boxes laid one after another in [start, end).

    At the top level a box of size 0 runs to the end of the file, a box that runs past it means
    the file was cut short, and zero bytes after the last box are padding.
    """
    pos = start
    while pos < end:
        if top and skip_padding(view, pos) == end:
            return
        if end - pos < 8:
            raise _overrun(top, "a box header")
        size, kind = struct.unpack_from(">I4s", view, pos)
        header = 8
        if size == 1:
            if end - pos < 16:
                raise _overrun(top, "a box header")
            (size,) = struct.unpack_from(">Q", view, pos + 8)
            header = 16
        elif size == 0 and top:
            size = end - pos
        name = kind.decode("latin-1")
        if size < header:
            raise damaged(f"The image's '{name}' box has an impossible size")
        if size > end - pos:
            raise _overrun(top, f"its '{name}' box")
        budget.spend()
        yield Box(kind, pos, pos + header, pos + size)
        pos += size


def _overrun(top: bool, what: str) -> FormatError:
    if top:
        return truncated(f"The image ends inside {what}")
    return damaged(f"In the image, {what} runs past the box that holds it")


class Fields:
    """Big-endian fields read in order from a box's payload, never past its end."""

    __slots__ = ("_box", "_view", "end", "pos")

    def __init__(self, view: memoryview, box: Box) -> None:
        self._view = view
        self._box = box
        self.pos = box.body
        self.end = box.end

    def uint(self, size: int) -> int:
        """An unsigned integer of `size` bytes (0 reads nothing and gives 0)."""
        if self.pos + size > self.end:
            raise damaged(f"The image's '{self._box.name}' box is too short")
        value = int.from_bytes(self._view[self.pos : self.pos + size], "big")
        self.pos += size
        return value

    def full_box(self) -> tuple[int, int]:
        """The version and flags that open a full box."""
        header = self.uint(4)
        return header >> 24, header & 0xFFFFFF

    def fourcc(self) -> bytes:
        return self.uint(4).to_bytes(4, "big")

    def text(self, limit: int = 256) -> bytes:
        """A NUL-terminated string, of at most `limit` bytes (names and URNs are short, and a
        box may be megabytes long)."""
        cut = bytes(self._view[self.pos : min(self.end, self.pos + limit)]).split(b"\0", 1)[0]
        self.pos = min(self.end, self.pos + len(cut) + 1)
        return cut
