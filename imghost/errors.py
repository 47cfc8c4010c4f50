"""What imghost refuses to do, by kind, with a stable code and a message a person can act on.

These errors know no protocol: `imghost.http.errors` gives each kind its HTTP status and
envelope in one table. A kind says what went wrong from the client's side (its request is
invalid, too large, not an image, over a limit…); its `code` says exactly what, and is part
of the public contract (the README's error table lists every one).
"""

from __future__ import annotations

import errno
import logging

log = logging.getLogger("imghost")


class Refusal(Exception):
    """A request that cannot be carried out; the subclass is the kind, `code` the exact case."""

    def __init__(self, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # Seconds after which the same request may succeed; None when it never will as sent.
        self.retry_after = retry_after


class InvalidRequest(Refusal):
    """The request is malformed or asks for something out of bounds."""


class NotAuthenticated(Refusal):
    """No API key, or one that is not known."""


class NotPermitted(Refusal):
    """The key is known but may not do this (disabled, expired, not an admin, wrong address)."""


class NotFound(Refusal):
    """Nothing by that name is visible to this caller."""


class BodyTimeout(Refusal):
    """The client stopped sending its request body."""


class TooLarge(Refusal):
    """The file or body is over a size limit."""


class UnsupportedType(Refusal):
    """The bytes are not a format imghost takes."""


class InvalidImage(Refusal):
    """An image of a taken format that is corrupt, or over a pixel or frame limit."""


class LimitReached(Refusal):
    """The key's rate limit or quota is spent for now; `retry_after` says when it frees."""


class UpstreamFailed(Refusal):
    """A server imghost talks to for the client (a URL to fetch, an image host) failed."""


class UpstreamTimeout(Refusal):
    """A server imghost talks to for the client did not answer in time."""


class Unavailable(Refusal):
    """A part of imghost (database, counters, store) cannot be reached; try again shortly."""


class OutOfSpace(Refusal):
    """The server's disk is full."""


def _unavailable(code: str, situation: str, exc: Exception) -> Unavailable:
    return Unavailable(code, f"{situation}: {exc}. Try again shortly.", retry_after=5)


def database_unavailable(exc: Exception, outcome: str = "nothing was saved") -> Unavailable:
    return _unavailable("database_unavailable", f"The database is unavailable, so {outcome}", exc)


def limits_unavailable(exc: Exception) -> Unavailable:
    """The quota and rate counters (Redis, or the database) cannot be reached."""
    return _unavailable(
        "limits_unavailable", "The quota counters are unavailable, so nothing was saved", exc
    )


def storage_unavailable(exc: Exception, outcome: str = "nothing was saved") -> Unavailable:
    return _unavailable("storage_unavailable", f"The image store failed, so {outcome}", exc)


def image_unavailable(code: str, exc: Exception) -> Unavailable:
    """A public image read failed on a backend: the details (an internal endpoint, its error)
    go to the log, the public gets a plain message."""
    log.warning("image read failed (%s): %s", code, exc)
    return Unavailable(
        code, "The image cannot be served right now. Try again shortly.", retry_after=5
    )


def out_of_space(exc: OSError) -> bool:
    """The disk (or the user's disk quota) is full: the fault is the server's, not the file's."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def insufficient_storage() -> OutOfSpace:
    return OutOfSpace(
        "insufficient_storage",
        "The server's disk is full, so nothing was saved. Try again later; the server's "
        "operator has to free space.",
        retry_after=60,
    )
