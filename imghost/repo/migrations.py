"""Schema migrations, applied in order by exactly one process at a time.

Several instances may start at once: PostgreSQL serialises them with an advisory lock taken
inside the migrating transaction, SQLite with an exclusive lock on a file beside the database.
Each migration is a function of a connection; append new ones, never edit an applied one.
A new database gets the current `schema.py` from the first migration, so every later one
must be a no-op where its change is already there.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, func, insert, inspect, select, text

from imghost.repo.schema import (
    api_keys,
    leases,
    schema_version,
    settings,
    uploads,
    usage,
    variants,
)

# An arbitrary constant naming imghost's migration lock among the database's advisory locks.
_PG_LOCK_ID = 0x696D67686F7374


def _v1_initial(conn: Connection) -> None:
    for table in (api_keys, uploads, settings, leases):
        table.create(conn, checkfirst=True)


def _add_column(conn: Connection, table: str, ddl: str) -> None:
    name = ddl.split()[0]
    if name not in {column["name"] for column in inspect(conn).get_columns(table)}:
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {ddl}"))


def _v2_upload_location(conn: Connection) -> None:
    _add_column(conn, "uploads", "location VARCHAR(2048)")


def _add_index(conn: Connection, table: str, name: str, columns: str) -> None:
    if name not in {index["name"] for index in inspect(conn).get_indexes(table)}:
        conn.execute(text(f"CREATE INDEX {name} ON {table} ({columns})"))


def _v3_purpose_dedup_expiry(conn: Connection) -> None:
    _add_column(conn, "uploads", "purpose VARCHAR(64)")
    _add_column(conn, "uploads", "source_digest VARCHAR(64)")
    _add_index(conn, "uploads", "ix_uploads_key_source", "key_id, source_digest")
    _add_index(conn, "uploads", "ix_uploads_expires", "expires_at")


def _v4_leases(conn: Connection) -> None:
    leases.create(conn, checkfirst=True)


def _v5_key_limits(conn: Connection) -> None:
    _add_column(conn, "api_keys", "daily_bytes BIGINT NOT NULL DEFAULT 0")
    _add_column(conn, "api_keys", "rpm INTEGER NOT NULL DEFAULT 0")
    _add_column(conn, "api_keys", "allow_ips JSON")


def _v6_usage(conn: Connection) -> None:
    """The counters of `imghost.limits.sql` (quotas and rate limits without Redis)."""
    usage.create(conn, checkfirst=True)


def _v7_source_format(conn: Connection) -> None:
    """Until now every upload was stored in the format it came in, which its content type
    names, so older rows get that (a type not listed here stays NULL)."""
    _add_column(conn, "uploads", "source_format VARCHAR(16)")
    conn.execute(
        text(
            "UPDATE uploads SET source_format = CASE content_type"
            " WHEN 'image/jpeg' THEN 'jpeg' WHEN 'image/png' THEN 'png'"
            " WHEN 'image/gif' THEN 'gif' WHEN 'image/webp' THEN 'webp' END"
            " WHERE source_format IS NULL"
        )
    )


def _v8_variants(conn: Connection) -> None:
    """Model-ready variants of uploads (`imghost.vision`)."""
    variants.create(conn, checkfirst=True)


MIGRATIONS: tuple[Callable[[Connection], None], ...] = (
    _v1_initial,
    _v2_upload_location,
    _v3_purpose_dedup_expiry,
    _v4_leases,
    _v5_key_limits,
    _v6_usage,
    _v7_source_format,
    _v8_variants,
)


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table(schema_version.name):
        return 0
    return conn.execute(select(func.coalesce(func.max(schema_version.c.version), 0))).scalar_one()


def upgrade(engine: Engine) -> int:
    """Bring the schema up to date; returns the version it ends at."""
    with _exclusive(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
        schema_version.create(conn, checkfirst=True)
        version = current_version(conn)
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            migration(conn)
            conn.execute(insert(schema_version).values(version=number, applied_at=time.time()))
        return len(MIGRATIONS)


@contextmanager
def _exclusive(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
