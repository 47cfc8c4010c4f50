"""`imghost.client.Client` against a real server: every method, and the dataclasses it answers."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import pytest
import requests

from imghost.client import BLOCK_KINDS, Client, File, ImghostError, Variant
from imghost.vision.presets import PRESETS
from tests.client.conftest import SITE_PHOTO
from tests.conftest import Server, auth, jpeg_bytes, unique_png
from tests.http.test_variants import photo_jpeg

# The README's "Model-ready images" content blocks, for a URL `u` of MIME type `m`.
README_BLOCKS = {
    "openai-chat": lambda u, m: {"type": "image_url", "image_url": {"url": u}},
    "openai-responses": lambda u, m: {"type": "input_image", "image_url": u},
    "anthropic": lambda u, m: {"type": "image", "source": {"type": "url", "url": u}},
    "gemini": lambda u, m: {"file_data": {"mime_type": m, "file_uri": u}},
}


def described(host: Server, key: str, file_id: str) -> dict[str, object]:
    """The server's own file object, read without the client."""
    response = requests.get(f"{host.url}/v1/files/{file_id}", headers=auth(key), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_upload_a_path_answers_the_whole_file_object(
    host: Server, key: str, tmp_path: Path
) -> None:
    data = unique_png(64, 48)
    path = tmp_path / "cat.png"
    path.write_bytes(data)
    before = time.time()
    with Client(host.url, key) as imghost:
        file = imghost.upload(path)

    assert isinstance(file, File)
    assert file.id.startswith("file-")
    assert (file.bytes, file.mime_type, file.width, file.height) == (len(data), "image/png", 64, 48)
    assert (file.filename, file.purpose, file.source_format, file.frames) == (
        "cat.png",
        "vision",
        "png",
        1,
    )
    assert file.created_at is not None
    assert int(before) <= file.created_at <= time.time()
    assert file.expires_at is not None
    assert file.expires_at > file.created_at
    assert requests.get(file.url, timeout=30).content == data
    # Every field as the server describes it, variants and vision included.
    assert file.raw == described(host, key, file.id)
    assert set(file.variants) == set(PRESETS)
    low = file.variants["openai-low"]
    assert isinstance(low, Variant)
    assert (low.preset, low.width, low.height, low.mime_type, low.bytes) == (
        "openai-low",
        64,
        48,
        "image/png",
        None,  # not made yet
    )
    assert low.url.endswith(".openai-low.png")
    assert file.vision is not None
    assert file.vision.rules_version
    assert file.vision.estimates["gpt-4o"].tokens > 0
    assert file.vision.estimates["claude"].seen == (64, 48)
    assert file.vision.accepted_as_is["openai"] is True
    assert any("loopback" in warning for warning in file.vision.warnings)


def test_upload_bytes_files_and_base64_with_a_preset_and_a_lifetime(host: Server, key: str) -> None:
    photo = photo_jpeg(1800, 1200, seed=7)
    with Client(host.url, key) as imghost:
        from_bytes = imghost.upload(photo, for_="claude", expires_in=60)
        from_stream = imghost.upload(io.BytesIO(unique_png()), filename="shot.png")
        forever = imghost.upload(unique_png(), expires_in=0)
        encoded = unique_png()
        data_url = "data:image/png;base64," + base64.b64encode(encoded).decode()
        from_base64 = imghost.upload_base64(data_url, filename="b.png", for_="openai-low")

    assert from_bytes.filename == "image"
    assert from_bytes.created_at is not None
    assert from_bytes.expires_at == from_bytes.created_at + 60
    claude = from_bytes.variants["claude"]
    assert claude.bytes is not None  # made before the answer, as `for_` asks
    fetched = requests.get(claude.url, timeout=30)
    assert fetched.status_code == 200
    assert len(fetched.content) == claude.bytes
    assert (claude.width, claude.height) == PRESETS["claude"].plan(1800, 1200).size
    assert from_bytes.url_for("claude") == claude.url
    assert from_bytes.url_for() == from_bytes.url

    assert from_stream.filename == "shot.png"
    assert forever.expires_at is None
    assert from_base64.filename == "b.png"
    assert from_base64.variants["openai-low"].bytes is not None
    assert requests.get(from_base64.url, timeout=30).content == encoded


def test_upload_url_rehosts_an_image(host: Server, key: str, site: str) -> None:
    with Client(host.url, key) as imghost:
        file = imghost.upload_url(site + "/photos/dog.jpg", for_="openai-low", expires_in=120)
    assert (file.mime_type, file.filename, file.width, file.height) == (
        "image/jpeg",
        "dog.jpg",
        320,
        200,
    )
    assert file.created_at is not None
    assert file.expires_at == file.created_at + 120
    assert requests.get(file.url, timeout=30).content == SITE_PHOTO
    assert file.variants["openai-low"].bytes is not None


def test_get_list_and_delete(host: Server, key: str) -> None:
    with Client(host.url, key) as imghost:
        made = [imghost.upload(unique_png()) for _ in range(5)]
        assert imghost.get(made[0].id) == made[0]

        # Newest first, across pages of two.
        newest_first = [file.id for file in reversed(made)]
        assert [file.id for file in imghost.list(page_size=2)] == newest_first
        first = imghost.list_page(limit=2)
        assert [file.id for file in first.files] == newest_first[:2]
        assert first.has_more
        rest = imghost.list_page(limit=10, after=first.last_id)
        assert [file.id for file in rest.files] == newest_first[2:]
        assert not rest.has_more

        assert imghost.delete(made[0].id) is True
        assert requests.get(made[0].url, timeout=30).status_code == 404
        with pytest.raises(ImghostError) as gone:
            imghost.get(made[0].id)
        assert (gone.value.status, gone.value.code) == (404, "file_not_found")
        assert [file.id for file in imghost.list()] == newest_first[:4]


def test_content_blocks_are_the_readme_shapes(host: Server, key: str) -> None:
    with Client(host.url, key) as imghost:
        file = imghost.upload(jpeg_bytes(900, 600))
    for kind in BLOCK_KINDS:
        assert file.content_block(kind) == README_BLOCKS[kind](file.url, "image/jpeg")
        claude = file.variants["claude"]
        assert file.content_block(kind, preset="claude") == README_BLOCKS[kind](
            claude.url, claude.mime_type
        )
    with pytest.raises(ValueError, match="no 'gpt-9' variant"):
        file.content_block("openai-chat", preset="gpt-9")
    with pytest.raises(ValueError, match="unknown content block kind"):
        file.content_block("bard")  # type: ignore[arg-type]
