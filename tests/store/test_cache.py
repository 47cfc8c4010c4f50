"""The read-through disk cache, on real folders: what it keeps, what it refuses, its bound."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from blake3 import blake3

from imghost.store.cache import DiskCache
from tests.system.test_faults import fill, small_disk

__all__ = ["small_disk"]  # the tmpfs fixture, used by name below


def chunks_of(data: bytes, size: int = 1000) -> Iterator[bytes]:
    yield from (data[i : i + size] for i in range(0, len(data), size))


def read_through(cache: DiskCache, location: str, data: bytes, digest: str | None = None) -> bytes:
    passed = cache.fill(location, chunks_of(data), len(data), digest or blake3(data).hexdigest())
    return b"".join(passed)


def copies(cache: DiskCache) -> list[Path]:
    return [p for p in cache.folder.rglob("*") if p.is_file() and ".tmp" not in p.parts]


def test_a_whole_read_is_kept_and_found(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "cache", 16 * 2**20)
    data = os.urandom(5000)
    assert cache.get("uploads/2026/12/a.png") is None
    assert read_through(cache, "uploads/2026/12/a.png", data) == data
    found = cache.get("uploads/2026/12/a.png")
    assert found is not None
    assert found.read_bytes() == data
    assert cache.get("uploads/2026/12/b.png") is None
    cache.discard("uploads/2026/12/a.png")
    assert cache.get("uploads/2026/12/a.png") is None
    assert copies(cache) == []


def test_bytes_that_are_not_the_records_are_passed_on_but_not_kept(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "cache", 16 * 2**20)
    data = os.urandom(5000)
    assert read_through(cache, "wrong-digest", data, digest="0" * 64) == data
    short = cache.fill("short", chunks_of(data), len(data) + 1, blake3(data).hexdigest())
    assert b"".join(short) == data
    longer = cache.fill("longer", chunks_of(data), 4000, blake3(data[:4000]).hexdigest())
    assert b"".join(longer) == data
    assert cache.get("longer") is None
    assert cache.get("wrong-digest") is None
    assert cache.get("short") is None
    assert list(cache.folder.rglob("*.part")) == []


def test_a_copy_is_kept_once_its_last_byte_is_handed_on(tmp_path: Path) -> None:
    """A client that has every byte it was promised may hang up before more is asked for."""
    cache = DiskCache(tmp_path / "cache", 16 * 2**20)
    data = os.urandom(5000)
    passed = cache.fill("whole", chunks_of(data), len(data), blake3(data).hexdigest())
    received = b"".join(next(passed) for _ in range(5))
    passed.close()
    assert received == data
    found = cache.get("whole")
    assert found is not None
    assert found.read_bytes() == data


def test_a_read_given_up_halfway_leaves_nothing(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "cache", 16 * 2**20)
    data = os.urandom(5000)
    passed = cache.fill("cut", chunks_of(data), len(data), blake3(data).hexdigest())
    assert next(passed) == data[:1000]
    passed.close()  # the client went away
    assert cache.get("cut") is None
    assert list(cache.folder.rglob("*.part")) == []


def test_the_least_recently_used_copies_go_first_and_the_bound_holds(tmp_path: Path) -> None:
    # Objects of up to a sixteenth of the bound are kept: 10 of 1000 bytes fill 16,000 to 10,000.
    cache = DiskCache(tmp_path / "cache", 16_000)
    for n in range(10):
        read_through(cache, f"old-{n}", os.urandom(1000))
        path = cache.get(f"old-{n}")
        assert path is not None
        os.utime(path, (1_000_000 + n, 1_000_000 + n))  # kept long ago, oldest first
    # A hit renews the oldest copy; the others stay as old as they were.
    fresh = DiskCache(cache.folder, cache.max_bytes)
    assert fresh.get("old-0") is not None
    for n in range(10):
        read_through(fresh, f"new-{n}", os.urandom(1000))
    total = sum(p.stat().st_size for p in copies(fresh))
    assert total <= 16_000
    assert fresh.get("old-0") is not None
    assert fresh.get("old-1") is None
    assert fresh.get("new-9") is not None


def test_an_object_over_a_sixteenth_of_the_bound_is_not_kept(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "cache", 16_000)
    data = os.urandom(1001)
    assert read_through(cache, "big", data) == data
    assert cache.get("big") is None


def test_a_full_disk_serves_the_bytes_and_keeps_nothing(small_disk: Path) -> None:
    cache = DiskCache(small_disk / "cache", 16 * 2**20)
    (small_disk / "cache").mkdir()
    filler = fill(small_disk)
    data = os.urandom(300_000)
    assert read_through(cache, "a", data) == data
    assert cache.get("a") is None
    filler.unlink()
    assert read_through(cache, "a", data) == data
    assert cache.get("a") is not None
