"""Liveness, readiness and the OpenAPI document."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from imghost.http.openapi import openapi_document
from imghost.repo.base import RepoUnavailable
from imghost.services import services_of
from imghost.store.base import StoreUnavailable
from imghost.threads import run_blocking


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    services = services_of(request)
    checks: dict[str, str] = {}

    def check_store() -> None:
        services.stores.active(services.settings.current()).ping()

    for name, check in (("database", services.repo.ping), ("store", check_store)):
        try:
            await run_blocking(check)
            checks[name] = "ok"
        except (RepoUnavailable, StoreUnavailable) as exc:
            checks[name] = f"unavailable: {exc}"
    ready = all(state == "ok" for state in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document(str(request.base_url).rstrip("/")))
