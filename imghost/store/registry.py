"""Which store serves a backend name under the current settings, built once per process."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imghost.store.base import Store, StoreUnavailable
from imghost.store.cache import CachedStore, DiskCache
from imghost.store.local import LocalStore
from imghost.store.remote import RemoteSettings, RemoteStore
from imghost.store.s3 import S3Settings, S3Store

BACKENDS = ("local", "s3", "remote")


def _section(settings: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {name.removeprefix(prefix): v for name, v in settings.items() if name.startswith(prefix)}


def build_store(
    backend: str, settings: Mapping[str, Any], data_dir: Path, cache_bytes: int = 0
) -> Store:
    """A new store for `backend` from run-time settings, its backend calls timed for
    `/metrics`, and with `cache_bytes` of disk cache under `data_dir` if it is not already on
    this disk; StoreUnavailable if misconfigured."""
    # Imported here: `imghost serve` imports this module before it tells prometheus_client,
    # which picks where values live when first imported, to keep them in files.
    from imghost.store.timed import TimedStore

    store: Store = TimedStore(_open(backend, settings, data_dir))
    if backend != "local" and cache_bytes > 0:
        store = CachedStore(store, DiskCache(data_dir / "cache", cache_bytes))
    return store


def _open(backend: str, settings: Mapping[str, Any], data_dir: Path) -> Store:
    if backend == "local":
        return LocalStore(data_dir)
    if backend == "s3":
        return S3Store(S3Settings(**_section(settings, "storage.s3.")))
    if backend == "remote":
        return RemoteStore(RemoteSettings(**_section(settings, "storage.remote.")))
    raise StoreUnavailable(f"unknown storage backend {backend!r}")


class Stores:
    """This process's stores, rebuilt when the settings of their backend change."""

    def __init__(self, data_dir: Path, cache_bytes: int = 0) -> None:
        self._data_dir = data_dir
        self._cache_bytes = cache_bytes
        self._lock = threading.Lock()
        self._built: dict[str, tuple[str, Store]] = {}
        # Per backend, the settings object last looked up and its store: the settings cache
        # hands out one unchanging dict until it reloads, so every request but the first
        # after a reload skips fingerprinting the settings (this is on the image GET path).
        self._seen: dict[str, tuple[Mapping[str, Any], Store]] = {}

    def get(self, backend: str, settings: Mapping[str, Any]) -> Store:
        seen = self._seen.get(backend)
        if seen is not None and seen[0] is settings:
            return seen[1]
        store = self._build_if_changed(backend, settings)
        self._seen[backend] = (settings, store)
        return store

    def _build_if_changed(self, backend: str, settings: Mapping[str, Any]) -> Store:
        fingerprint = repr(sorted(_section(settings, f"storage.{backend}.").items()))
        with self._lock:
            built = self._built.get(backend)
            if built is None or built[0] != fingerprint:
                if built is not None:
                    built[1].close()
                built = (
                    fingerprint,
                    build_store(backend, settings, self._data_dir, self._cache_bytes),
                )
                self._built[backend] = built
            return built[1]

    def active(self, settings: Mapping[str, Any]) -> Store:
        return self.get(settings["storage.backend"], settings)
