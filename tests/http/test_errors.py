"""The one map from what went wrong to what the client sees: every kind of refusal, every backend
failure and an unexpected error answer their status, headers and the envelope of the route
family, the seed's under `/api/*`, OpenAI's under `/v1/*`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

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
)
from imghost.http.errors import HttpRefusal
from imghost.limits import LimitExceeded, LimitsUnavailable
from imghost.repo.base import RepoUnavailable
from imghost.store.base import StoreFull, StoreUnavailable, UpstreamRejected
from tests.conftest import auth, png_bytes
from tests.inprocess import App
from tests.memstore import MemoryStore

pytestmark = pytest.mark.anyio

# What the README's error table and DESIGN.md promise, written out: the test of the map, not a
# copy of it.
KINDS: dict[type[Refusal], tuple[int, str]] = {
    InvalidRequest: (400, "invalid_request_error"),
    NotAuthenticated: (401, "authentication_error"),
    NotPermitted: (403, "permission_error"),
    NotFound: (404, "not_found_error"),
    BodyTimeout: (408, "api_error"),
    TooLarge: (413, "invalid_request_error"),
    UnsupportedType: (415, "invalid_request_error"),
    InvalidImage: (422, "invalid_request_error"),
    LimitReached: (429, "rate_limit_error"),
    UpstreamFailed: (502, "api_error"),
    Unavailable: (503, "api_error"),
    UpstreamTimeout: (504, "api_error"),
    OutOfSpace: (507, "api_error"),
}

# (failure, status, code, Retry-After): a host that refused the object will refuse it again.
BACKEND_FAILURES = [
    pytest.param(StoreFull("disk full"), 507, "insufficient_storage", "60", id="StoreFull"),
    pytest.param(
        UpstreamRejected("the other host said no", 403),
        502,
        "storage_rejected",
        None,
        id="UpstreamRejected",
    ),
    pytest.param(
        StoreUnavailable("connection refused"),
        503,
        "storage_unavailable",
        "5",
        id="StoreUnavailable",
    ),
    pytest.param(
        LimitsUnavailable("redis is down"), 503, "limits_unavailable", "5", id="LimitsUnavailable"
    ),
    pytest.param(
        RepoUnavailable("the database is down"),
        503,
        "database_unavailable",
        "5",
        id="RepoUnavailable",
    ),
]
STORE_FAILURES = BACKEND_FAILURES[:3]

FAMILIES = ["/api", "/v1"]


def test_every_kind_of_refusal_is_in_this_table() -> None:
    kinds = {kind for kind in Refusal.__subclasses__() if kind is not HttpRefusal}
    assert kinds == set(KINDS)


class Probe:
    """Routes `/api/probe` and `/v1/probe` added to the app, raising what the test sets."""

    def __init__(self, app: App) -> None:
        self.raises: Exception = RuntimeError("nothing set")
        for family in FAMILIES:
            app.starlette.router.routes.append(Route(f"{family}/probe", self._raise))

    async def _raise(self, request: Request) -> Response:
        raise self.raises


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with App(tmp_path / "data", MemoryStore()) as instance:
        yield instance


@pytest.fixture
def probe(app: App) -> Probe:
    return Probe(app)


def refusal_of(response: httpx.Response, family: str) -> dict[str, object]:
    """The envelope's fields, checked for the family's shape; its request id is the header's."""
    body = response.json()
    if family == "/v1":
        assert set(body) == {"error"}
        error = body["error"]
        assert set(error) == {"message", "type", "code", "request_id"}
    else:
        assert set(body) == {"success", "message", "data", "code", "request_id"}
        assert body["success"] is False
        assert body["data"] is None
        error = body
    assert error["request_id"] == response.headers["X-Request-Id"]
    return error


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", list(KINDS), ids=lambda kind: kind.__name__)
async def test_each_kind_answers_its_status_in_the_familys_envelope(
    app: App, probe: Probe, kind: type[Refusal], family: str
) -> None:
    status, openai_type = KINDS[kind]
    probe.raises = kind("probe_refused", "The probe refused this request.")
    async with app.client() as client:
        response = await client.get(f"{family}/probe")
    assert response.status_code == status
    assert "Retry-After" not in response.headers
    error = refusal_of(response, family)
    assert error["code"] == "probe_refused"
    assert error["message"] == "The probe refused this request."
    if family == "/v1":
        assert error["type"] == openai_type


