"""One upload from spooled bytes to a committed record, undone (by its session) unless it completes.

The order keeps the promise of DESIGN.md §4: the record is written as pending, the bytes are
completed in the store, and only then is the record marked ready. A crash in between leaves a
pending record (never served; swept later) and at most bytes nobody can reach.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from imghost.auth import Principal
from imghost.ingest.prepare import PreparedImage, prepare
from imghost.ingest.session import UploadSession
from imghost.ingest.validate import Limits
from imghost.limits import Limiter
from imghost.process.metrics import UPLOADED_BYTES
from imghost.repo.base import Repo, RepoUnavailable, Upload
from imghost.store import keys
from imghost.store.base import ObjectMissing, Store, StoreUnavailable
from imghost.store.registry import Stores

log = logging.getLogger("imghost")


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
        max_decoded_pixels=settings["limits.max_decoded_pixels"],
    )


def ingest(
    session: UploadSession,
    spooled: Spooled,
    order: Order,
    stores: Stores,
    repo: Repo,
    limiter: Limiter,
    now: float | None = None,
) -> Upload:
    """Validate, store and record one upload; runs in a worker thread.

    Every call makes an upload of its own (its id, URL, lifetime and deletion). When the same
    key sends bytes it has already stored and still has live, the new upload shares those
    bytes in the store and is not charged again. Each step registers its undo on `session`,
    which takes them back unless the upload is committed here.
    """
    now = now or time.time()
    settings = order.settings
    key = order.principal.key
    earlier = _live_earlier(repo, key.id, spooled.digest, now, settings)
    upload_id = new_upload_id()
    if earlier is None:
        limiter.charge(key.id, upload_id, spooled.size, key.daily_bytes, now)
        session.on_failure("charge", lambda: limiter.refund(key.id, upload_id))
    # Validated and prepared afresh even for a repeat: the limits and metadata settings may
    # have changed since, and only identical prepared bytes are shared.
    prepared = prepare(
        spooled.path, spooled.digest, limits_from(settings), settings["images.strip_metadata"]
    )
    session.temporary(prepared.path)
    store = stores.active(settings)
    upload = _record_for(upload_id, prepared, spooled, order, store, now)
    shared = earlier if _same_object(earlier, prepared, store) else None
    repo.begin_upload(upload)
    session.on_failure("record", lambda: repo.discard_upload(upload.id))
    # A failed put leaves no object (S3 PUTs and multipart completions are atomic, local links
    # are), so only what came before it is undone.
    given = _put_or_share(upload, prepared, store, shared)
    location = None if given == upload.storage_key else given
    stored = replace(upload, location=location)
    # Bytes first, then the record, which stays (pending, for the sweep) if they cannot go.
    session.on_failure("record", lambda: discard(stored, store, repo))
    repo.commit_upload(upload.id, location)
    session.commit()
    UPLOADED_BYTES.inc(upload.size)
    return replace(stored, state="ready")


def _live_earlier(
    repo: Repo, key_id: str, source_digest: str, now: float, settings: dict[str, Any]
) -> Upload | None:
    if not settings["images.deduplicate"]:
        return None
    return repo.live_duplicate(key_id, source_digest, now)


def _same_object(earlier: Upload | None, prepared: PreparedImage, store: Store) -> bool:
    return earlier is not None and earlier.store == store.name and earlier.digest == prepared.digest


def _record_for(
    upload_id: str,
    prepared: PreparedImage,
    spooled: Spooled,
    order: Order,
    store: Store,
    now: float,
) -> Upload:
    return Upload(
        id=upload_id,
        key_id=order.principal.key.id,
        store=store.name,
        storage_key=keys.make(upload_id, prepared.extension, now),
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
        source_format=prepared.source_format,
    )


def _put_or_share(
    upload: Upload, prepared: PreparedImage, store: Store, shared: Upload | None
) -> str:
    if shared is not None:
        try:
            return store.copy(shared.where, upload.storage_key)
        except ObjectMissing:
            pass  # deleted since it was looked up: store these bytes of our own
    return store.put_file(upload.storage_key, prepared.path, upload.content_type)


def delete(upload: Upload, store: Store, repo: Repo, now: float) -> None:
    """End an upload at once, then remove its bytes and its record.

    The record is expired first, in one statement: from then on its URL answers 404, and if the
    database refuses that, nothing has changed. Whatever of the rest fails now (a store that is
    down, a database that went away) the sweep finishes, as it does for every expired upload.
    """
    repo.expire_upload(upload.id, now)
    try:
        discard(upload, store, repo)
    except (StoreUnavailable, RepoUnavailable) as exc:
        log.warning("deleted %s; the sweep removes the rest: %s", upload.id, exc)


def discard(upload: Upload, store: Store, repo: Repo) -> None:
    """Remove an upload's bytes and its variants', then its records: never a record left
    without bytes, nor bytes nobody can find."""
    for variant in repo.variants_of(upload.id):
        store.delete(variant.where)
    store.delete(upload.where)
    repo.discard_upload(upload.id)
