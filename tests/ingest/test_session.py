"""UploadSession: what an upload's steps did is taken back unless it is committed, and its
temporary files go either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from imghost.errors import TooLarge
from imghost.ingest.session import UploadSession

pytestmark = pytest.mark.anyio


class Failed(Exception):
    pass


async def fail_in(session: UploadSession) -> None:
    """Leave the session's block by an error, as an upload that failed does."""
    async with session:
        raise Failed


async def test_uncommitted_steps_are_undone_newest_first(tmp_path: Path) -> None:
    undone: list[str] = []
    session = UploadSession(tmp_path, 100)
    for step in ("charge", "record", "object"):
        session.on_failure(step, lambda step=step: undone.append(step))
    with pytest.raises(Failed):
        await fail_in(session)
    assert undone == ["object", "record", "charge"]


async def test_leaving_without_a_commit_undoes_even_without_an_error(tmp_path: Path) -> None:
    undone: list[str] = []
    async with UploadSession(tmp_path, 100) as session:
        session.on_failure("charge", lambda: undone.append("charge"))
    assert undone == ["charge"]


async def test_a_committed_session_keeps_what_its_steps_did(tmp_path: Path) -> None:
    undone: list[str] = []
    async with UploadSession(tmp_path, 100) as session:
        session.on_failure("charge", lambda: undone.append("charge"))
        session.commit()
    assert undone == []


async def test_a_step_named_again_is_undone_once_with_its_new_undo_in_its_old_place(
    tmp_path: Path,
) -> None:
    # The pipeline's record: first "discard the record", then "remove the object, then the
    # record" once there is an object; still undone before the charge it came after.
    undone: list[str] = []
    session = UploadSession(tmp_path, 100)
    session.on_failure("record", lambda: undone.append("record only"))
    session.on_failure("charge", lambda: undone.append("charge"))
    session.on_failure("record", lambda: undone.append("object and record"))
    with pytest.raises(Failed):
        await fail_in(session)
    assert undone == ["charge", "object and record"]


async def test_an_undo_that_fails_does_not_keep_the_others_from_running(tmp_path: Path) -> None:
    undone: list[str] = []

    def refused() -> None:
        raise ConnectionError("the database went away")

    session = UploadSession(tmp_path, 100)
    session.on_failure("charge", lambda: undone.append("charge"))
    session.on_failure("record", refused)
    session.on_failure("object", lambda: undone.append("object"))
    with pytest.raises(Failed):
        await fail_in(session)
    assert undone == ["object", "charge"]


@pytest.mark.parametrize("commit", [True, False])
async def test_the_spool_and_temporaries_go_whatever_happens(tmp_path: Path, commit: bool) -> None:
    async with UploadSession(tmp_path, 100) as session:
        spool = session.new_spool()
        spool.write(b"half an image")
        prepared = tmp_path / "prepared.out"
        prepared.write_bytes(b"a prepared copy")
        session.temporary(prepared)
        assert sorted(tmp_path.iterdir()) == sorted([spool.path, prepared])
        if commit:
            session.commit()
    assert list(tmp_path.iterdir()) == []


async def test_a_session_holds_one_spool(tmp_path: Path) -> None:
    async with UploadSession(tmp_path, 100) as session:
        session.new_spool()
        with pytest.raises(RuntimeError):
            session.new_spool()


async def test_the_spool_is_capped_at_the_sessions_limit(tmp_path: Path) -> None:
    async with UploadSession(tmp_path, 10) as session:
        spool = session.new_spool()
        spool.write(b"0123456789")
        with pytest.raises(TooLarge) as refused:
            spool.write(b"x")
    assert refused.value.code == "file_too_large"
