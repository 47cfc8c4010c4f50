"""The Repo contract, run against every backend: SQLite always, PostgreSQL when configured."""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from imghost.repo import migrations
from imghost.repo.base import DuplicateKey, RepoUnavailable, Upload, Variant
from imghost.repo.schema import schema_version, uploads
from imghost.repo.sql import SqlRepo, make_engine
from tests.postgres import NO_POSTGRES, POSTGRES_URL, postgres_schema_url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/imghost.db"
        return
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    with postgres_schema_url(POSTGRES_URL) as url:
        yield url


@pytest.fixture
def repo(database_url: str) -> Iterator[SqlRepo]:
    instance = SqlRepo.connect(database_url, migrate=True)
    yield instance
    instance.close()


def make_upload(key_id: str = "key_1", created_at: float | None = None) -> Upload:
    upload_id = secrets.token_urlsafe(16)
    return Upload(
        id=upload_id,
        key_id=key_id,
        store="local",
        storage_key=f"uploads/2026/11/{upload_id}.png",
        content_type="image/png",
        size=123,
        width=4,
        height=3,
        frames=1,
        digest="ab" * 32,
        filename="a.png",
        created_at=time.time() if created_at is None else created_at,
    )


def test_keys_round_trip(repo: SqlRepo) -> None:
    created = repo.create_key(
        name="ci", role="user", key_hash="f" * 64, prefix="sk-abcd", expires_at=None
    )
    found = repo.key_by_hash("f" * 64)
    assert found == (created, "f" * 64)
    assert repo.key_by_hash("0" * 64) is None
    assert repo.count_keys() == 1
    assert repo.set_key_enabled(created.id, False)
    assert repo.list_keys()[0].enabled is False
    assert repo.delete_key(created.id)
    assert not repo.delete_key(created.id)
    assert repo.key_by_hash("f" * 64) is None


def test_key_hashes_are_unique(repo: SqlRepo) -> None:
    repo.create_key(name="a", role="user", key_hash="e" * 64, prefix="sk-a", expires_at=None)
    with pytest.raises(DuplicateKey):
        repo.create_key(name="b", role="user", key_hash="e" * 64, prefix="sk-b", expires_at=None)


def test_pending_uploads_are_not_served_until_committed(repo: SqlRepo) -> None:
    upload = make_upload()
    repo.begin_upload(upload)
    assert repo.get_upload(upload.id) is None
    repo.commit_upload(upload.id, None)
    assert repo.get_upload(upload.id) == dataclasses.replace(upload, state="ready")


def test_discard_removes_the_record(repo: SqlRepo) -> None:
    upload = make_upload()
    repo.begin_upload(upload)
    repo.discard_upload(upload.id)
    repo.commit_upload(upload.id, None)
    assert repo.get_upload(upload.id) is None


def test_stale_pending_lists_only_old_pending(repo: SqlRepo) -> None:
    old, fresh, done = make_upload(created_at=100.0), make_upload(), make_upload(created_at=100.0)
    for upload in (old, fresh, done):
        repo.begin_upload(upload)
    repo.commit_upload(done.id, None)
    assert [u.id for u in repo.stale_pending(time.time() - 60)] == [old.id]


def test_settings_round_trip(repo: SqlRepo) -> None:
    assert repo.get_settings() == {}
    repo.put_settings({"limits.max_side": 100, "public_url": "https://x.example"})
    repo.put_settings({"limits.max_side": 200})
    assert repo.get_settings() == {"limits.max_side": 200, "public_url": "https://x.example"}


def test_migrations_are_idempotent_and_safe_in_parallel(database_url: str) -> None:
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            repo = SqlRepo.connect(database_url, migrate=True)
            repo.close()
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    repo = SqlRepo.connect(database_url)
    with repo.engine.connect() as conn:
        assert migrations.current_version(conn) == len(migrations.MIGRATIONS)
    repo.close()


def test_unreachable_database_is_reported_as_unavailable(tmp_path: Path) -> None:
    repo = SqlRepo.connect("postgresql://nobody@127.0.0.1:9/none?connect_timeout=2")
    with pytest.raises(RepoUnavailable):
        repo.ping()
    repo.close()


