"""The upload pipeline in this process, on the in-memory store: an upload that fails at any step
leaves no record, no object, no spooled bytes and no charge on its key's quota; one that cannot
even be undone leaves a pending record, never bytes without one, for the sweep."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from imghost.repo.base import RepoUnavailable
from imghost.settings.runtime import with_defaults
from imghost.sweeper import STALE_PENDING_SECONDS, sweep_once
from tests.conftest import auth, png_bytes
from tests.inprocess import App
from tests.memstore import MemoryStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
async def app(tmp_path: Path, store: MemoryStore) -> AsyncIterator[App]:
    async with App(tmp_path / "data", store) as instance:
        yield instance


def unavailable(*_args: Any, **_kwargs: Any) -> Any:
    raise RepoUnavailable("connection refused")


async def upload(app: App, data: bytes) -> httpx.Response:
    async with app.client() as client:
        return await client.post("/api/upload", headers=auth(app.key), files={"file": data})


def key_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return urlsplit(response.json()["data"]).path.removeprefix("/")


def quota_of_one(app: App, data: bytes) -> None:
    """Give the key a quota that holds `data` once: a second charge for it is refused."""
    app.services.repo.update_key(app.key_id, daily_bytes=len(data))


def assert_nothing_left(app: App, store: MemoryStore) -> None:
    assert app.upload_rows() == 0
    assert store.objects == {}
    assert app.spooled() == []


async def test_a_stored_upload_is_recorded_and_its_spool_removed(
    app: App, store: MemoryStore
) -> None:
    data = png_bytes()
    key = key_of(await upload(app, data))
    assert store.objects == {key: data}
    assert app.upload_rows() == 1
    assert app.spooled() == []


async def test_a_failed_put_leaves_no_record_and_refunds_the_charge(
    app: App, store: MemoryStore
) -> None:
    data = png_bytes()
    quota_of_one(app, data)
    store.fail("put_file")
    failed = await upload(app, data)
    assert failed.status_code == 503, failed.text
    assert failed.json()["code"] == "storage_unavailable"
    assert_nothing_left(app, store)
    store.recover()
    # Within the quota only if the failed upload's charge was taken back.
    assert key_of(await upload(app, data)) in store.objects


async def test_a_failed_commit_removes_the_object_and_the_record_and_refunds_the_charge(
    app: App, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = png_bytes()
    quota_of_one(app, data)
    monkeypatch.setattr(app.services.repo, "commit_upload", unavailable)
    failed = await upload(app, data)
    assert failed.status_code == 503, failed.text
    assert failed.json()["code"] == "database_unavailable"
    assert_nothing_left(app, store)
    monkeypatch.undo()
    assert key_of(await upload(app, data)) in store.objects


async def test_an_object_that_cannot_be_removed_keeps_its_pending_record_for_the_sweep(
    app: App, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The undo removes the object before the record: were it the other way round, a store that
    # refuses the delete would leave bytes that no record leads the sweep to.
    monkeypatch.setattr(app.services.repo, "commit_upload", unavailable)
    store.fail("delete")
    failed = await upload(app, png_bytes())
    assert failed.status_code == 503, failed.text
    assert len(store.objects) == 1
    assert app.upload_rows() == 1
    store.recover()
    repo = app.services.repo
    later = time.time() + STALE_PENDING_SECONDS + 1
    assert sweep_once(repo, app.services.stores, with_defaults(repo.get_settings()), later) == 1
    assert_nothing_left(app, store)


async def test_a_failed_record_write_touches_no_store_and_refunds_the_charge(
    app: App, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = png_bytes()
    quota_of_one(app, data)
    monkeypatch.setattr(app.services.repo, "begin_upload", unavailable)
    failed = await upload(app, data)
    assert failed.status_code == 503, failed.text
    assert_nothing_left(app, store)
    monkeypatch.undo()
    assert key_of(await upload(app, data)) in store.objects


async def test_an_image_refused_after_the_charge_refunds_it(app: App, store: MemoryStore) -> None:
    data = png_bytes()
    quota_of_one(app, data)
    truncated = await upload(app, data[:-20])
    assert truncated.status_code == 422, truncated.text
    assert_nothing_left(app, store)
    assert key_of(await upload(app, data)) in store.objects


async def test_a_repeat_shares_the_stored_bytes_and_is_not_charged_again(
    app: App, store: MemoryStore
) -> None:
    data = png_bytes()
    quota_of_one(app, data)
    first, second = key_of(await upload(app, data)), key_of(await upload(app, data))
    assert first != second
    assert store.objects == {first: data, second: data}


async def test_a_repeat_whose_shared_bytes_are_gone_stores_its_own(
    app: App, store: MemoryStore
) -> None:
    data = png_bytes()
    first = key_of(await upload(app, data))
    store.delete(first)  # lost behind the record's back: the copy finds nothing
    second = key_of(await upload(app, data))
    assert store.objects == {second: data}
