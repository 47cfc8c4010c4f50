"""Model-ready variants through a real server: listed in every file object, made on their first
GET (once, however many ask at the same moment), served like originals, made at upload when
asked, gone with their upload."""

from __future__ import annotations

import io
import random
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import openai
import pytest
import requests
from PIL import Image

from imghost.vision.presets import PRESETS
from tests.conftest import Server, auth, png_bytes
from tests.http.test_metrics import sample

PHONE = (4032, 3024)


def photo_jpeg(width: int, height: int, seed: int) -> bytes:
    """A photo-like JPEG (smooth gradients with grain), distinct for every seed."""
    rng = random.Random(seed)
    small = Image.frombytes("RGB", (32, 24), rng.randbytes(32 * 24 * 3))
    image = small.resize((width, height), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture(scope="module")
def phone(server: Server, user_key: str) -> dict[str, object]:
    return uploaded(server, user_key, "phone.jpg", photo_jpeg(*PHONE, seed=1))


def uploaded(
    server: Server, key: str, filename: str, data: bytes, **form: str
) -> dict[str, object]:
    """The file object of a `/v1/files/uploads` upload of `data`, with `form`'s fields."""
    answer = requests.post(
        server.url + "/v1/files/uploads",
        headers=auth(key),
        files={"file": (filename, data)},
        data=form,
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def variant_of(file: dict[str, object], preset: str) -> dict[str, object]:
    variants = file["variants"]
    assert isinstance(variants, dict)
    found = variants[preset]
    assert isinstance(found, dict)
    return found


def test_every_preset_is_listed_with_its_exact_size_before_it_is_made(
    phone: dict[str, object],
) -> None:
    variants = phone["variants"]
    assert isinstance(variants, dict)
    assert set(variants) == set(PRESETS)
    # The providers' own resizes of a 4032x3024 photo (VISION.md's worked example).
    assert (variant_of(phone, "openai")["width"], variant_of(phone, "openai")["height"]) == (
        1024,
        768,
    )
    assert (variant_of(phone, "claude")["width"], variant_of(phone, "claude")["height"]) == (
        1270,
        952,
    )
    assert variant_of(phone, "openai-low")["width"] == 512
    for preset in PRESETS:
        listed = variant_of(phone, preset)
        assert listed["mime_type"] == "image/jpeg"
        assert listed["bytes"] is None  # not made yet
        assert str(listed["url"]).endswith(f".{preset}.jpg")


def test_the_vision_block_estimates_what_each_model_sees(phone: dict[str, object]) -> None:
    vision = phone["vision"]
    assert isinstance(vision, dict)
    assert vision["rules_version"] == "2026-12"
    estimates = vision["estimates"]
    assert estimates["gpt-4o"] == {"tokens": 765, "seen": [1024, 768]}
    assert estimates["claude"]["tokens"] == 1564
    assert estimates["gpt-4.1-mini"] == {"tokens": 2353, "seen": [1408, 1056]}
    assert set(estimates) == {
        "gpt-4o", "gpt-5", "gpt-4.1-mini", "claude", "claude-hires", "gemini-2", "gemini-3"
    }  # fmt: skip
    assert set(vision["accepted_as_is"]) == {"openai", "anthropic", "gemini", "runway", "kling"}
    # The test server's public URL is loopback plain http: say so, in words.
    assert any("loopback" in warning for warning in vision["warnings"])
    assert any("plain http" in warning for warning in vision["warnings"])


def test_a_variant_is_made_on_its_first_get_and_served_like_an_original(
    server: Server, user_key: str, phone: dict[str, object]
) -> None:
    url = str(variant_of(phone, "claude")["url"])
    first = requests.get(url, timeout=60)
    assert first.status_code == 200, first.text
    assert first.headers["Content-Type"] == "image/jpeg"
    assert first.headers["Content-Length"] == str(len(first.content))
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert first.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    assert "immutable" in first.headers["Cache-Control"]
    with Image.open(io.BytesIO(first.content)) as image:
        assert image.size == (1270, 952)
        assert "exif" not in image.info
        assert "icc_profile" not in image.info
    assert len(first.content) <= PRESETS["claude"].max_bytes

    again = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=30)
    assert again.status_code == 304
    part = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=30)
    assert part.status_code == 206
    assert part.content == first.content[:100]
    head = requests.head(url, timeout=30)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["ETag"] == first.headers["ETag"]

    file_id = phone["id"]
    listed = requests.get(f"{server.url}/v1/files/{file_id}", headers=auth(user_key), timeout=30)
    assert variant_of(listed.json(), "claude")["bytes"] == len(first.content)


