"""The variant maker's bookkeeping, in process on the memory store: a maker that died is taken
over, a variant of an upload deleted meanwhile leaves nothing, a dead maker's object is
replaced, and a ready variant is remembered."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from imghost.errors import NotFound
from imghost.repo.base import Upload
from imghost.store import keys
from imghost.variants import MAKING_SECONDS, Variants, planned
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


async def stored(app: App) -> Upload:
    async with app.client() as client:
        answer = await client.post(
            "/v1/files/uploads", headers=auth(app.key), files={"file": png_bytes(900, 600)}
        )
    assert answer.status_code == 200, answer.text
    upload = app.services.repo.get_upload(answer.json()["id"].removeprefix("file-"))
    assert upload is not None
    return upload


def fresh_variants(app: App, tmp_path: Path) -> Variants:
    """Another process's view: nothing remembered."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return Variants(app.services.repo, work)


async def test_a_variant_a_dead_maker_claimed_is_taken_over_once_its_time_runs_out(
    app: App, store: MemoryStore, tmp_path: Path
) -> None:
    upload = await stored(app)
    expected = planned(upload, "claude")
    repo = app.services.repo
    claimed = repo.claim_variant(expected, "dead-maker", time.time() - MAKING_SECONDS - 1, 1)
    assert claimed == (expected, True)
    made = fresh_variants(app, tmp_path).get(upload, "claude", store)
    assert made.state == "ready"
    assert store.objects[made.storage_key][:8] == b"\x89PNG\r\n\x1a\n"
    assert [v.state for v in repo.variants_of(upload.id)] == ["ready"]


async def test_a_live_claim_is_not_taken_over(app: App, tmp_path: Path) -> None:
    upload = await stored(app)
    expected = planned(upload, "openai")
    repo = app.services.repo
    assert repo.claim_variant(expected, "busy-maker", time.time(), MAKING_SECONDS) is not None
    again = repo.claim_variant(expected, "other", time.time(), MAKING_SECONDS)
    assert again == (expected, False)


async def test_a_dead_makers_object_is_replaced(
    app: App, store: MemoryStore, tmp_path: Path
) -> None:
    upload = await stored(app)
    key = planned(upload, "gemini").storage_key
    leftover = tmp_path / "leftover"
    leftover.write_bytes(b"half of an earlier try")
    store.put_file(key, leftover, "image/png")
    made = fresh_variants(app, tmp_path).get(upload, "gemini", store)
    assert store.objects[key] != b"half of an earlier try"
    assert made.size == len(store.objects[key])


async def test_a_variant_of_an_upload_deleted_meanwhile_leaves_nothing(
    app: App, store: MemoryStore, tmp_path: Path
) -> None:
    upload = await stored(app)
    app.services.repo.discard_upload(upload.id)
    with pytest.raises(NotFound):
        fresh_variants(app, tmp_path).get(upload, "claude", store)
    assert app.services.repo.variants_of(upload.id) == []
    assert not any(keys.parse(key).preset for key in store.objects)


async def test_a_ready_variant_is_remembered_and_forgotten_with_its_upload(
    app: App, store: MemoryStore, tmp_path: Path
) -> None:
    upload = await stored(app)
    variants = fresh_variants(app, tmp_path)
    assert variants.remembered(upload, "kling") is None
    made = variants.get(upload, "kling", store)
    assert variants.remembered(upload, "kling") == made
    variants.forget(upload.id)
    assert variants.remembered(upload, "kling") is None


async def test_a_variant_that_cannot_be_made_at_upload_does_not_fail_the_upload(
    app: App, store: MemoryStore
) -> None:
    store.fail("open_range")  # the original cannot be read back to make the variant from
    async with app.client() as client:
        answer = await client.post(
            "/api/upload",
            headers=auth(app.key),
            files={"file": png_bytes(900, 600)},
            data={"for": "claude"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"].endswith(".claude.png")
    assert app.upload_rows() == 1
    store.recover()
    async with app.client() as client:
        made = await client.get(answer.json()["data"].removeprefix("http://imghost.test"))
    assert made.status_code == 200
    assert made.headers["content-type"] == "image/png"
