"""Prometheus metrics, shared by every worker of an instance.

`imghost serve` points PROMETHEUS_MULTIPROC_DIR at a folder of its own before this module is
first imported (prometheus_client decides how to store values at import), so each worker
writes its own file and `/metrics` adds them up.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
LIMIT_REFUSALS = Counter(
    "imghost_limit_refusals_total", "Requests refused by a key's rate limit or quota.", ["kind"]
)
STORE_LATENCY = Histogram(
    "imghost_store_operation_duration_seconds",
    "Time a storage backend took to answer a call (a read: until its first chunk).",
    ["backend", "operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
STORE_ERRORS = Counter(
    "imghost_store_errors_total", "Storage backend calls that raised.", ["backend", "operation"]
)
DB_LATENCY = Histogram(
    "imghost_db_query_duration_seconds",
    "Time the database took to run a statement.",
    ["dialect", "statement"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30),
)
VARIANTS_MADE = Counter(
    "imghost_variants_made_total", "Model-ready variants made, by preset.", ["preset"]
)
