"""`GET /api/integrations/{tool}`: the caller's own screenshot-tool configuration, as a file.

The upload page offers these downloads; the file carries the key the request was made with,
so nobody gets a configuration for a key they do not hold.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from imghost.errors import NotFound
from imghost.http.access import authorize, bearer_of
from imghost.http.services import services_of
from imghost.http.upload import presets_named
from imghost.integrations import FILE_NAMES, TOOLS


async def integration(request: Request) -> Response:
    access = await authorize(request)
    tool = request.path_params["tool"]
    if tool not in TOOLS:
        raise NotFound("not_found", f"No such tool; these have configurations: {', '.join(TOOLS)}.")
    presets = presets_named(request.query_params.get("for"), "for")
    server = services_of(request).public_url(access.settings, request)
    config = TOOLS[tool](server, bearer_of(request), presets[0] if presets else None)
    return Response(
        json.dumps(config, indent=2) + "\n",
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{FILE_NAMES[tool]}"',
            "Cache-Control": "no-store",
        },
    )
