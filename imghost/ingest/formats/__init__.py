"""The formats we take: sniffing, structural parsing, and lossless metadata stripping.

Pure Python and dependency-free: the walkers read headers, chunk, segment and box tables and
skip compressed data without decoding a pixel, in linear time. Everything a file can do
wrong is reported as a `FormatError` with a code and a sentence for the uploader. What each
format becomes is the `FORMATS` table (`table.py`).
"""

from __future__ import annotations

import mmap
from collections.abc import Callable

from imghost.ingest.formats import gif, heif, jpeg, png, webp
from imghost.ingest.formats._common import CORRUPT, UNSUPPORTED, FormatError, Pieces, Structure
from imghost.ingest.formats.table import ACCEPTED_LABELS, FORMATS, Format

__all__ = [
    "ACCEPTED_LABELS",
    "FORMATS",
    "SNIFF_BYTES",
    "Format",
    "FormatError",
    "Structure",
    "parse",
    "sniff",
    "strip",
]

SNIFF_BYTES = 32  # enough for an ftyp box's major brand and four compatible ones
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PARSERS: dict[str, Callable[[memoryview, int], Structure]] = {
    "jpeg": jpeg.parse,
    "png": png.parse,
    "gif": gif.parse,
    "webp": webp.parse,
    "heif": heif.parse,
    "avif": heif.parse,
}
_STRIPPERS: dict[str, Callable[[memoryview, Structure, int], Pieces]] = {
    "jpeg": jpeg.strip,
    "png": png.strip,
    "gif": gif.strip,
    "webp": webp.strip,
}


def sniff(head: bytes) -> str | None:
    """The `FORMATS` key named by the first bytes of a file (`SNIFF_BYTES` of them), or None.

    It may name a format we refuse (`FORMATS[kind].accepted` says).
    """
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == _PNG_SIGNATURE:
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return heif.sniff(head)


def parse(buf: bytes | memoryview | mmap.mmap, max_frames: int) -> Structure:
    """Walk the file's structure without decoding pixels; raises FormatError.

    Once the frame count passes `max_frames` the walk stops and the result says
    `frames == max_frames + 1` (its `length` and `keep` then cover only the part walked).
    A mapped PNG's pages are handed back as its CRC check passes them (they stay in the page
    cache): otherwise each upload being walked counts its whole file in the worker's memory.
    """
    with memoryview(buf) as whole, whole.cast("B") as view:
        kind = sniff(bytes(view[:SNIFF_BYTES]))
        if kind is None:
            raise FormatError(CORRUPT, f"The file is not a {ACCEPTED_LABELS} image.")
        if not FORMATS[kind].accepted:
            raise FormatError(UNSUPPORTED, FORMATS[kind].refusal)
        try:
            if kind == "png" and isinstance(buf, mmap.mmap):
                return png.parse(view, max_frames, _PageReleaser(buf))
            return _PARSERS[kind](view, max_frames)
        except FormatError as exc:
            error = FormatError(exc.code, exc.message)
    # Raised afresh out here: the original's traceback holds views of `buf`, and a caller's
    # mmap cannot close while any view of it is alive.
    raise error


class _PageReleaser:
    """Hands a read-only mapping's pages back a few MiB at a time, behind the walk."""

    STEP = 1 << 20

    def __init__(self, buf: mmap.mmap) -> None:
        self._buf = buf
        self._released = 0

    def __call__(self, offset: int) -> None:
        end = offset - offset % mmap.PAGESIZE
        if end - self._released >= self.STEP:
            self._buf.madvise(mmap.MADV_DONTNEED, self._released, end - self._released)
            self._released = end


def strip(
    buf: bytes | memoryview | mmap.mmap, structure: Structure, orientation: int
) -> list[bytes | memoryview]:
    """Pieces whose concatenation is the image without removable metadata.

    When `orientation` is not 1, a minimal EXIF holding just that orientation is written
    (GIF has nowhere to put it). Pieces may be views of `buf`: release them before closing it.
    """
    return _STRIPPERS[structure.format](memoryview(buf).cast("B"), structure, orientation)