def test_twenty_parallel_first_gets_make_a_variant_once(own_server: Server) -> None:
    server = own_server.start()  # two workers: the race is between processes too
    key, _ = server.new_key()
    file = uploaded(server, key, "race.jpg", photo_jpeg(*PHONE, seed=2))
    url = str(variant_of(file, "claude-hires")["url"])
    with ThreadPoolExecutor(20) as pool:
        bodies = list(pool.map(lambda _: requests.get(url, timeout=120), range(20)))
    assert [body.status_code for body in bodies] == [200] * 20
    assert len({body.content for body in bodies}) == 1
    metrics = requests.get(server.url + "/metrics", timeout=30).text
    assert sample(metrics, "imghost_variants_made_total", preset="claude-hires") == 1


def test_variants_asked_for_at_upload_are_made_before_the_answer(
    server: Server, user_key: str
) -> None:
    file = uploaded(
        server, user_key, "eager.jpg", photo_jpeg(2000, 1000, seed=3), variants="openai, kling"
    )
    made = {preset for preset in PRESETS if variant_of(file, preset)["bytes"]}
    assert made == {"openai", "kling"}


def test_api_upload_for_a_preset_answers_that_variants_url(server: Server, user_key: str) -> None:
    answer = requests.post(
        server.url + "/api/upload",
        headers=auth(user_key),
        files={"file": ("for.png", png_bytes(3000, 2000), "image/png")},
        data={"for": "openai"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"success", "message", "data"}
    assert body["data"].endswith(".openai.png")
    image = requests.get(body["data"], timeout=30)
    assert image.headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(image.content)) as opened:
        assert opened.size == (1152, 768)


@pytest.mark.parametrize("field", ["for", "variants"])
def test_an_unknown_preset_is_refused_and_nothing_is_stored(
    server: Server, user_key: str, field: str
) -> None:
    answer = requests.post(
        server.url + "/api/upload",
        headers=auth(user_key),
        files={"file": ("x.png", png_bytes(), "image/png")},
        data={field: "gpt-9"},
        timeout=30,
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_preset"
    assert "claude" in answer.json()["message"]


def test_a_variant_of_another_type_or_an_unknown_preset_is_not_found(
    phone: dict[str, object],
) -> None:
    url = str(variant_of(phone, "openai")["url"])
    assert requests.get(url.replace(".openai.jpg", ".openai.png"), timeout=30).status_code == 404
    assert requests.get(url.replace(".openai.", ".gpt-9."), timeout=30).status_code == 404


def test_deleting_an_upload_removes_its_variants(server: Server, user_key: str) -> None:
    file = uploaded(
        server, user_key, "gone.jpg", photo_jpeg(1600, 1200, seed=4), variants="claude,openai"
    )
    paths = [
        server.data_dir / urlsplit(str(variant_of(file, preset)["url"])).path.lstrip("/")
        for preset in ("claude", "openai")
    ]
    assert all(path.exists() for path in paths)
    deleted = requests.delete(
        f"{server.url}/v1/files/{file['id']}", headers=auth(user_key), timeout=30
    )
    assert deleted.status_code == 200
    assert not any(path.exists() for path in paths)
    assert requests.get(str(variant_of(file, "claude")["url"]), timeout=30).status_code == 404


def test_an_expired_upload_takes_its_variants_with_it(own_server: Server) -> None:
    server = own_server.start()
    key, _ = server.new_key()
    file = uploaded(server, key, "old.jpg", photo_jpeg(1600, 1200, seed=5), variants="gemini")
    variant = server.data_dir / urlsplit(str(variant_of(file, "gemini")["url"])).path.lstrip("/")
    assert variant.exists()
    with sqlite3.connect(server.data_dir / "imghost.db") as db:
        db.execute(
            "UPDATE uploads SET expires_at = ? WHERE id = ?",
            (time.time() - 1, str(file["id"]).removeprefix("file-")),
        )
    assert requests.get(str(variant_of(file, "gemini")["url"]), timeout=30).status_code == 404
    server.cli("sweep")
    assert not variant.exists()
    with sqlite3.connect(server.data_dir / "imghost.db") as db:
        assert db.execute("SELECT COUNT(*) FROM variants").fetchone() == (0,)


def test_file_content_answers_the_bytes_through_the_openai_sdk(
    server: Server, user_key: str, tmp_path: Path
) -> None:
    data = photo_jpeg(640, 480, seed=6)
    client = openai.OpenAI(api_key=user_key, base_url=server.url + "/v1")
    created = client.files.create(file=("c.jpg", data, "image/jpeg"), purpose="vision")
    content = client.files.content(created.id)
    assert content.read() == requests.get(created.model_extra["url"], timeout=30).content
