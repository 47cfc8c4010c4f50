"""`GET`/`PUT /api/settings`: run-time system settings, for admin keys only."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from imghost.errors import InvalidRequest
from imghost.http.access import authorize
from imghost.http.jsonbody import json_object
from imghost.http.services import Services, services_of
from imghost.process.threads import run_blocking
from imghost.settings.runtime import SettingError, described, with_defaults
from imghost.settings.update import StorageCheckFailed, update_settings

MAX_BODY_BYTES = 64 * 1024


def _read(services: Services) -> dict[str, Any]:
    return described(with_defaults(services.repo.get_settings()))


def _write(services: Services, changes: dict[str, Any]) -> dict[str, Any]:
    try:
        values = update_settings(services.repo, changes, services.config.data_dir)
    except SettingError as exc:
        raise InvalidRequest("invalid_setting", str(exc)) from exc
    except StorageCheckFailed as exc:
        raise InvalidRequest("storage_check_failed", str(exc)) from exc
    services.settings.invalidate()
    return described(values)


async def get_settings(request: Request) -> JSONResponse:
    await authorize(request, admin=True)
    services = services_of(request)
    return JSONResponse({"settings": await run_blocking(_read, services)})


async def put_settings(request: Request) -> JSONResponse:
    await authorize(request, admin=True)
    services = services_of(request)
    changes = await json_object(request, MAX_BODY_BYTES)
    return JSONResponse({"settings": await run_blocking(_write, services, changes)})
