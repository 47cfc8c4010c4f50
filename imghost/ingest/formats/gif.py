"""GIF87a/GIF89a: block walk per the GIF89a specification, image data skipped undecoded."""

from __future__ import annotations

import struct

from imghost.ingest.formats._common import (
    Budget,
    Pieces,
    Structure,
    complement,
    damaged,
    reject_trailing,
    truncated,
)

_SCREEN_END = 13  # header (6) + logical screen descriptor (7)
_IMAGE, _EXTENSION, _TRAILER = 0x2C, 0x21, 0x3B
_GRAPHIC_CONTROL, _PLAIN_TEXT, _APPLICATION = 0xF9, 0x01, 0xFF
# Application extensions that only carry the loop count; every other one is metadata.
_LOOP_APPLICATIONS = (b"\x0bNETSCAPE2.0", b"\x0bANIMEXTS1.0")
_MIN_CODE_SIZES = range(2, 12)
# Bytes up to the end of the first data sub-block: introducer, label, block size byte(s), data.
_CONTROL_SIZE = 4  # section 23: packed fields, delay (2), transparent colour index
_CONTROL_BLOCK = 2 + 1 + _CONTROL_SIZE
_LOOP_BLOCK = 2 + 1 + 11 + 1 + 3  # application block 11 (identifier), then {3, 1, lo, hi}
# Encoders fill data sub-blocks to their 255-byte maximum; tiny ones are only there to slow
# the walk, so the budget allows one block per 64 bytes on average.
_BYTES_PER_BLOCK = 64
_ENDS_EARLY = "The GIF ends before its trailer"


def parse(view: memoryview, max_frames: int) -> Structure:
    if view[:6] not in (b"GIF87a", b"GIF89a"):
        raise damaged("The GIF header is missing")
    if len(view) < _SCREEN_END:
        raise truncated(_ENDS_EARLY)
    width, height, flags = struct.unpack_from("<HHB", view, 6)
    if width == 0 or height == 0:
        raise damaged("The GIF header gives a width or height of 0")
    pos = _SCREEN_END + _colour_table_size(flags)
    budget = Budget(view, _BYTES_PER_BLOCK, "GIF", "blocks")
    frames = 0
    removed: list[tuple[int, int]] = []
    # Section 23: a graphic control extension governs the next graphic rendering block, so it
    # goes when that block is a removed plain-text extension.
    pending_control: tuple[int, int] | None = None
    while True:
        budget.spend()
        if pos >= len(view):
            raise truncated(_ENDS_EARLY)
        block = view[pos]
        if block == _TRAILER:
            break
        if block == _IMAGE:
            frames += 1
            if frames > max_frames:
                return _structure(width, height, max_frames + 1, pos, removed)
            pos = _skip_image(view, pos, budget)
            pending_control = None
        elif block == _EXTENSION:
            end = _skip_sub_blocks(view, pos + 2, budget)
            label = view[pos + 1]
            if label == _GRAPHIC_CONTROL and view[pos + 2] != _CONTROL_SIZE:
                removed.append((pos, end))  # not a control block any decoder can read
            elif label == _GRAPHIC_CONTROL:
                pending_control = (pos, end)
                removed.extend(_beyond_first_sub_block(pos, end, _CONTROL_BLOCK))
            elif not _removable(view, pos, label):
                removed.extend(_beyond_first_sub_block(pos, end, _LOOP_BLOCK))
            else:
                removed.append((pos, end))
                if label == _PLAIN_TEXT and pending_control is not None:
                    removed.append(pending_control)
                    pending_control = None
            pos = end
        else:
            raise damaged(f"The GIF has an unknown block type 0x{block:02X}")
    if frames == 0:
        raise damaged("The GIF contains no image")
    length = pos + 1
    reject_trailing(view, length, "GIF", "its trailer")
    return _structure(width, height, frames, length, removed)


def strip(view: memoryview, structure: Structure, orientation: int) -> Pieces:
    # GIF has no orientation metadata, so `orientation` is not written anywhere.
    return [view[start:end] for start, end in structure.keep]


def _structure(
    width: int, height: int, frames: int, length: int, removed: list[tuple[int, int]]
) -> Structure:
    return Structure(
        format="gif",
        width=width,
        height=height,
        frames=frames,
        length=length,
        keep=complement(sorted(removed), 0, length),
        reencode=False,
    )


def _colour_table_size(flags: int) -> int:
    return 3 << ((flags & 0x07) + 1) if flags & 0x80 else 0


def _skip_image(view: memoryview, pos: int, budget: Budget) -> int:
    """Offset just past the image (descriptor, local colour table, LZW data) at `pos`."""
    if pos + 10 > len(view):
        raise truncated(_ENDS_EARLY)
    pos += 10 + _colour_table_size(view[pos + 9])
    if pos >= len(view):
        raise truncated(_ENDS_EARLY)
    if view[pos] not in _MIN_CODE_SIZES:
        raise damaged("A GIF frame has an invalid LZW code size")
    return _skip_sub_blocks(view, pos + 1, budget)


def _skip_sub_blocks(view: memoryview, pos: int, budget: Budget) -> int:
    """Offset just past the data sub-blocks at `pos` and their zero-length terminator."""
    while True:
        budget.spend()
        if pos >= len(view):
            raise truncated(_ENDS_EARLY)
        size = view[pos]
        pos += 1 + size
        if size == 0:
            return pos


def _removable(view: memoryview, pos: int, label: int) -> bool:
    """Comments, plain text, unknown extensions and applications other than the loop count."""
    if label != _APPLICATION:
        return True
    identifier = view[pos + 2 : pos + 2 + len(_LOOP_APPLICATIONS[0])]
    if identifier not in _LOOP_APPLICATIONS:
        return True
    loop = pos + 2 + len(identifier)
    # Section 26 and the NETSCAPE2.0 convention: sub-block 1 is {3, 1, count lo, count hi}.
    return view[loop : loop + 2] != b"\x03\x01"


def _beyond_first_sub_block(pos: int, end: int, first: int) -> list[tuple[int, int]]:
    """Decoders read a graphic control or loop extension's first `first` bytes of data and skip
    any further sub-blocks, which could carry anything (markup too): those are cut, leaving the
    extension in its standard form."""
    extra = pos + first
    return [(extra, end - 1)] if extra < end - 1 else []
