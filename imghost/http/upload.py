"""`POST /api/upload`: the seed's contract, byte for byte."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from imghost.auth import Principal, authenticate, bearer_token
from imghost.errors import ApiError
from imghost.ingest.multipart import receive_form
from imghost.ingest.pipeline import Spooled, database_unavailable, ingest
from imghost.ingest.validate import require_image, unsupported
from imghost.repo.base import RepoUnavailable, Upload
from imghost.services import Services, services_of


def _authorize(services: Services, token: str) -> tuple[Principal, dict[str, Any]]:
    try:
        return authenticate(services.repo, token), services.settings.current()
    except RepoUnavailable as exc:
        raise database_unavailable(exc) from exc


async def receive_upload(request: Request) -> tuple[Upload, dict[str, Any]]:
    """Authenticate, stream the form's `file`, and ingest it: shared by every upload route."""
    services = services_of(request)
    principal, settings = await run_in_threadpool(_authorize, services, bearer_token(request))
    limit = settings["limits.max_upload_bytes"]
    form = await receive_form(request, services.spool_dir, limit, require_image)
    if form.spool is None:
        raise ApiError(
            400, "missing_file", "No file was sent. Send the image in the multipart field 'file'."
        )
    spool = form.spool
    try:
        digest = spool.finish()
        if spool.size == 0:
            raise unsupported(b"")
        spooled = Spooled(spool.path, digest, form.filename)
        upload = await run_in_threadpool(
            ingest, spooled, principal, settings, services.stores, services.repo
        )
    finally:
        spool.discard()
    return upload, settings


async def api_upload(request: Request) -> JSONResponse:
    upload, settings = await receive_upload(request)
    url = services_of(request).url_of(upload, settings, request)
    return JSONResponse({"success": True, "message": "", "data": url})
