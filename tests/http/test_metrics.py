"""`/metrics`: what every worker of an instance counted and timed, added up."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from prometheus_client import REGISTRY
from sqlalchemy import update

from imghost.repo.schema import uploads
from imghost.settings.runtime import with_defaults
from imghost.store.base import ObjectMissing
from imghost.store.registry import Stores
from imghost.store.s3 import S3Settings, S3Store
from tests.conftest import Server, auth, eventually, s3_changes, unique_png
from tests.http.test_limits_http import limited_key
from tests.http.test_settings_api import put
from tests.seaweed import SeaweedS3


def sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = (
        rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? ([0-9.e+]+)$"
        if labels
        else rf"^{re.escape(name)} ([0-9.e+]+)$"
    )
    found = re.search(pattern, text, re.MULTILINE)
    return float(found[1]) if found else 0.0


def test_metrics_count_across_workers(own_server: Server) -> None:
    server = own_server.start()
    key, _ = server.new_key()
    sizes = []
    urls = []
    for _ in range(12):
        data = unique_png()
        sizes.append(len(data))
        response = requests.post(
            server.url + "/api/upload", headers=auth(key), files={"file": data}
        )
        urls.append(response.json()["data"])
    for url in urls:
        assert requests.get(url).status_code == 200
    requests.post(server.url + "/api/upload", files={"file": unique_png()})

    def metrics() -> str:
        return requests.get(server.url + "/metrics").text

    def counted(text: str) -> bool:
        return (
            sample(text, "imghost_requests_total", route="/api/upload", status="200") == 12
            and sample(text, "imghost_requests_total", route="/uploads", status="200") == 12
            and sample(text, "imghost_requests_total", route="/api/upload", status="401") == 1
        )

    # Each request is counted just after its answer has gone out: wait for the last one.
    assert eventually(lambda: counted(metrics()))
    text = metrics()
    assert sample(text, "imghost_requests_total", route="/api/upload", status="200") == 12
    assert sample(text, "imghost_requests_total", route="/uploads", status="200") == 12
    assert sample(text, "imghost_rejections_total", code="missing_api_key") == 1
    assert sample(text, "imghost_uploaded_bytes_total") == sum(sizes)
    assert sample(text, "imghost_served_bytes_total") >= sum(sizes)
    assert "imghost_request_duration_seconds_bucket" in text


def metrics_of(server: Server) -> str:
    return requests.get(server.url + "/metrics").text


def store_calls(text: str, backend: str, operation: str) -> float:
    name = "imghost_store_operation_duration_seconds_count"
    return sample(text, name, backend=backend, operation=operation)


def statements(text: str, statement: str) -> float:
    name = "imghost_db_query_duration_seconds_count"
    return sample(text, name, dialect="sqlite", statement=statement)


def refusals(server: Server, kind: str) -> float:
    return sample(metrics_of(server), "imghost_limit_refusals_total", kind=kind)


def v1_upload(server: Server, key: str, data: bytes) -> requests.Response:
    return requests.post(server.url + "/v1/files/uploads", headers=auth(key), files={"file": data})


def test_store_and_database_calls_are_timed(own_server: Server) -> None:
    server = own_server.start()
    key, _ = server.new_key()
    before = metrics_of(server)
    uploaded = v1_upload(server, key, unique_png()).json()
    assert requests.get(uploaded["url"]).status_code == 200
    deleted = requests.delete(f"{server.url}/v1/files/{uploaded['id']}", headers=auth(key))
    assert deleted.status_code == 200
    assert requests.get(server.url + "/readyz").status_code == 200
    # Store calls and statements are timed before their request is answered: no waiting.
    after = metrics_of(server)

    for operation in ("put", "delete", "ping"):
        assert store_calls(after, "local", operation) - store_calls(before, "local", operation) == 1
    for statement in ("insert", "select", "update", "delete"):
        assert statements(after, statement) > statements(before, statement)
    assert 'imghost_store_operation_duration_seconds_bucket{backend="local"' in after
    assert 'imghost_db_query_duration_seconds_bucket{dialect="sqlite"' in after
    assert sample(after, "imghost_store_errors_total", backend="local", operation="put") == 0


def test_proxied_reads_are_timed_and_failures_counted(
    own_server: Server, seaweed: SeaweedS3
) -> None:
    """A local image is sent by the server from its path; a proxied one is read from the store."""
    own_server.workers = 1  # the storage settings apply to the very next request
    server = own_server.start()
    changes = s3_changes(seaweed)
    assert put(server, changes).status_code == 200
    key, _ = server.new_key()
    uploaded = v1_upload(server, key, unique_png()).json()
    # Ranges, since a whole image read once is sent from the disk cache afterwards.
    first_bytes = {"Range": "bytes=0-99"}
    assert requests.get(uploaded["url"], headers=first_bytes).status_code == 206
    text = metrics_of(server)
    assert store_calls(text, "s3", "check") == 1
    assert store_calls(text, "s3", "put") == 1
    assert store_calls(text, "s3", "get") == 1
    assert sample(text, "imghost_store_errors_total", backend="s3", operation="get") == 0

    prefix = "storage.s3."
    s3 = {name.removeprefix(prefix): v for name, v in changes.items() if name.startswith(prefix)}
    # The bytes go missing behind imghost's back.
    S3Store(S3Settings(**s3)).delete(urlsplit(uploaded["url"]).path.lstrip("/"))
    assert requests.get(uploaded["url"], headers=first_bytes).status_code == 404
    text = metrics_of(server)
    assert sample(text, "imghost_store_errors_total", backend="s3", operation="get") >= 1


def test_limit_refusals_are_counted_by_kind(own_server: Server) -> None:
    server = own_server.start()
    one_a_minute = limited_key(server, rpm=1, quota_mb=0)
    assert requests.get(server.url + "/v1/files", headers=auth(one_a_minute)).status_code == 200
    before = refusals(server, "rate_limited")
    refused = requests.get(server.url + "/v1/files", headers=auth(one_a_minute))
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refusals(server, "rate_limited") - before == 1

    data = unique_png()
    too_small = limited_key(server, rpm=0, quota_mb=(len(data) - 1) / 1e6)
    before = refusals(server, "quota_exceeded")
    refused = v1_upload(server, too_small, data)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert refusals(server, "quota_exceeded") - before == 1
    assert refusals(server, "rate_limited") == 1


def test_sweeper_rounds_and_deletions(own_server: Server) -> None:
    server = own_server.start()
    key, _ = server.new_key()
    upload_id = v1_upload(server, key, unique_png()).json()["id"].removeprefix("file-")
    repo = server.repo()
    with repo.engine.begin() as conn:
        conn.execute(
            update(uploads).where(uploads.c.id == upload_id).values(expires_at=time.time() - 1)
        )
    repo.close()
    server.stop()
    # `imghost serve` sweeps once before its workers start; the restarted instance counts it.
    text = metrics_of(server.start())
    assert sample(text, "imghost_sweeps_total") >= 1
    assert sample(text, "imghost_swept_uploads_total") == 1


def test_a_store_is_wrapped_once_and_answers_as_itself(tmp_path: Path) -> None:
    stores = Stores(tmp_path)
    settings = with_defaults({})
    store = stores.active(settings)
    # The image GET path relies on getting the very same object back without rebuilding it.
    assert stores.active(settings) is store
    assert store.name == "local"
    source = tmp_path / "finished.png"
    data = unique_png()
    source.write_bytes(data)
    key = "uploads/2026/11/abcdefghijklmnop.png"
    assert store.put_file(key, source, "image/png") == key
    assert store.exists(key)
    assert b"".join(store.open_range(key, 0, len(data))) == data
    assert b"".join(store.open_range(key, 2, 5)) == data[2:5]
    store.delete(key)
    assert not store.exists(key)

    def errors() -> float:
        labels = {"backend": "local", "operation": "get"}
        return REGISTRY.get_sample_value("imghost_store_errors_total", labels) or 0.0

    before = errors()
    with pytest.raises(ObjectMissing):
        next(store.open_range(key, 0, 1))
    assert errors() - before == 1
