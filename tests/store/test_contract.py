"""The Store contract, run against every backend: local, s3 (real SeaweedFS), remote (imghost),
and the in-memory test double, so that it cannot drift from them."""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from imghost.store.base import ObjectExists, ObjectMissing, Store, StoreUnavailable
from imghost.store.keys import InvalidKey
from imghost.store.local import LocalStore
from imghost.store.remote import RemoteSettings, RemoteStore
from imghost.store.s3 import S3Settings, S3Store
from tests.conftest import Server, png_bytes
from tests.memstore import MemoryStore
from tests.seaweed import SeaweedS3

# Remote image-host APIs have no generic delete, and give every upload a URL of their own.
DELETES = {"local": True, "s3": True, "remote": False, "memory": True}


def new_key(ext: str = "png") -> str:
    return f"uploads/2026/11/{secrets.token_urlsafe(16)}.{ext}"


def s3_settings(seaweed: SeaweedS3, **overrides: object) -> S3Settings:
    values: dict[str, object] = {
        "bucket": seaweed.bucket,
        "endpoint_url": seaweed.endpoint,
        "access_key_id": seaweed.access_key_id,
        "secret_access_key": seaweed.secret_access_key,
        "prefix": f"contract-{secrets.token_hex(4)}/",
        **overrides,
    }
    return S3Settings(**values)  # type: ignore[arg-type]


def open_store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    # The services a backend needs are asked for only by the backends that need them: the local
    # and memory stores' tests start no process.
    if backend == "local":
        return LocalStore(tmp_path / "data")
    if backend == "memory":
        return MemoryStore()
    if backend == "s3":
        return S3Store(s3_settings(request.getfixturevalue("seaweed")))
    server: Server = request.getfixturevalue("server")
    key, _ = server.new_key()
    return RemoteStore(RemoteSettings(upload_url=server.url + "/api/upload", token=key))


@pytest.fixture(params=["local", "s3", "remote", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    instance = open_store(request.param, request, tmp_path)
    yield instance
    instance.close()


def missing_location(store: Store, request: pytest.FixtureRequest) -> str:
    """Where no object is: a key, or for `remote` a URL on the host it uploads to."""
    if store.name != "remote":
        return new_key()
    server: Server = request.getfixturevalue("server")
    return f"{server.url}/{new_key()}"


def finished_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / f"{secrets.token_hex(4)}.part"
    path.write_bytes(data)
    return path


def test_put_then_read_ranges(store: Store, tmp_path: Path) -> None:
    data = png_bytes(300, 200)
    location = store.put_file(new_key(), finished_file(tmp_path, data), "image/png")
    assert store.exists(location)
    assert b"".join(store.open_range(location, 0, len(data))) == data
    assert b"".join(store.open_range(location, 10, 100)) == data[10:100]


def test_put_takes_the_file_away(store: Store, tmp_path: Path) -> None:
    source = finished_file(tmp_path, png_bytes())
    store.put_file(new_key(), source, "image/png")
    assert not source.exists()


def test_a_20_mb_object(store: Store, tmp_path: Path) -> None:
    # The remote is an imghost, which only takes images.
    data = _big_png() if store.name == "remote" else os.urandom(20 * 1024 * 1024)
    location = store.put_file(new_key(), finished_file(tmp_path, data), "image/png")
    assert b"".join(store.open_range(location, 0, len(data))) == data


def _big_png() -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (2600, 2600), os.urandom(2600 * 2600 * 3)).save(
        buffer, format="PNG", compress_level=1
    )
    return buffer.getvalue()


def test_an_object_is_never_replaced(store: Store, tmp_path: Path) -> None:
    key = new_key()
    first = store.put_file(key, finished_file(tmp_path, png_bytes(10, 10)), "image/png")
    if store.name == "remote":
        second = store.put_file(key, finished_file(tmp_path, png_bytes(20, 20)), "image/png")
        assert second != first
        return
    with pytest.raises(ObjectExists):
        store.put_file(key, finished_file(tmp_path, png_bytes(20, 20)), "image/png")
    assert b"".join(store.open_range(first, 0, 10**6)) == png_bytes(10, 10)


def test_delete(store: Store, tmp_path: Path) -> None:
    location = store.put_file(new_key(), finished_file(tmp_path, png_bytes()), "image/png")
    store.delete(location)
    store.delete(location)
    assert store.exists(location) is not DELETES[store.name]


def test_a_copy_outlives_its_original(store: Store, tmp_path: Path) -> None:
    data = png_bytes(30, 20)
    original = store.put_file(new_key(), finished_file(tmp_path, data), "image/png")
    copied = store.copy(original, new_key())
    assert b"".join(store.open_range(copied, 0, len(data))) == data
    store.delete(original)
    assert store.exists(copied)
    assert b"".join(store.open_range(copied, 0, len(data))) == data
    if DELETES[store.name]:
        assert copied != original
        assert not store.exists(original)
        store.delete(copied)
        assert not store.exists(copied)


def test_copying_a_missing_object(store: Store, request: pytest.FixtureRequest) -> None:
    location = missing_location(store, request)
    if not DELETES[store.name]:
        # Nothing is ever deleted there: the copy is the other host's URL itself.
        assert store.copy(location, new_key()) == location
        return
    with pytest.raises(ObjectMissing):
        store.copy(location, new_key())


def test_missing_objects(store: Store, request: pytest.FixtureRequest) -> None:
    location = missing_location(store, request)
    assert not store.exists(location)
    with pytest.raises(ObjectMissing):
        b"".join(store.open_range(location, 0, 10))


@pytest.mark.parametrize(
    "key",
    [
        "../etc/passwd",
        "uploads/2026/11/../../../x.png",
        "/etc/passwd",
        "uploads/2026/11/short.png",
        "uploads/2026/11/AbCdEfGhIjKlMnOpQrStUv.svg",
        "tmp/2026/11/AbCdEfGhIjKlMnOpQrStUv.png",
    ],
)
@pytest.mark.parametrize("backend", ["local", "s3", "memory"])
def test_keys_imghost_never_makes_are_refused(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, key: str
) -> None:
    store = open_store(backend, request, tmp_path)
    with pytest.raises(InvalidKey):
        store.put_file(key, finished_file(tmp_path, b"x"), "image/png")
    with pytest.raises(InvalidKey):
        store.exists(key)


def test_health(store: Store) -> None:
    store.check()
    store.ping()


def test_wrong_s3_credentials_fail_the_check(seaweed: SeaweedS3) -> None:
    store = S3Store(s3_settings(seaweed, secret_access_key="wrong"))
    with pytest.raises(StoreUnavailable) as failed:
        store.check()
    # The reason from S3's error document, not the XML prolog before it.
    assert "SignatureDoesNotMatch: The request signature we calculated" in str(failed.value)
    assert "<?xml" not in str(failed.value)
