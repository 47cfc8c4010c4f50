"""Liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imghost.http.openapi import openapi_document
from imghost.http.services import services_of
from imghost.process.metrics_dir import MULTIPROC_ENV
from imghost.process.threads import run_blocking
from imghost.repo.base import RepoUnavailable
from imghost.store.base import StoreUnavailable


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


class DiskFull(Exception):
    """Less room on a disk this instance writes to than one upload may need."""


def check_disk(folders: set[Path], needed: int) -> None:
    for folder in sorted(folders):
        free = shutil.disk_usage(folder).free
        if free < needed:
            raise DiskFull(f"{free} bytes free in {folder}; one upload may need {needed}")


async def readyz(request: Request) -> JSONResponse:
    services = services_of(request)
    checks: dict[str, str] = {}

    def check_store() -> None:
        services.stores.active(services.settings.current()).ping()

    def check_disks() -> None:
        # Uploads are spooled here, and the local store writes under the data folder.
        needed = services.settings.current()["limits.max_upload_bytes"]
        check_disk({services.spool_dir, services.config.data_dir}, needed)

    checks_to_run = (
        ("database", services.repo.ping),
        ("store", check_store),
        ("disk", check_disks),
    )
    for name, check in checks_to_run:
        try:
            await run_blocking(check)
            checks[name] = "ok"
        except (RepoUnavailable, StoreUnavailable) as exc:
            checks[name] = f"unavailable: {exc}"
        except DiskFull as exc:
            checks[name] = f"full: {exc}"
    ready = all(state == "ok" for state in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document(str(request.base_url).rstrip("/")))


async def metrics(request: Request) -> Response:
    """Every worker's counters added up (each worker writes its own file in the instance's
    metrics folder), or this process's own when it runs alone."""
    services_of(request).requests.flush()
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
