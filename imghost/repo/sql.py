"""`Repo` on SQLAlchemy Core: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    and_,
    cast,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry

from imghost.repo import migrations
from imghost.repo.base import (
    ApiKey,
    DuplicateKey,
    RepoUnavailable,
    Role,
    Upload,
    UsageStats,
)
from imghost.repo.schema import api_keys, leases, settings, uploads, variants
from imghost.repo.variants import VariantRecords
from imghost.repo.writes import BUSY_SECONDS, DatabaseBusy, write_turn


def make_engine(database_url: str) -> Engine:
    """An engine whose statements are timed for `/metrics`."""
    # Imported here: `imghost serve` imports this module before it tells prometheus_client,
    # which picks where values live when first imported, to keep them in files.
    from imghost.repo.timing import time_statements

    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    time_statements(engine)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; NORMAL keeps commits durable against
    # process crashes (our kill test) while skipping an fsync per commit.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_SECONDS * 1000)}")
    cursor.close()


class SqlRepo(VariantRecords):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, database_url: str, *, migrate: bool = False) -> SqlRepo:
        repo = cls(make_engine(database_url))
        if migrate:
            with repo._unavailable_as_error():
                migrations.upgrade(repo.engine)
        return repo

    @contextmanager
    def _unavailable_as_error(self) -> Iterator[None]:
        try:
            yield
        except DatabaseBusy as exc:
            raise RepoUnavailable(str(exc)) from exc
        except DBAPIError as exc:
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                reason = str(exc.orig or exc).strip().splitlines()[0]
                raise RepoUnavailable(reason) from exc
            raise

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self._unavailable_as_error(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._unavailable_as_error(), write_turn(self.engine), self._begin() as conn:
            yield conn

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
    ) -> ApiKey:
        key = ApiKey(
            id="key_" + secrets.token_hex(8),
            name=name,
            role=role,
            prefix=prefix,
            enabled=True,
            created_at=time.time(),
            expires_at=expires_at,
            daily_bytes=daily_bytes,
            rpm=rpm,
            allow_ips=allow_ips,
        )
        row = {**asdict(key), "allow_ips": list(allow_ips)}
        try:
            with self._write() as conn:
                conn.execute(insert(api_keys).values(key_hash=key_hash, **row))
        except IntegrityError as exc:
            raise DuplicateKey(key.prefix) from exc
        return key

    def update_key(self, key_id: str, **changes: Any) -> ApiKey | None:
        if "allow_ips" in changes:
            changes["allow_ips"] = list(changes["allow_ips"])
        with self._write() as conn:
            if changes:
                conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**changes))
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return None if row is None else _key(row._mapping)

    def key_by_hash(self, key_hash: str) -> tuple[ApiKey, str] | None:
        with self._begin() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).first()
        if row is None:
            return None
        return _key(row._mapping), row.key_hash

    def list_keys(self) -> list[ApiKey]:
        with self._begin() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at)).all()
        return [_key(row._mapping) for row in rows]

    def set_key_enabled(self, key_id: str, enabled: bool) -> bool:
        with self._write() as conn:
            result = conn.execute(
                update(api_keys).where(api_keys.c.id == key_id).values(enabled=enabled)
            )
        return result.rowcount > 0

    def delete_key(self, key_id: str) -> bool:
        with self._write() as conn:
            result = conn.execute(delete(api_keys).where(api_keys.c.id == key_id))
        return result.rowcount > 0

    def count_keys(self) -> int:
        with self._begin() as conn:
            return conn.execute(select(func.count()).select_from(api_keys)).scalar_one()

    def begin_upload(self, upload: Upload) -> None:
        with self._write() as conn:
            conn.execute(insert(uploads).values(**{**asdict(upload), "state": "pending"}))

    def commit_upload(self, upload_id: str, location: str | None) -> None:
        with self._write() as conn:
            conn.execute(
                update(uploads)
                .where(uploads.c.id == upload_id)
                .values(state="ready", location=location)
            )

    def move_upload(self, upload_id: str, store: str, location: str | None) -> None:
        with self._write() as conn:
            conn.execute(
                update(uploads)
                .where(uploads.c.id == upload_id)
                .values(store=store, location=location)
            )
            # Variants live in their upload's store: they are made again in the new one.
            conn.execute(delete(variants).where(variants.c.upload_id == upload_id))

    def uploads_outside(self, store: str, after_id: str, limit: int) -> list[Upload]:
        query = (
            select(uploads)
            .where(uploads.c.state == "ready", uploads.c.store != store, uploads.c.id > after_id)
            .order_by(uploads.c.id)
            .limit(limit)
        )
        with self._begin() as conn:
            return [Upload(**row._mapping) for row in conn.execute(query)]

    def expire_upload(self, upload_id: str, now: float) -> None:
        with self._write() as conn:
            conn.execute(
                update(uploads)
                .where(
                    uploads.c.id == upload_id,
                    or_(uploads.c.expires_at.is_(None), uploads.c.expires_at > now),
                )
                .values(expires_at=now)
            )

    def discard_upload(self, upload_id: str) -> None:
        with self._write() as conn:
            conn.execute(delete(variants).where(variants.c.upload_id == upload_id))
            conn.execute(delete(uploads).where(uploads.c.id == upload_id))

    def get_upload(self, upload_id: str) -> Upload | None:
        query = select(uploads).where(uploads.c.id == upload_id, uploads.c.state == "ready")
        with self._begin() as conn:
            row = conn.execute(query).first()
        return None if row is None else Upload(**row._mapping)

    def stale_pending(self, older_than: float) -> list[Upload]:
        query = select(uploads).where(
            uploads.c.state == "pending", uploads.c.created_at < older_than
        )
        with self._begin() as conn:
            return [Upload(**row._mapping) for row in conn.execute(query)]

    def live_duplicate(self, key_id: str, source_digest: str, now: float) -> Upload | None:
        query = select(uploads).where(
            uploads.c.key_id == key_id,
            uploads.c.source_digest == source_digest,
            uploads.c.state == "ready",
            or_(uploads.c.expires_at.is_(None), uploads.c.expires_at > now),
        )
        with self._begin() as conn:
            row = conn.execute(query.limit(1)).first()
        return None if row is None else Upload(**row._mapping)

    def list_uploads(
        self,
        key_id: str | None,
        before: tuple[float, str] | None,
        limit: int,
        now: float,
        created: tuple[float | None, float | None] = (None, None),
    ) -> list[Upload]:
        query = select(uploads).where(
            uploads.c.state == "ready",
            or_(uploads.c.expires_at.is_(None), uploads.c.expires_at > now),
        )
        if created[0] is not None:
            query = query.where(uploads.c.created_at >= created[0])
        if created[1] is not None:
            query = query.where(uploads.c.created_at < created[1])
        if key_id is not None:
            query = query.where(uploads.c.key_id == key_id)
        if before is not None:
            before_created, before_id = before
            query = query.where(
                or_(
                    uploads.c.created_at < before_created,
                    and_(uploads.c.created_at == before_created, uploads.c.id < before_id),
                )
            )
        query = query.order_by(uploads.c.created_at.desc(), uploads.c.id.desc()).limit(limit)
        with self._begin() as conn:
            return [Upload(**row._mapping) for row in conn.execute(query)]

    def expired(self, now: float, limit: int) -> list[Upload]:
        query = (
            select(uploads)
            .where(uploads.c.state == "ready", uploads.c.expires_at <= now)
            .order_by(uploads.c.expires_at)
            .limit(limit)
        )
        with self._begin() as conn:
            return [Upload(**row._mapping) for row in conn.execute(query)]

    def stats(self, since: float, top: int) -> UsageStats:
        ready = uploads.c.state == "ready"
        # Whole days since the epoch; floor() on PostgreSQL, where a cast would round.
        day_number = (
            func.floor(uploads.c.created_at / 86400)
            if self.engine.dialect.name == "postgresql"
            else cast(uploads.c.created_at / 86400, Integer)
        ).label("day")
        uploaded, total = func.count().label("uploads"), func.sum(uploads.c.size).label("bytes")
        with self._begin() as conn:
            days = conn.execute(
                select(day_number, uploaded, total)
                .where(ready, uploads.c.created_at >= since)
                .group_by(day_number)
                .order_by(day_number)
            ).all()
            keys = conn.execute(
                select(uploads.c.key_id, api_keys.c.name, uploaded, total)
                .select_from(uploads.outerjoin(api_keys, api_keys.c.id == uploads.c.key_id))
                .where(ready, uploads.c.created_at >= since)
                .group_by(uploads.c.key_id, api_keys.c.name)
                .order_by(total.desc())
                .limit(top)
            ).all()
            stores = conn.execute(
                select(uploads.c.store, uploaded, total).where(ready).group_by(uploads.c.store)
            ).all()
        return UsageStats(
            days=[(_iso_day(int(d.day)), d.uploads, int(d.bytes)) for d in days],
            top_keys=[(k.key_id, k.name or "", k.uploads, int(k.bytes)) for k in keys],
            stores=[(s.store, s.uploads, int(s.bytes)) for s in stores],
        )

    def take_lease(self, name: str, holder: str, now: float, seconds: float) -> bool:
        try:
            with self._write() as conn:
                taken = conn.execute(
                    update(leases)
                    .where(
                        leases.c.name == name,
                        or_(leases.c.until < now, leases.c.holder == holder),
                    )
                    .values(holder=holder, until=now + seconds)
                ).rowcount
                if taken:
                    return True
                if conn.execute(select(leases.c.name).where(leases.c.name == name)).first():
                    return False
                conn.execute(insert(leases).values(name=name, holder=holder, until=now + seconds))
                return True
        except IntegrityError:
            return False  # another process created the lease between our look and our insert

    def release_lease(self, name: str, holder: str) -> None:
        with self._write() as conn:
            conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))

    def get_settings(self) -> dict[str, Any]:
        with self._begin() as conn:
            rows = conn.execute(select(settings.c.name, settings.c.value)).all()
        return {row.name: row.value for row in rows}

    def put_settings(self, values: dict[str, Any]) -> None:
        now = time.time()
        with self._write() as conn:
            for name, value in values.items():
                conn.execute(delete(settings).where(settings.c.name == name))
                conn.execute(insert(settings).values(name=name, value=value, updated_at=now))

    def ping(self) -> None:
        with self._begin() as conn:
            conn.execute(select(1))

    def close(self) -> None:
        self.engine.dispose()


def _iso_day(day_number: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day_number * 86400))


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        prefix=row["prefix"],
        enabled=bool(row["enabled"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        daily_bytes=row["daily_bytes"],
        rpm=row["rpm"],
        allow_ips=tuple(row["allow_ips"] or ()),
    )
