"""One Starlette route per path, whatever its methods: a 405 then lists every method the path
accepts in `Allow` (a route per method lists only its own), and OPTIONS answers them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from imghost.http.images import SECURITY_HEADERS

Endpoint = Callable[[Request], Awaitable[Response]]


def route(path: str, **endpoints: Endpoint) -> Route:
    """`path` answered by `endpoints` per method (GET also answers HEAD)."""
    methods = set(endpoints) | ({"HEAD"} if "GET" in endpoints else set()) | {"OPTIONS"}
    allow = ", ".join(sorted(methods))

    async def by_method(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": allow, **SECURITY_HEADERS})
        endpoint = endpoints.get(request.method) or endpoints["GET"]
        return await endpoint(request)

    return Route(path, by_method, methods=sorted(methods))
