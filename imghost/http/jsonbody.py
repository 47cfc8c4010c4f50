"""JSON request bodies, read with a size cap before parsing."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from imghost.errors import ApiError


def too_long(max_bytes: int) -> ApiError:
    return ApiError(413, "body_too_large", f"The JSON body is over {max_bytes} bytes.")


async def json_object(request: Request, max_bytes: int) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_long(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise too_long(max_bytes)
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"The body is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return data
