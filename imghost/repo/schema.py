"""The one schema, shared by SQLite and PostgreSQL (SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", Float, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    # Per-key limits; 0 is unlimited. The IP allow-list is a JSON list of CIDRs, empty = any.
    Column("daily_bytes", BigInteger, nullable=False, server_default="0"),
    Column("rpm", Integer, nullable=False, server_default="0"),
    Column("allow_ips", JSON, nullable=True),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("key_id", String(32), nullable=False),
    Column("store", String(16), nullable=False),
    Column("storage_key", String(300), nullable=False),
    Column("content_type", String(32), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("frames", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("state", String(16), nullable=False),
    # Where the store keeps the bytes, when not at `storage_key` (a remote host's URL).
    Column("location", String(2048), nullable=True),
    # What the upload was for (OpenAI's `purpose`), and the BLAKE3 of the bytes as received,
    # which finds a key's repeated upload before any work is done on it.
    Column("purpose", String(64), nullable=True),
    Column("source_digest", String(64), nullable=True),
    # The format as uploaded; NULL only for rows a migration could not name (see v7).
    Column("source_format", String(16), nullable=True),
    Index("ix_uploads_key_created", "key_id", "created_at"),
    Index("ix_uploads_key_source", "key_id", "source_digest"),
    Index("ix_uploads_expires", "expires_at"),
    Index("ix_uploads_state_created", "state", "created_at"),
)

# Model-ready variants of an upload, one per preset, in the same store as their upload. A row is
# "making" while one process makes it (until `until`, when another may take over), then "ready".
variants = Table(
    "variants",
    metadata,
    Column("upload_id", String(64), primary_key=True),
    Column("preset", String(32), primary_key=True),
    Column("storage_key", String(300), nullable=False),
    Column("location", String(2048), nullable=True),
    Column("content_type", String(32), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("maker", String(64), nullable=False),
    Column("until", Float, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Leases that let one process among all instances run a periodic job (the expiry sweeper).
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("until", Float, nullable=False),
)

# Quota and rate-limit counters of `imghost.limits.sql`: one row per counted request ("request",
# amount 1) or per byte charge ("bytes", amount = size), kept only while inside its window.
usage = Table(
    "usage",
    metadata,
    Column("key_id", String(64), primary_key=True),
    # The caller's charge id (an upload id) for bytes, a random id for requests.
    Column("charge_id", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_usage_key_kind_at", "key_id", "kind", "at"),
)
