"""`Limiter` on Redis: one Lua script per operation, so each check-and-count is atomic.

Keys, per API key (the `{key_id}` hash tag keeps one key's structures in one cluster slot, which
a script touching several keys needs):

* `imghost:<prefix>:{<key_id>}:requests` - sorted set, one random member per counted request,
  scored by its time; trimmed to the 60 s window and expiring a little after it.
* `imghost:<prefix>:{<key_id>}:charges` - sorted set, charge id scored by its time;
* `imghost:<prefix>:{<key_id>}:sizes` - hash, charge id -> bytes; both trimmed to 24 h.

`now` comes from the caller, not Redis's clock, so every backend sees the same time. Times and
cutoffs go to Redis as Python's exact float text; sizes are summed in Lua's doubles, exact below
2**53 bytes (9 PB). Every script is idempotent, so redis-py may safely retry one whose answer was
lost to a dropped connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from imghost.limits.base import (
    BYTES_WINDOW,
    REQUEST_WINDOW,
    Fit,
    LimitsUnavailable,
    check_size,
    check_unlimited,
    quota_exceeded,
    rate_limited,
)

DEFAULT_PREFIX = "default"

# KEYS: requests. ARGV: now, cutoff, rpm, request id, ttl.
# Returns {1} when counted, else {0, requests in the window, time the blocking one leaves}.
_HIT = """
local requests = KEYS[1]
redis.call('ZREMRANGEBYSCORE', requests, '-inf', ARGV[2])
if redis.call('ZSCORE', requests, ARGV[4]) then
  return {1}
end
local limit = tonumber(ARGV[3])
local count = redis.call('ZCARD', requests)
if count >= limit then
  local blocking = redis.call('ZRANGE', requests, count - limit, count - limit, 'WITHSCORES')
  return {0, count, blocking[2]}
end
redis.call('ZADD', requests, ARGV[1], ARGV[4])
redis.call('EXPIRE', requests, ARGV[5])
return {1}
"""

# KEYS: charges, sizes. ARGV: now, cutoff, size, daily bytes, charge id, ttl.
# Returns {1} when charged, else {0, bytes in the window, bytes freed, time they have left}.
_CHARGE = """
local charges, sizes = KEYS[1], KEYS[2]
for _, old in ipairs(redis.call('ZRANGEBYSCORE', charges, '-inf', ARGV[2])) do
  redis.call('HDEL', sizes, old)
end
redis.call('ZREMRANGEBYSCORE', charges, '-inf', ARGV[2])
if redis.call('HEXISTS', sizes, ARGV[5]) == 1 then
  return {1}
end
local used = 0
for _, amount in ipairs(redis.call('HVALS', sizes)) do
  used = used + tonumber(amount)
end
local size, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
if used + size <= limit then
  redis.call('ZADD', charges, ARGV[1], ARGV[5])
  redis.call('HSET', sizes, ARGV[5], ARGV[3])
  redis.call('EXPIRE', charges, ARGV[6])
  redis.call('EXPIRE', sizes, ARGV[6])
  return {1}
end
local freed = 0
local oldest_first = redis.call('ZRANGE', charges, 0, -1, 'WITHSCORES')
for i = 1, #oldest_first, 2 do
  freed = freed + tonumber(redis.call('HGET', sizes, oldest_first[i]) or 0)
  if used - freed + size <= limit then
    return {0, used, freed, oldest_first[i + 1]}
  end
end
return redis.error_reply('imghost limits: a charge larger than the quota reached Redis')
"""

# KEYS: charges, sizes. ARGV: charge id.
_REFUND = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""


class RedisLimiter:
    def __init__(self, redis_url: str, prefix: str = DEFAULT_PREFIX) -> None:
        self._prefix = f"imghost:{prefix}:"
        self._client = redis.Redis.from_url(
            redis_url,
            socket_connect_timeout=2,
            socket_timeout=5,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        self._hit = self._client.register_script(_HIT)
        self._charge = self._client.register_script(_CHARGE)
        self._refund = self._client.register_script(_REFUND)

    def hit(self, key_id: str, rpm: int, now: float) -> None:
        if check_unlimited(rpm, "rpm"):
            return
        keys = [self._key(key_id, "requests")]
        # The id is chosen here, once, so a retried script finds it and does not count twice.
        args = [now, now - REQUEST_WINDOW, rpm, uuid.uuid4().hex, _ttl(REQUEST_WINDOW)]
        answer = self._run(self._hit, keys, args)
        if answer[0] != 1:
            raise rate_limited(rpm, Fit(int(answer[1]), 1, float(answer[2])), now)

    def charge(self, key_id: str, charge_id: str, size: int, daily_bytes: int, now: float) -> None:
        if check_unlimited(daily_bytes, "daily_bytes"):
            return
        check_size(size, daily_bytes)
        keys = [self._key(key_id, "charges"), self._key(key_id, "sizes")]
        args = [now, now - BYTES_WINDOW, size, daily_bytes, charge_id, _ttl(BYTES_WINDOW)]
        answer = self._run(self._charge, keys, args)
        if answer[0] != 1:
            refusal = Fit(int(answer[1]), int(answer[2]), float(answer[3]))
            raise quota_exceeded(daily_bytes, size, refusal, now)

    def refund(self, key_id: str, charge_id: str) -> None:
        keys = [self._key(key_id, "charges"), self._key(key_id, "sizes")]
        self._run(self._refund, keys, [charge_id])

    def close(self) -> None:
        self._client.close()

    def _key(self, key_id: str, what: str) -> str:
        return f"{self._prefix}{{{key_id}}}:{what}"

    @staticmethod
    def _run(script: Any, keys: list[str], args: list[Any]) -> list[Any]:
        with _unavailable_as_error():
            return script(keys=keys, args=args)


def _ttl(window: float) -> int:
    """Seconds a key may outlive its newest entry: the window and a little slack for clocks."""
    return int(window) + 60


@contextmanager
def _unavailable_as_error() -> Iterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise LimitsUnavailable(f"Redis: {exc}") from exc
