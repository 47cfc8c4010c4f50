"""The AI-app upload API under `/v1`: multipart, base64 and URL ingest, and OpenAI's Files API.

Every route answers the same file object: OpenAI's fields (`id`, `object`, `bytes`,
`created_at`, `filename`, `purpose`, `status`, `expires_at`) plus ours (`url`, `mime_type`,
`source_format`, `size`, `width`, `height`, `frames`, `blake3`), so the official `openai` SDK's
`files.create/retrieve/list/delete` work with `base_url` pointed here.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imghost.errors import (
    InvalidRequest,
    NotFound,
    Refusal,
    database_unavailable,
    storage_unavailable,
)
from imghost.http.access import Access, authorize
from imghost.http.images import serve_key
from imghost.http.jsonbody import json_object
from imghost.http.services import services_of
from imghost.http.upload import (
    expires_at,
    make_variants,
    presets_named,
    receive_file,
    store_spool,
    upload_session,
)
from imghost.ingest.base64data import decode_into, max_base64_chars, payload_of
from imghost.ingest.fetch import FetchPolicy, fetch_into
from imghost.ingest.multipart import clean_filename
from imghost.ingest.pipeline import Order, delete
from imghost.ingest.validate import require_image
from imghost.numbers import finite_number, whole_number
from imghost.process.threads import run_blocking
from imghost.repo.base import RepoUnavailable, Upload, Variant
from imghost.store import keys
from imghost.store.base import StoreUnavailable
from imghost.variants import planned
from imghost.vision.presets import PRESETS
from imghost.vision.report import vision_report

FILE_ID_PREFIX = "file-"
JSON_OVERHEAD_BYTES = 64 * 1024
MAX_PURPOSE_CHARS = 64
DEFAULT_PAGE = 20
MAX_PAGE = 100


def variants_block(
    request: Request, access: Access, upload: Upload, made: dict[str, Variant]
) -> dict[str, Any]:
    """Every preset's variant of `upload`: made ones as they are, others as they will be."""
    services = services_of(request)
    block = {}
    for preset in PRESETS:
        variant = made.get(preset) or planned(upload, preset)
        block[preset] = {
            "url": services.url_of(upload, access.settings, request, variant),
            "width": variant.width,
            "height": variant.height,
            "mime_type": variant.content_type,
            "bytes": variant.size if variant.state == "ready" else None,
        }
    return block


def described(
    request: Request,
    access: Access,
    upload: Upload,
    made: dict[str, Variant],
    url_warnings: list[str],
) -> dict[str, Any]:
    """The file object with what a model will see of it: its variants and the vision block."""
    services = services_of(request)
    url = services.url_of(upload, access.settings, request)
    return file_object(upload, url) | {
        "variants": variants_block(request, access, upload, made),
        "vision": vision_report(
            upload.width,
            upload.height,
            upload.size,
            upload.content_type,
            upload.frames,
            url_warnings,
        ),
    }


def file_object(upload: Upload, url: str) -> dict[str, Any]:
    return {
        "id": FILE_ID_PREFIX + upload.id,
        "object": "file",
        "bytes": upload.size,
        "created_at": int(upload.created_at),
        "expires_at": None if upload.expires_at is None else int(upload.expires_at),
        "filename": upload.filename,
        "purpose": upload.purpose or "vision",
        "status": "processed",
        "url": url,
        "mime_type": upload.content_type,
        "source_format": upload.source_format,
        "size": upload.size,
        "width": upload.width,
        "height": upload.height,
        "frames": upload.frames,
        "blake3": upload.digest,
        "key_id": upload.key_id,
    }


async def _answer(request: Request, access: Access, upload: Upload) -> JSONResponse:
    made = await run_blocking(services_of(request).variants.ready, upload)
    warnings = services_of(request).url_warnings(access.settings, request)
    return JSONResponse(described(request, access, upload, made, warnings))


