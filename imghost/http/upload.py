"""The upload routes' shared steps, and `POST /api/upload` (the seed's contract, byte for byte)."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from imghost.errors import ApiError
from imghost.http.access import Access, authorize
from imghost.ingest.multipart import ReceivedForm, receive_form
from imghost.ingest.pipeline import Order, Spooled, ingest
from imghost.ingest.spool import Spool
from imghost.ingest.validate import require_image, unsupported
from imghost.numbers import whole_number
from imghost.repo.base import Upload
from imghost.services import services_of
from imghost.threads import run_blocking


def expires_at(
    settings: dict[str, Any], default_ttl: str, requested: object, now: float
) -> float | None:
    """When an upload ends: `expires_in` seconds if asked (up to `expiry.max_ttl`; 0 is never,
    where `expiry.allow_forever` lets clients ask for it), else the route's default TTL
    setting; None (never) for a TTL of 0."""
    ceiling = settings["expiry.max_ttl"]
    if requested in (None, ""):
        ttl = settings[default_ttl]
        return None if ttl == 0 else now + ttl
    seconds = whole_number(str(requested))
    if seconds == 0 and settings["expiry.allow_forever"]:
        return None
    if seconds is None or not 1 <= seconds <= ceiling:
        forever = " or 0 to keep it forever" if settings["expiry.allow_forever"] else ""
        raise ApiError(
            400,
            "invalid_expires_in",
            f"expires_in must be a whole number of seconds from 1 to {ceiling}{forever}.",
        )
    return now + seconds


async def receive_file(request: Request, access: Access) -> ReceivedForm:
    """Stream the multipart form; its `file` is spooled, refused early if too large or no image."""
    limit = access.settings["limits.max_upload_bytes"]
    form = await receive_form(
        request,
        services_of(request).spool_dir,
        limit,
        require_image,
        access.settings["limits.body_timeout_seconds"],
    )
    if form.spool is None:
        raise ApiError(
            400, "missing_file", "No file was sent. Send the image in the multipart field 'file'."
        )
    return form


async def store_spool(
    request: Request, access: Access, spool: Spool, filename: str, order: Order
) -> Upload:
    """Validate, store and record what `spool` holds; the spool is gone afterwards."""
    services = services_of(request)
    try:
        digest = spool.finish()
        if spool.size == 0:
            raise unsupported(b"")
        spooled = Spooled(spool.path, spool.size, digest, filename)
        return await run_blocking(
            ingest, spooled, order, services.stores, services.repo, services.limiter
        )
    finally:
        spool.discard()


async def api_upload(request: Request) -> JSONResponse:
    access = await authorize(request)
    form = await receive_file(request, access)
    assert form.spool is not None
    try:
        when = expires_at(
            access.settings, "expiry.api_upload_ttl", form.fields.get("expires_in"), time.time()
        )
    except ApiError:
        form.spool.discard()
        raise
    order = Order(access.principal, access.settings, expires_at=when)
    upload = await store_spool(request, access, form.spool, form.filename, order)
    url = services_of(request).url_of(upload, access.settings, request)
    return JSONResponse({"success": True, "message": "", "data": url})
