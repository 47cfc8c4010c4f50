"""Run-time system settings: data with a type, a default and a help string each.

They live in the database, so every process of every instance sees the same values; each
process re-reads them at most `REFRESH_SECONDS` after a change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from imghost.repo.base import Repo

REFRESH_SECONDS = 2.0
MIB = 1024 * 1024


class SettingError(ValueError):
    """A value a setting cannot take; the message names the setting and says why."""


def _integer(low: int, high: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingError(f"{name} must be a whole number")
        if not low <= value <= high:
            raise SettingError(f"{name} must be between {low} and {high}")
        return value

    return check


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SettingError(f"{name} must be true or false")
    return value


def _base_url(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SettingError(f"{name} must be a string")
    if value == "":
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingError(f"{name} must be an http(s) URL like https://img.example.com")
    return value.rstrip("/")


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if value not in allowed:
            raise SettingError(f"{name} must be one of {', '.join(allowed)}")
        return value

    return check


@dataclass(frozen=True, slots=True)
class RuntimeSetting:
    name: str
    default: Any
    help: str
    check: Callable[[str, Any], Any]


RUNTIME_SETTINGS: tuple[RuntimeSetting, ...] = (
    RuntimeSetting(
        "public_url",
        "",
        "Base of every returned URL, e.g. https://img.example.com; empty uses the start-up "
        "`public_url`.",
        _base_url,
    ),
    RuntimeSetting("storage.backend", "local", "Where new uploads go.", _choice("local")),
    RuntimeSetting(
        "limits.max_upload_bytes",
        20 * MIB,
        "Largest accepted upload in bytes; the server stops reading past it.",
        _integer(1, 1024 * MIB),
    ),
    RuntimeSetting(
        "limits.max_pixels",
        100_000_000,
        "Largest accepted width x height (per frame).",
        _integer(1, 1_000_000_000),
    ),
    RuntimeSetting(
        "limits.max_side", 16384, "Largest accepted width or height.", _integer(1, 65535)
    ),
    RuntimeSetting(
        "limits.max_frames", 1000, "Most frames in an animated image.", _integer(1, 100_000)
    ),
    RuntimeSetting(
        "images.strip_metadata",
        True,
        "Remove GPS, EXIF, XMP and comments before storing; orientation and ICC stay.",
        _boolean,
    ),
)

_BY_NAME = {s.name: s for s in RUNTIME_SETTINGS}


def validate(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Check every change; raise SettingError for the first bad one, naming it."""
    checked = {}
    for name, value in changes.items():
        setting = _BY_NAME.get(name)
        if setting is None:
            raise SettingError(f"{name} is not a setting")
        checked[name] = setting.check(name, value)
    return checked


def with_defaults(stored: Mapping[str, Any]) -> dict[str, Any]:
    return {s.name: stored.get(s.name, s.default) for s in RUNTIME_SETTINGS}


class SettingsCache:
    """The current settings of this process, re-read from the repo when they are stale."""

    def __init__(self, repo: Repo, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._repo = repo
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {}
        self._loaded_at = float("-inf")

    def current(self) -> dict[str, Any]:
        """Call from a worker thread: a refresh reads the database."""
        if time.monotonic() - self._loaded_at >= self._refresh_seconds:
            with self._lock:
                if time.monotonic() - self._loaded_at >= self._refresh_seconds:
                    self._values = with_defaults(self._repo.get_settings())
                    self._loaded_at = time.monotonic()
        return self._values
