"""The one map from what went wrong to what the client sees: status, headers and envelope.

`/api/*` routes answer the seed's envelope `{"success": false, "message", "data": null, "code"}`;
`/v1/*` routes answer OpenAI's `{"error": {"message", "type", "code"}}`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imghost.errors import (
    BodyTimeout,
    InvalidImage,
    InvalidRequest,
    LimitReached,
    NotAuthenticated,
    NotFound,
    NotPermitted,
    OutOfSpace,
    Refusal,
    TooLarge,
    Unavailable,
    UnsupportedType,
    UpstreamFailed,
    UpstreamTimeout,
    database_unavailable,
    insufficient_storage,
    limits_unavailable,
    storage_unavailable,
)
from imghost.limits import LimitsUnavailable
from imghost.process.metrics import REJECTIONS
from imghost.repo.base import RepoUnavailable
from imghost.store.base import StoreFull, StoreUnavailable, UpstreamRejected

log = logging.getLogger("imghost")


class HttpRefusal(Refusal):
    """A refusal that only exists in HTTP (a method, a byte range, a route): it names its
    status and headers itself."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(code, message)
        self.status = status
        self.headers = dict(headers or {})


STATUS: dict[type[Refusal], int] = {
    InvalidRequest: 400,
    NotAuthenticated: 401,
    NotPermitted: 403,
    NotFound: 404,
    BodyTimeout: 408,
    TooLarge: 413,
    UnsupportedType: 415,
    InvalidImage: 422,
    LimitReached: 429,
    UpstreamFailed: 502,
    Unavailable: 503,
    UpstreamTimeout: 504,
    OutOfSpace: 507,
}

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

BACKEND_FAILURES = (RepoUnavailable, StoreUnavailable, LimitsUnavailable)


def status_of(error: Refusal) -> int:
    if isinstance(error, HttpRefusal):
        return error.status
    return next(STATUS[kind] for kind in type(error).__mro__ if kind in STATUS)


def headers_of(error: Refusal) -> dict[str, str]:
    headers = dict(error.headers) if isinstance(error, HttpRefusal) else {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return headers


def backend_refusal(exc: Exception) -> Refusal:
    """What a backend's failure means for the client, wherever in a request it happens."""
    if isinstance(exc, StoreFull):
        return insufficient_storage()
    if isinstance(exc, UpstreamRejected):
        return UpstreamFailed(
            "storage_rejected",
            f"The image host behind this server refused the upload, so nothing was saved: {exc}",
        )
    if isinstance(exc, StoreUnavailable):
        return storage_unavailable(exc)
    if isinstance(exc, LimitsUnavailable):
        return limits_unavailable(exc)
    return database_unavailable(exc)


def envelope(error: Refusal, request_id: str) -> dict[str, object]:
    return {
        "success": False,
        "message": error.message,
        "data": None,
        "code": error.code,
        "request_id": request_id,
    }


def openai_error(error: Refusal, request_id: str) -> dict[str, object]:
    kind = _OPENAI_TYPES.get(status_of(error), "api_error")
    return {
        "error": {
            "message": error.message,
            "type": kind,
            "code": error.code,
            "request_id": request_id,
        }
    }


def error_response(request: Request, error: Refusal) -> Response:
    """Render `error` in the envelope of the route family the request went to."""
    REJECTIONS.labels(error.code).inc()
    request_id = request.scope.get("imghost.request_id", "")
    render = openai_error if request.url.path.startswith("/v1/") else envelope
    return JSONResponse(
        render(error, request_id), status_code=status_of(error), headers=headers_of(error)
    )


def failure_response(request: Request, exc: Exception) -> Response:
    """The answer to an exception a request's handler raised, logged when it is not a plain
    refusal: a backend's failure as a warning, anything else (a bug) with its traceback."""
    if isinstance(exc, Refusal):
        return error_response(request, exc)
    if isinstance(exc, BACKEND_FAILURES):
        log.warning("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
        return error_response(request, backend_refusal(exc))
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        request,
        HttpRefusal(500, "internal_error", "Something failed on our side; nothing was saved."),
    )