@pytest.mark.parametrize("family", FAMILIES)
async def test_a_refusal_that_frees_later_says_when(app: App, probe: Probe, family: str) -> None:
    probe.raises = LimitExceeded("rate_limited", "Slow down.", 42)
    async with app.client() as client:
        response = await client.get(f"{family}/probe")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "42"
    assert refusal_of(response, family)["code"] == "rate_limited"


@pytest.mark.parametrize("family", FAMILIES)
async def test_an_http_refusal_names_its_status_and_headers(
    app: App, probe: Probe, family: str
) -> None:
    probe.raises = HttpRefusal(418, "teapot", "A teapot.", {"X-Probe": "yes"})
    async with app.client() as client:
        response = await client.get(f"{family}/probe")
    assert response.status_code == 418
    assert response.headers["X-Probe"] == "yes"
    error = refusal_of(response, family)
    assert error["code"] == "teapot"
    if family == "/v1":
        assert error["type"] == "api_error"


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(("failure", "status", "code", "retry_after"), BACKEND_FAILURES)
async def test_a_backend_failure_anywhere_in_a_request_is_mapped(
    app: App,
    probe: Probe,
    failure: Exception,
    status: int,
    code: str,
    retry_after: str | None,
    family: str,
) -> None:
    probe.raises = failure
    async with app.client() as client:
        response = await client.get(f"{family}/probe")
    assert response.status_code == status
    assert response.headers.get("Retry-After") == retry_after
    assert refusal_of(response, family)["code"] == code


@pytest.mark.parametrize("family", FAMILIES)
async def test_an_unexpected_error_is_a_500_that_tells_nothing(
    app: App, probe: Probe, family: str
) -> None:
    probe.raises = RuntimeError("secret internals")
    # Starlette answers with the handler's response, then raises the error again for the server
    # to log; the transport stands in for the server and keeps the response.
    async with app.client(raise_app_exceptions=False) as client:
        response = await client.get(f"{family}/probe")
    assert response.status_code == 500
    error = refusal_of(response, family)
    assert error["code"] == "internal_error"
    assert "secret" not in response.text


@pytest.mark.parametrize("family", FAMILIES)
async def test_an_unknown_route_is_a_404(app: App, family: str) -> None:
    async with app.client() as client:
        response = await client.get(f"{family}/no-such-route")
    assert response.status_code == 404
    assert refusal_of(response, family)["code"] == "not_found"


@pytest.mark.parametrize(
    ("family", "path", "allowed"),
    [
        ("/api", "/api/upload", {"OPTIONS", "POST"}),
        ("/v1", "/v1/files", {"GET", "HEAD", "OPTIONS", "POST"}),
    ],
)
async def test_a_method_the_route_lacks_is_a_405_listing_those_it_has(
    app: App, family: str, path: str, allowed: set[str]
) -> None:
    async with app.client() as client:
        response = await client.patch(path)
    assert response.status_code == 405
    # A set: Starlette lists a route's methods in its set's order.
    assert set(response.headers["Allow"].split(", ")) == allowed
    assert refusal_of(response, family)["code"] == "method_not_allowed"


# A failure raised by a real route's work, not a probe: an upload whose store fails.


@pytest.mark.parametrize(
    ("route", "family"), [("/api/upload", "/api"), ("/v1/files/uploads", "/v1")]
)
@pytest.mark.parametrize(("failure", "status", "code", "retry_after"), STORE_FAILURES)
async def test_a_store_that_fails_an_upload(
    tmp_path: Path,
    route: str,
    family: str,
    failure: StoreUnavailable,
    status: int,
    code: str,
    retry_after: str | None,
) -> None:
    store = MemoryStore()
    store.fail("put_file", failure)
    async with App(tmp_path / "data", store) as app, app.client() as client:
        response = await client.post(route, headers=auth(app.key), files={"file": png_bytes()})
        assert response.status_code == status, response.text
        assert response.headers.get("Retry-After") == retry_after
        assert refusal_of(response, family)["code"] == code
        assert app.upload_rows() == 0
