"""The read-through disk cache of S3 `proxy` mode, on a real server and a real SeaweedFS: the
objects are changed and removed behind imghost's back to see where each answer comes from."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from imghost.store.s3 import S3Store
from tests.conftest import Server, auth, bucket_of, eventually, png_bytes, s3_changes
from tests.http.test_settings_api import put
from tests.seaweed import SeaweedS3


@pytest.fixture
def single(tmp_path: Path) -> Iterator[Server]:
    """One worker: a settings change applies to the very next request."""
    instance = Server(tmp_path / "data", workers=1).start()
    yield instance
    instance.stop()


def proxied_upload(
    server: Server, seaweed: SeaweedS3, data: bytes
) -> tuple[dict[str, object], S3Store]:
    """`data` uploaded to S3 in proxy mode: the file object, and the bucket to reach it behind
    the server's back."""
    changes = s3_changes(seaweed, get_mode="proxy")
    assert put(server, changes).status_code == 200
    key, _ = server.new_key()
    answer = requests.post(
        server.url + "/v1/files/uploads", headers=auth(key), files={"file": ("a.png", data)}
    )
    assert answer.status_code == 200, answer.text
    return {**answer.json(), "key": key}, S3Store(bucket_of(seaweed, changes))


def cached_copies(server: Server) -> list[bytes]:
    folder = server.data_dir / "cache"
    return [p.read_bytes() for p in folder.rglob("*") if p.is_file() and ".tmp" not in p.parts]


def answered(server: Server, response: requests.Response) -> bool:
    """Whether the server is done with `response`: it logs a request once its answer is whole,
    so any copy of its bytes is kept by then."""
    return eventually(lambda: response.headers["x-request-id"] in server.log())


def storage_key(file: dict[str, object]) -> str:
    return str(file["url"]).split("/", 3)[3]


def test_an_image_read_whole_once_is_then_sent_from_the_cache(
    single: Server, seaweed: SeaweedS3
) -> None:
    data = png_bytes(300, 200)
    file, bucket = proxied_upload(single, seaweed, data)
    first = requests.get(str(file["url"]))
    assert first.status_code == 200
    assert first.content == data
    # The copy is kept once the last chunk has gone out, which the client may see first.
    assert eventually(lambda: cached_copies(single) == [data])
    bucket.delete(storage_key(file))  # gone from the store: only the cache has it now
    again = requests.get(str(file["url"]))
    assert again.status_code == 200
    assert again.content == data
    for header in ("content-type", "etag", "cache-control", "last-modified", "content-length"):
        assert again.headers[header] == first.headers[header], header
    for header in ("x-content-type-options", "content-security-policy"):
        assert again.headers[header] == first.headers[header], header
    part = requests.get(str(file["url"]), headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == data[10:20]


def test_ranges_and_heads_keep_nothing(single: Server, seaweed: SeaweedS3) -> None:
    data = png_bytes(300, 200)
    file, _ = proxied_upload(single, seaweed, data)
    part = requests.get(str(file["url"]), headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.content == data[:100]
    head = requests.head(str(file["url"]))
    assert head.status_code == 200
    assert answered(single, part)
    assert answered(single, head)
    assert cached_copies(single) == []


def test_a_deleted_image_is_not_served_from_the_cache(single: Server, seaweed: SeaweedS3) -> None:
    data = png_bytes(300, 200)
    file, _ = proxied_upload(single, seaweed, data)
    assert requests.get(str(file["url"])).content == data
    # The copy is kept once the last chunk has gone out, which the client may see first.
    assert eventually(lambda: cached_copies(single) == [data])
    deleted = requests.delete(f"{single.url}/v1/files/{file['id']}", headers=auth(str(file["key"])))
    assert deleted.status_code == 200, deleted.text
    gone = requests.get(str(file["url"]))
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"
    assert cached_copies(single) == []


def test_bytes_that_are_not_the_records_are_served_as_before_but_not_kept(
    single: Server, seaweed: SeaweedS3
) -> None:
    data = png_bytes(300, 200)
    file, bucket = proxied_upload(single, seaweed, data)
    other = png_bytes(301, 200)
    with tempfile.TemporaryDirectory() as scratch:
        replacement = Path(scratch) / "other.png"
        replacement.write_bytes(other)
        bucket.delete(storage_key(file))
        bucket.put_file(storage_key(file), replacement, "image/png")
    assert answered(single, requests.get(str(file["url"])))
    assert cached_copies(single) == []


def test_a_cache_of_0_mb_keeps_nothing(tmp_path: Path, seaweed: SeaweedS3) -> None:
    server = Server(tmp_path / "data", workers=1, env={"IMGHOST_CACHE_MB": "0"}).start()
    try:
        data = png_bytes(300, 200)
        file, bucket = proxied_upload(server, seaweed, data)
        served = requests.get(str(file["url"]))
        assert served.content == data
        assert answered(server, served)
        assert cached_copies(server) == []
        bucket.delete(storage_key(file))
        assert requests.get(str(file["url"])).status_code == 404
    finally:
        server.stop()