def _purpose(value: object) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > MAX_PURPOSE_CHARS:
        raise InvalidRequest(
            "invalid_purpose",
            f"purpose must be text of at most {MAX_PURPOSE_CHARS} characters.",
        )
    return value


async def _from_form(request: Request, expires_field: str) -> JSONResponse:
    access = await authorize(request)
    async with upload_session(request, access) as session:
        form = await receive_file(request, access, session)
        requested = form.fields.get(expires_field)
        if expires_field != "expires_in" and form.fields.get("expires_after[anchor]") not in (
            None,
            "created_at",
        ):
            raise InvalidRequest(
                "invalid_expires_after", "expires_after[anchor] must be created_at."
            )
        order = Order(
            access.principal,
            access.settings,
            purpose=_purpose(form.fields.get("purpose")),
            expires_at=expires_at(access.settings, "expiry.files_ttl", requested, time.time()),
        )
        eager = presets_named(form.fields.get("variants"), "variants")
        upload = await store_spool(request, session, form.filename, order)
    await make_variants(request, access, upload, eager)
    return await _answer(request, access, upload)


async def upload_multipart(request: Request) -> JSONResponse:
    """`POST /v1/files/uploads`: multipart `file`, optional `purpose` and `expires_in`."""
    return await _from_form(request, "expires_in")


async def create_file(request: Request) -> JSONResponse:
    """`POST /v1/files`: OpenAI's shape (`file`, `purpose`, `expires_after[seconds]`)."""
    return await _from_form(request, "expires_after[seconds]")


def _json_order(access: Access, body: dict[str, Any]) -> Order:
    return Order(
        access.principal,
        access.settings,
        purpose=_purpose(body.get("purpose")),
        expires_at=expires_at(
            access.settings, "expiry.files_ttl", body.get("expires_in"), time.time()
        ),
    )


async def upload_base64(request: Request) -> JSONResponse:
    """`POST /v1/files/uploads/base64`: JSON `data` (a data URL or bare base64)."""
    access = await authorize(request)
    limit = access.settings["limits.max_upload_bytes"]
    body = await json_object(request, max_base64_chars(limit) + JSON_OVERHEAD_BYTES)
    order = _json_order(access, body)
    text = payload_of(body.get("data"))
    filename = clean_filename(str(body.get("filename") or ""))
    eager = presets_named(body.get("variants"), "variants")
    async with upload_session(request, access) as session:
        decode_into(text, session.new_spool(require_image))
        upload = await store_spool(request, session, filename, order)
    await make_variants(request, access, upload, eager)
    return await _answer(request, access, upload)


def fetch_policy(settings: dict[str, Any]) -> FetchPolicy:
    return FetchPolicy(
        allow_private=settings["fetch.allow_private"],
        ports=tuple(settings["fetch.ports"]),
        allow_hosts=tuple(settings["fetch.allow_hosts"]),
        deny_hosts=tuple(settings["fetch.deny_hosts"]),
        max_redirects=settings["fetch.max_redirects"],
        timeout_seconds=settings["fetch.timeout_seconds"],
    )


async def upload_url(request: Request) -> JSONResponse:
    """`POST /v1/files/uploads/url`: JSON `url`, fetched (safely) and re-hosted."""
    access = await authorize(request)
    body = await json_object(request, JSON_OVERHEAD_BYTES)
    order = _json_order(access, body)
    url = body.get("url")
    if not isinstance(url, str) or not url:
        raise InvalidRequest("missing_url", "Send the image's address in the JSON field 'url'.")
    eager = presets_named(body.get("variants"), "variants")
    async with upload_session(request, access) as session:
        spool = session.new_spool(require_image)
        fetched = await run_blocking(fetch_into, url, fetch_policy(access.settings), spool)
        filename = clean_filename(fetched.filename)
        upload = await store_spool(request, session, filename, order)
    await make_variants(request, access, upload, eager)
    return await _answer(request, access, upload)


def _not_found() -> Refusal:
    return NotFound("file_not_found", "No such file: it never existed, expired or was deleted.")


