"""Prometheus metrics, shared by every worker of an instance.

`imghost serve` points PROMETHEUS_MULTIPROC_DIR at a folder of its own before this module is
first imported (prometheus_client decides how to store values at import), so each worker
writes its own file and `/metrics` adds them up.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response

from imghost.metrics_dir import MULTIPROC_ENV

REQUESTS = Counter("imghost_requests_total", "Requests answered.", ["route", "status"])
LATENCY = Histogram(
    "imghost_request_duration_seconds",
    "Time to answer a request.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UPLOADED_BYTES = Counter("imghost_uploaded_bytes_total", "Bytes of images stored.")
SERVED_BYTES = Counter("imghost_served_bytes_total", "Bytes of images sent.")
REJECTIONS = Counter("imghost_rejections_total", "Refused requests, by error code.", ["code"])
SWEEPS = Counter("imghost_sweeps_total", "Sweeper rounds run.")
SWEPT = Counter("imghost_swept_uploads_total", "Uploads the sweeper deleted.")

_ROUTES = (
    "/api/upload", "/api/settings", "/api/keys", "/api/stats", "/v1/files/uploads/base64",
    "/v1/files/uploads/url", "/v1/files/uploads", "/v1/files", "/healthz", "/readyz",
    "/metrics", "/openapi.json", "/admin", "/static",
)  # fmt: skip


def route_of(path: str) -> str:
    """A bounded label for a path: ids and file names never become label values."""
    if path.startswith("/uploads/"):
        return "/uploads"
    if path == "/":
        return "/"
    return next((route for route in _ROUTES if path.startswith(route)), "other")


async def metrics(request: Request) -> Response:
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
