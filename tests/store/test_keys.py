"""Storage keys: what `make` gives, `parse` reads back; nothing else is a key."""

from __future__ import annotations

import calendar
import secrets
import time
from collections.abc import Iterator

import pytest

from imghost.ingest.formats import FORMATS
from imghost.ingest.pipeline import new_upload_id
from imghost.store import keys

# 2026-11-30 23:59:59 UTC: the month is UTC's, whatever the server's time zone.
NOVEMBER_END = calendar.timegm((2026, 11, 30, 23, 59, 59))
ID = "AbCdEfGhIjKlMnOpQrSt_-"


@pytest.mark.parametrize("extension", keys.EXTENSIONS)
def test_a_made_key_parses_back(extension: str) -> None:
    upload_id = new_upload_id()
    key = keys.make(upload_id, extension, NOVEMBER_END)
    assert key == f"uploads/2026/11/{upload_id}.{extension}"
    parsed = keys.parse(key)
    assert parsed == keys.ImageKey(2026, 11, upload_id, extension)
    assert parsed.name == f"{upload_id}.{extension}"
    assert str(parsed) == key
    assert keys.check(key) == key


def test_every_stored_format_has_a_key() -> None:
    stored = {row.extension for row in FORMATS.values() if row.accepted and not row.transcoded}
    assert sorted(stored) == sorted(keys.EXTENSIONS)


@pytest.fixture
def behind_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A server whose local time is still November when UTC's is December."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("behind_utc")
def test_the_month_is_utc_s() -> None:
    assert time.localtime(NOVEMBER_END + 1).tm_mon == 11
    assert keys.make(ID, "png", NOVEMBER_END + 1).startswith("uploads/2026/12/")


def test_ids_of_the_lengths_always_accepted() -> None:
    for length in (16, 22, 64):
        upload_id = secrets.token_urlsafe(64)[:length]
        assert keys.parse(f"uploads/2026/01/{upload_id}.jpg").upload_id == upload_id


@pytest.mark.parametrize(
    "key",
    [
        "",
        f"/uploads/2026/11/{ID}.png",
        f"uploads/2026/11/{ID}.png/",
        f"uploads/2026/11/../{ID}.png",
        f"uploads/2026/11/{ID}/../{ID}.png",
        "uploads/2026/11/../../../imghost.db",
        f"uploads/../2026/11/{ID}.png",
        f"uploads/2026/11/..\\{ID}.png",
        f"uploads/2026/11/{ID}.png\x00.jpg",
        f"uploads/2026/11/{ID}.png\n",
        f"tmp/2026/11/{ID}.png",
        f"Uploads/2026/11/{ID}.png",
    ],
)
def test_traversal_and_other_paths_are_refused(key: str) -> None:
    with pytest.raises(keys.InvalidKey):
        keys.parse(key)


@pytest.mark.parametrize(
    "name",
    [
        f"{ID}.svg",
        f"{ID}.PNG",
        f"{ID}.jpeg",
        f"{ID}.png.svg",
        f"{ID}",
        f"{ID}.",
        ".png",
        "short.png",
        f"{'A' * 65}.png",
        f"{ID[:-1]}%.png",
        f"{ID[:-1]}=.png",
        f"{ID[:-1]}\u00e9.png",
    ],
)
def test_odd_names_are_refused(name: str) -> None:
    with pytest.raises(keys.InvalidKey):
        keys.parse(f"uploads/2026/11/{name}")


@pytest.mark.parametrize(
    "month_part",
    [
        "2026/1",
        "2026/011",
        "26/11",
        "02026/11",
        "2026/00",
        "2026/13",
        "2026-11",
        "2026/1a",
        "\uff12\uff10\uff12\uff16/11",  # full-width digits
        "2026/\u0661\u0661",  # Arabic-Indic digits
        "2026",
        "2026/11/01",
    ],
)
def test_wrong_digits_are_refused(month_part: str) -> None:
    with pytest.raises(keys.InvalidKey):
        keys.parse(f"uploads/{month_part}/{ID}.png")


@pytest.mark.parametrize(("upload_id", "extension"), [("../../x", "png"), (ID, "svg"), ("", "png")])
def test_make_refuses_what_parse_would(upload_id: str, extension: str) -> None:
    with pytest.raises(keys.InvalidKey):
        keys.make(upload_id, extension, NOVEMBER_END)
