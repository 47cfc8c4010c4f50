"""`/api/keys` and `/api/stats`: the admin console's data, for admin keys only."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from imghost.errors import InvalidRequest, NotFound, Refusal
from imghost.http.access import authorize
from imghost.http.jsonbody import json_object
from imghost.http.services import services_of
from imghost.keys import issue_key, normalise_cidrs
from imghost.numbers import finite_number
from imghost.process.threads import run_blocking
from imghost.repo.base import ApiKey

MAX_BODY_BYTES = 16 * 1024
# What the columns hold: daily_bytes is a BIGINT (capped as the quota.daily_bytes setting
# is), rpm an INTEGER.
MAX_LIMITS = {"daily_bytes": 2**62, "rpm": 2**31 - 1}
# 9999-12-31T23:59:59Z: later times are not dates any client can show.
LAST_EXPIRY = 253_402_300_799
STATS_DAYS = 30
TOP_KEYS = 10


def key_object(key: ApiKey) -> dict[str, Any]:
    return {**dataclasses.asdict(key), "allow_ips": list(key.allow_ips)}


def _invalid(field: str, what: str) -> Refusal:
    return InvalidRequest("invalid_key_field", f"{field} must be {what}.")


def _limit(body: dict[str, Any], field: str) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LIMITS[field]:
        raise _invalid(field, f"a whole number from 0 (unlimited) to {MAX_LIMITS[field]}")
    return value


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    """The key fields present in `body`, checked; unknown fields are refused."""
    known = {"name", "role", "enabled", "expires_at", "daily_bytes", "rpm", "allow_ips"}
    if unknown := set(body) - known:
        raise _invalid(", ".join(sorted(unknown)), f"left out: the fields are {sorted(known)}")
    fields: dict[str, Any] = {}
    if "name" in body:
        if not isinstance(body["name"], str) or not 1 <= len(body["name"].strip()) <= 200:
            raise _invalid("name", "text of 1 to 200 characters")
        fields["name"] = body["name"].strip()
    if "role" in body:
        if body["role"] not in ("user", "admin"):
            raise _invalid("role", "user or admin")
        fields["role"] = body["role"]
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise _invalid("enabled", "true or false")
        fields["enabled"] = body["enabled"]
    if "expires_at" in body:
        expires = body["expires_at"]
        if expires is not None:
            expires = finite_number(expires) if isinstance(expires, int | float) else None
            if expires is None or not 0 <= expires <= LAST_EXPIRY:
                raise _invalid("expires_at", "a Unix time in seconds, or null for never")
        fields["expires_at"] = expires
    for field in ("daily_bytes", "rpm"):
        if field in body:
            fields[field] = _limit(body, field)
    if "allow_ips" in body:
        ips = body["allow_ips"]
        if not isinstance(ips, list) or not all(isinstance(ip, str) for ip in ips):
            raise _invalid("allow_ips", "a list of CIDRs such as 203.0.113.0/24")
        try:
            fields["allow_ips"] = normalise_cidrs(ips)
        except ValueError as exc:
            raise _invalid("allow_ips", f"a list of CIDRs ({exc})") from exc
    return fields


async def list_keys(request: Request) -> JSONResponse:
    await authorize(request, admin=True)
    keys = await run_blocking(services_of(request).repo.list_keys)
    return JSONResponse({"keys": [key_object(key) for key in keys]})


async def create_key(request: Request) -> JSONResponse:
    """The secret is in this answer only; only its hash is kept."""
    access = await authorize(request, admin=True)
    fields = _fields(await json_object(request, MAX_BODY_BYTES))
    if "name" not in fields:
        raise _invalid("name", "given")
    fields.pop("enabled", None)
    secret, record = await run_blocking(
        issue_key,
        services_of(request).repo,
        access.settings,
        name=fields.pop("name"),
        role=fields.pop("role", "user"),
        **fields,
    )
    return JSONResponse({"key": secret, **key_object(record)}, status_code=201)


async def update_key(request: Request) -> JSONResponse:
    await authorize(request, admin=True)
    fields = _fields(await json_object(request, MAX_BODY_BYTES))
    if "role" in fields:
        raise _invalid("role", "left as it is: create a new key for another role")
    services = services_of(request)
    record = await run_blocking(services.repo.update_key, request.path_params["key_id"], **fields)
    # This worker's own change takes effect at once; the others' caches within their bound.
    services.keys.clear()
    if record is None:
        raise NotFound("key_not_found", "No API key with that id.")
    return JSONResponse(key_object(record))


async def delete_key(request: Request) -> JSONResponse:
    access = await authorize(request, admin=True)
    key_id = request.path_params["key_id"]
    if key_id == access.principal.key.id:
        raise InvalidRequest("own_key", "An admin cannot revoke the key it is using.")
    services = services_of(request)
    deleted = await run_blocking(services.repo.delete_key, key_id)
    services.keys.clear()
    if not deleted:
        raise NotFound("key_not_found", "No API key with that id.")
    return JSONResponse({"id": key_id, "deleted": True})


async def stats(request: Request) -> JSONResponse:
    await authorize(request, admin=True)
    now = time.time()
    since = (now // 86400 - (STATS_DAYS - 1)) * 86400
    usage = await run_blocking(services_of(request).repo.stats, since, TOP_KEYS)
    per_day = {day: (count, size) for day, count, size in usage.days}
    days = []
    for offset in range(STATS_DAYS):
        day = time.strftime("%Y-%m-%d", time.gmtime(since + offset * 86400))
        count, size = per_day.get(day, (0, 0))
        days.append({"day": day, "uploads": count, "bytes": size})
    return JSONResponse(
        {
            "days": days,
            "top_keys": [
                {"key_id": k, "name": n, "uploads": c, "bytes": b} for k, n, c, b in usage.top_keys
            ],
            "stores": [{"store": s, "uploads": c, "bytes": b} for s, c, b in usage.stores],
        }
    )
