"""Types and helpers shared by the per-format walkers."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

CORRUPT = "corrupt_image"
TRUNCATED = "truncated_image"
TRAILING = "trailing_data"
UNSUPPORTED_JPEG = "unsupported_jpeg_variant"
UNSUPPORTED = "unsupported_type"

_ORIENTATION_TAG = 0x0112
_TIFF_SHORT = 3
_NONZERO = re.compile(rb"[^\x00]")
_BASE_UNITS = 10_000  # every file may have this many units, however small it is

Ranges = tuple[tuple[int, int], ...]
Pieces = list[bytes | memoryview]


class FormatError(Exception):
    """A file that is not a well-formed image of its sniffed format."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Structure:
    """What a structural walk found, without decoding pixels."""

    format: str  # a key of `formats.FORMATS`
    width: int  # canvas size from the header (for HEIF/AVIF before its rotation)
    height: int
    frames: int  # max_frames + 1 when the walk stopped counting early
    length: int  # offset just past the image proper; anything after it may only be padding
    keep: Ranges  # byte ranges that, joined, are the image without removable metadata
    reencode: bool  # pixels must be encoded anew (a JPEG coding browsers cannot show, HEIF)
    # HEIF/AVIF only, where the file itself says how to turn the picture upright: its
    # irot/imir transformations, else its EXIF orientation, as an EXIF orientation value, and
    # whether that came from irot/imir.
    orientation: int = 1
    transformed: bool = False
    # HEIF/AVIF only: the size of every coded picture that decoding the image takes (grid
    # tiles, the alpha plane), each of which a decoder allocates whole.
    parts: tuple[tuple[int, int], ...] = ()


class Budget:
    """A cap on the chunks, segments or sub-blocks walked in one file.

    Real encoders write few, large units; a file made of millions of tiny ones would only
    burn parse time (each unit costs Python-level work), so past the cap it is refused.
    """

    __slots__ = ("_kind", "_left", "_units")

    def __init__(self, view: memoryview, bytes_per_unit: int, kind: str, units: str) -> None:
        self._left = _BASE_UNITS + len(view) // bytes_per_unit
        self._kind = kind
        self._units = units

    def spend(self) -> None:
        self._left -= 1
        if self._left < 0:
            raise FormatError(
                CORRUPT,
                f"The {self._kind} is split into more {self._units} than any encoder writes; "
                "re-save the image.",
            )


def damaged(problem: str) -> FormatError:
    """A corrupt_image error; `problem` is a clause such as "The PNG has no IDAT chunk"."""
    return FormatError(
        CORRUPT, f"{problem}, so the file is damaged; re-export the image and upload it again."
    )


def truncated(problem: str) -> FormatError:
    """A truncated_image error; `problem` is a clause such as "The GIF ends before its trailer"."""
    return FormatError(
        TRUNCATED, f"{problem}: the upload looks truncated; upload the complete file again."
    )


def skip_padding(view: memoryview, start: int) -> int:
    """Offset of the first byte from `start` on that is not 0x00 padding; len(view) if none."""
    match = _NONZERO.search(view, start)
    return len(view) if match is None else match.start()


def trailing(kind: str, where: str) -> FormatError:
    return FormatError(
        TRAILING,
        f"The {kind} has extra data after {where}; upload the image on its own, "
        "with nothing appended.",
    )


def reject_trailing(view: memoryview, end: int, kind: str, where: str) -> None:
    """Refuse anything after the image but 0x00 padding."""
    if skip_padding(view, end) != len(view):
        raise trailing(kind, where)


def complement(removed: list[tuple[int, int]], start: int, end: int) -> Ranges:
    """The parts of [start, end) not covered by the sorted, disjoint `removed` ranges."""
    kept: list[tuple[int, int]] = []
    pos = start
    for cut_start, cut_end in removed:
        if cut_start > pos:
            kept.append((pos, cut_start))
        pos = max(pos, cut_end)
    if pos < end:
        kept.append((pos, end))
    return tuple(kept)


def pieces_with_insert(view: memoryview, keep: Ranges, at: int, insert: bytes) -> Pieces:
    """Slices of `view` for the `keep` ranges, with `insert` placed at file offset `at`."""
    pieces: Pieces = []
    inserted = False
    for start, end in keep:
        if not inserted and start <= at <= end:
            pieces.extend(piece for piece in (view[start:at], insert, view[at:end]) if piece)
            inserted = True
        else:
            pieces.append(view[start:end])
    if not inserted:
        raise ValueError(f"offset {at} is not inside the kept ranges")
    return pieces


def tiff_orientation(tiff: bytes | memoryview) -> int:
    """The orientation tag (1-8) in the first IFD of a TIFF (an EXIF block); 1 if it has none."""
    order = {b"II": "<", b"MM": ">"}.get(bytes(tiff[:2]))
    if order is None or len(tiff) < 8:
        return 1
    (ifd,) = struct.unpack_from(order + "I", tiff, 4)
    if ifd + 2 > len(tiff):
        return 1
    (count,) = struct.unpack_from(order + "H", tiff, ifd)
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(tiff) - 11), 12):
        tag, kind, number, value = struct.unpack_from(order + "HHIH", tiff, entry)
        if tag == _ORIENTATION_TAG:
            valid = kind == _TIFF_SHORT and number == 1 and 1 <= value <= 8
            return value if valid else 1
    return 1


def orientation_tiff(orientation: int) -> bytes:
    """A minimal big-endian TIFF whose IFD0 holds only the orientation tag."""
    if not 1 <= orientation <= 8:
        raise ValueError(f"EXIF orientation must be 1..8, not {orientation}")
    return (
        b"MM\0*"
        + struct.pack(">I", 8)
        + struct.pack(">H", 1)
        + struct.pack(">HHIHH", _ORIENTATION_TAG, _TIFF_SHORT, 1, orientation, 0)
        + struct.pack(">I", 0)
    )
