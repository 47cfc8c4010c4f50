"""From an Authorization header to a principal: the Bearer key, checked against its stored hash."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

from imghost.errors import NotAuthenticated, NotPermitted
from imghost.keys import KEY_PREFIX, hash_key
from imghost.repo.base import ApiKey, Repo

_HOW_TO = "Send your API key in the header 'Authorization: Bearer sk-…'."


@dataclass(frozen=True, slots=True)
class Principal:
    key: ApiKey

    @property
    def is_admin(self) -> bool:
        return self.key.role == "admin"


def bearer_token(header: str) -> str:
    """The key in an Authorization header's value ("" when the request had none)."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header:
        raise NotAuthenticated("missing_api_key", "This route needs an API key. " + _HOW_TO)
    if scheme.lower() != "bearer" or not token.startswith(KEY_PREFIX):
        raise NotAuthenticated(
            "invalid_api_key", "The Authorization header is malformed. " + _HOW_TO
        )
    return token


def authenticate(repo: Repo, token: str, now: float | None = None) -> Principal:
    """Resolve a key to its principal, or raise the 401/403 the client should see."""
    digest = hash_key(token)
    found = repo.key_by_hash(digest)
    if found is None or not hmac.compare_digest(found[1], digest):
        raise NotAuthenticated("invalid_api_key", "This API key is not known. Check it for typos.")
    key = found[0]
    if not key.enabled:
        raise NotPermitted("api_key_disabled", "This API key is disabled. Ask an admin.")
    if key.expires_at is not None and key.expires_at <= (now or time.time()):
        raise NotPermitted("api_key_expired", "This API key has expired. Ask for a new one.")
    return Principal(key)
