"""One upload from spooled bytes to a committed record, undone unless it completes.

The order keeps the promise of DESIGN.md §4: the record is written as pending, the bytes are
completed in the store, and only then is the record marked ready. A crash in between leaves a
pending record (never served; swept later) and at most bytes nobody can reach.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from imghost.auth import Principal
from imghost.errors import (
    ApiError,
    database_unavailable,
    insufficient_storage,
    limit_reached,
    limits_unavailable,
    storage_unavailable,
)
from imghost.ingest.prepare import PreparedImage, prepare
from imghost.ingest.validate import Limits
from imghost.limits import Limiter, LimitExceeded, LimitsUnavailable
from imghost.metrics import UPLOADED_BYTES
from imghost.repo.base import Repo, RepoUnavailable, Upload
from imghost.store.base import Store, StoreFull, StoreUnavailable
from imghost.store.registry import Stores
from imghost.store.remote import UpstreamRejected


@dataclass(frozen=True, slots=True)
class Spooled:
    """What the HTTP layer received: a finished temporary file, its size and digest."""

    path: Path
    size: int
    digest: str
    filename: str


@dataclass(frozen=True, slots=True)
class Order:
    """Who uploads, under which settings, for what and for how long."""

    principal: Principal
    settings: dict[str, Any]
    purpose: str | None = None
    expires_at: float | None = None


def new_upload_id() -> str:
    # 16 random bytes (128 bits) as 22 URL-safe characters: URLs can be neither guessed
    # nor enumerated.
    return secrets.token_urlsafe(16)


def limits_from(settings: dict[str, Any]) -> Limits:
    return Limits(
        max_pixels=settings["limits.max_pixels"],
        max_side=settings["limits.max_side"],
        max_frames=settings["limits.max_frames"],
    )


def ingest(
    spooled: Spooled,
    order: Order,
    stores: Stores,
    repo: Repo,
    limiter: Limiter,
    now: float | None = None,
) -> Upload:
    """Validate, store and record one upload; runs in a worker thread.

    The same bytes from the same key while its first upload lives give that upload back,
    without storing or charging anything again.
    """
    now = now or time.time()
    key = order.principal.key
    if order.settings["images.deduplicate"]:
        try:
            duplicate = repo.live_duplicate(key.id, spooled.digest, now)
        except RepoUnavailable as exc:
            raise database_unavailable(exc) from exc
        if duplicate is not None:
            return duplicate
    upload_id = new_upload_id()
    _charge(limiter, key.id, upload_id, spooled.size, key.daily_bytes, now)
    try:
        return _ingest_new(upload_id, spooled, order, stores, repo, now)
    except BaseException:
        with contextlib.suppress(LimitsUnavailable):
            limiter.refund(key.id, upload_id)
        raise


def _charge(
    limiter: Limiter, key_id: str, charge_id: str, size: int, daily_bytes: int, now: float
) -> None:
    try:
        limiter.charge(key_id, charge_id, size, daily_bytes, now)
    except LimitExceeded as exc:
        raise limit_reached(exc.kind, exc.message, exc.retry_after) from exc
    except LimitsUnavailable as exc:
        raise limits_unavailable(exc) from exc


def _ingest_new(
    upload_id: str, spooled: Spooled, order: Order, stores: Stores, repo: Repo, now: float
) -> Upload:
    settings = order.settings
    prepared = prepare(
        spooled.path, spooled.digest, limits_from(settings), settings["images.strip_metadata"]
    )
    try:
        store = stores.active(settings)
        upload = _record_for(upload_id, prepared, spooled, order, store, now)
        return _store_and_record(upload, prepared, store, repo)
    except StoreUnavailable as exc:
        raise storage_failed(exc) from exc
    finally:
        prepared.path.unlink(missing_ok=True)


def _record_for(
    upload_id: str,
    prepared: PreparedImage,
    spooled: Spooled,
    order: Order,
    store: Store,
    now: float,
) -> Upload:
    month = time.strftime("%Y/%m", time.gmtime(now))
    return Upload(
        id=upload_id,
        key_id=order.principal.key.id,
        store=store.name,
        storage_key=f"uploads/{month}/{upload_id}.{prepared.extension}",
        content_type=prepared.content_type,
        size=prepared.size,
        width=prepared.width,
        height=prepared.height,
        frames=prepared.frames,
        digest=prepared.digest,
        filename=spooled.filename,
        created_at=now,
        expires_at=order.expires_at,
        purpose=order.purpose,
        source_digest=spooled.digest,
    )


def _store_and_record(upload: Upload, prepared: PreparedImage, store: Store, repo: Repo) -> Upload:
    try:
        repo.begin_upload(upload)
    except RepoUnavailable as exc:
        raise database_unavailable(exc) from exc
    try:
        given = store.put_file(upload.storage_key, prepared.path, upload.content_type)
    except BaseException:
        # A failed put leaves no object (S3 PUTs and multipart completions are atomic, local
        # links are), so only the record is undone; keeping it would need the store back.
        with contextlib.suppress(RepoUnavailable):
            repo.discard_upload(upload.id)
        raise
    location = None if given == upload.storage_key else given
    try:
        repo.commit_upload(upload.id, location)
    except BaseException as exc:
        _undo(upload, store, repo)
        if isinstance(exc, RepoUnavailable):
            raise database_unavailable(exc) from exc
        raise
    UPLOADED_BYTES.inc(upload.size)
    return replace(upload, state="ready", location=location)


def storage_failed(exc: StoreUnavailable) -> ApiError:
    if isinstance(exc, StoreFull):
        return insufficient_storage()
    if isinstance(exc, UpstreamRejected):
        return ApiError(
            502,
            "storage_rejected",
            f"The image host behind this server refused the upload, so nothing was saved: {exc}",
        )
    return storage_unavailable(exc)


def discard(upload: Upload, store: Store, repo: Repo) -> None:
    """Remove an upload's bytes, then its record: never a record left without bytes."""
    store.delete(upload.where)
    repo.discard_upload(upload.id)


def _undo(upload: Upload, store: Store, repo: Repo) -> None:
    """Best effort: what cannot be undone now stays pending, and the sweep finishes it."""
    with contextlib.suppress(StoreUnavailable, RepoUnavailable, OSError):
        discard(upload, store, repo)
