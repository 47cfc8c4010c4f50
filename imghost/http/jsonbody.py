"""JSON request bodies, read with a size cap before parsing."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from imghost.errors import InvalidRequest, Refusal, TooLarge
from imghost.numbers import whole_number


def too_long(max_bytes: int) -> Refusal:
    return TooLarge("body_too_large", f"The JSON body is over {max_bytes} bytes.")


def _refuse_constant(name: str) -> None:
    # Python reads NaN, Infinity and -Infinity, which are not JSON (RFC 8259) and no valid value.
    raise ValueError(f"{name} is not a JSON number")


async def json_object(request: Request, max_bytes: int) -> dict[str, Any]:
    declared = whole_number(request.headers.get("content-length", ""))
    if declared is not None and declared > max_bytes:
        raise too_long(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise too_long(max_bytes)
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise InvalidRequest("invalid_json", f"The body is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise InvalidRequest("invalid_json", "The body must be a JSON object.")
    return data
