"""WebP: RIFF chunk walk per the WebP container specification (RFC 9649)."""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from imghost.ingest.formats._common import (
    Budget,
    Pieces,
    Structure,
    damaged,
    orientation_tiff,
    reject_trailing,
    truncated,
)

_HEADER_END = 12  # "RIFF", size, "WEBP"
_VP8, _VP8L, _VP8X, _ANIM, _ANMF, _EXIF = b"VP8 ", b"VP8L", b"VP8X", b"ANIM", b"ANMF", b"EXIF"
_KEPT = frozenset({_VP8, _VP8L, _ANIM, _ANMF, b"ALPH", b"ICCP"})
_FRAME_DATA = frozenset({_VP8, _VP8L, b"ALPH"})
# VP8X flag bits (RFC 9649 section 2.7): ICC 0x20, alpha 0x10, EXIF 0x08, XMP 0x04, animation 0x02.
_ALPHA_FLAG, _EXIF_FLAG, _XMP_FLAG, _ANIMATION_FLAG = 0x10, 0x08, 0x04, 0x02
_VP8_START_CODE = b"\x9d\x01\x2a"  # RFC 6386 section 9.1
_VP8L_SIGNATURE = 0x2F  # WebP lossless bitstream specification, section 3.1
_MAX_CANVAS_AREA = 2**32 - 1
_BYTES_PER_CHUNK = 4096
_ENDS_EARLY = "The WebP is shorter than its RIFF header says"


@dataclass(frozen=True, slots=True)
class _Chunk:
    fourcc: bytes
    start: int
    data: int
    end: int  # just past the payload, padding byte excluded

    @property
    def size(self) -> int:
        return self.end - self.data


@dataclass(slots=True)
class _Walk:
    """What the chunks after the first one have shown so far."""

    width: int
    height: int
    budget: Budget  # shared with the top-level walk: frames' chunks count too
    image: _Chunk | None = None  # the still image's VP8/VP8L chunk
    animation: bool = False  # an ANIM chunk, which must come before the frames
    frames: int = 0  # ANMF chunks
    keep: list[tuple[int, int]] = field(default_factory=list)

    def visit(self, view: memoryview, chunk: _Chunk) -> None:
        fourcc = chunk.fourcc
        if fourcc == _ANIM:
            self.animation = True
        elif fourcc == _ANMF:
            if not self.animation:
                raise damaged("A WebP animation frame comes before the ANIM chunk")
            self.frames += 1
            _check_frame_inside(view, chunk, self.width, self.height)
            _check_frame_data(view, chunk, self.budget)
        elif fourcc in (_VP8, _VP8L) and self.image is None:
            self.image = chunk
        if fourcc in _KEPT:
            self.keep.append((chunk.start, min(chunk.end + chunk.size % 2, len(view))))


def parse(view: memoryview, max_frames: int) -> Structure:
    riff_end = _riff_end(view)
    budget = Budget(view, _BYTES_PER_CHUNK, "WebP", "chunks")
    chunks = _chunks(view, _HEADER_END, riff_end, budget)
    first = next(chunks, None)
    if first is None or first.fourcc not in (_VP8, _VP8L, _VP8X):
        raise damaged("The WebP does not start with an image or VP8X chunk")
    if first.fourcc == _VP8X:
        walk = _Walk(*_canvas(view, first), budget=budget)
        for chunk in chunks:
            walk.visit(view, chunk)
            if walk.frames > max_frames:
                return _structure(walk, max_frames + 1, chunk.end)
        _check_extended(view, first, walk)
    else:
        walk = _Walk(*_image_size(view, first), budget=budget)
        walk.visit(view, first)
        # RFC 9649 section 2.5: a simple file is its one image chunk; decoders ignore anything
        # after it, so later chunks are only bounds-checked, and dropped on strip.
        deque(chunks, maxlen=0)
    length = min(riff_end + riff_end % 2, len(view))
    reject_trailing(view, length, "WebP", "its RIFF container")
    return _structure(walk, max(walk.frames, 1), length)


def strip(view: memoryview, structure: Structure, orientation: int) -> Pieces:
    chunks: Pieces = []
    for start, end in structure.keep:
        chunks.append(view[start:end])
        if (end - start) % 2:
            chunks.append(b"\0")  # the padding byte the file left out at its very end
    if view[_HEADER_END : _HEADER_END + 4] == _VP8X or orientation != 1:
        chunks.insert(0, _chunk(_VP8X, _vp8x_payload(view, structure, orientation != 1)))
    if orientation != 1:
        # RFC 9649 section 2.7: metadata chunks follow the image data.
        chunks.append(_chunk(_EXIF, orientation_tiff(orientation)))
    size = 4 + sum(len(piece) for piece in chunks)
    return [b"RIFF" + struct.pack("<I", size) + b"WEBP", *chunks]


def _structure(walk: _Walk, frames: int, length: int) -> Structure:
    return Structure(
        format="webp",
        width=walk.width,
        height=walk.height,
        frames=frames,
        length=length,
        keep=tuple(walk.keep),
        reencode=False,
    )


def _riff_end(view: memoryview) -> int:
    if len(view) < _HEADER_END:
        raise truncated(_ENDS_EARLY)
    if view[:4] != b"RIFF" or view[8:12] != b"WEBP":
        raise damaged("The WebP's RIFF header is missing")
    (size,) = struct.unpack_from("<I", view, 4)
    if size < 4 or 8 + size > len(view):
        raise truncated(_ENDS_EARLY)
    return 8 + size


