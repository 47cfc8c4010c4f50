"""The metadata interface: API keys, upload records and run-time settings.

Bytes live behind `imghost.store.base.Store`; everything the app must remember about them lives
here. Every method is synchronous and short; the app calls them from a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

Role = Literal["admin", "user"]
UploadState = Literal["pending", "ready"]


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    role: Role
    prefix: str
    enabled: bool
    created_at: float
    expires_at: float | None
    daily_bytes: int = 0
    rpm: int = 0
    allow_ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Upload:
    """One stored image. `storage_key` is also the URL path below the public URL."""

    id: str
    key_id: str
    store: str
    storage_key: str
    content_type: str
    size: int
    width: int
    height: int
    frames: int
    digest: str
    filename: str
    created_at: float
    expires_at: float | None = None
    state: UploadState = "pending"
    location: str | None = None
    purpose: str | None = None
    source_digest: str | None = None
    # The format as uploaded ("heif", "jpeg"…: `imghost.ingest.formats.FORMATS`), which
    # `content_type` differs from when the upload was stored as another format.
    source_format: str | None = None

    @property
    def where(self) -> str:
        """What the store needs to find the bytes: the location it gave, else the key."""
        return self.location or self.storage_key


VariantState = Literal["making", "ready"]


@dataclass(frozen=True, slots=True)
class Variant:
    """An upload's image made for one provider's preset, stored beside the upload."""

    upload_id: str
    preset: str
    storage_key: str
    content_type: str
    size: int = 0
    width: int = 0
    height: int = 0
    digest: str = ""
    state: VariantState = "making"
    location: str | None = None

    @property
    def where(self) -> str:
        return self.location or self.storage_key


@dataclass(frozen=True, slots=True)
class UsageStats:
    days: list[tuple[str, int, int]]  # (YYYY-MM-DD, uploads, bytes), days with uploads only
    top_keys: list[tuple[str, str, int, int]]  # (key_id, name, uploads, bytes)
    stores: list[tuple[str, int, int]]  # (store, uploads, bytes) of everything live


class RepoUnavailable(Exception):
    """The database cannot be reached or did not answer; nothing was written."""


class DuplicateKey(Exception):
    """A key with the same secret exists already; nothing was written."""


class Repo(Protocol):
    def create_key(
        self,
        *,
        name: str,
        role: Role,
        key_hash: str,
        prefix: str,
        expires_at: float | None,
        daily_bytes: int = 0,
        rpm: int = 0,
        allow_ips: tuple[str, ...] = (),
    ) -> ApiKey: ...

    def update_key(self, key_id: str, **changes: Any) -> ApiKey | None:
        """Change a key's name, enabled flag, expiry or limits; None if there is no such key."""
        ...

    def key_by_hash(self, key_hash: str) -> tuple[ApiKey, str] | None:
        """The key whose SHA-256 is `key_hash`, with the stored hash for a constant-time check."""
        ...

    def list_keys(self) -> list[ApiKey]: ...

    def set_key_enabled(self, key_id: str, enabled: bool) -> bool: ...

    def delete_key(self, key_id: str) -> bool: ...

    def count_keys(self) -> int: ...

    def begin_upload(self, upload: Upload) -> None:
        """Record an upload as pending: its bytes are on their way to the store."""
        ...

    def commit_upload(self, upload_id: str, location: str | None) -> None:
        """Mark a pending upload ready: its bytes are complete in the store at `location`."""
        ...

    def move_upload(self, upload_id: str, store: str, location: str | None) -> None:
        """Point a ready upload at a copy of its bytes in another store; its variants' records
        go, so they are made again there (the old objects stay behind, as the old copy does)."""
        ...

    def uploads_outside(self, store: str, after_id: str, limit: int) -> list[Upload]:
        """Ready uploads not in `store`, in id order after `after_id`."""
        ...

    def expire_upload(self, upload_id: str, now: float) -> None:
        """End a ready upload's lifetime at `now` (never later than it was)."""
        ...

    def discard_upload(self, upload_id: str) -> None:
        """Remove an upload's record and its variants' records."""
        ...

    def get_upload(self, upload_id: str) -> Upload | None:
        """A ready upload, or None (pending, unknown or deleted)."""
        ...

    def stale_pending(self, older_than: float) -> list[Upload]: ...

    def variants_of(self, upload_id: str) -> list[Variant]:
        """The upload's variants, ready or being made."""
        ...

    def variants_of_all(self, upload_ids: list[str]) -> list[Variant]:
        """The variants of several uploads at once, ready or being made."""
        ...

    def claim_variant(
        self, variant: Variant, maker: str, now: float, seconds: float
    ) -> tuple[Variant, bool] | None:
        """The variant's record, and whether `maker` now holds it until now + seconds (so it
        makes the variant): a new record, or an unfinished one whose maker's time ran out, is
        held; one that is ready, or held by another maker, is answered as it is. None when
        the upload is not (or no longer) ready."""
        ...

    def release_variant(self, variant: Variant, maker: str) -> None:
        """Give up `maker`'s claim on an unfinished variant, so the next request makes it."""
        ...

    def commit_variant(self, variant: Variant, maker: str) -> bool:
        """Mark a variant `maker` holds ready with its bytes' facts; False if its record is gone
        (the upload was deleted meanwhile) or another maker took it over."""
        ...

    def live_duplicate(self, key_id: str, source_digest: str, now: float) -> Upload | None:
        """The key's ready, unexpired upload of the same received bytes, if any."""
        ...

    def list_uploads(
        self,
        key_id: str | None,
        before: tuple[float, str] | None,
        limit: int,
        now: float,
        created: tuple[float | None, float | None] = (None, None),
    ) -> list[Upload]:
        """Live uploads, newest first, of one key (or all), strictly before a (created_at, id),
        created within [created[0], created[1]) where given."""
        ...

    def stats(self, since: float, top: int) -> UsageStats:
        """Uploads and bytes per UTC day since `since`, the top keys by bytes, and per store."""
        ...

    def expired(self, now: float, limit: int) -> list[Upload]:
        """Ready uploads whose lifetime ended at or before `now`."""
        ...

    def take_lease(self, name: str, holder: str, now: float, seconds: float) -> bool:
        """Hold the named lease until now + seconds if it is free, expired or ours already."""
        ...

    def release_lease(self, name: str, holder: str) -> None:
        """Give the named lease up if `holder` still holds it."""
        ...

    def get_settings(self) -> dict[str, Any]: ...

    def put_settings(self, values: dict[str, Any]) -> None: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...
