"""The per-process memory of served upload records."""

from __future__ import annotations

import time

import pytest

from imghost.recent import RecentUploads
from tests.repo.test_contract import make_upload


def test_remembers_then_forgets() -> None:
    recent = RecentUploads()
    upload = make_upload()
    assert recent.get(upload.id) is None
    recent.put(upload)
    assert recent.get(upload.id) == upload
    recent.forget(upload.id)
    assert recent.get(upload.id) is None


def test_entries_lapse(monkeypatch: pytest.MonkeyPatch) -> None:
    recent = RecentUploads(ttl=5)
    upload = make_upload()
    recent.put(upload)
    later = time.monotonic() + 6
    monkeypatch.setattr("imghost.recent.time.monotonic", lambda: later)
    assert recent.get(upload.id) is None


def test_least_recent_go_first() -> None:
    recent = RecentUploads(size=2)
    first, second, third = make_upload(), make_upload(), make_upload()
    for upload in (first, second, third):
        recent.put(upload)
    assert recent.get(first.id) is None
    assert recent.get(third.id) == third
