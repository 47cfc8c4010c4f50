"""Who is calling and may they: key, role, IP allow-list and request rate, in one thread hop."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from imghost.auth import Principal, authenticate, bearer_token
from imghost.errors import NotPermitted
from imghost.http.services import Services, services_of
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
    settings = services.settings.current()
    if admin and not principal.is_admin:
        raise NotPermitted("admin_required", "This route needs an admin API key.")
    if not _client_allowed(principal, client_ip):
        raise NotPermitted("ip_not_allowed", f"This API key may not be used from {client_ip}.")
    services.limiter.hit(principal.key.id, principal.key.rpm, time.time())
    return Access(principal, settings)


async def authorize(request: Request, *, admin: bool = False) -> Access:
    client_ip = request.client.host if request.client else None
    access = await run_blocking(
        _authorize,
        services_of(request),
        bearer_token(request.headers.get("authorization", "")),
        client_ip,
        admin,
    )
    # For the access log, which names keys, never shows them.
    request.scope["imghost.key_name"] = access.principal.key.name
    return access
