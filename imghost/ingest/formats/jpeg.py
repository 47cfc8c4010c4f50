"""JPEG: marker segments per ITU-T T.81 Annex B, scans skipped without decoding."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from imghost.ingest.formats._common import (
    UNSUPPORTED_JPEG,
    Budget,
    FormatError,
    Pieces,
    Structure,
    complement,
    damaged,
    orientation_tiff,
    pieces_with_insert,
    skip_padding,
    trailing,
    truncated,
)

# T.81 Table B.1 marker codes.
_EOI, _SOS, _APP0, _APP2, _APP14, _COM = 0xD9, 0xDA, 0xE0, 0xE2, 0xEE, 0xFE
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_LOSSLESS = frozenset({0xC3, 0xC7, 0xCB, 0xCF})
_ARITHMETIC = frozenset({0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# Hierarchical (differential) frames: libjpeg-turbo cannot decode them, so neither can we.
_HIERARCHICAL = frozenset({0xC5, 0xC6, 0xC7, 0xCD, 0xCE, 0xCF})
_APPN = frozenset(range(0xE0, 0xF0))
# DHT, DAC, SOS, DQT, DNL, DRI, DHP, EXP and COM carry a 2-byte length, as do SOFn and APPn.
_WITH_LENGTH = _SOF | _APPN | frozenset({0xC4, 0xCC, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, _COM})
# TEM and RST0-7 stand alone; anything else (RES, JPGn, a second SOI) libjpeg refuses.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})

# A marker ends a scan: 0xFF, optional 0xFF fill bytes (B.1.1.2), then a code that is not
# stuffing (0x00) or RSTn (B.1.1.5); a DNL counts only with its fixed length of 4 (B.2.5), as
# fuzzed scans often hold a stray 0xFFDC. The look-behind pins the match to the start of an 0xFF
# run so a long run is not rescanned from every byte; the leading literal keeps the search fast.
_SCAN_END = re.compile(rb"\xff(?<!\xff\xff)\xff*+(?:[^\x00\xd0-\xd7\xdc\xff]|\xdc\x00\x04)")
# libjpeg's next_marker(): bytes that are not a marker are skipped (with a warning) up to the
# next 0xFF run followed by a code other than 0x00; browsers and Pillow show such files.
_NEXT_MARKER = re.compile(rb"\xff(?<!\xff\xff)\xff*+([^\x00\xff])")
_EXIF = b"Exif\0\0"
_JFIF = b"JFIF\0"
_ICC = b"ICC_PROFILE\0"
_ADOBE = b"Adobe"
# The segment lengths of the only forms kept: JFIF without a thumbnail (version, units,
# densities, a 0x0 thumbnail) and Adobe's transform flags; anything longer can carry anything.
_JFIF_LENGTH, _ADOBE_LENGTH = 2 + 14, 2 + 12
# An ICC profile's header: its size in the first 4 bytes, "acsp" at byte 36 (ICC.1:2022 7.2).
_ICC_HEADER, _ICC_SIGNATURE = 128, b"acsp"
_BYTES_PER_SEGMENT = 4096
_ENDS_EARLY = "The JPEG ends before its end-of-image marker"


@dataclass(frozen=True, slots=True)
class _Segment:
    marker: int
    gap: int  # where bytes skipped before the marker begin; == start when there are none
    start: int  # first 0xFF of the marker, fill bytes included
    body: int  # just past the length field
    end: int  # just past the segment; for SOS, where the entropy-coded data begins


def parse(view: memoryview, max_frames: int) -> Structure:
    frame: tuple[int, int, bool] | None = None
    scanned = False
    removed: list[tuple[int, int]] = []
    icc: list[_Segment] = []
    length = 0
    budget = Budget(view, _BYTES_PER_SEGMENT, "JPEG", "marker segments")
    for segment in _segments(view, 0, budget):
        if segment.gap < segment.start:
            removed.append((segment.gap, segment.start))
        marker = segment.marker
        if marker in _SOF:
            if frame is not None:
                raise damaged("The JPEG has two frame headers")
            frame = _frame_header(view, segment)
        elif marker == _SOS:
            if frame is None:
                raise damaged("The JPEG has image data before its frame header")
            scanned = True
        elif segment.marker == _APP2 and _starts_with(view, segment, _ICC):
            icc.append(segment)
        elif _removable(view, segment):
            removed.append((segment.start, segment.end))
        length = segment.end
    if icc and not _whole_profile(view, icc):
        removed = sorted(removed + [(segment.start, segment.end) for segment in icc])
    if frame is None or not scanned:
        raise damaged("The JPEG has no image data")
    _reject_appended(view, length, budget)
    width, height, reencode = frame
    return Structure(
        format="jpeg",
        width=width,
        height=height,
        frames=1,
        length=length,
        keep=complement(removed, 0, length),
        reencode=reencode,
    )


def strip(view: memoryview, structure: Structure, orientation: int) -> Pieces:
    if orientation == 1:
        return [view[start:end] for start, end in structure.keep]
    tiff = orientation_tiff(orientation)
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + len(_EXIF) + len(tiff)) + _EXIF + tiff
    return pieces_with_insert(view, structure.keep, _after_jfif(view), app1)


def _segments(view: memoryview, pos: int, budget: Budget) -> Iterator[_Segment]:
    """The marker segments of the JPEG stream whose SOI is at `pos`, up to and including EOI."""
    if view[pos : pos + 2] != b"\xff\xd8":
        raise damaged("The JPEG does not start with a start-of-image marker")
    pos = gap = pos + 2
    while True:
        budget.spend()
        start, marker, pos = _next_marker(view, pos)
        if marker in _STANDALONE:
            continue  # outside a scan it means nothing; dropped with any stray bytes around it
        if marker == _EOI:
            yield _Segment(marker, gap, start, pos, pos)
            return
        if marker not in _WITH_LENGTH:
            raise damaged(f"The JPEG has an invalid marker 0xFF{marker:02X}")
        if pos + 2 > len(view):
            raise truncated(_ENDS_EARLY)
        (size,) = struct.unpack_from(">H", view, pos)
        end = pos + size
        if size < 2:
            raise damaged(f"The JPEG has a malformed 0xFF{marker:02X} segment")
        if end > len(view):
            raise truncated(_ENDS_EARLY)
        yield _Segment(marker, gap, start, pos + 2, end)
        pos = gap = _end_of_scan(view, end) if marker == _SOS else end


def _next_marker(view: memoryview, pos: int) -> tuple[int, int, int]:
    """Start, code and end of the first marker at or after `pos`."""
    # A slice, so the look-behind cannot see the byte before `pos`.
    match = _NEXT_MARKER.search(view[pos:])
    if match is None:
        raise truncated(_ENDS_EARLY)
    return pos + match.start(), match[1][0], pos + match.end()


def _end_of_scan(view: memoryview, pos: int) -> int:
    # Searching a slice keeps the look-behind from seeing the scan header's last byte.
    match = _SCAN_END.search(view[pos:])
    if match is None:
        raise truncated(_ENDS_EARLY)
    return pos + match.start()


def _frame_header(view: memoryview, segment: _Segment) -> tuple[int, int, bool]:
    """Width, height and whether browsers cannot show this coding, from a SOFn segment."""
    body = segment.body
    if segment.end - body < 6:
        raise damaged("The JPEG frame header is too short")
    precision, height, width, components = struct.unpack_from(">BHHB", view, body)
    if components == 0 or segment.end - body != 6 + 3 * components:
        raise damaged("The JPEG frame header is malformed")
    if precision != 8:
        raise FormatError(
            UNSUPPORTED_JPEG,
            f"This is a {precision}-bit JPEG, which browsers cannot display; "
            "convert it to 8-bit JPEG or PNG and upload that.",
        )
    if width == 0 or height == 0:
        raise damaged("The JPEG header gives a width or height of 0")
    marker = segment.marker
    if marker in _HIERARCHICAL:
        raise FormatError(
            UNSUPPORTED_JPEG,
            "This is a hierarchical JPEG, which browsers cannot display; "
            "re-save it as a baseline or progressive JPEG and upload that.",
        )
    return width, height, marker in _LOSSLESS or marker in _ARITHMETIC


def _removable(view: memoryview, segment: _Segment) -> bool:
    """Metadata that no decoder needs: every APPn and comment but a bare JFIF APP0, the ICC
    profile's APP2 (checked on its own) and Adobe's APP14 transform flags."""
    marker = segment.marker
    size = segment.end - segment.body + 2  # the segment's length field
    if marker == _APP0:
        return not (size == _JFIF_LENGTH and _starts_with(view, segment, _JFIF))
    if marker == _APP14:
        return not (size == _ADOBE_LENGTH and _starts_with(view, segment, _ADOBE))
    return marker == _COM or marker in _APPN


def _whole_profile(view: memoryview, segments: list[_Segment]) -> bool:
    """Do the ICC APP2 segments hold one profile, in order, of the size its header gives?"""
    data_start = len(_ICC) + 2  # the identifier, then the chunk's number and the count
    if any(s.end - s.body < data_start for s in segments):
        return False
    chunks = [view[s.body + data_start : s.end] for s in segments]
    numbers = [view[s.body + len(_ICC)] for s in segments]
    if numbers != list(range(1, len(segments) + 1)) or len(chunks[0]) < _ICC_HEADER:
        return False
    (declared,) = struct.unpack_from(">I", chunks[0], 0)
    signature = bytes(chunks[0][36:40])
    return signature == _ICC_SIGNATURE and declared == sum(len(chunk) for chunk in chunks)


def _starts_with(view: memoryview, segment: _Segment, prefix: bytes) -> bool:
    return view[segment.body : min(segment.body + len(prefix), segment.end)] == prefix


def _reject_appended(view: memoryview, pos: int, budget: Budget) -> None:
    """Allow only 0x00 padding, whole JPEG streams (MPO, Ultra HDR gain map) and a motion
    photo's video (an MP4 starting with an `ftyp` box, as Android cameras append) after EOI.
    All of it is cut off before storing: the caller keeps `length` bytes."""
    while True:
        if view[pos + 4 : pos + 8] == b"ftyp":
            return
        pos = skip_padding(view, pos)
        if pos == len(view):
            return
        try:
            *_, last = _segments(view, pos, budget)
        except FormatError:
            raise trailing("JPEG", "its end-of-image marker") from None
        pos = last.end


def _after_jfif(view: memoryview) -> int:
    """Where an APP1 EXIF goes: after SOI and a JFIF APP0 that directly follows it."""
    if view[2:4] != b"\xff\xe0":
        return 2
    (size,) = struct.unpack_from(">H", view, 4)
    # The same test as _removable(): only a bare JFIF APP0 is kept.
    return 4 + size if size == _JFIF_LENGTH and view[6:11] == _JFIF else 2