def test_a_lease_has_one_holder_until_it_lapses(repo: SqlRepo) -> None:
    assert repo.take_lease("sweeper", "a", now=1000.0, seconds=60)
    assert not repo.take_lease("sweeper", "b", now=1010.0, seconds=60)
    assert repo.take_lease("sweeper", "a", now=1020.0, seconds=60)
    assert not repo.take_lease("sweeper", "b", now=1079.0, seconds=60)
    assert repo.take_lease("sweeper", "b", now=1081.0, seconds=60)
    assert not repo.take_lease("sweeper", "a", now=1082.0, seconds=60)


def test_a_released_lease_is_free_at_once_but_only_its_holder_releases_it(repo: SqlRepo) -> None:
    assert repo.take_lease("sweeper", "a", now=1000.0, seconds=60)
    repo.release_lease("sweeper", "b")
    assert not repo.take_lease("sweeper", "b", now=1001.0, seconds=60)
    repo.release_lease("sweeper", "a")
    assert repo.take_lease("sweeper", "b", now=1002.0, seconds=60)


def test_a_lease_is_taken_once_by_racing_holders(database_url: str) -> None:
    SqlRepo.connect(database_url, migrate=True).close()
    winners: list[str] = []

    def take(holder: str) -> None:
        contender = SqlRepo.connect(database_url)
        try:
            if contender.take_lease("race", holder, now=5000.0, seconds=60):
                winners.append(holder)
        finally:
            contender.close()

    threads = [threading.Thread(target=take, args=(f"h{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_listing_is_newest_first_and_skips_expired(repo: SqlRepo) -> None:
    made = [make_upload(key_id="k", created_at=100.0 + n) for n in range(4)]
    expired = dataclasses.replace(make_upload(key_id="k", created_at=200.0), expires_at=150.0)
    for upload in [*made, expired]:
        repo.begin_upload(upload)
        repo.commit_upload(upload.id, None)
    page = repo.list_uploads("k", None, 3, now=160.0)
    assert [u.id for u in page] == [u.id for u in made[::-1][:3]]
    rest = repo.list_uploads("k", (page[-1].created_at, page[-1].id), 3, now=160.0)
    assert [u.id for u in rest] == [made[0].id]
    assert [u.id for u in repo.expired(now=160.0, limit=10)] == [expired.id]


def test_live_duplicate_is_per_key_and_unexpired(repo: SqlRepo) -> None:
    upload = dataclasses.replace(make_upload(key_id="k"), source_digest="d" * 64)
    repo.begin_upload(upload)
    assert repo.live_duplicate("k", "d" * 64, now=time.time()) is None
    repo.commit_upload(upload.id, None)
    assert repo.live_duplicate("k", "d" * 64, now=time.time()) is not None
    assert repo.live_duplicate("other", "d" * 64, now=time.time()) is None


def test_stats_by_day_key_and_store(repo: SqlRepo) -> None:
    day = 86400.0 * 20000
    for created in (day + 10, day + 20, day + 86400 + 5):
        upload = make_upload(key_id="k1", created_at=created)
        repo.begin_upload(upload)
        repo.commit_upload(upload.id, None)
    stats = repo.stats(since=day, top=5)
    first, second = (
        time.strftime("%Y-%m-%d", time.gmtime(day)),
        time.strftime("%Y-%m-%d", time.gmtime(day + 86400)),
    )
    assert stats.days == [(first, 2, 246), (second, 1, 123)]
    assert stats.top_keys == [("k1", "", 3, 369)]
    assert stats.stores == [("local", 3, 369)]


def test_expiring_an_upload_ends_it_now_but_never_lengthens_it(repo: SqlRepo) -> None:
    forever, short = make_upload(), dataclasses.replace(make_upload(), expires_at=1000.0)
    for upload in (forever, short):
        repo.begin_upload(upload)
        repo.commit_upload(upload.id, None)
    repo.expire_upload(forever.id, now=5000.0)
    repo.expire_upload(short.id, now=5000.0)
    assert {u.id for u in repo.expired(now=5000.5, limit=10)} == {forever.id, short.id}
    assert repo.get_upload(forever.id).expires_at == 5000.0  # type: ignore[union-attr]
    assert repo.get_upload(short.id).expires_at == 1000.0  # type: ignore[union-attr]


def test_upgrading_to_source_format_names_the_older_uploads(database_url: str) -> None:
    """Before v7 every upload was stored in the format it came in, so its type names it."""
    engine = make_engine(database_url)
    with engine.begin() as conn:
        schema_version.create(conn)
        for number, migration in enumerate(migrations.MIGRATIONS[:6], start=1):
            migration(conn)
            conn.execute(insert(schema_version).values(version=number, applied_at=0.0))
        # v1 creates today's tables: take the column away, as a v6 database has no such thing.
        conn.execute(text("ALTER TABLE uploads DROP COLUMN source_format"))
        for content_type in ("image/jpeg", "image/webp", "image/x-unknown"):
            row = {**dataclasses.asdict(make_upload()), "content_type": content_type}
            del row["source_format"]
            conn.execute(insert(uploads).values(row))
    engine.dispose()
    repo = SqlRepo.connect(database_url, migrate=True)
    with repo.engine.connect() as conn:
        found = dict(conn.execute(select(uploads.c.content_type, uploads.c.source_format)).all())
    assert found == {"image/jpeg": "jpeg", "image/webp": "webp", "image/x-unknown": None}
    upload = dataclasses.replace(make_upload(), source_format="heif")
    repo.begin_upload(upload)
    repo.commit_upload(upload.id, None)
    assert repo.get_upload(upload.id) == dataclasses.replace(upload, state="ready")
    repo.close()


def ready_upload(repo: SqlRepo) -> Upload:
    upload = make_upload()
    repo.begin_upload(upload)
    repo.commit_upload(upload.id, None)
    return upload


def a_variant(upload: Upload, preset: str = "claude") -> Variant:
    key = upload.storage_key.rsplit(".", 1)[0] + f".{preset}.jpg"
    return Variant(upload.id, preset, key, "image/jpeg", width=10, height=10)


def test_a_variant_is_claimed_by_one_maker_until_its_claim_runs_out(repo: SqlRepo) -> None:
    variant = a_variant(ready_upload(repo))
    now = time.time()
    assert repo.claim_variant(variant, "a", now, 60) == (variant, True)
    assert repo.claim_variant(variant, "b", now + 1, 60) == (variant, False)
    assert repo.claim_variant(variant, "b", now + 61, 60) == (variant, True)
    assert not repo.commit_variant(dataclasses.replace(variant, size=5, digest="d"), "a")
    ready = dataclasses.replace(variant, size=5, digest="d", state="ready")
    assert repo.commit_variant(ready, "b")
    assert repo.variants_of(variant.upload_id) == [ready]
    assert repo.claim_variant(variant, "c", now + 999, 60) == (ready, False)


def test_claims_racing_on_one_variant_give_it_to_one_maker(repo: SqlRepo) -> None:
    variant = a_variant(ready_upload(repo))
    won: list[bool] = []
    barrier = threading.Barrier(8)

    def claim(maker: str) -> None:
        barrier.wait()
        claimed = repo.claim_variant(variant, maker, time.time(), 60)
        assert claimed is not None
        won.append(claimed[1])

    threads = [threading.Thread(target=claim, args=(f"m{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 7 + [True]


def test_no_variant_is_claimed_for_an_upload_that_is_not_ready(repo: SqlRepo) -> None:
    pending = make_upload()
    repo.begin_upload(pending)
    assert repo.claim_variant(a_variant(pending), "a", time.time(), 60) is None


def test_a_released_claim_is_free_and_variants_go_with_their_upload(repo: SqlRepo) -> None:
    upload = ready_upload(repo)
    first, second = a_variant(upload), a_variant(upload, "openai")
    now = time.time()
    repo.claim_variant(first, "a", now, 60)
    repo.release_variant(first, "a")
    assert repo.claim_variant(first, "b", now, 60) == (first, True)
    repo.claim_variant(second, "b", now, 60)
    assert {v.preset for v in repo.variants_of_all([upload.id, "other"])} == {"claude", "openai"}
    repo.move_upload(upload.id, "s3", None)
    assert repo.variants_of(upload.id) == []
    repo.claim_variant(first, "c", now, 60)
    repo.discard_upload(upload.id)
    assert repo.variants_of(upload.id) == []
