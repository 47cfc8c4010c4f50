"""Storage chosen at run time through `PUT /api/settings`, against a real SeaweedFS."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image
from sqlalchemy import func, select

from imghost.repo.base import Upload
from imghost.repo.schema import uploads
from tests.cdn import cdn_in_front_of
from tests.conftest import Server, auth, bucket_of, eventually, png_bytes, s3_changes
from tests.http.test_serve import assert_ranges_follow_rfc_9110
from tests.http.test_settings_api import put
from tests.seaweed import SeaweedS3, start_seaweed


@pytest.fixture
def single(tmp_path: Path) -> Iterator[Server]:
    """One worker: a settings change applies to the very next request."""
    instance = Server(tmp_path / "data", workers=1).start()
    yield instance
    instance.stop()


def upload(server: Server, key: str, data: bytes) -> tuple[requests.Response, Upload | None]:
    response = requests.post(
        server.url + "/api/upload", headers=auth(key), files={"file": ("a.png", data)}, timeout=60
    )
    if response.status_code != 200:
        return response, None
    upload_id = response.json()["data"].rsplit("/", 1)[-1].split(".")[0]
    repo = server.repo()
    record = repo.get_upload(upload_id)
    repo.close()
    return response, record


def count_rows(server: Server) -> int:
    repo = server.repo()
    with repo.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(uploads)).scalar_one()
    repo.close()
    return rows


def test_s3_proxy_mode(single: Server, seaweed: SeaweedS3) -> None:
    key, _ = single.new_key()
    assert put(single, s3_changes(seaweed)).status_code == 200
    data = png_bytes(200, 100)
    response, record = upload(single, key, data)
    assert record is not None
    assert record.store == "s3"
    url = response.json()["data"]
    assert url.startswith(single.url + "/uploads/")
    assert not (single.data_dir / record.storage_key).exists()
    served = requests.get(url)
    assert served.content == data
    assert served.headers["content-type"] == "image/png"
    assert served.headers["etag"] == f'"{record.digest}"'
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    part = requests.get(url, headers={"Range": "bytes=5-24"})
    assert part.status_code == 206
    assert part.content == data[5:25]
    assert part.headers["content-range"] == f"bytes 5-24/{len(data)}"
    head = requests.head(url)
    assert head.headers["content-length"] == str(len(data))
    assert_ranges_follow_rfc_9110(url, data)


def test_s3_redirect_mode(single: Server, seaweed: SeaweedS3) -> None:
    key, _ = single.new_key()
    assert (
        put(single, s3_changes(seaweed, get_mode="redirect", presign_seconds=120)).status_code
        == 200
    )
    data = png_bytes(20, 30)
    response, _ = upload(single, key, data)
    url = response.json()["data"]
    redirect = requests.get(url, allow_redirects=False)
    assert redirect.status_code == 302
    assert "X-Amz-Signature=" in redirect.headers["location"]
    assert requests.get(url).content == data


def test_s3_public_mode_hands_out_cdn_urls(single: Server, seaweed: SeaweedS3) -> None:
    key, _ = single.new_key()
    changes = s3_changes(seaweed)
    bucket = bucket_of(seaweed, changes)
    with cdn_in_front_of(bucket) as cdn:
        changes |= {"storage.s3.get_mode": "public", "storage.s3.public_base_url": cdn}
        assert put(single, changes).status_code == 200
        data = png_bytes(33, 44)
        response, record = upload(single, key, data)
        assert record is not None
        url = response.json()["data"]
        assert url == f"{cdn}/{bucket.prefix}{record.storage_key}"
        assert requests.get(url).content == data
        own = f"{single.url}/{record.storage_key}"
        assert requests.get(own, allow_redirects=False).headers["location"] == url


def test_switching_backends_keeps_every_old_url(single: Server, seaweed: SeaweedS3) -> None:
    key, _ = single.new_key()
    local_data, s3_data, later_data = png_bytes(10, 10), png_bytes(11, 11), png_bytes(12, 12)
    local_url = upload(single, key, local_data)[0].json()["data"]
    assert put(single, s3_changes(seaweed)).status_code == 200
    s3_response, s3_record = upload(single, key, s3_data)
    assert s3_record is not None
    assert s3_record.store == "s3"
    assert put(single, {"storage.backend": "local"}).status_code == 200
    later_response, later_record = upload(single, key, later_data)
    assert later_record is not None
    assert later_record.store == "local"
    for url, data in (
        (local_url, local_data),
        (s3_response.json()["data"], s3_data),
        (later_response.json()["data"], later_data),
    ):
        assert requests.get(url).content == data


def test_migrate_local_to_s3_keeps_urls(single: Server, seaweed: SeaweedS3) -> None:
    key, _ = single.new_key()
    stored = {}
    for side in range(10, 15):
        data = png_bytes(side, side)
        response, record = upload(single, key, data)
        assert record is not None
        stored[response.json()["data"]] = (data, record)
    assert put(single, s3_changes(seaweed)).status_code == 200
    assert "5 upload(s)" in single.cli("migrate-store", "--to", "s3", "--dry-run")
    copied = single.cli("migrate-store", "--to", "s3")
    assert "copied 5 upload(s)" in copied
    assert "moved" not in copied
    assert "0 upload(s)" in single.cli("migrate-store", "--to", "s3")
    repo = single.repo()
    for url, (data, record) in stored.items():
        moved = repo.get_upload(record.id)
        assert moved is not None
        assert moved.store == "s3"
        (single.data_dir / record.storage_key).unlink()
        assert requests.get(url).content == data
    repo.close()


def test_store_outage_answers_503_and_records_nothing(single: Server, tmp_path: Path) -> None:
    own = start_seaweed(tmp_path / "weed-outage")
    try:
        key, _ = single.new_key()
        assert put(single, s3_changes(own)).status_code == 200
        before, _ = upload(single, key, png_bytes(9, 9))
        assert before.status_code == 200
        rows = count_rows(single)
        own.stop()
        unreadable = requests.get(before.json()["data"])
        assert unreadable.status_code == 503
        assert unreadable.json()["code"] == "storage_unavailable"
        # The public sees a plain message; the store's address and error are in the log only.
        assert unreadable.json()["message"] == (
            "The image cannot be served right now. Try again shortly."
        )
        assert own.endpoint.split("//")[1] not in unreadable.text
        assert own.endpoint.split("//")[1] in (
            single.log_path.read_text() if single.log_path else ""
        )
        failed, _ = upload(single, key, png_bytes(8, 8))
        assert failed.status_code == 503
        assert failed.json()["code"] == "storage_unavailable"
        assert failed.headers["retry-after"]
        assert count_rows(single) == rows
        own.restart()
        assert upload(single, key, png_bytes(7, 7))[0].status_code == 200
        assert requests.get(before.json()["data"]).content == png_bytes(9, 9)
    finally:
        own.stop()


def v1_upload(server: Server, key: str, filename: str, data: bytes) -> requests.Response:
    return requests.post(
        server.url + "/v1/files/uploads",
        headers=auth(key),
        files={"file": (filename, data)},
        timeout=60,
    )


def test_s3_public_mode_makes_every_variant_at_upload(single: Server, seaweed: SeaweedS3) -> None:
    # GETs of public URLs go to the CDN, never to imghost: no variant could be made on demand.
    key, _ = single.new_key()
    changes = s3_changes(seaweed)
    bucket = bucket_of(seaweed, changes)
    with cdn_in_front_of(bucket) as cdn:
        changes |= {"storage.s3.get_mode": "public", "storage.s3.public_base_url": cdn}
        assert put(single, changes).status_code == 200
        answer = v1_upload(single, key, "wide.png", png_bytes(3000, 1000))
        assert answer.status_code == 200, answer.text
        for preset, variant in answer.json()["variants"].items():
            assert variant["bytes"] is not None, preset
            assert variant["url"].startswith(f"{cdn}/{bucket.prefix}uploads/")
            served = requests.get(variant["url"], timeout=30)
            assert served.status_code == 200, preset
            with Image.open(io.BytesIO(served.content)) as image:
                assert image.size == (variant["width"], variant["height"]), preset


def test_s3_proxy_mode_makes_a_variant_from_the_stored_object(
    single: Server, seaweed: SeaweedS3
) -> None:
    key, _ = single.new_key()
    assert put(single, s3_changes(seaweed, get_mode="proxy")).status_code == 200
    answer = v1_upload(single, key, "tall.png", png_bytes(1000, 3000))
    variant = answer.json()["variants"]["claude"]
    assert variant["bytes"] is None
    served = requests.get(variant["url"], timeout=60)
    assert served.status_code == 200, served.text
    assert served.headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.size == (variant["width"], variant["height"])


def test_s3_redirect_mode_serves_variants_without_a_redirect(
    single: Server, seaweed: SeaweedS3
) -> None:
    key, _ = single.new_key()
    assert put(single, s3_changes(seaweed, get_mode="redirect")).status_code == 200
    answer = v1_upload(single, key, "r.png", png_bytes(900, 700))
    body = answer.json()
    assert requests.get(body["url"], allow_redirects=False, timeout=30).status_code == 302
    served = requests.get(body["variants"]["runway"]["url"], allow_redirects=False, timeout=60)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert any("redirect mode" in warning for warning in body["vision"]["warnings"])


def test_a_migrated_upload_makes_its_variants_again_in_the_new_store(
    single: Server, seaweed: SeaweedS3
) -> None:
    key, _ = single.new_key()
    file = v1_upload(single, key, "m.png", png_bytes(1200, 900)).json()
    claude = file["variants"]["claude"]["url"]
    before = requests.get(claude, timeout=60)
    assert before.status_code == 200
    assert put(single, s3_changes(seaweed, get_mode="proxy")).status_code == 200
    assert "copied 1 upload(s)" in single.cli("migrate-store", "--to", "s3")
    # The local copies are gone, as after a move to a new machine: only S3 holds the image.
    for path in (single.data_dir / "uploads").rglob("*.png"):
        path.unlink()
    # Workers see the move once their memory of the upload's record lapses (a few seconds).
    assert eventually(lambda: requests.get(claude, timeout=60).status_code == 200)
    assert requests.get(claude, timeout=60).content == before.content
