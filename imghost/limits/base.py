"""Per-key request rates and rolling byte quotas: the interface and what every backend shares.

A backend only has to count atomically and, when it refuses, say how much is in use and when
enough of it leaves the window (`Fit`); the wording and `retry_after` are computed here, so
every backend answers alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from imghost.errors import LimitReached
from imghost.process.metrics import LIMIT_REFUSALS

LimitKind = Literal["rate_limited", "quota_exceeded"]

REQUEST_WINDOW = 60.0
BYTES_WINDOW = 86400.0
# Waiting longer never helps an upload bigger than the whole quota; a day is the honest answer.
NEVER_FITS_RETRY_AFTER = int(BYTES_WINDOW)


class LimitExceeded(LimitReached):
    """A request the key's rate limit or byte quota refuses; nothing was counted for it."""

    def __init__(self, kind: LimitKind, message: str, retry_after: int) -> None:
        # Clients sleep on this; zero would make them spin against a limit that has not freed.
        super().__init__(kind, message, max(1, int(retry_after)))
        self.kind: LimitKind = kind
        # Counted as it is made: every backend builds its refusals here, whatever the request.
        LIMIT_REFUSALS.labels(kind).inc()


class LimitsUnavailable(Exception):
    """The counter store cannot be reached; nothing was counted."""


class Limiter(Protocol):
    def hit(self, key_id: str, rpm: int, now: float) -> None:
        """Count one request in a sliding 60 s window; raise LimitExceeded if this one would
        exceed `rpm` (0 = unlimited: count nothing). A refused request is not counted."""
        ...

    def charge(self, key_id: str, charge_id: str, size: int, daily_bytes: int, now: float) -> None:
        """Atomically: if bytes charged to key_id in (now-86400, now] + size <= daily_bytes then
        record the charge, else raise LimitExceeded (quota_exceeded). 0 = unlimited (record
        nothing). Charging a charge_id the key already holds is a no-op."""
        ...

    def refund(self, key_id: str, charge_id: str) -> None:
        """Undo a charge (the upload failed after charging, or was a duplicate). Idempotent."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Fit:
    """Why a backend refused: `used` in the window before this request, and the time at which
    the oldest entries holding `freed` of it have left, which is the first moment it fits."""

    used: int
    freed: int
    frees_at: float


def first_fit(entries: Iterable[tuple[float, int]], used: int, amount: int, limit: int) -> Fit:
    """Walk the window's entries oldest first until enough has left for `amount` to fit.

    `entries` may be a lazy cursor: it stops reading as soon as the answer is known.
    """
    freed = 0
    for at, entry_amount in entries:
        freed += entry_amount
        if used - freed + amount <= limit:
            return Fit(used, freed, at)
    raise AssertionError("the window cannot fit an amount no larger than the limit")


def check_unlimited(limit: int, what: str) -> bool:
    """True when `limit` means unlimited (0); negative limits are a caller's bug."""
    if limit < 0:
        raise ValueError(f"{what} must be 0 (unlimited) or positive, not {limit}")
    return limit == 0


def check_size(size: int, daily_bytes: int) -> None:
    """Refuse at once, without touching the store, an upload the quota can never hold."""
    if size < 0:
        raise ValueError(f"a charge cannot be negative ({size} bytes)")
    if size > daily_bytes:
        raise LimitExceeded(
            "quota_exceeded",
            f"This upload is {format_bytes(size)} but this key may upload only "
            f"{format_bytes(daily_bytes)} per 24 hours, so it can never fit; upload a smaller "
            "file or ask an admin for a larger quota.",
            NEVER_FITS_RETRY_AFTER,
        )


def retry_after(refusal: Fit, window: float, now: float) -> int:
    """Whole seconds until the entry at `frees_at` is outside the window (now - window, now]."""
    return max(1, math.ceil(refusal.frees_at + window - now))


def rate_limited(rpm: int, refusal: Fit, now: float) -> LimitExceeded:
    wait = retry_after(refusal, REQUEST_WINDOW, now)
    noun = "request" if rpm == 1 else "requests"
    return LimitExceeded(
        "rate_limited",
        f"This key may make {rpm} {noun} per minute; the next one frees in "
        f"{format_duration(wait)}.",
        wait,
    )


def quota_exceeded(daily_bytes: int, size: int, refusal: Fit, now: float) -> LimitExceeded:
    wait = retry_after(refusal, BYTES_WINDOW, now)
    return LimitExceeded(
        "quota_exceeded",
        f"This key may upload {format_bytes(daily_bytes)} per 24 hours and has used "
        f"{format_bytes(refusal.used)}; {format_bytes(refusal.freed)} of it frees in "
        f"{format_duration(wait)}, enough for this {format_bytes(size)} upload.",
        wait,
    )


_UNITS = ("kB", "MB", "GB", "TB", "PB", "EB")


def format_bytes(count: int) -> str:
    """Decimal units, as the quota setting is written (200_000_000 is "200 MB")."""
    if count < 1000:
        return f"{count} B"
    for power, unit in enumerate(_UNITS, start=1):
        value = round(count / 1000**power, 1)
        if value < 1000 or unit == _UNITS[-1]:
            return f"{value:.1f}".removesuffix(".0") + f" {unit}"
    raise AssertionError("unreachable")


def format_duration(seconds: int) -> str:
    """`45 s`, `2 min 5 s`, `3 h 12 min`; hours round up so a client never retries too early."""
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, minutes = divmod(math.ceil(seconds / 60), 60)
    return f"{hours} h" + (f" {minutes} min" if minutes else "")
