"""Remembered whole-file answers: the same answer as the first time, and never one that has
stopped holding (deleted, expired, removed behind imghost's back, settings changed)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
import requests

from imghost.http.hotimages import HotImage, HotImages
from imghost.http.ranges import PathSend
from imghost.recent import RecentUploads
from imghost.repo.base import Upload
from tests.conftest import Server, auth, eventually, unique_png
from tests.repo.test_contract import make_upload

PATH = "/uploads/2026/11/a.png"


def remembered(upload: Upload, settings: dict[str, object]) -> tuple[HotImages, RecentUploads]:
    recent = RecentUploads()
    recent.put(upload)
    hot = HotImages(recent)
    hot.remember(PATH, HotImage(upload, settings, PathSend(Path("/data/a.png"), upload.size, [])))
    return hot, recent


def test_an_answer_holds_while_its_record_and_settings_do() -> None:
    settings: dict[str, object] = {}
    upload = make_upload()
    hot, _ = remembered(upload, settings)
    found = hot.get(PATH, settings)
    assert found is not None
    assert found.upload is upload
    assert hot.get("/uploads/2026/11/b.png", settings) is None


def test_new_settings_drop_the_answer() -> None:
    settings: dict[str, object] = {}
    hot, _ = remembered(make_upload(), settings)
    assert hot.get(PATH, {}) is None  # equal, but another refresh's settings
    assert hot.get(PATH, settings) is None  # and it stays forgotten
    assert hot.get(PATH, None) is None  # settings due for a refresh


def test_a_forgotten_or_replaced_record_drops_the_answer() -> None:
    settings: dict[str, object] = {}
    upload = make_upload()
    hot, recent = remembered(upload, settings)
    recent.forget(upload.id)  # what a deletion does
    assert hot.get(PATH, settings) is None
    hot, recent = remembered(upload, settings)
    recent.put(dataclasses.replace(upload))  # looked up again: another record object
    assert hot.get(PATH, settings) is None


def test_an_expired_upload_is_never_answered() -> None:
    settings: dict[str, object] = {}
    upload = dataclasses.replace(make_upload(), expires_at=time.time() - 0.001)
    hot, _ = remembered(upload, settings)
    assert hot.get(PATH, settings) is None


def test_the_oldest_answer_makes_room() -> None:
    recent = RecentUploads()
    hot = HotImages(recent, size=2)
    settings: dict[str, object] = {}
    for n in range(3):
        upload = make_upload()
        recent.put(upload)
        hot.remember(f"/{n}", HotImage(upload, settings, PathSend(Path(f"/{n}"), 0, [])))
    assert [hot.get(f"/{n}", settings) is not None for n in range(3)] == [False, True, True]


@pytest.fixture
def one_worker(own_server: Server) -> Server:
    """Every request reaches the same process, so the second GET is a remembered one."""
    own_server.workers = 1
    return own_server.start()


def uploaded(server: Server) -> tuple[str, str, str]:
    key, _ = server.new_key()
    response = requests.post(
        server.url + "/v1/files/uploads", headers=auth(key), files={"file": unique_png()}
    )
    response.raise_for_status()
    return key, response.json()["id"], response.json()["url"]


def without_id(response: requests.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name != "x-request-id"}


def test_a_remembered_answer_is_the_first_answer_and_is_logged(one_worker: Server) -> None:
    _, _, url = uploaded(one_worker)
    answers = [requests.get(url) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len({a.content for a in answers}) == 1
    assert without_id(answers[1]) == without_id(answers[0]) == without_id(answers[2])
    ids = {a.headers["x-request-id"] for a in answers}
    assert len(ids) == 3

    def lines() -> list[dict[str, object]]:
        logged = (json.loads(line) for line in one_worker.log().splitlines() if '"route"' in line)
        return [entry for entry in logged if entry["request_id"] in ids]

    assert eventually(lambda: len(lines()) == 3)
    size = len(answers[0].content)
    assert {(e["route"], e["status"], e["bytes_out"]) for e in lines()} == {("/uploads", 200, size)}


def test_partial_and_conditional_gets_are_not_sent_the_whole_file(one_worker: Server) -> None:
    _, _, url = uploaded(one_worker)
    whole = requests.get(url)
    requests.get(url).raise_for_status()
    ranged = requests.get(url, headers={"Range": "bytes=0-9"})
    assert (ranged.status_code, ranged.content) == (206, whole.content[:10])
    unchanged = requests.get(url, headers={"If-None-Match": whole.headers["etag"]})
    assert (unchanged.status_code, unchanged.content) == (304, b"")


def test_a_deleted_image_answers_404_at_once(one_worker: Server) -> None:
    key, file_id, url = uploaded(one_worker)
    for _ in range(2):
        requests.get(url).raise_for_status()
    deleted = requests.delete(f"{one_worker.url}/v1/files/{file_id}", headers=auth(key))
    assert deleted.status_code == 200
    gone = requests.get(url)
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"


def test_a_file_removed_behind_imghosts_back_answers_the_json_404(one_worker: Server) -> None:
    """As another worker, which still remembers the record, sees a deletion."""
    _, _, url = uploaded(one_worker)
    for _ in range(2):
        requests.get(url).raise_for_status()
    (one_worker.data_dir / url.split("/", 3)[3]).unlink()
    gone = requests.get(url)
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/json"
    assert gone.json()["code"] == "not_found"
