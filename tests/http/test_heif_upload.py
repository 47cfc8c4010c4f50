"""HEIC and AVIF on every upload route of a real server: stored and served as JPEG, or PNG
when transparent, with `source_format` in the file object; broken ones refused, nothing kept."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from tests.conftest import Server, auth
from tests.heif_files import avif_bytes, heif_enc, resize_ispe
from tests.http.test_files_api import FILE_FIELDS, image_server, v1
from tests.http.test_settings_api import put
from tests.http.test_upload_errors import assert_envelope, leaves_nothing
from tests.ingest.test_heif import quadrants, translucent

__all__ = ["leaves_nothing"]  # a fixture, used by name

# Each test makes pictures of its own: identical uploads from one key would share bytes.
_sizes = iter(range(40, 400))


def picture(kind: str, tmp_path: Path, alpha: bool = False) -> bytes:
    width = next(_sizes)
    source = translucent(width, 30) if alpha else quadrants(width, 30)
    return heif_enc(tmp_path, source) if kind == "heif" else avif_bytes(source)


def served(url: str) -> tuple[requests.Response, Image.Image]:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200
    return response, Image.open(io.BytesIO(response.content))


def assert_file_object(body: dict[str, Any], kind: str, stored: str) -> None:
    assert set(body) == FILE_FIELDS
    assert body["source_format"] == kind
    assert body["mime_type"] == f"image/{stored}"
    extension = {"jpeg": ".jpg", "png": ".png"}[stored]
    assert body["url"].endswith(extension)
    response, image = served(body["url"])
    assert response.headers["content-type"] == f"image/{stored}"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert image.format == stored.upper()
    assert (image.width, image.height) == (body["width"], body["height"])


@pytest.mark.parametrize("kind", ["heif", "avif"])
def test_multipart_routes_store_heic_and_avif_as_jpeg(
    server: Server, user_key: str, tmp_path: Path, kind: str
) -> None:
    for route in ("files/uploads", "files"):
        response = v1(
            server, user_key, route,
            files={"file": ("photo." + kind, picture(kind, tmp_path))}, data={"purpose": "vision"},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        assert_file_object(response.json(), kind, "jpeg")
    legacy = requests.post(
        server.url + "/api/upload",
        headers=auth(user_key),
        files={"file": ("IMG_0001.HEIC", picture(kind, tmp_path), "image/heic")},
        timeout=30,
    )
    assert legacy.status_code == 200, legacy.text
    assert set(legacy.json()) == {"success", "message", "data"}
    assert legacy.json()["data"].endswith(".jpg")
    assert served(legacy.json()["data"])[1].format == "JPEG"


@pytest.mark.parametrize("kind", ["heif", "avif"])
def test_base64_stores_heic_and_avif(
    server: Server, user_key: str, tmp_path: Path, kind: str
) -> None:
    data = base64.b64encode(picture(kind, tmp_path)).decode()
    mime = "image/heic" if kind == "heif" else "image/avif"
    for payload in (data, f"data:{mime};base64,{data}"):
        response = v1(server, user_key, "files/uploads/base64", json={"data": payload})
        assert response.status_code == 200, response.text
        assert_file_object(response.json(), kind, "jpeg")


@pytest.mark.parametrize("kind", ["heif", "avif"])
def test_a_transparent_picture_is_served_as_png(
    server: Server, user_key: str, tmp_path: Path, kind: str
) -> None:
    files = {"file": ("logo", picture(kind, tmp_path, alpha=True))}
    response = v1(server, user_key, "files/uploads", files=files)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_file_object(body, kind, "png")
    assert served(body["url"])[1].mode == "RGBA"


def test_source_format_is_in_every_file_object(
    server: Server, user_key: str, tmp_path: Path
) -> None:
    response = v1(server, user_key, "files/uploads", files={"file": picture("heif", tmp_path)})
    file_id = response.json()["id"]
    got = v1(server, user_key, f"files/{file_id}", method="GET").json()
    assert (got["source_format"], got["mime_type"]) == ("heif", "image/jpeg")
    listed = v1(server, user_key, "files?limit=100", method="GET").json()["data"]
    assert next(f for f in listed if f["id"] == file_id)["source_format"] == "heif"


def test_url_ingest_stores_heic_as_jpeg(own_server: Server, tmp_path: Path) -> None:
    own_server.workers = 1
    server = own_server.start()
    key, _ = server.new_key()
    with image_server(picture("heif", tmp_path)) as origin:
        port = int(origin.rsplit(":", 1)[1])
        assert put(server, {"fetch.allow_private": True, "fetch.ports": [port]}).status_code == 200
        response = v1(server, key, "files/uploads/url", json={"url": origin + "/IMG_1.heic"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["filename"] == "IMG_1.heic"
    assert_file_object(body, "heif", "jpeg")


def test_an_animated_avif_is_refused_with_415(
    server: Server, user_key: str, leaves_nothing: None
) -> None:
    frames = [quadrants(), quadrants().rotate(180)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="AVIF", save_all=True, append_images=frames[1:])
    response = requests.post(
        server.url + "/api/upload",
        headers=auth(user_key),
        files={"file": ("anim.avif", buffer.getvalue())},
        timeout=30,
    )
    body = assert_envelope(response, 415, "unsupported_type")
    assert "Animated AVIF" in str(body["message"])


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        (lambda data: data[: len(data) * 2 // 3], "truncated_image"),
        (lambda data: resize_ispe(data, (64, 64), (30000, 30000)), "image_too_large"),
        (lambda data: data.replace(b"ispe", b"ispf"), "corrupt_image"),
    ],
)
def test_broken_heic_is_refused_with_422(
    server: Server, user_key: str, tmp_path: Path, leaves_nothing: None, edit: Any, code: str
) -> None:
    data = heif_enc(tmp_path, quadrants(48, 32))
    response = v1(server, user_key, "files/uploads", files={"file": ("x.heic", edit(data))})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
