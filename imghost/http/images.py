"""`GET`/`HEAD /uploads/{yyyy}/{mm}/{id}.{ext}` and its variants' `…/{id}.{preset}.{ext}`: the
built-in image host.

A URL's bytes never change, so responses are cacheable forever and validated by a strong
ETag (the content's BLAKE3). Every response is locked down for browsers: the declared type
only (nosniff), no active content (CSP sandbox), readable from any origin (CORS).
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import replace
from email.utils import formatdate
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from imghost.errors import NotFound, Refusal, image_unavailable
from imghost.http.hotimages import HotImage
from imghost.http.ranges import PathSend, local_file, proxied, raw_file_headers, sends_whole_path
from imghost.http.services import services_of
from imghost.process.threads import run_blocking
from imghost.repo.base import RepoUnavailable, Upload
from imghost.store import keys
from imghost.store.base import Store, StoreUnavailable
from imghost.variants import planned
from imghost.vision.presets import PRESETS

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
}


def not_found() -> Refusal:
    return NotFound("not_found", "No image at this URL: it never existed or was deleted.")


def image_headers(upload: Upload) -> dict[str, str]:
    return {
        "Cache-Control": "public, max-age=31536000, immutable",
        "ETag": f'"{upload.digest}"',
        "Last-Modified": formatdate(upload.created_at, usegmt=True),
        **SECURITY_HEADERS,
    }


def etag_matches(if_none_match: str, etag: str) -> bool:
    tags = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    return any(tag in ("*", etag) for tag in tags)


async def find_upload(request: Request, key: keys.ImageKey) -> Upload:
    services = services_of(request)
    upload = services.recent.get(key.upload_id)
    if upload is None:
        try:
            upload = await run_blocking(services.repo.get_upload, key.upload_id)
        except RepoUnavailable as exc:
            raise image_unavailable("database_unavailable", exc) from exc
        if upload is not None:
            services.recent.put(upload)
    # The same id under another month or extension is not this image's URL.
    if upload is None or keys.parse(upload.storage_key).original != key.original:
        raise not_found()
    if key.preset is None and upload.storage_key != str(key):
        raise not_found()
    if upload.expires_at is not None and upload.expires_at <= time.time():
        raise not_found()
    return upload


async def serve_image(request: Request) -> Response:
    """The route's endpoint: the image whose key is the request's path."""
    params = request.path_params
    try:
        key = keys.parse(f"uploads/{params['year']}/{params['month']}/{params['name']}")
    except keys.InvalidKey:
        raise not_found() from None
    return await serve_key(request, key)


async def serve_key(request: Request, key: keys.ImageKey) -> Response:
    found = upload = await find_upload(request, key)
    services = services_of(request)
    try:
        settings = services.settings.fresh()
        if settings is None:
            settings = await run_blocking(services.settings.current)
        store = services.stores.get(upload.store, settings)
    except (StoreUnavailable, RepoUnavailable) as exc:
        raise image_unavailable("storage_unavailable", exc) from exc
    if key.preset is not None:
        upload = await _variant(request, upload, key, store)
    if etag_matches(request.headers.get("if-none-match", ""), f'"{upload.digest}"'):
        return Response(status_code=304, headers=image_headers(upload))
    # Computed locally by every backend (a presigned URL is a signature, not a request).
    # Variants are never redirected: they are for providers' fetchers, and Runway's refuses
    # redirects.
    redirect = None if key.preset else store.redirect_url(upload.where)
    if redirect is not None:
        return RedirectResponse(redirect, status_code=302, headers=_REDIRECT_HEADERS)
    path = store.local_path(upload.where)
    if path is not None:
        try:
            # Stat here, not in a worker thread inside FileResponse: one syscall, no thread hop.
            response = _local_file(request, upload, path, os.stat(path))
        except FileNotFoundError:
            # Deleted while its record was still remembered, or lost: gone either way; unless
            # the path was a cached copy, just dropped for room, and the store still has it.
            if store.local_path(upload.where) is not None:
                raise not_found() from None
        else:
            if isinstance(response, PathSend):
                services.hot.remember(request.scope["path"], HotImage(found, settings, response))
            return response
    return await proxied(request, store, upload, image_headers(upload))


async def _variant(request: Request, upload: Upload, key: keys.ImageKey, store: Store) -> Upload:
    """The variant `key` names, as the image to serve in the upload's place; made if need be."""
    assert key.preset is not None
    variants = services_of(request).variants
    # A variant this process has served before costs no thread hop, as a remembered upload.
    variant = variants.remembered(upload, key.preset)
    if variant is None:
        if key.preset not in PRESETS or planned(upload, key.preset).storage_key != str(key):
            raise not_found()
        try:
            variant = await run_blocking(variants.get, upload, key.preset, store)
        except (StoreUnavailable, RepoUnavailable) as exc:
            raise image_unavailable("storage_unavailable", exc) from exc
    if variant.storage_key != str(key):
        raise not_found()
    return replace(
        upload,
        storage_key=variant.storage_key,
        location=variant.location,
        content_type=variant.content_type,
        size=variant.size,
        width=variant.width,
        height=variant.height,
        digest=variant.digest,
    )


def _local_file(request: Request, upload: Upload, path: Path, stat: os.stat_result) -> Response:
    if sends_whole_path(request):
        return PathSend(path, stat.st_size, _whole_file_headers(upload, stat.st_size))
    return local_file(request, upload, path, stat, image_headers(upload))


@functools.lru_cache(maxsize=4096)
def _whole_file_headers(upload: Upload, size: int) -> list[tuple[bytes, bytes]]:
    """Made once per hot image: formatting its date alone costs a tenth of the request."""
    return raw_file_headers(image_headers(upload), upload.content_type, size)


# A presigned URL expires, and a public base URL can be changed: keep redirects short-lived.
_REDIRECT_HEADERS = {"Cache-Control": "public, max-age=300", **SECURITY_HEADERS}
