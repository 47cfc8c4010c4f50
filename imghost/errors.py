"""Errors that carry their HTTP status and stable machine code, and the two envelopes.

`/api/*` routes answer the seed's envelope `{"success": false, "message", "data": null, "code"}`;
`/v1/*` routes answer OpenAI's `{"error": {"message", "type", "code"}}`.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imghost.metrics import REJECTIONS

log = logging.getLogger("imghost")


class ApiError(Exception):
    """A request that cannot be served, with what the client should know about it."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def envelope(error: ApiError, request_id: str) -> dict[str, object]:
    return {
        "success": False,
        "message": error.message,
        "data": None,
        "code": error.code,
        "request_id": request_id,
    }


def openai_error(error: ApiError, request_id: str) -> dict[str, object]:
    kind = _OPENAI_TYPES.get(error.status, "api_error")
    return {
        "error": {
            "message": error.message,
            "type": kind,
            "code": error.code,
            "request_id": request_id,
        }
    }


def error_response(request: Request, error: ApiError) -> Response:
    """Render `error` in the envelope of the route family the request went to."""
    REJECTIONS.labels(error.code).inc()
    request_id = request.scope.get("imghost.request_id", "")
    render = openai_error if request.url.path.startswith("/v1/") else envelope
    return JSONResponse(render(error, request_id), status_code=error.status, headers=error.headers)


def _unavailable(code: str, situation: str, exc: Exception) -> ApiError:
    return ApiError(503, code, f"{situation}: {exc}. Try again shortly.", {"Retry-After": "5"})


def database_unavailable(exc: Exception, outcome: str = "nothing was saved") -> ApiError:
    return _unavailable("database_unavailable", f"The database is unavailable, so {outcome}", exc)


def limits_unavailable(exc: Exception) -> ApiError:
    """The quota and rate counters (Redis, or the database) cannot be reached."""
    return _unavailable(
        "limits_unavailable", "The quota counters are unavailable, so nothing was saved", exc
    )


def storage_unavailable(exc: Exception, outcome: str = "nothing was saved") -> ApiError:
    return _unavailable("storage_unavailable", f"The image store failed, so {outcome}", exc)


def image_unavailable(code: str, exc: Exception) -> ApiError:
    """A public image read failed on a backend: the details (an internal endpoint, its error)
    go to the log, the public gets a plain message."""
    log.warning("image read failed (%s): %s", code, exc)
    return ApiError(
        503, code, "The image cannot be served right now. Try again shortly.", {"Retry-After": "5"}
    )


def out_of_space(exc: OSError) -> bool:
    """The disk (or the user's disk quota) is full: the fault is the server's, not the file's."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def insufficient_storage() -> ApiError:
    return ApiError(
        507,
        "insufficient_storage",
        "The server's disk is full, so nothing was saved. Try again later; the server's "
        "operator has to free space.",
        {"Retry-After": "60"},
    )


def limit_reached(kind: str, message: str, retry_after: int) -> ApiError:
    """A 429 for a key's rate limit or quota; `message` says which limit and when it frees."""
    return ApiError(429, kind, message, {"Retry-After": str(retry_after)})
