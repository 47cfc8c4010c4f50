"""`Limiter` on the metadata database (SQLite in WAL mode, or PostgreSQL), SQLAlchemy Core.

Every count is one short transaction on the `usage` table that inserts the new row, sums the
key's window including it, and rolls back when the sum is over the limit. What makes that exact
is that no two transactions for one key can interleave between the insert and the sum:

* PostgreSQL: the transaction first takes `pg_advisory_xact_lock(<64-bit hash of key_id>)`;
  under READ COMMITTED each later statement sees everything the previous holder committed.
* SQLite: the INSERT is the first statement, so the transaction starts by taking the database's
  single write lock (waiting for it under busy_timeout). From then on no other process can
  commit, so the SUM that follows sees a stable state that includes our own row. A SELECT first
  would instead pin a read snapshot that another process's commit could make stale.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, RootTransaction, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from imghost.limits.base import (
    BYTES_WINDOW,
    REQUEST_WINDOW,
    Fit,
    LimitsUnavailable,
    check_size,
    check_unlimited,
    first_fit,
    quota_exceeded,
    rate_limited,
)
from imghost.repo.schema import usage
from imghost.repo.writes import DatabaseBusy, write_turn

_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


class SqlLimiter:
    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name not in _INSERTS:
            raise ValueError(f"limits need SQLite or PostgreSQL, not {engine.dialect.name}")
        # The engine is the caller's (usually the repo's): close() leaves it open.
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._insert = _INSERTS[engine.dialect.name]

    def hit(self, key_id: str, rpm: int, now: float) -> None:
        if check_unlimited(rpm, "rpm"):
            return
        request_id = uuid.uuid4().hex
        refusal = self._count(key_id, "request", request_id, 1, rpm, REQUEST_WINDOW, now)
        if refusal is not None:
            raise rate_limited(rpm, refusal, now)

    def charge(self, key_id: str, charge_id: str, size: int, daily_bytes: int, now: float) -> None:
        if check_unlimited(daily_bytes, "daily_bytes"):
            return
        check_size(size, daily_bytes)
        refusal = self._count(key_id, "bytes", charge_id, size, daily_bytes, BYTES_WINDOW, now)
        if refusal is not None:
            raise quota_exceeded(daily_bytes, size, refusal, now)

    def refund(self, key_id: str, charge_id: str) -> None:
        with self._transaction() as (conn, _):
            conn.execute(
                delete(usage).where(
                    usage.c.key_id == key_id,
                    usage.c.charge_id == charge_id,
                    usage.c.kind == "bytes",
                )
            )

    def close(self) -> None:
        """Nothing to release: the engine belongs to whoever made this limiter."""

    def _count(
        self,
        key_id: str,
        kind: str,
        charge_id: str,
        amount: int,
        limit: int,
        window: float,
        now: float,
    ) -> Fit | None:
        """Record `amount` unless the key's window would then hold more than `limit`."""
        cutoff = now - window
        with self._transaction() as (conn, transaction):
            if self._postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _lock_id(key_id)})
            # On SQLite this must stay the first statement: see the module docstring.
            if not self._record(conn, key_id, kind, charge_id, amount, now):
                return None  # this charge id is already counted; count it once
            self._forget_before(conn, key_id, kind, cutoff)
            total = self._total(conn, key_id, kind, cutoff)
            if total <= limit:
                return None
            entries = self._entries_before(conn, key_id, kind, cutoff, charge_id)
            transaction.rollback()  # a refused request is not counted
        return first_fit(entries, total - amount, amount, limit)

    def _record(
        self, conn: Connection, key_id: str, kind: str, charge_id: str, amount: int, now: float
    ) -> bool:
        row = {"key_id": key_id, "charge_id": charge_id, "kind": kind, "amount": amount, "at": now}
        statement = self._insert(usage).values(**row).on_conflict_do_nothing()
        # SQLAlchemy reports an INSERT's rowcount only when asked; 0 means the id was there.
        result = conn.execute(statement.execution_options(preserve_rowcount=True))
        return result.rowcount > 0

    @staticmethod
    def _forget_before(conn: Connection, key_id: str, kind: str, cutoff: float) -> None:
        """Drop the key's rows that left the window, so the table stays about a day long."""
        conn.execute(
            delete(usage).where(
                usage.c.key_id == key_id, usage.c.kind == kind, usage.c.at <= cutoff
            )
        )

    @staticmethod
    def _total(conn: Connection, key_id: str, kind: str, cutoff: float) -> int:
        # Rows stamped after `now` (another process's clock running ahead) count too: leaving
        # them out could let the key go over its limit.
        query = select(func.coalesce(func.sum(usage.c.amount), 0)).where(
            usage.c.key_id == key_id, usage.c.kind == kind, usage.c.at > cutoff
        )
        return int(conn.execute(query).scalar_one())

    @staticmethod
    def _entries_before(
        conn: Connection, key_id: str, kind: str, cutoff: float, charge_id: str
    ) -> list[tuple[float, int]]:
        """The window's entries other than ours, oldest first: the order they will leave."""
        query = (
            select(usage.c.at, usage.c.amount)
            .where(
                usage.c.key_id == key_id,
                usage.c.kind == kind,
                usage.c.at > cutoff,
                usage.c.charge_id != charge_id,
            )
            .order_by(usage.c.at, usage.c.charge_id)
        )
        return [(float(row.at), int(row.amount)) for row in conn.execute(query)]

    @contextmanager
    def _transaction(self) -> Iterator[tuple[Connection, RootTransaction]]:
        with (
            _unavailable_as_error(),
            write_turn(self.engine),
            self.engine.connect() as conn,
            conn.begin() as transaction,
        ):
            yield conn, transaction


def _lock_id(key_id: str) -> int:
    """A stable signed 64-bit name for the key among the database's advisory locks."""
    digest = hashlib.blake2b(key_id.encode(), digest_size=8, person=b"imghost-limits").digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def _unavailable_as_error() -> Iterator[None]:
    try:
        yield
    except PoolTimeout as exc:  # every pooled connection stayed busy: none could be had
        raise LimitsUnavailable(str(exc).splitlines()[0]) from exc
    except DatabaseBusy as exc:
        raise LimitsUnavailable(str(exc)) from exc
    except DBAPIError as exc:
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise LimitsUnavailable(reason) from exc
        raise
