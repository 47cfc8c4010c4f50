"""Real encoded images for the vision tests, made with Pillow (and one hand-built ICC profile)."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

from PIL import Image

D50 = (0.9642, 1.0, 0.8249)
# sRGB's primaries adapted to D50, as in every sRGB profile.
SRGB_RED = (0.4361, 0.2225, 0.0139)
SRGB_GREEN = (0.3851, 0.7169, 0.0971)
SRGB_BLUE = (0.1431, 0.0606, 0.7141)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)


def _desc(text: str) -> bytes:
    ascii_ = text.encode() + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_)) + ascii_ + bytes(4 + 4 + 2 + 1 + 67)


def rgb_profile(red: tuple, green: tuple, blue: tuple, gamma: float = 2.2) -> bytes:
    """An ICC v2 display profile with these (D50) primaries and one gamma curve."""
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    tags = [
        (b"desc", _desc("imghost test profile")),
        (b"wtpt", _xyz(*D50)),
        (b"rXYZ", _xyz(*red)),
        (b"gXYZ", _xyz(*green)),
        (b"bXYZ", _xyz(*blue)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text\0\0\0\0no copyright\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += bytes(-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"\0\0\0\0"
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + bytes(12)
        + b"acsp"
        + bytes(24)
        + struct.pack(">I", 0)
        + _s15(D50[0])
        + _s15(D50[1])
        + _s15(D50[2])
        + bytes(48)
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def swapped_primaries_profile() -> bytes:
    """A profile whose red is sRGB's blue and back: what a file calls red, sRGB shows blue."""
    return rgb_profile(SRGB_BLUE, SRGB_GREEN, SRGB_RED)


def noise(mode: str, size: tuple[int, int]) -> Image.Image:
    """Incompressible pixels."""
    return Image.frombytes(mode, size, os.urandom(size[0] * size[1] * len(mode)))


def photo(size: tuple[int, int]) -> Image.Image:
    """Photo-like: smooth gradients under mild noise (compresses like a photo, not like noise)."""
    red = Image.linear_gradient("L").resize(size)
    green = Image.linear_gradient("L").rotate(90).resize(size)
    blue = Image.radial_gradient("L").resize(size)
    smooth = Image.merge("RGB", (red, green, blue))
    grain = Image.effect_noise(size, 24).convert("RGB")
    return Image.blend(smooth, grain, 0.15)


def save(image: Image.Image, path: Path, **options: Any) -> Path:
    image.save(path, **options)
    return path
