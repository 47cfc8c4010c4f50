"""Serving bytes that live elsewhere (an S3 `proxy` read): streamed, with single Range support."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from imghost.errors import ApiError, image_unavailable
from imghost.repo.base import Upload
from imghost.store.base import ObjectMissing, Store, StoreUnavailable
from imghost.threads import iterate_blocking, run_blocking

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single satisfiable `Range`, None for the whole object.

    Several ranges or an unparsable header are answered with the whole object (RFC 9110
    lets a server ignore Range); a range that starts past the end is a 416.
    """
    match = _RANGE.fullmatch((header or "").strip())
    if match is None or match[1] == match[2] == "":
        return None
    first, last = match[1], match[2]
    if first == "":
        start, end = max(0, size - int(last)), size
    else:
        start, end = int(first), min(size, int(last) + 1) if last else size
    if start >= size or start >= end:
        raise ApiError(
            416,
            "range_not_satisfiable",
            f"The image is {size} bytes; the requested range is outside it.",
            {"Content-Range": f"bytes */{size}"},
        )
    return start, end


async def proxied(
    request: Request, store: Store, upload: Upload, headers: dict[str, str]
) -> Response:
    span = requested_range(request.headers.get("range"), upload.size)
    start, end = span or (0, upload.size)
    headers = {**headers, "Accept-Ranges": "bytes", "Content-Length": str(end - start)}
    status = 200
    if span is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{upload.size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=upload.content_type)
    chunks = store.open_range(upload.where, start, end)
    # The first chunk is read before answering, so that a store that is down or has lost the
    # object gets a clean error status instead of a response cut off after its headers.
    try:
        first = await run_blocking(next, chunks, b"")
    except ObjectMissing as exc:
        raise ApiError(404, "not_found", "The image's bytes are missing from the store.") from exc
    except StoreUnavailable as exc:
        raise image_unavailable("storage_unavailable", exc) from exc

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in iterate_blocking(chunks):
            yield chunk

    return StreamingResponse(
        body(), status_code=status, headers=headers, media_type=upload.content_type
    )
