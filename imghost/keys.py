"""API key material: `sk-` + 48 URL-safe random characters; only the SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "sk-"


def generate_key() -> str:
    # 36 random bytes encode to exactly 48 URL-safe base64 characters (288 bits).
    return KEY_PREFIX + secrets.token_urlsafe(36)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    """Enough of a key for a person to tell keys apart in a list, far too little to use."""
    return key[:7]