def _owned(access: Access, upload: Upload | None) -> Upload:
    mine = upload is not None and (
        access.principal.is_admin or upload.key_id == access.principal.key.id
    )
    live = upload is not None and (upload.expires_at is None or upload.expires_at > time.time())
    if upload is None or not mine or not live:
        raise _not_found()
    return upload


async def _find(request: Request, access: Access) -> Upload:
    file_id = request.path_params["file_id"]
    if not file_id.startswith(FILE_ID_PREFIX):
        raise _not_found()
    repo = services_of(request).repo
    found = await run_blocking(repo.get_upload, file_id.removeprefix(FILE_ID_PREFIX))
    return _owned(access, found)


async def get_file(request: Request) -> JSONResponse:
    access = await authorize(request)
    return await _answer(request, access, await _find(request, access))


async def file_content(request: Request) -> Response:
    """`GET /v1/files/{file_id}/content`: the image's bytes (the `openai` SDK's
    `files.content`), served as its public URL serves them."""
    access = await authorize(request)
    upload = await _find(request, access)
    return await serve_key(request, keys.parse(upload.storage_key))


async def delete_file(request: Request) -> JSONResponse:
    """The URL answers 404 at once; the bytes and the record go now or in the next sweep."""
    access = await authorize(request)
    upload = await _find(request, access)
    services = services_of(request)
    try:
        store = services.stores.get(upload.store, access.settings)
        await run_blocking(delete, upload, store, services.repo, time.time())
    except RepoUnavailable as exc:
        raise database_unavailable(exc, "nothing was deleted") from exc
    except StoreUnavailable as exc:
        raise storage_unavailable(exc, "nothing was deleted") from exc
    services.recent.forget(upload.id)
    services.variants.forget(upload.id)
    return JSONResponse({"id": FILE_ID_PREFIX + upload.id, "object": "file", "deleted": True})


def _page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE
    size = whole_number(raw)
    if size is None or not 1 <= size <= MAX_PAGE:
        raise InvalidRequest("invalid_limit", f"limit must be a whole number from 1 to {MAX_PAGE}.")
    return size


async def list_files(request: Request) -> JSONResponse:
    """Newest first; `after` is the last id of the previous page. Admins see every key's
    files unless they pass `key_id`."""
    access = await authorize(request)
    params = request.query_params
    limit = _page_size(params.get("limit"))
    if params.get("order", "desc") != "desc":
        raise InvalidRequest("invalid_order", "Only order=desc (newest first) is supported.")
    key_id: str | None = access.principal.key.id
    if access.principal.is_admin:
        key_id = params.get("key_id")
    before = None
    if after := params.get("after"):
        cursor = await _find_cursor(request, access, after)
        before = (cursor.created_at, cursor.id)
    created = (_epoch(params, "created_after"), _epoch(params, "created_before"))
    services = services_of(request)
    rows = await run_blocking(
        services.repo.list_uploads, key_id, before, limit + 1, time.time(), created
    )
    page = rows[:limit]
    made = await run_blocking(services.variants.ready_of_all, page)
    # The same for every file of the page: worked out once.
    warnings = services.url_warnings(access.settings, request)
    data = [described(request, access, u, made.get(u.id, {}), warnings) for u in page]
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(rows) > limit,
        }
    )


def _epoch(params: Any, name: str) -> float | None:
    raw = params.get(name)
    if raw is None:
        return None
    epoch = finite_number(raw)
    if epoch is None:
        raise InvalidRequest("invalid_date", f"{name} must be a Unix time in seconds.")
    return epoch


async def _find_cursor(request: Request, access: Access, after: str) -> Upload:
    repo = services_of(request).repo
    found = await run_blocking(repo.get_upload, after.removeprefix(FILE_ID_PREFIX))
    if found is None or not (access.principal.is_admin or found.key_id == access.principal.key.id):
        raise InvalidRequest("invalid_after", "after must be the id of a file from the last page.")
    return found
