"""`/metrics`: Prometheus counters added up over every worker of an instance."""

from __future__ import annotations

import re

import requests

from tests.conftest import Server, auth, unique_png
from tests.http.test_settings_api import eventually


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
