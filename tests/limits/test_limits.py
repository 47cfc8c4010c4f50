"""Quotas and rate limits, run against every backend: SQLite always, PostgreSQL and Redis when
configured. Time is passed explicitly, so windows slide without sleeping."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import secrets
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, inspect, select

from imghost.limits import Limiter, LimitExceeded, LimitsUnavailable, SqlLimiter, make_limiter
from imghost.limits.base import format_bytes, format_duration
from imghost.limits.redis import RedisLimiter
from imghost.repo import migrations
from imghost.repo.schema import usage
from imghost.repo.sql import make_engine
from tests.postgres import NO_POSTGRES, POSTGRES_URL, postgres_schema_url

REDIS_URL = os.environ.get("IMGHOST_TEST_REDIS_URL", "")
T0 = 1_800_000_000.0
MB = 1_000_000
THREADS = 32


@dataclass
class Backend:
    """One fresh counter store; `limiter()` opens another client on it (as another worker)."""

    name: str
    url: str
    redis_prefix: str = ""
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def limiter(self) -> Limiter:
        if self.name == "redis":
            client = RedisLimiter(self.url, prefix=self.redis_prefix)
            self.cleanups.append(client.close)
            return client
        engine = make_engine(self.url)
        self.cleanups.append(engine.dispose)
        return SqlLimiter(engine)

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            cleanup()


def migrated(database_url: str) -> str:
    engine = make_engine(database_url)
    migrations.upgrade(engine)
    engine.dispose()
    return database_url


@contextlib.contextmanager
def redis_prefix(url: str) -> Iterator[str]:
    """A prefix of this test's own; its keys are deleted afterwards."""
    prefix = "test-" + secrets.token_hex(6)
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(f"imghost:{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            instance = Backend("sqlite", migrated(f"sqlite:///{tmp_path}/imghost.db"))
        elif request.param == "postgres":
            if not POSTGRES_URL:
                pytest.skip(NO_POSTGRES)
            schema_url = stack.enter_context(postgres_schema_url(POSTGRES_URL))
            instance = Backend("postgres", migrated(schema_url))
        else:
            if not REDIS_URL:
                pytest.skip(
                    "Redis tests need IMGHOST_TEST_REDIS_URL, e.g. redis://127.0.0.1:6379/0"
                )
            instance = Backend("redis", REDIS_URL, stack.enter_context(redis_prefix(REDIS_URL)))
        stack.callback(instance.close)
        yield instance


@pytest.fixture
def limiter(backend: Backend) -> Limiter:
    return backend.limiter()


def new_key() -> str:
    return "key_" + secrets.token_hex(8)


def new_id() -> str:
    return uuid.uuid4().hex


def refusal(call: Callable[[], None]) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as caught:
        call()
    return caught.value


# --- requests per minute -------------------------------------------------------------------


def test_rpm_allows_n_then_refuses_until_the_oldest_leaves(limiter: Limiter) -> None:
    key = new_key()
    for second in range(5):
        limiter.hit(key, 5, T0 + second)
    refused = refusal(lambda: limiter.hit(key, 5, T0 + 10))
    assert refused.kind == "rate_limited"
    assert refused.retry_after == 50  # the request at T0 leaves the window at T0 + 60
    assert refused.message == "This key may make 5 requests per minute; the next one frees in 50 s."
    assert refusal(lambda: limiter.hit(key, 5, T0 + 59.5)).retry_after == 1
    # At T0 + 60 only the first request has left; the refused ones were never counted.
    limiter.hit(key, 5, T0 + 60)
    assert refusal(lambda: limiter.hit(key, 5, T0 + 60)).retry_after == 1
    for second in range(5):
        limiter.hit(key, 5, T0 + 200 + second)


def test_rpm_zero_counts_nothing(limiter: Limiter) -> None:
    key = new_key()
    for _ in range(50):
        limiter.hit(key, 0, T0)
    limiter.hit(key, 1, T0)
    assert refusal(lambda: limiter.hit(key, 1, T0)).message.startswith(
        "This key may make 1 request per minute"
    )


def test_keys_are_counted_apart(limiter: Limiter) -> None:
    first, second = new_key(), new_key()
    limiter.hit(first, 1, T0)
    limiter.hit(second, 1, T0)
    limiter.charge(first, new_id(), 10, 10, T0)
    limiter.charge(second, new_id(), 10, 10, T0)
    refusal(lambda: limiter.hit(first, 1, T0))
    refusal(lambda: limiter.charge(second, new_id(), 1, 10, T0))


# --- rolling 24 h bytes --------------------------------------------------------------------


def test_charges_fill_the_quota_exactly(limiter: Limiter) -> None:
    key = new_key()
    limiter.charge(key, new_id(), 60 * MB, 200 * MB, T0)
    limiter.charge(key, new_id(), 60 * MB, 200 * MB, T0 + 600)
    limiter.charge(key, new_id(), 80 * MB, 200 * MB, T0 + 1200)
    refused = refusal(lambda: limiter.charge(key, new_id(), 1, 200 * MB, T0 + 1800))
    assert refused.kind == "quota_exceeded"
    assert refused.retry_after == 86400 - 1800
    assert refused.message == (
        "This key may upload 200 MB per 24 hours and has used 200 MB; 60 MB of it frees in "
        "23 h 30 min, enough for this 1 B upload."
    )


def test_refusal_waits_for_enough_old_charges_to_leave(limiter: Limiter) -> None:
    key = new_key()
    for offset, size in ((0, 60), (600, 60), (1200, 80)):
        limiter.charge(key, new_id(), size * MB, 200 * MB, T0 + offset)
    # 100 MB fits only once both 60 MB charges (at T0 and T0 + 600) have left.
    refused = refusal(lambda: limiter.charge(key, new_id(), 100 * MB, 200 * MB, T0 + 1800))
    assert refused.retry_after == 86400 + 600 - 1800
    assert "120 MB of it frees in 23 h 40 min, enough for this 100 MB upload" in refused.message
    just_before = T0 + 600 + 86400 - 0.5
    assert (
        refusal(lambda: limiter.charge(key, new_id(), 100 * MB, 200 * MB, just_before)).retry_after
        == 1
    )
    limiter.charge(key, new_id(), 100 * MB, 200 * MB, T0 + 600 + 86400)


def test_window_slides_with_now(limiter: Limiter) -> None:
    key = new_key()
    limiter.charge(key, new_id(), 1000, 1000, T0)
    refusal(lambda: limiter.charge(key, new_id(), 1, 1000, T0 + 86399))
    limiter.charge(key, new_id(), 1000, 1000, T0 + 86400)
    refusal(lambda: limiter.charge(key, new_id(), 1000, 1000, T0 + 2 * 86400 - 1))
    limiter.charge(key, new_id(), 1000, 1000, T0 + 2 * 86400)


def test_refund_frees_and_is_idempotent(limiter: Limiter) -> None:
    key = new_key()
    charges = [new_id() for _ in range(10)]
    for charge_id in charges:
        limiter.charge(key, charge_id, 100, 1000, T0)
    refusal(lambda: limiter.charge(key, new_id(), 100, 1000, T0))
    limiter.refund(key, charges[3])
    limiter.refund(key, charges[3])
    limiter.refund(key, "never-charged")
    limiter.refund(new_key(), charges[4])  # another key's refund leaves this key's charge
    limiter.charge(key, new_id(), 100, 1000, T0)
    refusal(lambda: limiter.charge(key, new_id(), 100, 1000, T0))


def test_zero_daily_bytes_is_unlimited_and_records_nothing(limiter: Limiter) -> None:
    key = new_key()
    limiter.charge(key, new_id(), 10**15, 0, T0)
    limiter.charge(key, new_id(), 1000, 1000, T0)


def test_a_charge_larger_than_the_quota_can_never_fit(limiter: Limiter) -> None:
    key = new_key()
    refused = refusal(lambda: limiter.charge(key, new_id(), 300 * MB, 200 * MB, T0))
    assert refused.kind == "quota_exceeded"
    assert refused.retry_after == 86400
    assert refused.message == (
        "This upload is 300 MB but this key may upload only 200 MB per 24 hours, so it can "
        "never fit; upload a smaller file or ask an admin for a larger quota."
    )
    limiter.charge(key, new_id(), 200 * MB, 200 * MB, T0)  # nothing was charged for it


def test_the_same_charge_id_counts_once(limiter: Limiter) -> None:
    key, charge_id = new_key(), new_id()
    limiter.charge(key, charge_id, 600, 1000, T0)
    limiter.charge(key, charge_id, 600, 1000, T0 + 1)
    limiter.charge(key, new_id(), 400, 1000, T0 + 2)
    refusal(lambda: limiter.charge(key, new_id(), 1, 1000, T0 + 3))


# --- exactness under concurrency -----------------------------------------------------------


def run_at_once(count: int, call: Callable[[], None]) -> tuple[int, list[BaseException]]:
    """Start `count` threads on a barrier; how many calls passed, and any unexpected error."""
    barrier = threading.Barrier(count)
    passed: list[bool] = []
    errors: list[BaseException] = []

    def attempt() -> None:
        barrier.wait()
        try:
            call()
            passed.append(True)
        except LimitExceeded:
            pass
        except BaseException as exc:  # collected and asserted on in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(passed), errors


def test_concurrent_charges_are_exact(limiter: Limiter) -> None:
    key = new_key()
    passed, errors = run_at_once(THREADS, lambda: limiter.charge(key, new_id(), 100, 1000, T0))
    assert errors == []
    assert passed == 10
    assert "has used 1 kB" in refusal(lambda: limiter.charge(key, new_id(), 1, 1000, T0)).message


def test_concurrent_hits_are_exact(limiter: Limiter) -> None:
    key = new_key()
    passed, errors = run_at_once(THREADS, lambda: limiter.hit(key, 10, T0))
    assert errors == []
    assert passed == 10
    assert refusal(lambda: limiter.hit(key, 10, T0 + 1)).retry_after == 59


def test_concurrent_clients_are_exact(backend: Backend) -> None:
    """Every thread its own client (engine or Redis connection), as separate workers have."""
    key = new_key()
    clients = iter([backend.limiter() for _ in range(8)] * 4)
    lock = threading.Lock()

    def charge() -> None:
        with lock:
            client = next(clients)
        client.charge(key, new_id(), 100, 1000, T0)

    passed, errors = run_at_once(THREADS, charge)
    assert errors == []
    assert passed == 10


def count_in_process(
    database_url: str, key: str, operation: str, barrier: Any, results: Any
) -> None:
    """One worker process: its own engine on the shared file, 8 attempts as fast as it can."""
    engine = make_engine(database_url)
    limiter = SqlLimiter(engine)
    passed = 0
    barrier.wait()
    for _ in range(8):
        try:
            if operation == "charge":
                limiter.charge(key, new_id(), 100, 1000, T0)
            else:
                limiter.hit(key, 10, T0)
            passed += 1
        except LimitExceeded:
            pass
    engine.dispose()
    results.put(passed)


@pytest.mark.parametrize("operation", ["charge", "hit"])
def test_sqlite_processes_are_exact(tmp_path: Path, operation: str) -> None:
    database_url = migrated(f"sqlite:///{tmp_path}/imghost.db")
    key = new_key()
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    processes = [
        context.Process(
            target=count_in_process, args=(database_url, key, operation, barrier, results)
        )
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    totals = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert sum(totals) == 10, totals


# --- the store is down ---------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_unavailable(limiter: Limiter) -> None:
    with pytest.raises(LimitsUnavailable):
        limiter.hit(new_key(), 10, T0)
    with pytest.raises(LimitsUnavailable):
        limiter.charge(new_key(), new_id(), 1, 10, T0)
    with pytest.raises(LimitsUnavailable):
        limiter.refund(new_key(), new_id())


def test_postgres_down_is_unavailable() -> None:
    engine = make_engine(f"postgresql://nobody@127.0.0.1:{closed_port()}/none?connect_timeout=2")
    try:
        assert_unavailable(SqlLimiter(engine))
    finally:
        engine.dispose()


def test_redis_down_is_unavailable() -> None:
    limiter = RedisLimiter(f"redis://127.0.0.1:{closed_port()}/0")
    try:
        assert_unavailable(limiter)
    finally:
        limiter.close()


# --- wiring, storage, wording --------------------------------------------------------------


def test_make_limiter_picks_redis_only_when_configured(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/imghost.db")
    database_limiter = make_limiter(engine, "")
    redis_limiter = make_limiter(engine, "redis://127.0.0.1:6379/0")  # connects lazily
    assert isinstance(database_limiter, SqlLimiter)
    assert isinstance(redis_limiter, RedisLimiter)
    redis_limiter.close()
    database_limiter.close()
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_sql_forgets_rows_that_left_the_window(backend: Backend) -> None:
    limiter = backend.limiter()
    assert isinstance(limiter, SqlLimiter)
    key = new_key()
    for offset in range(3):
        limiter.charge(key, new_id(), 1, 100, T0 + offset)
        limiter.hit(key, 100, T0 + offset)
    limiter.charge(key, new_id(), 1, 100, T0 + 86400 + 1.5)
    limiter.hit(key, 100, T0 + 61.5)
    query = select(usage.c.kind, func.count()).where(usage.c.key_id == key).group_by(usage.c.kind)
    with limiter.engine.connect() as conn:
        assert dict(conn.execute(query).all()) == {"bytes": 2, "request": 2}


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_redis_keys_are_prefixed_and_expire(backend: Backend) -> None:
    limiter, key, charge_id = backend.limiter(), new_key(), new_id()
    limiter.hit(key, 10, T0)
    limiter.charge(key, charge_id, 10, 100, T0)
    client = redis.Redis.from_url(backend.url)
    names = sorted(name.decode() for name in client.scan_iter(f"imghost:{backend.redis_prefix}:*"))
    ttls = [client.ttl(name) for name in names]
    limiter.refund(key, charge_id)
    after_refund = client.hlen(f"imghost:{backend.redis_prefix}:{{{key}}}:sizes")
    client.close()
    assert names == [
        f"imghost:{backend.redis_prefix}:{{{key}}}:{what}"
        for what in ("charges", "requests", "sizes")
    ]
    assert all(0 < ttl <= 86400 + 60 for ttl in ttls)
    assert after_refund == 0


def test_migration_adds_usage_to_an_older_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/imghost.db")
    before = migrations.MIGRATIONS[: migrations.MIGRATIONS.index(migrations._v6_usage)]
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", before)
        migrations.upgrade(engine)
    with engine.connect() as conn:
        assert not inspect(conn).has_table("usage")
    migrations.upgrade(engine)
    migrations.upgrade(engine)
    with engine.connect() as conn:
        indexes = {index["name"] for index in inspect(conn).get_indexes("usage")}
    assert "ix_usage_key_kind_at" in indexes
    SqlLimiter(engine).charge(new_key(), new_id(), 1, 1, T0)
    engine.dispose()


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1 kB"),
        (1_200_000, "1.2 MB"),
        (999_999, "1 MB"),
        (200 * MB, "200 MB"),
        (5 * 10**12, "5 TB"),
    ],
)
def test_format_bytes(count: int, text: str) -> None:
    assert format_bytes(count) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1, "1 s"),
        (59, "59 s"),
        (60, "1 min"),
        (125, "2 min 5 s"),
        (3600, "1 h"),
        (3 * 3600 + 12 * 60, "3 h 12 min"),
        (3 * 3600 + 11 * 60 + 1, "3 h 12 min"),
        (86370, "24 h"),
    ],
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text
