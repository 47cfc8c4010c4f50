"""API key material: `sk-` + 48 URL-safe random characters; only the SHA-256 is stored."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from imghost.repo.base import ApiKey, Repo, Role

KEY_PREFIX = "sk-"


def generate_key() -> str:
    # 36 random bytes encode to exactly 48 URL-safe base64 characters (288 bits).
    return KEY_PREFIX + secrets.token_urlsafe(36)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    """Enough of a key for a person to tell keys apart in a list, far too little to use."""
    return key[:7]


def normalise_cidrs(values: Iterable[str]) -> tuple[str, ...]:
    """Each as a network in canonical form; ValueError names the first that is not one."""
    return tuple(str(ipaddress.ip_network(value.strip(), strict=False)) for value in values)


def issue_key(
    repo: Repo,
    settings: Mapping[str, Any],
    *,
    name: str,
    role: Role,
    expires_at: float | None = None,
    daily_bytes: int | None = None,
    rpm: int | None = None,
    allow_ips: tuple[str, ...] = (),
    secret: str | None = None,
) -> tuple[str, ApiKey]:
    """Create a key (a new secret unless one is given); returns the secret and its record.

    Limits not given are the `quota.*` defaults for user keys and none (0) for admin keys.
    """
    secret = secret or generate_key()
    record = repo.create_key(
        name=name,
        role=role,
        key_hash=hash_key(secret),
        prefix=display_prefix(secret),
        expires_at=expires_at,
        daily_bytes=_default(daily_bytes, role, settings["quota.daily_bytes"]),
        rpm=_default(rpm, role, settings["quota.rpm"]),
        allow_ips=allow_ips,
    )
    return secret, record


def _default(given: int | None, role: Role, user_default: int) -> int:
    if given is not None:
        return given
    return 0 if role == "admin" else user_default
