"""Deleting what has expired: bytes first, then records, by one process at a time.

Every app process runs the loop (and `imghost serve` and `imghost sweep` run a round at once),
but a round runs only while its process holds the `sweeper` lease in the database, so among all
instances one sweeps at a time; the lease is given up when the round ends. A process that dies
mid-round leaves every upload either whole or already gone from the store with its record still
there (deletion is bytes-then-record and idempotent); its lease lapses after LEASE_SECONDS and
the next round, anywhere, finishes the work.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from imghost.ingest.pipeline import discard
from imghost.process.metrics import SWEEPS, SWEPT
from imghost.process.threads import run_blocking
from imghost.repo.base import Repo, RepoUnavailable, Upload
from imghost.store.base import StoreUnavailable
from imghost.store.registry import Stores

LEASE_NAME = "sweeper"
INTERVAL_SECONDS = 30.0
LEASE_SECONDS = 120.0
BATCH = 100
# A pending upload older than this was abandoned by a crashed process: no request lasts so long.
STALE_PENDING_SECONDS = 3600.0

log = logging.getLogger("imghost.sweeper")


def sweep_once(repo: Repo, stores: Stores, settings: dict[str, Any], now: float) -> int:
    """Delete every expired upload and abandoned pending one; returns how many went."""
    SWEEPS.inc()
    removed = _remove(repo.stale_pending(now - STALE_PENDING_SECONDS), repo, stores, settings)
    while batch := repo.expired(now, BATCH):
        gone = _remove(batch, repo, stores, settings)
        removed += gone
        if len(batch) < BATCH or gone == 0:
            break
    SWEPT.inc(removed)
    return removed


def _remove(batch: list[Upload], repo: Repo, stores: Stores, settings: dict[str, Any]) -> int:
    gone = 0
    for upload in batch:
        try:
            discard(upload, stores.get(upload.store, settings), repo)
            gone += 1
        except StoreUnavailable as exc:
            log.warning("could not delete %s yet: %s", upload.id, exc)
    return gone


def sweep_exclusively(
    repo: Repo, stores: Stores, current_settings: Callable[[], dict[str, Any]]
) -> int | None:
    """One round under the lease; None when another process is sweeping now."""
    holder = secrets.token_hex(8)
    if not repo.take_lease(LEASE_NAME, holder, time.time(), LEASE_SECONDS):
        return None
    try:
        return sweep_once(repo, stores, current_settings(), time.time())
    finally:
        repo.release_lease(LEASE_NAME, holder)


async def run_forever(
    repo: Repo, stores: Stores, current_settings: Callable[[], dict[str, Any]]
) -> None:
    """The background loop of one app process."""
    while True:
        await asyncio.sleep(INTERVAL_SECONDS)
        try:
            await run_blocking(sweep_exclusively, repo, stores, current_settings)
        except (RepoUnavailable, StoreUnavailable) as exc:
            log.warning("sweep skipped: %s", exc)
