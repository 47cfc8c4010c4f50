"""Per-key request rates (sliding 60 s) and byte quotas (rolling 24 h), exact under concurrency.

Counters live in Redis when one is configured (shared by every instance, no database writes per
request), else in the metadata database's `usage` table.
"""

from __future__ import annotations

from sqlalchemy import Engine

from imghost.limits.base import (
    BYTES_WINDOW,
    REQUEST_WINDOW,
    Limiter,
    LimitExceeded,
    LimitKind,
    LimitsUnavailable,
)
from imghost.limits.sql import SqlLimiter

__all__ = [
    "BYTES_WINDOW",
    "REQUEST_WINDOW",
    "LimitExceeded",
    "LimitKind",
    "Limiter",
    "LimitsUnavailable",
    "SqlLimiter",
    "make_limiter",
]


def make_limiter(engine: Engine, redis_url: str) -> Limiter:
    """RedisLimiter when redis_url is set, else SqlLimiter on the metadata database."""
    if redis_url:
        # Imported here so a database-only install never loads the Redis client.
        from imghost.limits.redis import RedisLimiter

        return RedisLimiter(redis_url)
    return SqlLimiter(engine)
