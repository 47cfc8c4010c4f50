"""create_app(): open the repo, the store and the settings; mount the routes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

from imghost import sweeper
from imghost.auth import KeyCache
from imghost.errors import Refusal
from imghost.http import files, keys, web
from imghost.http.errors import BACKEND_FAILURES, HttpRefusal, error_response, failure_response
from imghost.http.fastpath import ImageFastPath
from imghost.http.hotimages import HotImages
from imghost.http.images import serve_image
from imghost.http.integrations import integration
from imghost.http.ops import healthz, metrics, openapi, readyz
from imghost.http.requestlog import RequestLog, RequestRecords, RouteLabels
from imghost.http.routes import route
from imghost.http.services import Services
from imghost.http.settings import get_settings, put_settings
from imghost.http.upload import api_upload
from imghost.limits import make_limiter
from imghost.process.memory import tune_allocator
from imghost.process.metrics_dir import MULTIPROC_ENV, reserve_files
from imghost.process.spooldir import SpoolDir, sweep_dead
from imghost.recent import RecentUploads
from imghost.repo.sql import SqlRepo
from imghost.settings.runtime import SettingsCache
from imghost.settings.startup import Config, load_config
from imghost.store.registry import Stores
from imghost.variants import Variants

# Set by `imghost serve` for its worker processes: the instance's claimed spool folder.
SPOOL_DIR_ENV = "IMGHOST_INSTANCE_SPOOL_DIR"

ROUTES = [
    route("/api/upload", POST=api_upload),
    route("/uploads/{year}/{month}/{name}", GET=serve_image),
    route("/api/settings", GET=get_settings, PUT=put_settings),
    route("/v1/files/uploads", POST=files.upload_multipart),
    route("/v1/files/uploads/base64", POST=files.upload_base64),
    route("/v1/files/uploads/url", POST=files.upload_url),
    route("/v1/files", GET=files.list_files, POST=files.create_file),
    route("/v1/files/{file_id}", GET=files.get_file, DELETE=files.delete_file),
    route("/v1/files/{file_id}/content", GET=files.file_content),
    route("/api/keys", GET=keys.list_keys, POST=keys.create_key),
    route("/api/keys/{key_id}", PATCH=keys.update_key, DELETE=keys.delete_key),
    route("/api/stats", GET=keys.stats),
    route("/api/integrations/{tool}", GET=integration),
    route("/", GET=web.upload_page),
    route("/admin", GET=web.admin_page),
    Mount("/static", app=web.static_files, name="static"),
    route("/healthz", GET=healthz),
    route("/metrics", GET=metrics),
    route("/readyz", GET=readyz),
    route("/openapi.json", GET=openapi),
]


# Async: Starlette runs a plain function handler in a worker thread.
async def _failure(request: Request, exc: Exception) -> Response:
    return failure_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "No such route.", 405: "This route does not accept that method."}
    message = messages.get(exc.status_code, str(exc.detail))
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(request, HttpRefusal(exc.status_code, code, message, exc.headers))


def create_app(config: Config | None = None, stores: Stores | None = None) -> ImageFastPath:
    """The ASGI app. With no config, read it from `IMGHOST_*` (a `serve` worker); with no
    stores, the ones the settings select (in-process tests give their own)."""
    config = config or load_config()
    tune_allocator()
    if metrics_folder := os.environ.get(MULTIPROC_ENV):
        reserve_files(Path(metrics_folder))
    repo = SqlRepo.connect(config.database_url)
    # Each worker spools into a folder of its own inside its instance's: a worker that dies
    # (SIGKILL, the OOM killer) leaves its half-received uploads behind, and the worker that
    # replaces it removes them on start.
    spool_root = Path(os.environ.get(SPOOL_DIR_ENV) or config.tmp_dir)
    sweep_dead(spool_root)
    own_spool = SpoolDir.claim(spool_root)
    spool_path = own_spool.path
    recent = RecentUploads()
    services = Services(
        config=config,
        repo=repo,
        keys=KeyCache(repo),
        stores=stores or Stores(config.data_dir, config.cache_mb * 2**20),
        limiter=make_limiter(repo.engine, config.redis_url),
        settings=SettingsCache(repo),
        spool_dir=spool_path,
        recent=recent,
        variants=Variants(repo, spool_path),
        requests=RequestRecords(),
        hot=HotImages(recent),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sweeping = asyncio.create_task(
            sweeper.run_forever(repo, services.stores, services.settings.current)
        )
        try:
            yield
        finally:
            sweeping.cancel()
            services.limiter.close()
            repo.close()
            own_spool.release()
            services.requests.flush()

    app = Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        exception_handlers={
            Refusal: _failure,
            HTTPException: _http_error,
            **dict.fromkeys(BACKEND_FAILURES, _failure),
            Exception: _failure,
        },
    )
    # An address with a slash added is not the resource: 404, not a redirect to it.
    app.router.redirect_slashes = False
    app.state.services = services
    return ImageFastPath(RequestLog(app, RouteLabels(ROUTES), services.requests), services)
