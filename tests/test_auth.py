"""The key cache: what it keeps, for how long, and that expiry and unknown keys are never cached."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from imghost.auth import KeyCache, authenticate
from imghost.errors import NotAuthenticated, NotPermitted
from imghost.keys import hash_key
from imghost.repo.base import ApiKey

TOKEN = "sk-" + "c" * 48
KEY = ApiKey(
    id="key_1", name="k", role="user", prefix="sk-cccc", enabled=True, created_at=0.0,
    expires_at=None, daily_bytes=0, rpm=0, allow_ips=(),
)  # fmt: skip


class Keys:
    """A repo holding at most one key, counting its lookups."""

    def __init__(self, key: ApiKey | None) -> None:
        self.key = key
        self.lookups = 0

    def key_by_hash(self, key_hash: str) -> tuple[ApiKey, str] | None:
        self.lookups += 1
        return None if self.key is None else (self.key, hash_key(TOKEN))


def test_a_key_is_read_once_per_bound_and_again_after_it() -> None:
    repo = Keys(KEY)
    clock = [100.0]
    cache = KeyCache(repo, ttl=2, clock=lambda: clock[0])  # type: ignore[arg-type]
    for _ in range(5):
        assert authenticate(cache, TOKEN).key == KEY
    assert repo.lookups == 1
    repo.key = replace(KEY, enabled=False)
    clock[0] += 1.9
    assert authenticate(cache, TOKEN).key == KEY  # within the bound: still the cached record
    clock[0] += 0.1
    with pytest.raises(NotPermitted, match="disabled"):
        authenticate(cache, TOKEN)
    repo.key = None
    cache.clear()  # what this process's own change does: in force at once
    with pytest.raises(NotAuthenticated):
        authenticate(cache, TOKEN)


def test_unknown_keys_are_not_kept_and_expiry_is_exact() -> None:
    repo = Keys(None)
    cache = KeyCache(repo, ttl=60)  # type: ignore[arg-type]
    with pytest.raises(NotAuthenticated):
        authenticate(cache, TOKEN)
    repo.key = replace(KEY, expires_at=time.time() + 60)
    assert authenticate(cache, TOKEN).key == repo.key  # made a moment ago: works at once
    with pytest.raises(NotPermitted, match="expired"):
        authenticate(cache, TOKEN, now=time.time() + 61)  # cached, and still refused
