"""Serving bytes that live elsewhere (an S3 `proxy` read): streamed, with single Range support."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from imghost.errors import NotFound, image_unavailable
from imghost.http.errors import HttpRefusal
from imghost.process.threads import iterate_blocking, run_blocking
from imghost.repo.base import Upload
from imghost.store.base import ObjectMissing, Store, StoreUnavailable
from imghost.store.cache import CachedStore

# Positions of at most 18 digits: no image is an exabyte, and int() refuses numbers of over
# 4300 digits; a longer range is not one we read, so it is ignored.
_RANGE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})", re.ASCII | re.IGNORECASE)


def requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single satisfiable `Range`, None for the whole object.

    RFC 9110 section 14: several ranges, and a header that is not a valid range set (no
    digits, or a last position before the first), are ignored and answered with the whole
    object; a valid range that selects nothing (it starts past the end, or a suffix of 0
    bytes) is a 416.
    """
    match = _RANGE.fullmatch((header or "").strip())
    if match is None or match[1] == match[2] == "":
        return None
    first, last = match[1], match[2]
    if first and last and int(last) < int(first):
        return None
    if first == "":
        start, end = max(0, size - int(last)), size
    else:
        start, end = int(first), min(size, int(last) + 1) if last else size
    if start >= size or start >= end:
        raise HttpRefusal(
            416,
            "range_not_satisfiable",
            f"The image is {size} bytes; the requested range is outside it.",
            {"Content-Range": f"bytes */{size}"},
        )
    return start, end


class WholeFile(FileResponse):
    """A file answered in full whatever the request's Range: for the ranges RFC 9110 says to
    ignore, which Starlette's FileResponse would answer with a 400."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(name, value) for name, value in scope["headers"] if name != b"range"]
        await super().__call__({**scope, "headers": headers}, receive, send)


class PathSend(Response):
    """A whole file by the server's `http.response.pathsend`, with headers made beforehand: the
    hot path of a cached image's GET, which FileResponse would spend as much time on as the
    rest of the request (it works out and discards a Last-Modified and an MD5 ETag)."""

    def __init__(self, path: Path, size: int, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.path = str(path)
        self.size = size
        self.status_code = 200
        self.raw_headers = raw_headers
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, headers = self.status_code, self.raw_headers
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.pathsend", "path": self.path})


def local_file(
    request: Request, upload: Upload, path: Path, stat: os.stat_result, headers: dict[str, str]
) -> Response:
    """A local file, its Range checked as `proxied` checks it; a single satisfiable range is
    left to FileResponse, which sends it from the file."""
    header = request.headers.get("range")
    response = FileResponse if requested_range(header, stat.st_size) else WholeFile
    return response(path, headers=headers, media_type=upload.content_type, stat_result=stat)


def sends_whole_path(request: Request) -> bool:
    """Whether the answer is a whole file the server can send itself (no Range, not HEAD)."""
    scope = request.scope
    return (
        scope["method"] == "GET"
        and "http.response.pathsend" in scope.get("extensions", ())
        and "range" not in request.headers
    )


def raw_file_headers(
    headers: dict[str, str], content_type: str, size: int
) -> list[tuple[bytes, bytes]]:
    """The headers FileResponse sends for the whole of a file, in the ASGI message's form."""
    return [
        *((name.lower().encode(), value.encode()) for name, value in headers.items()),
        (b"content-type", content_type.encode()),
        (b"accept-ranges", b"bytes"),
        (b"content-length", str(size).encode()),
    ]


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
    if span is None and isinstance(store, CachedStore):
        chunks = store.read_through(upload.where, upload.size, upload.digest)
    else:
        chunks = store.open_range(upload.where, start, end)
    # The first chunk is read before answering, so that a store that is down or has lost the
    # object gets a clean error status instead of a response cut off after its headers.
    try:
        first = await run_blocking(next, chunks, b"")
    except ObjectMissing as exc:
        raise NotFound("not_found", "The image's bytes are missing from the store.") from exc
    except StoreUnavailable as exc:
        raise image_unavailable("storage_unavailable", exc) from exc

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in iterate_blocking(chunks):
            yield chunk

    return StreamingResponse(
        body(), status_code=status, headers=headers, media_type=upload.content_type
    )
