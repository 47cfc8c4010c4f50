"""The upload routes' shared steps, and `POST /api/upload` (the seed's contract, byte for byte)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from imghost.errors import InvalidRequest, Refusal, Unavailable
from imghost.http.access import Access, authorize
from imghost.http.errors import BACKEND_FAILURES
from imghost.http.services import services_of
from imghost.ingest.multipart import FORM_OVERHEAD_BYTES, ReceivedForm, receive_form
from imghost.ingest.pipeline import Order, Spooled, ingest
from imghost.ingest.session import UploadSession
from imghost.ingest.validate import require_image, unsupported
from imghost.numbers import whole_number
from imghost.process.threads import run_blocking
from imghost.repo.base import Upload, Variant
from imghost.variants import planned
from imghost.vision.presets import PRESETS

log = logging.getLogger("imghost")


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
        raise InvalidRequest(
            "invalid_expires_in",
            f"expires_in must be a whole number of seconds from 1 to {ceiling}{forever}.",
        )
    return now + seconds


async def request_body(request: Request) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; a client gone mid-body gets the 400 it will not read.

    Read from the ASGI messages themselves (as Starlette's `Request.stream` does) so that the
    last chunk is known as the last before it is handed on: a refusal made on it has nothing
    left to drain.
    """
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise InvalidRequest("client_disconnected", "The client went away mid-upload.")
        chunk = message.get("body", b"")
        if not message.get("more_body", False):
            request.scope[_BODY_ENDED] = True
            if chunk:
                yield chunk
            return
        if chunk:
            yield chunk


# Refusals after which reading on is pointless: the client stalled or left, or its body is
# past the upload limit (declared, or sent).
_BODY_NOT_READ = {"body_timeout", "client_disconnected", "body_too_large", "file_too_large"}
# Set once the whole body has arrived: there is nothing left to read.
_BODY_ENDED = "imghost.body_ended"


async def _drain(request: Request, most_bytes: int, idle_seconds: float) -> None:
    """Read and drop what is left of a refused body, up to `most_bytes`.

    A client still sending when the server closes the connection gets a TCP reset, and with
    it often loses the answer it has not read yet: async httpx lost the 415 of 40 uploads of
    40 (5 MB that were no image). So the refusal waits for the body, within the bounds an
    upload has anyway: its size limit, and its idle timeout between two chunks.
    """
    if request.scope.get(_BODY_ENDED):
        return
    received = 0
    with contextlib.suppress(TimeoutError, ClientDisconnect):
        while received <= most_bytes:
            async with asyncio.timeout(idle_seconds):
                message = await request.receive()
            if message["type"] != "http.request":
                return
            received += len(message.get("body", b""))
            if not message.get("more_body", False):
                return


def upload_session(request: Request, access: Access) -> UploadSession:
    return UploadSession(services_of(request).spool_dir, access.settings["limits.max_upload_bytes"])


async def receive_file(request: Request, access: Access, session: UploadSession) -> ReceivedForm:
    """Stream the multipart form; its `file` is spooled, refused early if too large or no image."""
    idle_seconds = access.settings["limits.body_timeout_seconds"]
    try:
        form = await receive_form(
            request.headers.get("content-type"),
            request.headers.get("content-length"),
            request_body(request),
            lambda: session.new_spool(require_image),
            session.limit,
            idle_seconds,
        )
    except Refusal as refusal:
        if refusal.code not in _BODY_NOT_READ:
            await _drain(request, session.limit + FORM_OVERHEAD_BYTES, idle_seconds)
        raise
    if form.spool is None:
        raise InvalidRequest(
            "missing_file", "No file was sent. Send the image in the multipart field 'file'."
        )
    return form


async def store_spool(
    request: Request, session: UploadSession, filename: str, order: Order
) -> Upload:
    """Validate, store and record what the session's spool holds."""
    services = services_of(request)
    spool = session.spool
    assert spool is not None
    digest = spool.finish()
    if spool.size == 0:
        raise unsupported(b"")
    spooled = Spooled(spool.path, spool.size, digest, filename)
    return await run_blocking(
        ingest, session, spooled, order, services.stores, services.repo, services.limiter
    )


def presets_named(raw: object, field: str) -> tuple[str, ...]:
    """The preset names in a field: comma-separated text, or a JSON list of names."""
    if raw in (None, ""):
        return ()
    names = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise InvalidRequest("invalid_preset", f"{field} must be preset names, comma-separated.")
    found = tuple(dict.fromkeys(name.strip() for name in names if name.strip()))
    unknown = [name for name in found if name not in PRESETS]
    if unknown:
        raise InvalidRequest(
            "invalid_preset",
            f"{field} names no preset {unknown[0]!r}; the presets are {', '.join(PRESETS)}.",
        )
    return found


async def make_variants(
    request: Request, access: Access, upload: Upload, presets: tuple[str, ...]
) -> dict[str, Variant]:
    """Make `presets`' variants of a new upload now; every preset's when the store serves the
    images itself (S3 public mode), since no GET of a variant would reach imghost to make it.

    The upload is stored by now: a variant that cannot be made (a store or database failing)
    does not fail it. Its URL stays valid, and its first GET makes it."""
    services = services_of(request)
    store = services.stores.get(upload.store, access.settings)
    if store.public_url(upload.where) is not None:
        presets = tuple(PRESETS)
    made: dict[str, Variant] = {}
    for preset in presets:
        try:
            made[preset] = await run_blocking(services.variants.get, upload, preset, store)
        except (*BACKEND_FAILURES, Unavailable) as exc:
            log.warning(
                "upload %s: its %s variant is left to its first GET: %s", upload.id, preset, exc
            )
    return made


async def api_upload(request: Request) -> JSONResponse:
    """The seed's answer byte for byte; `for` (a preset) makes `data` that variant's URL."""
    access = await authorize(request)
    async with upload_session(request, access) as session:
        form = await receive_file(request, access, session)
        when = expires_at(
            access.settings, "expiry.api_upload_ttl", form.fields.get("expires_in"), time.time()
        )
        wanted = presets_named(form.fields.get("for"), "for")
        if len(wanted) > 1:
            raise InvalidRequest("invalid_preset", "for names one preset.")
        eager = presets_named(form.fields.get("variants"), "variants") + wanted
        order = Order(access.principal, access.settings, expires_at=when)
        upload = await store_spool(request, session, form.filename, order)
    made = await make_variants(request, access, upload, eager)
    variant = (made.get(wanted[0]) or planned(upload, wanted[0])) if wanted else None
    url = services_of(request).url_of(upload, access.settings, request, variant)
    return JSONResponse({"success": True, "message": "", "data": url})
