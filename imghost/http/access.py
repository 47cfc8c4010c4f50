"""Who is calling and may they: key, role, IP allow-list and request rate, in one hop at most."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from imghost.auth import Principal, authenticate, bearer_token, principal_of
from imghost.errors import NotPermitted
from imghost.http.services import Services, services_of
from imghost.keys import hash_key
from imghost.process.threads import run_blocking


@dataclass(frozen=True, slots=True)
class Access:
    principal: Principal
    settings: dict[str, Any]


def _client_allowed(principal: Principal, client_ip: str | None) -> bool:
    if not principal.key.allow_ips:
        return True
    if client_ip is None:
        return False
    address = ipaddress.ip_address(client_ip)
    return any(address in ipaddress.ip_network(cidr) for cidr in principal.key.allow_ips)


def _authorize(services: Services, token: str, client_ip: str | None, admin: bool) -> Access:
    principal = authenticate(services.keys, token)
    return _checked(services, principal, services.settings.current(), client_ip, admin)


def _checked(
    services: Services,
    principal: Principal,
    settings: dict[str, Any],
    client_ip: str | None,
    admin: bool,
) -> Access:
    if admin and not principal.is_admin:
        raise NotPermitted("admin_required", "This route needs an admin API key.")
    if not _client_allowed(principal, client_ip):
        raise NotPermitted("ip_not_allowed", f"This API key may not be used from {client_ip}.")
    services.limiter.hit(principal.key.id, principal.key.rpm, time.time())
    return Access(principal, settings)


def _on_loop(services: Services, token: str, client_ip: str | None, admin: bool) -> Access | None:
    """The access, when it needs no database: the key and the settings are fresh in this
    process and the key has no rate limit to count. None sends it to a worker thread."""
    key = services.keys.cached(hash_key(token))
    settings = services.settings.fresh()
    if key is None or settings is None or key.rpm:
        return None
    return _checked(services, principal_of(key), settings, client_ip, admin)


def bearer_of(request: Request) -> str:
    """The API key the request was made with (it has passed `authorize`)."""
    return bearer_token(request.headers.get("authorization", ""))


async def authorize(request: Request, *, admin: bool = False) -> Access:
    services = services_of(request)
    client_ip = request.client.host if request.client else None
    token = bearer_of(request)
    # A thread hand-off costs about what the rest of authorizing does: skipped when it can be.
    access = _on_loop(services, token, client_ip, admin)
    if access is None:
        access = await run_blocking(_authorize, services, token, client_ip, admin)
    # For the access log, which names keys, never shows them.
    request.scope["imghost.key_name"] = access.principal.key.name
    return access
