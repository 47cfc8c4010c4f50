"""`GET`/`PUT /api/settings`: run-time system settings, for admin keys only."""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from imghost.auth import Principal, authenticate, bearer_token
from imghost.errors import ApiError
from imghost.ingest.pipeline import database_unavailable
from imghost.repo.base import RepoUnavailable
from imghost.services import Services, services_of
from imghost.settings import SettingError, described, with_defaults
from imghost.settings_update import StorageCheckFailed, update_settings

MAX_BODY_BYTES = 64 * 1024


async def require_admin(request: Request) -> Principal:
    services = services_of(request)
    try:
        principal = await run_in_threadpool(authenticate, services.repo, bearer_token(request))
    except RepoUnavailable as exc:
        raise database_unavailable(exc) from exc
    if not principal.is_admin:
        raise ApiError(403, "admin_required", "This route needs an admin API key.")
    return principal


async def json_object(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"The JSON body is over {MAX_BODY_BYTES} bytes.")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"The body is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return data


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
    await require_admin(request)
    services = services_of(request)
    try:
        return JSONResponse({"settings": await run_in_threadpool(_read, services)})
    except RepoUnavailable as exc:
        raise database_unavailable(exc) from exc


async def put_settings(request: Request) -> JSONResponse:
    await require_admin(request)
    services = services_of(request)
    changes = await json_object(request)
    try:
        return JSONResponse({"settings": await run_in_threadpool(_write, services, changes)})
    except RepoUnavailable as exc:
        raise database_unavailable(exc) from exc
