"""The Store contract, run against every backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from imghost.store.base import InvalidKey, Store
from imghost.store.local import LocalStore

KEY = "uploads/2026/11/AbCdEfGhIjKlMnOpQrStUv.png"


@pytest.fixture(params=["local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return LocalStore(tmp_path / "data")


def finished_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "upload.part"
    path.write_bytes(data)
    return path


def test_put_then_read_ranges(store: Store, tmp_path: Path) -> None:
    data = bytes(range(256)) * 4000
    store.put_file(KEY, finished_file(tmp_path, data), "image/png")
    assert store.exists(KEY)
    assert b"".join(store.open_range(KEY, 0, len(data))) == data
    assert b"".join(store.open_range(KEY, 1000, 300_000)) == data[1000:300_000]


def test_put_takes_the_file_away(store: Store, tmp_path: Path) -> None:
    source = finished_file(tmp_path, b"x")
    store.put_file(KEY, source, "image/png")
    assert not source.exists()


def test_delete_is_idempotent(store: Store, tmp_path: Path) -> None:
    store.put_file(KEY, finished_file(tmp_path, b"x"), "image/png")
    store.delete(KEY)
    store.delete(KEY)
    assert not store.exists(KEY)


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
def test_keys_imghost_never_makes_are_refused(store: Store, tmp_path: Path, key: str) -> None:
    with pytest.raises(InvalidKey):
        store.put_file(key, finished_file(tmp_path, b"x"), "image/png")
    with pytest.raises(InvalidKey):
        store.exists(key)


def test_check_passes_on_a_writable_store(store: Store) -> None:
    store.check()
