"""One exception for everything imghost (or the way to it) refuses, from either envelope."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx

REQUEST_ID_HEADER = "X-Request-Id"
# A proxy's error page can be long; the start says what it is.
MAX_ERROR_TEXT = 200


class ImghostError(Exception):
    """A refusal from the server, or no answer at all.

    `status` and `code` are the server's (see the README's error table); a network failure has
    `status` None and `code` "network_error"; an answer that is not imghost's (a proxy's page)
    has `code` None. `request_id` is the one in the server's log. `retry_after` is the
    server's `Retry-After` in seconds, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        said = " ".join(str(part) for part in (self.status, self.code) if part is not None)
        return f"{self.message} ({said})" if said else self.message


def network_error(exc: httpx.RequestError) -> ImghostError:
    reason = str(exc) or type(exc).__name__
    return ImghostError(f"network error: {reason}", code="network_error")


def error_of(response: httpx.Response) -> ImghostError:
    """The refusal in `response`: `/v1`'s `{"error": {...}}` or `/api`'s `{"success": false}`."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) and isinstance(body, dict) and body.get("success") is False:
        error = body
    header_id = response.headers.get(REQUEST_ID_HEADER)
    retry_after = retry_after_of(response)
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return ImghostError(
            error["message"],
            status=response.status_code,
            code=error.get("code"),
            request_id=error.get("request_id") or header_id,
            retry_after=retry_after,
        )
    text = response.text.strip()[:MAX_ERROR_TEXT] or response.reason_phrase
    return ImghostError(
        f"unexpected answer: {text}",
        status=response.status_code,
        request_id=header_id,
        retry_after=retry_after,
    )


def retry_after_of(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (RFC 9110: delay-seconds or an HTTP date), None if absent or
    unreadable."""
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
