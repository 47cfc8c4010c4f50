"""Images built to be accepted broken, or to cost a decoder far more than their size, sent to a
real server: each answers 422 with its code and leaves nothing stored."""

from __future__ import annotations

import io
import os
import zlib

import pytest
import requests
from PIL import Image, ImageCms

from tests.conftest import Server, auth
from tests.http.test_upload_errors import assert_envelope


def upload(server: Server, key: str, data: bytes, name: str = "x.jpg") -> requests.Response:
    return requests.post(
        server.url + "/api/upload", headers=auth(key), files={"file": (name, data)}, timeout=60
    )


def noisy_jpeg(width: int = 320, height: int = 240, **options: object) -> bytes:
    """A JPEG with detail everywhere, so every cut lands in real entropy-coded data."""
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, **options)
    return out.getvalue()


def scan_start(jpeg: bytes) -> int:
    """Offset of the first byte after the (first) SOS segment's header."""
    sos = jpeg.index(b"\xff\xda")
    return sos + 2 + int.from_bytes(jpeg[sos + 2 : sos + 4], "big")


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.6, 0.9, 0.99])
def test_a_jpeg_cut_in_its_scan_data_with_an_eoi_appended_is_refused(
    server: Server, user_key: str, fraction: float, progressive: bool
) -> None:
    whole = noisy_jpeg(progressive=progressive)
    assert upload(server, user_key, whole).status_code == 200
    start = scan_start(whole)
    cut = start + int((len(whole) - 2 - start) * fraction)
    response = upload(server, user_key, whole[:cut] + b"\xff\xd9")
    assert_envelope(response, 422, "truncated_image")


def test_a_jpeg_whose_header_claims_more_pixels_than_its_data_holds_is_refused(
    server: Server, user_key: str
) -> None:
    small = bytearray(noisy_jpeg(300, 200))
    sof = small.index(b"\xff\xc0")
    small[sof + 5 : sof + 9] = (10000).to_bytes(2, "big") + (9999).to_bytes(2, "big")
    response = upload(server, user_key, bytes(small))
    assert_envelope(response, 422, "truncated_image")


def one_pixel_gif_data() -> bytes:
    """The LZW image data (minimum code size and sub-blocks) of a one-pixel GIF from Pillow."""
    out = io.BytesIO()
    Image.new("P", (1, 1)).save(out, "GIF")
    gif = out.getvalue()
    descriptor = gif.index(b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00")
    return gif[descriptor + 10 : -1]


def gif_bomb(frames: int, side: int) -> bytes:
    """`frames` one-pixel frames on a `side` x `side` canvas: a few kB that decode to
    frames x side² pixels."""
    data = one_pixel_gif_data()
    screen = side.to_bytes(2, "little") * 2 + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = b"\x21\xf9\x04\x00\x01\x00\x00\x00" + b"\x2c" + bytes(4) + b"\x01\x00\x01\x00\x00"
    return b"GIF89a" + screen + loop + (frame + data) * frames + b"\x3b"


def webp_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + len(payload).to_bytes(4, "little") + payload + b"\x00" * (len(payload) % 2)


def one_pixel_vp8l() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (1, 1)).save(out, "WEBP", lossless=True)
    webp = out.getvalue()
    start = webp.index(b"VP8L")
    return webp[start : start + 8 + int.from_bytes(webp[start + 4 : start + 8], "little")]


def webp_bomb(frames: int, side: int) -> bytes:
    """An animated WebP of `frames` one-pixel ANMF frames on a `side` x `side` canvas."""
    canvas = (side - 1).to_bytes(3, "little") * 2
    vp8x = webp_chunk(b"VP8X", b"\x12\x00\x00\x00" + canvas)  # animation + alpha
    anim = webp_chunk(b"ANIM", b"\x00\x00\x00\x00\x00\x00")
    frame_header = bytes(6) + bytes(3) + bytes(3) + b"\x64\x00\x00" + b"\x00"
    anmf = webp_chunk(b"ANMF", frame_header + one_pixel_vp8l())
    body = b"WEBP" + vp8x + anim + anmf * frames
    return b"RIFF" + len(body).to_bytes(4, "little") + body


@pytest.mark.parametrize("bomb", [gif_bomb, webp_bomb])
def test_a_few_kilobytes_of_animation_that_decode_to_gigapixels_are_refused(
    server: Server, user_key: str, bomb: object
) -> None:
    assert callable(bomb)
    small = bomb(3, 64)
    assert upload(server, user_key, small, "ok.img").status_code == 200
    data = bomb(300, 10000)
    assert len(data) < 64 * 1024
    body = assert_envelope(upload(server, user_key, data, "bomb.img"), 422, "animation_too_large")
    assert "300 frames of 10000x10000" in str(body["message"])


MARKER = b"<script>alert(1)</script>"


def jpeg_segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, "big") + body


def with_segments(jpeg: bytes, *segments: bytes) -> bytes:
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def plain_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 90)).save(out, "JPEG", quality=90)
    return out.getvalue()


def plain_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 90)).save(out, "PNG")
    return out.getvalue()


HIDING_PLACES = {
    "jpeg APP14 after Adobe's flags": lambda: with_segments(
        plain_jpeg(), jpeg_segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01" + MARKER)
    ),
    "jpeg APP14 of its own": lambda: with_segments(plain_jpeg(), jpeg_segment(0xEE, MARKER)),
    "jpeg JFIF thumbnail": lambda: with_segments(
        plain_jpeg()[:2] + plain_jpeg()[20:],  # without Pillow's own APP0
        jpeg_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x01\x01" + MARKER[:3]),
    ),
    "jpeg APP15": lambda: with_segments(plain_jpeg(), jpeg_segment(0xEF, MARKER)),
    "jpeg fake ICC profile": lambda: with_segments(
        plain_jpeg(), jpeg_segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + MARKER * 10)
    ),
    "png private chunk": lambda: plain_png()[:33] + png_chunk(b"prVt", MARKER) + plain_png()[33:],
    "png text chunk": lambda: (
        plain_png()[:33] + png_chunk(b"tEXt", b"k\0" + MARKER) + plain_png()[33:]
    ),
    "png unknown public chunk": lambda: (
        plain_png()[:33] + png_chunk(b"zzZz", MARKER) + plain_png()[33:]
    ),
}


@pytest.mark.parametrize("place", sorted(HIDING_PLACES))
def test_html_hidden_in_metadata_is_stripped_and_the_picture_kept(
    server: Server, user_key: str, place: str
) -> None:
    data = HIDING_PLACES[place]()
    assert MARKER[:3] in data
    response = upload(server, user_key, data, "x.img")
    assert response.status_code == 200, response.text
    served = requests.get(response.json()["data"], timeout=10).content
    assert MARKER[:3] not in served
    with Image.open(io.BytesIO(data)) as sent, Image.open(io.BytesIO(served)) as got:
        assert got.convert("RGB").tobytes() == sent.convert("RGB").tobytes()


def test_a_real_icc_profile_and_adobe_flags_are_kept(server: Server, user_key: str) -> None:
    profile = srgb_profile()
    adobe = jpeg_segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01")
    icc = jpeg_segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + profile)
    data = with_segments(plain_jpeg(), icc, adobe)
    response = upload(server, user_key, data)
    served = requests.get(response.json()["data"], timeout=10).content
    assert icc in served
    assert adobe in served
    with Image.open(io.BytesIO(served)) as got:
        assert got.info["icc_profile"] == profile