def _chunks(view: memoryview, pos: int, riff_end: int, budget: Budget) -> Iterator[_Chunk]:
    while pos < riff_end:
        budget.spend()
        if pos + 8 > riff_end:
            raise damaged("The WebP has a broken chunk header at its end")
        fourcc = bytes(view[pos : pos + 4])
        (size,) = struct.unpack_from("<I", view, pos + 4)
        end = pos + 8 + size
        if end > riff_end:
            raise damaged("A WebP chunk runs past the end of its RIFF container")
        yield _Chunk(fourcc, pos, pos + 8, end)
        pos = end + size % 2


def _canvas(view: memoryview, vp8x: _Chunk) -> tuple[int, int]:
    if vp8x.size < 10:
        raise damaged("The WebP VP8X chunk is too short")
    width = _uint24(view, vp8x.data + 4) + 1
    height = _uint24(view, vp8x.data + 7) + 1
    if width * height > _MAX_CANVAS_AREA:
        raise damaged("The WebP canvas is larger than the format allows")
    return width, height


def _image_size(view: memoryview, chunk: _Chunk) -> tuple[int, int]:
    if chunk.fourcc == _VP8:
        return _vp8_size(view, chunk)
    width, height, _ = _vp8l_header(view, chunk)
    return width, height


def _vp8_size(view: memoryview, chunk: _Chunk) -> tuple[int, int]:
    # RFC 6386 section 9.1: 3-byte frame tag (bit 0 clear on key frames), start code, then
    # 14-bit width and height each topped by 2 scaling bits.
    if chunk.size < 10:
        raise damaged("The WebP VP8 frame header is too short")
    tag = view[chunk.data]
    if tag & 1 or view[chunk.data + 3 : chunk.data + 6] != _VP8_START_CODE:
        raise damaged("The WebP VP8 frame header is malformed")
    width, height = struct.unpack_from("<HH", view, chunk.data + 6)
    width, height = width & 0x3FFF, height & 0x3FFF
    if width == 0 or height == 0:
        raise damaged("The WebP header gives a width or height of 0")
    return width, height


def _vp8l_header(view: memoryview, chunk: _Chunk) -> tuple[int, int, bool]:
    """Width, height and whether the alpha channel is used, from a VP8L chunk."""
    if chunk.size < 5 or view[chunk.data] != _VP8L_SIGNATURE:
        raise damaged("The WebP lossless header is malformed")
    (bits,) = struct.unpack_from("<I", view, chunk.data + 1)
    if bits >> 29:
        raise damaged("The WebP lossless header has an unknown version")
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool(bits >> 28 & 1)


def _check_frame_inside(view: memoryview, anmf: _Chunk, width: int, height: int) -> None:
    # RFC 9649 section 2.7.1.1: offsets are stored halved, sizes minus one.
    if anmf.size < 16:
        raise damaged("A WebP animation frame header is too short")
    x, y = 2 * _uint24(view, anmf.data), 2 * _uint24(view, anmf.data + 3)
    frame_width, frame_height = _uint24(view, anmf.data + 6) + 1, _uint24(view, anmf.data + 9) + 1
    if x + frame_width > width or y + frame_height > height:
        raise damaged("A WebP animation frame lies outside the image")


def _check_frame_data(view: memoryview, anmf: _Chunk, budget: Budget) -> None:
    """An animation frame may hold only its image (ALPH, VP8 or VP8L chunks).

    RFC 9649 lets a frame carry unknown chunks too, but no encoder writes them, and they
    cannot be cut out losslessly without rewriting the frame, so a file with one is refused
    rather than served with whatever the chunk holds (it could be markup).
    """
    for chunk in _chunks(view, anmf.data + 16, anmf.end, budget):
        if chunk.fourcc not in _FRAME_DATA:
            raise damaged(
                f"A WebP animation frame holds a {chunk.fourcc!r} chunk besides its image"
            )


def _check_extended(view: memoryview, vp8x: _Chunk, walk: _Walk) -> None:
    animated = bool(view[vp8x.data] & _ANIMATION_FLAG)
    if animated != bool(walk.frames):
        raise damaged("The WebP's animation flag does not match its frames")
    if animated:
        return
    if walk.image is None:
        raise damaged("The WebP contains no image data")
    if _image_size(view, walk.image) != (walk.width, walk.height):
        raise damaged("The WebP image size does not match its canvas size")


def _vp8x_payload(view: memoryview, structure: Structure, with_exif: bool) -> bytes:
    """The VP8X payload for the stripped file: EXIF and XMP flags reflect what it now holds."""
    if view[_HEADER_END : _HEADER_END + 4] == _VP8X:
        payload = bytearray(view[_HEADER_END + 8 : _HEADER_END + 18])
        payload[0] &= ~(_EXIF_FLAG | _XMP_FLAG)
    else:
        payload = bytearray(4)
        payload += (structure.width - 1).to_bytes(3, "little")
        payload += (structure.height - 1).to_bytes(3, "little")
        if _has_lossless_alpha(view, structure):
            payload[0] |= _ALPHA_FLAG
    if with_exif:
        payload[0] |= _EXIF_FLAG
    return bytes(payload)


def _has_lossless_alpha(view: memoryview, structure: Structure) -> bool:
    """For a simple-format file: whether its one image is VP8L with alpha."""
    start, end = structure.keep[0]
    image = _Chunk(bytes(view[start : start + 4]), start, start + 8, end)
    return image.fourcc == _VP8L and _vp8l_header(view, image)[2]


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    padding = b"\0" * (len(payload) % 2)
    return fourcc + struct.pack("<I", len(payload)) + payload + padding


def _uint24(view: memoryview, pos: int) -> int:
    return int.from_bytes(view[pos : pos + 3], "little")
