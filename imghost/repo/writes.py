"""A bounded queue for SQLite's single writer, shared by everything in a process that writes.

SQLite lets one transaction write at a time and makes the others sleep-poll for the lock
(`busy_timeout`). The repo and the SQL limiter queue this process's writers here instead, so
only other processes ever contend, and nobody waits longer than `BUSY_SECONDS` for a turn: a
database locked by another process answers 503 within a bounded time instead of piling up
requests that each wait out the busy timeout in turn.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

BUSY_SECONDS = 5.0

_locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_locks_lock = threading.Lock()


class DatabaseBusy(Exception):
    """Another writer kept the database for longer than this process may wait."""


def _lock_of(engine: Engine) -> threading.Lock:
    with _locks_lock:
        return _locks.setdefault(engine, threading.Lock())


@contextmanager
def write_turn(engine: Engine) -> Iterator[None]:
    """Hold this process's turn to write to `engine`'s database (SQLite only; PostgreSQL has
    row locks and needs none)."""
    if engine.dialect.name != "sqlite":
        yield
        return
    lock = _lock_of(engine)
    if not lock.acquire(timeout=BUSY_SECONDS):
        raise DatabaseBusy(f"database is locked: no write finished within {BUSY_SECONDS:g} s")
    try:
        yield
    finally:
        lock.release()
