"""From an Authorization header to a principal: the Bearer key, checked against its stored hash."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from imghost.errors import NotAuthenticated, NotPermitted
from imghost.keys import KEY_PREFIX, hash_key
from imghost.repo.base import ApiKey, Repo
from imghost.settings.runtime import REFRESH_SECONDS

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


class KeyCache:
    """The keys this process has looked up lately, by hash, each kept at most `ttl` seconds.

    A key's record is read once per `ttl` instead of on every request. So a revocation, a
    disabling or a changed limit made elsewhere (another worker, the CLI) takes effect here
    within `ttl`, the bound every run-time setting has too; this process's own key changes
    `clear()` it at once. Expiry is checked on every use, so it is exact. Unknown keys are not
    kept: a key made a moment ago works at once.
    """

    # Past this many keys the cache starts over rather than track which entries are stale.
    MAX_KEYS = 10_000

    def __init__(
        self, repo: Repo, ttl: float = REFRESH_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._repo = repo
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[float, ApiKey]] = {}

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()

    def cached(self, digest: str) -> ApiKey | None:
        """The key with this hash if it was read within `ttl`; safe to call on the event loop."""
        entry = self._keys.get(digest)
        if entry is None or self._clock() - entry[0] >= self._ttl:
            return None
        return entry[1]

    def get(self, digest: str) -> ApiKey | None:
        """The key with this hash, read from the repo when not cached; call from a thread."""
        key = self.cached(digest)
        if key is not None:
            return key
        found = self._repo.key_by_hash(digest)
        if found is None or not hmac.compare_digest(found[1], digest):
            return None
        with self._lock:
            if len(self._keys) >= self.MAX_KEYS:
                self._keys.clear()
            self._keys[digest] = (self._clock(), found[0])
        return found[0]


def authenticate(keys: KeyCache, token: str, now: float | None = None) -> Principal:
    """Resolve a key to its principal, or raise the 401/403 the client should see."""
    return principal_of(keys.get(hash_key(token)), now)


def principal_of(key: ApiKey | None, now: float | None = None) -> Principal:
    """The principal of a key found by its hash (None: no such key), or the refusal."""
    if key is None:
        raise NotAuthenticated("invalid_api_key", "This API key is not known. Check it for typos.")
    if not key.enabled:
        raise NotPermitted("api_key_disabled", "This API key is disabled. Ask an admin.")
    if key.expires_at is not None and key.expires_at <= (now or time.time()):
        raise NotPermitted("api_key_expired", "This API key has expired. Ask for a new one.")
    return Principal(key)
