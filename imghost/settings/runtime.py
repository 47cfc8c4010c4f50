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


def _text(max_length: int = 1000) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise SettingError(f"{name} must be a string")
        if len(value) > max_length or any(ord(ch) < 32 for ch in value):
            raise SettingError(f"{name} must be one line of at most {max_length} characters")
        return value

    return check


def _url(name: str, value: Any) -> str:
    """An http(s) base URL, or "" for none; a trailing slash is dropped."""
    value = _text()(name, value)
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


def _string_map(name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise SettingError(f'{name} must be an object of string values, e.g. {{"album": "1"}}')
    return value


def _list_of(item: Callable[[str, Any], Any]) -> Callable[[str, Any], list[Any]]:
    def check(name: str, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise SettingError(f"{name} must be a list")
        return [item(f"{name}[{index}]", element) for index, element in enumerate(value)]

    return check


def _json_path(name: str, value: Any) -> str:
    value = _text(200)(name, value)
    if not value or any(part == "" for part in value.split(".")):
        raise SettingError(f"{name} must be a dotted path like data, data.url or 0.src")
    return value


@dataclass(frozen=True, slots=True)
class RuntimeSetting:
    name: str
    default: Any
    help: str
    check: Callable[[str, Any], Any]
    secret: bool = False


_DAY = 86400
RUNTIME_SETTINGS: tuple[RuntimeSetting, ...] = (
    RuntimeSetting(
        "public_url",
        "",
        "Base of every returned URL, e.g. https://img.example.com; empty uses the start-up "
        "`public_url`.",
        _url,
    ),
    RuntimeSetting(
        "storage.backend",
        "local",
        "Where new uploads go: `local` (the data folder), `s3` or `remote` (another image "
        "host's upload API).",
        _choice("local", "s3", "remote"),
    ),
    RuntimeSetting(
        "storage.s3.endpoint_url",
        "",
        "S3 API endpoint, e.g. https://s3.us-east-1.amazonaws.com or http://127.0.0.1:8333.",
        _url,
    ),
    RuntimeSetting("storage.s3.region", "us-east-1", "S3 region.", _text(64)),
    RuntimeSetting("storage.s3.bucket", "", "Bucket that holds the images.", _text(63)),
    RuntimeSetting(
        "storage.s3.prefix", "", "Key prefix inside the bucket, e.g. `imghost/`.", _text(200)
    ),
    RuntimeSetting("storage.s3.access_key_id", "", "S3 access key id.", _text(200), secret=True),
    RuntimeSetting(
        "storage.s3.secret_access_key", "", "S3 secret access key.", _text(200), secret=True
    ),
    RuntimeSetting(
        "storage.s3.addressing",
        "path",
        "`path` (endpoint/bucket/key: MinIO, SeaweedFS) or `virtual` (bucket.endpoint/key).",
        _choice("path", "virtual"),
    ),
    RuntimeSetting(
        "storage.s3.get_mode",
        "proxy",
        "How image URLs are answered: `proxy` (imghost streams from S3), `redirect` (302 to a "
        "presigned URL) or `public` (returned URLs point at `public_base_url`).",
        _choice("proxy", "redirect", "public"),
    ),
    RuntimeSetting(
        "storage.s3.public_base_url",
        "",
        "For `public`: the public address of the bucket or of a CDN in front of it; an "
        "image's URL is this plus its object key.",
        _url,
    ),
    RuntimeSetting(
        "storage.s3.presign_seconds",
        3600,
        "For `redirect`: how long a presigned URL stays valid.",
        _integer(1, 7 * _DAY),
    ),
    RuntimeSetting(
        "storage.remote.upload_url",
        "",
        "The external image host's upload API, e.g. https://img.example.com/api/upload.",
        _url,
    ),
    RuntimeSetting(
        "storage.remote.method", "POST", "HTTP method of the upload call.", _choice("POST", "PUT")
    ),
    RuntimeSetting(
        "storage.remote.field_name", "file", "Multipart field that carries the image.", _text(100)
    ),
    RuntimeSetting(
        "storage.remote.auth_header", "Authorization", "Header that carries the token.", _text(100)
    ),
    RuntimeSetting(
        "storage.remote.auth_prefix", "Bearer ", "Text before the token in that header.", _text(100)
    ),
    RuntimeSetting(
        "storage.remote.token", "", "The external host's API token.", _text(2000), secret=True
    ),
    RuntimeSetting(
        "storage.remote.extra_fields",
        {},
        'Extra form fields sent with every upload, e.g. {"album_id": "1"}.',
        _string_map,
    ),
    RuntimeSetting(
        "storage.remote.url_path",
        "data",
        "Where the image URL is in the JSON answer: `data`, `data.url`, `data.links.url`, "
        "`0.src`, `image.url`…",
        _json_path,
    ),
    RuntimeSetting(
        "storage.remote.timeout_seconds",
        60,
        "How long to wait for the external host.",
        _integer(1, 600),
    ),
    RuntimeSetting(
        "limits.max_upload_bytes",
        20 * MIB,
        "Largest accepted upload in bytes; the server stops reading past it.",
        _integer(1, 1024 * MIB),
    ),
    RuntimeSetting(
        "limits.body_timeout_seconds",
        30,
        "Seconds an upload's body may stall between two chunks before it is refused (408).",
        _integer(1, 3600),
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
        "limits.max_decoded_pixels",
        500_000_000,
        "Most pixels an image may decode to: an animation's frames x canvas width x height "
        "(1e9 cost one core 3 s for a GIF, 7 s for a WebP), a HEIC or AVIF's tiles and alpha "
        "plane together.",
        _integer(1, 100_000_000_000),
    ),
    RuntimeSetting(
        "images.strip_metadata",
        True,
        "Remove GPS, EXIF, XMP and comments before storing; orientation and ICC stay.",
        _boolean,
    ),
    RuntimeSetting(
        "images.deduplicate",
        True,
        "Store the bytes once when a key sends the same image again while it has it live "
        "(each call still gets its own URL, lifetime and deletion, and is not charged again).",
        _boolean,
    ),
    RuntimeSetting(
        "expiry.api_upload_ttl",
        0,
        "Lifetime in seconds of `/api/upload` images; 0 keeps them forever.",
        _integer(0, 10 * 365 * _DAY),
    ),
    RuntimeSetting(
        "expiry.files_ttl",
        3 * _DAY,
        "Default lifetime in seconds of `/v1/files` uploads; 0 keeps them forever.",
        _integer(0, 10 * 365 * _DAY),
    ),
    RuntimeSetting(
        "expiry.max_ttl",
        30 * _DAY,
        "Longest lifetime a client may ask for with `expires_in`.",
        _integer(1, 10 * 365 * _DAY),
    ),
    RuntimeSetting(
        "expiry.allow_forever",
        True,
        "Let a client ask to keep an upload forever with `expires_in=0`.",
        _boolean,
    ),
    RuntimeSetting(
        "quota.daily_bytes",
        200_000_000,
        "Default rolling 24 h byte quota of new keys; 0 is unlimited.",
        _integer(0, 2**62),
    ),
    RuntimeSetting(
        "quota.rpm",
        120,
        "Default requests per minute of new keys; 0 is unlimited.",
        _integer(0, 1_000_000),
    ),
    RuntimeSetting(
        "fetch.allow_private",
        False,
        "Let URL ingest fetch private, loopback and link-local addresses (intranets, tests).",
        _boolean,
    ),
    RuntimeSetting(
        "fetch.ports", [80, 443], "Ports URL ingest may connect to.", _list_of(_integer(1, 65535))
    ),
    RuntimeSetting(
        "fetch.allow_hosts",
        [],
        "Host names or CIDRs URL ingest may always fetch.",
        _list_of(_text(253)),
    ),
    RuntimeSetting(
        "fetch.deny_hosts",
        [],
        "Host names or CIDRs URL ingest never fetches.",
        _list_of(_text(253)),
    ),
    RuntimeSetting("fetch.max_redirects", 3, "Redirects URL ingest follows.", _integer(0, 10)),
    RuntimeSetting(
        "fetch.timeout_seconds", 15, "Total time URL ingest may take.", _integer(1, 300)
    ),
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
