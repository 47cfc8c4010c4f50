"""The floor any real image host pays: a minimal streaming upload handler on the same stack.

Parse the multipart body incrementally, hash it, write a temp file, rename it into place,
answer JSON. No auth, no validation, no database: what imghost adds on top is our overhead.
With BENCH_REFERENCE_DURABLE=1 it also makes the file durable before answering, as imghost
does (fsync the file, rename, fsync the folder, in one worker thread): the floor of a host
that does not lose an answered upload in a power cut.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from blake3 import blake3
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ROOT = Path(os.environ.get("BENCH_REFERENCE_DIR", "/tmp/bench-reference"))
DURABLE = os.environ.get("BENCH_REFERENCE_DURABLE") == "1"


def _make_durable(temp: Path, final: Path) -> None:
    with temp.open("rb") as written:
        os.fsync(written.fileno())
    temp.rename(final)
    folder = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


async def upload(request: Request) -> JSONResponse:
    _, params = parse_options_header(request.headers["content-type"])
    name = secrets.token_urlsafe(16)
    temp = ROOT / f"{name}.part"
    hasher = blake3()
    with temp.open("wb") as out:

        def on_part_data(data: bytes, start: int, end: int) -> None:
            out.write(data[start:end])
            hasher.update(data[start:end])

        parser = MultipartParser(params[b"boundary"], {"on_part_data": on_part_data})
        async for chunk in request.stream():
            parser.write(chunk)
    final = ROOT / f"{name}.bin"
    if DURABLE:
        await run_in_threadpool(_make_durable, temp, final)
    else:
        temp.rename(final)
    return JSONResponse(
        {"success": True, "data": f"/uploads/{final.name}", "hash": hasher.hexdigest()}
    )


def create_app() -> Starlette:
    ROOT.mkdir(parents=True, exist_ok=True)
    return Starlette(routes=[Route("/api/upload", upload, methods=["POST"])])
