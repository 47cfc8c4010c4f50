"""Images built to be accepted broken, or to cost a decoder far more than their size, sent to a
real server: each answers 422 with its code and leaves nothing stored."""

from __future__ import annotations

import io
import os

import pytest
import requests
from PIL import Image

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
