"""PNG and APNG: chunk walk per the PNG specification (third edition), every CRC verified."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from imghost.ingest.formats._common import (
    Budget,
    Pieces,
    Structure,
    complement,
    damaged,
    orientation_tiff,
    pieces_with_insert,
    reject_trailing,
    truncated,
)

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IHDR_END = len(_SIGNATURE) + 8 + 13 + 4
_MAX_UINT31 = 2**31 - 1  # section 7.1: lengths, widths and heights are below 2^31
_BYTES_PER_CHUNK = 4096  # libpng writes 8 KiB IDAT chunks, Pillow 64 KiB
_ENDS_EARLY = "The PNG ends before its IEND chunk"
# Ancillary chunks that change how the picture looks, kept when stripping; every other
# ancillary chunk (text, EXIF, time, private ones that can carry anything) is removed.
_PICTURE_ANCILLARY = frozenset(
    {b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"cICP", b"mDCV", b"cLLI", b"pHYs",
     b"bKGD", b"acTL", b"fcTL", b"fdAT"}
)  # fmt: skip
_KNOWN_CRITICAL = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
# Section 11 and the APNG extension give these chunks one exact length (Pillow raises
# ValueError on short ones, so they must not reach it).
_FIXED_LENGTH = {
    b"IHDR": 13,
    b"IEND": 0,
    b"gAMA": 4,
    b"cHRM": 32,
    b"sRGB": 1,
    b"pHYs": 9,
    b"tIME": 7,
    b"cICP": 4,
    b"cLLI": 8,
    b"mDCV": 24,
    b"acTL": 8,
    b"fcTL": 26,
}
# Section 11.2.1 Table 11.1: allowed bit depths per colour type.
_BIT_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
_GREY, _TRUECOLOUR, _INDEXED, _GREY_ALPHA = 0, 2, 3, 4
_TRNS_LENGTH = {_GREY: 2, _TRUECOLOUR: 6}
_MAX_APNG_FRAMES = 2**31  # Pillow and browsers treat larger acTL counts as no animation


@dataclass(frozen=True, slots=True)
class _Chunk:
    kind: bytes
    start: int
    data: int
    end: int  # just past the CRC

    @property
    def size(self) -> int:
        return self.end - self.data - 4


@dataclass(slots=True)
class _Walk:
    """What the chunks after IHDR have shown so far."""

    width: int
    height: int
    colour_type: int
    palette: bool = False
    image_data: bool = False
    animation_controls: int = 0  # acTL chunks before the first IDAT
    declared_frames: int = 0
    first_frame_control: bool = False  # an fcTL before the first IDAT
    next_sequence: int = 0
    frames_valid: bool = True
    removed: list[tuple[int, int]] = field(default_factory=list)

    @property
    def animated(self) -> bool:
        # APNG spec: a single acTL before the first IDAT, else the file is a still PNG.
        return self.animation_controls == 1 and 0 < self.declared_frames <= _MAX_APNG_FRAMES

    @property
    def frames(self) -> int:
        if not self.animated:
            return 1
        # An IDAT without an fcTL before it is a fallback image outside the animation; Pillow
        # still shows it as frame 0, and decoded frames are counted against this number.
        return self.declared_frames + (not self.first_frame_control)

    def visit(self, view: memoryview, chunk: _Chunk) -> None:
        kind = chunk.kind
        if kind == b"IHDR":
            raise damaged("The PNG has a second IHDR chunk")
        if kind == b"PLTE":
            self._palette(chunk)
        elif kind == b"IDAT":
            if self.colour_type == _INDEXED and not self.palette:
                raise damaged("The palette PNG has no PLTE chunk before its data")
            self.image_data = True
        elif kind == b"tRNS":
            _check_transparency(self.colour_type, chunk)
        elif kind == b"acTL" and not self.image_data:
            self.animation_controls += 1
            (self.declared_frames,) = struct.unpack_from(">I", view, chunk.data)
        elif kind in (b"fcTL", b"fdAT"):
            self._frame_chunk(view, chunk)
        elif kind[0] < ord("a") and kind not in _KNOWN_CRITICAL:
            raise damaged(f"The PNG has a critical chunk no decoder knows, {kind.decode()}")
        if kind[0] >= ord("a") and kind not in _PICTURE_ANCILLARY:
            self.removed.append((chunk.start, chunk.end))

    def _palette(self, chunk: _Chunk) -> None:
        if self.palette or self.image_data or self.colour_type in (_GREY, _GREY_ALPHA):
            raise damaged("The PNG has a PLTE chunk where none is allowed")
        if chunk.size % 3 or not 0 < chunk.size <= 3 * 256:
            raise damaged("The PNG palette (PLTE chunk) has an invalid length")
        self.palette = True

    def _frame_chunk(self, view: memoryview, chunk: _Chunk) -> None:
        # APNG: fcTL and fdAT share one sequence counter starting at 0; fcTL regions must lie
        # inside the canvas. Broken frames only matter if the file is animated at all.
        if chunk.size < 4:
            self.frames_valid = False
            return
        (sequence,) = struct.unpack_from(">I", view, chunk.data)
        self.frames_valid &= sequence == self.next_sequence
        self.next_sequence = sequence + 1
        if chunk.kind == b"fcTL":
            self.first_frame_control |= not self.image_data
            width, height, x, y = struct.unpack_from(">4I", view, chunk.data + 4)
            inside = x + width <= self.width and y + height <= self.height
            self.frames_valid &= width > 0 and height > 0 and inside


def parse(
    view: memoryview, max_frames: int, walked: Callable[[int], None] | None = None
) -> Structure:
    """`walked(offset)` is told, after each chunk, that the walk will not read before `offset`
    again: the CRC check reads every byte, which `walked` may hand back as it goes."""
    if view[: len(_SIGNATURE)] != _SIGNATURE:
        raise damaged("The PNG signature is missing")
    chunks = _chunks(view, walked)
    walk = _image_header(view, next(chunks))
    length = _IHDR_END
    for chunk in chunks:
        walk.visit(view, chunk)
        if walk.image_data and walk.frames > max_frames:
            return _structure(walk, max_frames + 1, chunk.end)
        length = chunk.end
    if not walk.image_data:
        raise damaged("The PNG has no image data (IDAT chunk)")
    if walk.animated and not walk.frames_valid:
        raise damaged("The APNG's frames are out of sequence or outside the image")
    reject_trailing(view, length, "PNG", "its IEND chunk")
    return _structure(walk, walk.frames, length)


def strip(view: memoryview, structure: Structure, orientation: int) -> Pieces:
    if orientation == 1:
        return [view[start:end] for start, end in structure.keep]
    tiff = orientation_tiff(orientation)
    body = b"eXIf" + tiff
    exif = struct.pack(">I", len(tiff)) + body + struct.pack(">I", zlib.crc32(body))
    # Right after IHDR, so that decoders reading only up to the first IDAT see it.
    return pieces_with_insert(view, structure.keep, _IHDR_END, exif)


def _structure(walk: _Walk, frames: int, length: int) -> Structure:
    return Structure(
        format="png",
        width=walk.width,
        height=walk.height,
        frames=frames,
        length=length,
        keep=complement(walk.removed, 0, length),
        reencode=False,
    )


def _chunks(view: memoryview, walked: Callable[[int], None] | None) -> Iterator[_Chunk]:
    """Every chunk after the signature, CRC-checked, up to and including IEND."""
    pos = len(_SIGNATURE)
    budget = Budget(view, _BYTES_PER_CHUNK, "PNG", "chunks")
    while True:
        budget.spend()
        if pos + 8 > len(view):
            raise truncated(_ENDS_EARLY)
        size, kind = struct.unpack_from(">I4s", view, pos)
        if size > _MAX_UINT31 or not kind.isalpha():
            raise damaged(f"The PNG has a malformed chunk header at byte {pos}")
        end = pos + 12 + size
        if end > len(view):
            raise truncated(_ENDS_EARLY)
        name = kind.decode()
        (crc,) = struct.unpack_from(">I", view, end - 4)
        if zlib.crc32(view[pos + 4 : end - 4]) != crc:
            raise damaged(f"The PNG's {name} chunk fails its CRC check")
        if _FIXED_LENGTH.get(kind, size) != size:
            raise damaged(f"The PNG's {name} chunk has the wrong length")
        yield _Chunk(kind, pos, pos + 8, end)
        if kind == b"IEND":
            return
        pos = end
        if walked is not None:
            walked(pos)


def _image_header(view: memoryview, chunk: _Chunk) -> _Walk:
    if chunk.kind != b"IHDR":
        raise damaged("The PNG does not begin with an IHDR chunk")
    width, height, depth, colour_type, compression, filtering, interlace = struct.unpack_from(
        ">IIBBBBB", view, chunk.data
    )
    if not (0 < width <= _MAX_UINT31 and 0 < height <= _MAX_UINT31):
        raise damaged("The PNG header gives an invalid width or height")
    if depth not in _BIT_DEPTHS.get(colour_type, ()):
        raise damaged("The PNG header has an invalid bit depth or colour type")
    if compression != 0 or filtering != 0 or interlace not in (0, 1):
        raise damaged("The PNG header names an unknown compression or filter method")
    return _Walk(width, height, colour_type)


def _check_transparency(colour_type: int, chunk: _Chunk) -> None:
    if _TRNS_LENGTH.get(colour_type, chunk.size) != chunk.size:
        raise damaged("The PNG transparency (tRNS) chunk has the wrong length")


# Samples per pixel for each colour type (section 11.2.1).
_CHANNELS = {_GREY: 1, _TRUECOLOUR: 3, _INDEXED: 1, _GREY_ALPHA: 2, 6: 4}
_FILTER_TYPES = 5  # None, Sub, Up, Average, Paeth
_READ_BLOCK = 1 << 18
_INFLATE_BLOCK = 1 << 18
_ANIMATION_CHUNKS = frozenset({b"acTL", b"fcTL", b"fdAT"})


def inflate_check(fp: BinaryIO) -> bool:
    """Inflate a plain PNG's image data and check every row, one block in memory at a time.

    What a decoder would find wrong in the pixel data of a still, non-interlaced PNG (a broken
    or short deflate stream, an unknown row filter) is found here without unfiltering rows or
    holding the picture; ValueError and zlib.error say what. Returns False, having checked
    nothing, for files it leaves to a full decoder: interlaced or animated ones. The chunk
    layout and CRCs must already have passed `parse`.
    """
    fp.seek(len(_SIGNATURE) + 8)
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", fp.read(13))
    if interlace:
        return False
    stride = 1 + (width * _CHANNELS[colour_type] * depth + 7) // 8
    expected = stride * height
    inflater = zlib.decompressobj()
    produced = 0
    fp.seek(_IHDR_END)
    while produced < expected:
        size, kind = struct.unpack(">I4s", fp.read(8))
        if kind in _ANIMATION_CHUNKS:
            return False
        if kind == b"IEND":
            break
        if kind != b"IDAT":
            fp.seek(size + 4, os.SEEK_CUR)
            continue
        for _ in range(0, size, _READ_BLOCK):
            data = fp.read(min(_READ_BLOCK, size))
            size -= len(data)
            while data and produced < expected:
                rows = inflater.decompress(data, _INFLATE_BLOCK)
                data = inflater.unconsumed_tail
                _check_filters(rows[: expected - produced], produced, stride)
                produced += len(rows)
        fp.seek(size + 4, os.SEEK_CUR)
    if produced < expected:
        raise ValueError(f"the image data ends after {produced // stride} of {height} rows")
    return True


def _check_filters(rows: bytes, offset: int, stride: int) -> None:
    """Each row starts with its filter type; `offset` is where `rows` sits in the stream."""
    if max(rows[-offset % stride :: stride], default=0) >= _FILTER_TYPES:
        raise ValueError("a row of the image data names an unknown filter type")
