"""Run-time system settings: data with a type, a default and a help string each.

The storage backends' own (`storage.s3.*`, `storage.remote.*`) are the fields of their settings
classes, declared there once. All live in the database, so every process of every instance
sees the same values; each process re-reads them at most `REFRESH_SECONDS` after a change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from imghost.options import (
    RuntimeSetting,
    SettingError,
    boolean,
    choice,
    declared,
    integer,
    list_of,
    text,
    url,
)
from imghost.repo.base import Repo
from imghost.store.remote import RemoteSettings
from imghost.store.s3 import S3Settings

REFRESH_SECONDS = 2.0
MIB = 1024 * 1024
_DAY = 86400
RUNTIME_SETTINGS: tuple[RuntimeSetting, ...] = (
    RuntimeSetting(
        "public_url",
        "",
        "Base of every returned URL, e.g. https://img.example.com; empty uses the start-up "
        "`public_url`.",
        url,
    ),
    RuntimeSetting(
        "storage.backend",
        "local",
        "Where new uploads go: `local` (the data folder), `s3` or `remote` (another image "
        "host's upload API).",
        choice("local", "s3", "remote"),
    ),
    *declared(S3Settings, "storage.s3."),
    *declared(RemoteSettings, "storage.remote."),
    RuntimeSetting(
        "limits.max_upload_bytes",
        20 * MIB,
        "Largest accepted upload in bytes; the server stops reading past it.",
        integer(1, 1024 * MIB),
    ),
    RuntimeSetting(
        "limits.body_timeout_seconds",
        30,
        "Seconds an upload's body may stall between two chunks before it is refused (408).",
        integer(1, 3600),
    ),
    RuntimeSetting(
        "limits.max_pixels",
        100_000_000,
        "Largest accepted width x height (per frame).",
        integer(1, 1_000_000_000),
    ),
    RuntimeSetting(
        "limits.max_side", 16384, "Largest accepted width or height.", integer(1, 65535)
    ),
    RuntimeSetting(
        "limits.max_frames", 1000, "Most frames in an animated image.", integer(1, 100_000)
    ),
    RuntimeSetting(
        "limits.max_decoded_pixels",
        500_000_000,
        "Most pixels an image may decode to: an animation's frames x canvas width x height "
        "(1e9 cost one core 3 s for a GIF, 7 s for a WebP), a HEIC or AVIF's tiles and alpha "
        "plane together.",
        integer(1, 100_000_000_000),
    ),
    RuntimeSetting(
        "images.strip_metadata",
        True,
        "Remove GPS, EXIF, XMP and comments before storing; orientation and ICC stay.",
        boolean,
    ),
    RuntimeSetting(
        "images.deduplicate",
        True,
        "Store the bytes once when a key sends the same image again while it has it live "
        "(each call still gets its own URL, lifetime and deletion, and is not charged again).",
        boolean,
    ),
    RuntimeSetting(
        "expiry.api_upload_ttl",
        0,
        "Lifetime in seconds of `/api/upload` images; 0 keeps them forever.",
        integer(0, 10 * 365 * _DAY),
    ),
    RuntimeSetting(
        "expiry.files_ttl",
        3 * _DAY,
        "Default lifetime in seconds of `/v1/files` uploads; 0 keeps them forever.",
        integer(0, 10 * 365 * _DAY),
    ),
    RuntimeSetting(
        "expiry.max_ttl",
        30 * _DAY,
        "Longest lifetime a client may ask for with `expires_in`.",
        integer(1, 10 * 365 * _DAY),
    ),
    RuntimeSetting(
        "expiry.allow_forever",
        True,
        "Let a client ask to keep an upload forever with `expires_in=0`.",
        boolean,
    ),
    RuntimeSetting(
        "quota.daily_bytes",
        200_000_000,
        "Default rolling 24 h byte quota of new keys; 0 is unlimited.",
        integer(0, 2**62),
    ),
    RuntimeSetting(
        "quota.rpm",
        120,
        "Default requests per minute of new keys; 0 is unlimited.",
        integer(0, 1_000_000),
    ),
    RuntimeSetting(
        "fetch.allow_private",
        False,
        "Let URL ingest fetch private, loopback and link-local addresses (intranets, tests).",
        boolean,
    ),
    RuntimeSetting(
        "fetch.ports", [80, 443], "Ports URL ingest may connect to.", list_of(integer(1, 65535))
    ),
    RuntimeSetting(
        "fetch.allow_hosts",
        [],
        "Host names or CIDRs URL ingest may always fetch.",
        list_of(text(253)),
    ),
    RuntimeSetting(
        "fetch.deny_hosts",
        [],
        "Host names or CIDRs URL ingest never fetches.",
        list_of(text(253)),
    ),
    RuntimeSetting("fetch.max_redirects", 3, "Redirects URL ingest follows.", integer(0, 10)),
    RuntimeSetting("fetch.timeout_seconds", 15, "Total time URL ingest may take.", integer(1, 300)),
)

SETTINGS_BY_NAME = {s.name: s for s in RUNTIME_SETTINGS}
REDACTED = "********"


def validate(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Check every change; raise SettingError for the first bad one, naming it."""
    checked = {}
    for name, value in changes.items():
        setting = SETTINGS_BY_NAME.get(name)
        if setting is None:
            raise SettingError(f"{name} is not a setting")
        checked[name] = setting.check(name, value)
    return checked


def with_defaults(stored: Mapping[str, Any]) -> dict[str, Any]:
    return {s.name: stored.get(s.name, s.default) for s in RUNTIME_SETTINGS}


def redacted(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with every secret that is set shown as the placeholder."""
    return {
        name: REDACTED if value and SETTINGS_BY_NAME[name].secret else value
        for name, value in values.items()
    }


def described(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every setting with its value (secrets redacted), default, help and whether it is set."""
    shown = redacted({s.name: values[s.name] for s in RUNTIME_SETTINGS})
    return {
        s.name: {
            "value": shown[s.name],
            "default": s.default,
            "is_default": values[s.name] == s.default,
            "secret": s.secret,
            "help": s.help,
        }
        for s in RUNTIME_SETTINGS
    }


def without_redacted(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Drop secrets sent back as the redaction placeholder: they mean "keep the current one"."""
    return {
        name: value
        for name, value in changes.items()
        if not (value == REDACTED and name in SETTINGS_BY_NAME and SETTINGS_BY_NAME[name].secret)
    }


class SettingsCache:
    """The current settings of this process, re-read from the repo when they are stale."""

    def __init__(self, repo: Repo, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._repo = repo
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {}
        self._loaded_at = float("-inf")

    def invalidate(self) -> None:
        """Re-read on the next call: this process has just changed the settings."""
        self._loaded_at = float("-inf")

    def fresh(self) -> dict[str, Any] | None:
        """The settings if they need no re-read now; safe to call on the event loop."""
        if time.monotonic() - self._loaded_at < self._refresh_seconds:
            return self._values
        return None

    def current(self) -> dict[str, Any]:
        """Call from a worker thread: a refresh reads the database."""
        if time.monotonic() - self._loaded_at >= self._refresh_seconds:
            with self._lock:
                if time.monotonic() - self._loaded_at >= self._refresh_seconds:
                    self._values = with_defaults(self._repo.get_settings())
                    self._loaded_at = time.monotonic()
        return self._values
