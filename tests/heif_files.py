"""HEIC and AVIF files for tests, encoded for real and edited box by box.

HEIC comes from Debian's `heif-enc` (libheif-examples with x265), a test-only tool: imghost
itself only decodes, with pi-heif. AVIF comes from Pillow. heif-enc 1.15 writes neither irot
nor imir (it copies a JPEG's EXIF orientation as is), so `add_transforms` adds them, and
`resize_ispe` makes headers that claim another size.
"""

from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image

from tests.commands import required_command

HEIF_ENC_ENV = "IMGHOST_TEST_HEIF_ENC"
ORIENTATION = 0x0112


def heif_enc(tmp_path: Path, image: Image.Image, **save: Any) -> bytes:
    """`image` saved as JPEG (RGB, with `save`'s EXIF, XMP, ICC) or PNG (with alpha), then
    encoded by heif-enc, which carries that metadata over."""
    tool = required_command("heif-enc", HEIF_ENC_ENV, "apt-get install libheif-examples")
    suffix = ".png" if image.mode in ("RGBA", "LA") else ".jpg"
    source = tmp_path / f"heif-source{suffix}"
    image.save(source, quality=98, **save) if suffix == ".jpg" else image.save(source, **save)
    target = tmp_path / "encoded.heic"
    subprocess.run(
        [tool, "-q", "90", str(source), "-o", str(target)], check=True, capture_output=True
    )
    return target.read_bytes()


def avif_bytes(image: Image.Image, **save: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="AVIF", quality=90, **save)
    return buffer.getvalue()


def exif_with(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return exif


def irot(quarter_turns_anticlockwise: int) -> bytes:
    return struct.pack(">I4sB", 9, b"irot", quarter_turns_anticlockwise)


def imir(axis: int) -> bytes:
    """Axis 0 exchanges top and bottom, 1 left and right."""
    return struct.pack(">I4sB", 9, b"imir", axis)


def resize_ispe(data: bytes, old: tuple[int, int], new: tuple[int, int]) -> bytes:
    """Every `ispe` property that says `old` says `new` instead (the bytes keep their length)."""
    header = struct.pack(">I4sI", 20, b"ispe", 0)
    edited = data.replace(header + struct.pack(">II", *old), header + struct.pack(">II", *new))
    assert edited != data, f"no ispe of {old}"
    return edited


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    found, pos = [], start
    while pos < end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        found.append((kind, pos, pos + size))
        pos += size
    return found


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def add_transforms(data: bytes, *properties: bytes) -> bytes:
    """The file with `properties` (irot/imir boxes) associated, in order, with its primary
    item: new boxes at the end of `ipco`, and every file offset after `meta` moved along."""
    top = {kind: (start, end) for kind, start, end in _boxes(data, 0, len(data))}
    meta_start, meta_end = top[b"meta"]
    assert meta_end <= top[b"mdat"][0], "the picture data must follow the meta box"
    children = _boxes(data, meta_start + 12, meta_end)
    parts = {kind: data[start + 8 : end] for kind, start, end in children}
    (primary,) = struct.unpack_from(">H", parts[b"pitm"], 4)
    iprp = {kind: data[start + 8 : end] for kind, start, end in _boxes(data, *_inner(children))}
    first_new = len(_boxes(iprp[b"ipco"], 0, len(iprp[b"ipco"]))) + 1
    ipco = iprp[b"ipco"] + b"".join(properties)
    ipma = _associate(iprp[b"ipma"], primary, range(first_new, first_new + len(properties)))
    parts[b"iprp"] = _box(b"ipco", ipco) + _box(b"ipma", ipma)
    payload = data[meta_start + 8 : meta_start + 12] + b"".join(
        _box(kind, parts[kind]) for kind, _start, _end in children
    )
    shift = 8 + len(payload) - (meta_end - meta_start)
    payload = payload.replace(
        _box(b"iloc", parts[b"iloc"]), _box(b"iloc", _shifted(parts[b"iloc"], shift))
    )
    return data[:meta_start] + _box(b"meta", payload) + data[meta_end:]


def _inner(children: list[tuple[bytes, int, int]]) -> tuple[int, int]:
    (start, end) = next((start, end) for kind, start, end in children if kind == b"iprp")
    return start + 8, end


def _associate(ipma: bytes, item: int, indexes: range) -> bytes:
    version, flags = ipma[0], int.from_bytes(ipma[1:4], "big")
    assert (version, flags & 1) == (0, 0), "heif-enc writes short ipma entries"
    (count,) = struct.unpack_from(">I", ipma, 4)
    out, pos = bytearray(ipma[:8]), 8
    for _ in range(count):
        (item_id,), associations = struct.unpack_from(">H", ipma, pos), ipma[pos + 2]
        entries = ipma[pos + 3 : pos + 3 + associations]
        if item_id == item:
            entries += bytes(0x80 | index for index in indexes)  # essential
        out += struct.pack(">HB", item_id, len(entries)) + entries
        pos += 3 + associations
    return bytes(out)


def _shifted(iloc: bytes, shift: int) -> bytes:
    """iloc with every item stored in the file (construction method 0) moved by `shift`."""
    version = iloc[0]
    assert version in (0, 1)
    offset_size, length_size = iloc[4] >> 4, iloc[4] & 0xF
    base_size, index_size = iloc[5] >> 4, (iloc[5] & 0xF) if version else 0
    out = bytearray(iloc)

    def move(pos: int, size: int) -> None:
        out[pos : pos + size] = (int.from_bytes(iloc[pos : pos + size], "big") + shift).to_bytes(
            size, "big"
        )

    (count,), pos = struct.unpack_from(">H", iloc, 6), 8
    for _ in range(count):
        pos += 2  # item_ID
        method = iloc[pos + 1] & 0xF if version else 0
        pos += (2 if version else 0) + 2  # construction method, data reference index
        if method == 0 and base_size:
            move(pos, base_size)
        (extents,) = struct.unpack_from(">H", iloc, pos + base_size)
        pos += base_size + 2
        for _ in range(extents):
            pos += index_size
            if method == 0 and not base_size:
                move(pos, offset_size)
            pos += offset_size + length_size
    return bytes(out)
