"""Markup planted in the metadata places tests/ingest/test_hostile_images.py does not cover
(GIF and WebP blocks, JPEG APP3, PNG iTXt), through a real server."""

from __future__ import annotations

import io
import os
import struct
import zlib

import pytest
import requests
from PIL import Image, ImageSequence

from tests.conftest import Server
from tests.http.test_upload_errors import assert_envelope, leaves_nothing, post
from tests.ingest.test_hostile_images import MARKER, noisy_jpeg

__all__ = ["leaves_nothing"]  # a fixture, used by name


def _segment(marker: int, payload: bytes) -> bytes:
    return b"\xff" + bytes([marker]) + struct.pack(">H", 2 + len(payload)) + payload


def _jpeg_with(*segments: bytes, jfif: bytes | None = None) -> bytes:
    """A detailed JPEG with `segments` after its JFIF APP0 (replaced by `jfif` if given)."""
    jpeg = noisy_jpeg(64, 48)
    assert jpeg[2:4] == b"\xff\xe0"
    after_jfif = 4 + struct.unpack_from(">H", jpeg, 4)[0]
    return b"\xff\xd8" + (jfif or jpeg[2:after_jfif]) + b"".join(segments) + jpeg[after_jfif:]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_with(*chunks: bytes) -> bytes:
    picture = Image.frombytes("RGB", (32, 24), os.urandom(32 * 24 * 3))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    png = buffer.getvalue()
    after_ihdr = 8 + 25
    iend = png.rindex(b"IEND") - 4
    extra = b"".join(chunks)
    return png[:after_ihdr] + extra + png[after_ihdr:iend] + extra + png[iend:]


def _sub_blocks(data: bytes) -> bytes:
    return bytes([len(data)]) + data + b"\x00"


def _animated_gif() -> bytes:
    frames = [Image.frombytes("P", (16, 16), os.urandom(256)) for _ in range(2)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], loop=0)
    return buffer.getvalue()


def _gif_with(where: str) -> bytes:
    gif = _animated_gif()
    loop = gif.index(b"\x21\xff\x0bNETSCAPE2.0")
    control = gif.index(b"\x21\xf9\x04")
    if where == "loop extension":
        end = loop + 18  # past {3, 1, lo, hi}; the terminator follows
        return gif[:end] + bytes([len(MARKER)]) + MARKER + gif[end:]
    if where == "graphic control extension":
        end = control + 7
        return gif[:end] + bytes([len(MARKER)]) + MARKER + gif[end:]
    if where == "comment":
        block = b"\x21\xfe" + _sub_blocks(MARKER)
    else:
        block = b"\x21\xff\x0bXSSXSSXS1.0" + _sub_blocks(MARKER)
    return gif[:loop] + block + gif[loop:]


def _riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) % 2)


def _webp_with_chunk(animated: bool) -> bytes:
    frames = [Image.frombytes("RGB", (16, 16), os.urandom(768)) for _ in range(2)]
    buffer = io.BytesIO()
    if animated:
        frames[0].save(buffer, "WEBP", lossless=True, save_all=True, append_images=frames[1:])
    else:
        frames[0].save(buffer, "WEBP", lossless=True)
    body = buffer.getvalue()[12:] + _riff_chunk(b"XSSC", MARKER)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


PLANTED = {
    "jpeg APP3": lambda: _jpeg_with(_segment(0xE3, MARKER)),
    "png iTXt chunk": lambda: _png_with(_png_chunk(b"iTXt", b"XML\x00\x00\x00\x00\x00" + MARKER)),
    "gif comment": lambda: _gif_with("comment"),
    "gif application extension": lambda: _gif_with("application"),
    "gif loop extension sub-block": lambda: _gif_with("loop extension"),
    "gif graphic control sub-block": lambda: _gif_with("graphic control extension"),
    "webp chunk": lambda: _webp_with_chunk(animated=False),
    "animated webp chunk": lambda: _webp_with_chunk(animated=True),
}


def _frames(data: bytes) -> list[bytes]:
    with Image.open(io.BytesIO(data)) as picture:
        return [frame.convert("RGBA").tobytes() for frame in ImageSequence.Iterator(picture)]


@pytest.mark.parametrize("place", PLANTED)
def test_markup_planted_in_metadata_is_not_served(
    server: Server, user_key: str, place: str
) -> None:
    upload = PLANTED[place]()
    assert MARKER in upload
    response = post(server, user_key, files={"file": ("planted", upload)})
    assert response.status_code == 200, response.text
    served = requests.get(response.json()["data"], timeout=30)
    assert served.status_code == 200
    assert MARKER not in served.content
    assert _frames(served.content) == _frames(upload)


@pytest.mark.usefixtures("leaves_nothing")
def test_webp_frame_holding_an_unknown_chunk_is_refused(server: Server, user_key: str) -> None:
    webp = bytearray(_webp_with_chunk(animated=True)[: -len(_riff_chunk(b"XSSC", MARKER))])
    anmf = webp.index(b"ANMF")
    (size,) = struct.unpack_from("<I", webp, anmf + 4)
    planted = _riff_chunk(b"XSSC", MARKER)
    struct.pack_into("<I", webp, anmf + 4, size + len(planted))
    frame_end = anmf + 8 + size
    webp[frame_end:frame_end] = planted
    struct.pack_into("<I", webp, 4, len(webp) - 8)
    response = post(server, user_key, files={"file": ("frame.webp", bytes(webp))})
    assert_envelope(response, 422, "corrupt_image")
