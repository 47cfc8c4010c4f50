"""Per-key quotas, rate limits and IP allow-lists through a real server (DB or Redis counters)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.conftest import Server, auth, png_bytes

REDIS_URL = os.environ.get("IMGHOST_TEST_REDIS_URL", "")


@pytest.fixture(params=["database", "redis"])
def counted(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A 2-worker server counting in its database, or in Redis."""
    env = {}
    if request.param == "redis":
        if not REDIS_URL:
            pytest.skip("Redis counter tests need IMGHOST_TEST_REDIS_URL (set by .ci/run)")
        env = {"IMGHOST_REDIS_URL": REDIS_URL}
    server = Server(tmp_path / "data", env=env).start()
    yield server
    server.stop()


def distinct_images(count: int) -> list[bytes]:
    """Same size, different bytes: identical uploads would be deduplicated, not charged.
    Uncompressed PNGs are as long as their pixels, whatever the colour."""
    images = []
    for n in range(count):
        buffer = io.BytesIO()
        Image.new("RGB", (40, 40), (n, 255 - n, 7)).save(buffer, format="PNG", compress_level=0)
        images.append(buffer.getvalue())
    return images


def limited_key(server: Server, **limits: object) -> str:
    args = ["keys", "create", "--name", "limited"]
    for name, value in limits.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    return server.cli(*args).strip().splitlines()[-1]


def upload(server: Server, key: str, data: bytes) -> requests.Response:
    return requests.post(
        server.url + "/api/upload", headers=auth(key), files={"file": data}, timeout=60
    )


def test_quota_is_exact_under_concurrency(counted: Server) -> None:
    images = distinct_images(32)
    size = len(images[0])
    assert all(len(image) == size for image in images)
    key = limited_key(counted, quota_mb=size * 10 / 1e6, rpm=0)
    with ThreadPoolExecutor(32) as pool:
        responses = list(pool.map(lambda data: upload(counted, key, data), images))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 10
    assert statuses.count(429) == 22
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["code"] == "quota_exceeded"
    assert int(refused.headers["retry-after"]) >= 1
    assert "24" in refused.json()["message"]


def test_duplicates_are_not_charged_twice(counted: Server) -> None:
    data = png_bytes(40, 40)
    key = limited_key(counted, quota_mb=len(data) * 1.5 / 1e6, rpm=0)
    assert upload(counted, key, data).status_code == 200
    assert upload(counted, key, data).status_code == 200
    assert upload(counted, key, png_bytes(40, 40, (1, 2, 3))).status_code == 429


def test_requests_per_minute(counted: Server) -> None:
    key = limited_key(counted, rpm=5, quota_mb=0)
    images = distinct_images(8)
    statuses = [upload(counted, key, data).status_code for data in images]
    assert statuses[:5] == [200] * 5
    assert statuses[5:] == [429] * 3
    refused = upload(counted, key, images[0])
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_ip_allow_list(server: Server) -> None:
    outside = limited_key(server, allow_ip="10.0.0.0/8", rpm=0, quota_mb=0)
    refused = upload(server, outside, png_bytes())
    assert refused.status_code == 403
    assert refused.json()["code"] == "ip_not_allowed"
    inside = limited_key(server, allow_ip="127.0.0.0/8", rpm=0, quota_mb=0)
    assert upload(server, inside, png_bytes()).status_code == 200


def test_admin_keys_are_unlimited_by_default(server: Server) -> None:
    responses = [upload(server, server.admin_key, data) for data in distinct_images(3)]
    assert [r.status_code for r in responses] == [200] * 3


def test_redis_down_answers_503_and_saves_nothing(tmp_path: Path) -> None:
    from tests.conftest import free_port

    closed = f"redis://127.0.0.1:{free_port()}/0"
    server = Server(tmp_path / "data", workers=1, env={"IMGHOST_REDIS_URL": closed}).start()
    try:
        key = limited_key(server, rpm=10, quota_mb=1)
        refused = upload(server, key, png_bytes())
        assert refused.status_code == 503
        assert refused.json()["code"] == "limits_unavailable"
        assert refused.headers["retry-after"]
        unlimited = upload(server, server.admin_key, png_bytes())
        assert unlimited.status_code == 200
        repo = server.repo()
        assert len(repo.list_uploads(None, None, 10, now=0)) == 1
        repo.close()
    finally:
        server.stop()
