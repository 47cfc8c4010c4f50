"""`GET`/`PUT /api/settings`: run-time system settings, for admin keys only."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from imghost.errors import ApiError, database_unavailable
from imghost.http.access import authorize
from imghost.http.jsonbody import json_object
from imghost.repo.base import RepoUnavailable
from imghost.services import Services, services_of
from imghost.settings import SettingError, described, with_defaults
from imghost.settings_update import StorageCheckFailed, update_settings
from imghost.threads import run_blocking

MAX_BODY_BYTES = 64 * 1024


def _read(services: Services) -> dict[str, Any]:
    return described(with_defaults(services.repo.get_settings()))


def _write(services: Services, changes: dict[str, Any]) -> dict[str, Any]:
    try:
        values = update_settings(services.repo, changes, services.config.data_dir)
    except SettingError as exc:
        raise ApiError(400, "invalid_setting", str(exc)) from exc
    except StorageCheckFailed as exc:
        raise ApiError(400, "storage_check_failed", str(exc)) from exc
    services.settings.invalidate()
    return described(values)


async def get_settings(request: Request) -> JSONResponse:
    await authorize(request, admin=True)
    services = services_of(request)
    try:
        return JSONResponse({"settings": await run_blocking(_read, services)})
    except RepoUnavailable as exc:
        raise database_unavailable(exc) from exc


async def put_settings(request: Request) -> JSONResponse:
    await authorize(request, admin=True)
    services = services_of(request)
    changes = await json_object(request, MAX_BODY_BYTES)
    try:
        return JSONResponse({"settings": await run_blocking(_write, services, changes)})
    except RepoUnavailable as exc:
        raise database_unavailable(exc) from exc
