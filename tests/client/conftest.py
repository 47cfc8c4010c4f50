"""One real server for the client's tests: a single worker (so a settings change holds at once),
URL ingest opened to a local image site, and a small upload limit for the 413."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator

import pytest

from imghost.limits.base import REQUEST_WINDOW
from tests.conftest import Server, jpeg_bytes
from tests.http.test_files_api import image_server
from tests.http.test_settings_api import put

UPLOAD_LIMIT = 1024 * 1024
SITE_PHOTO = jpeg_bytes(320, 200)


@pytest.fixture(scope="package")
def site() -> Iterator[str]:
    """A local web site answering SITE_PHOTO at every path, for URL ingest."""
    with image_server(SITE_PHOTO) as origin:
        yield origin


@pytest.fixture(scope="package")
def host(tmp_path_factory: pytest.TempPathFactory, site: str) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("client") / "data", workers=1).start()
    changes = {
        "fetch.allow_private": True,
        "fetch.ports": [int(site.rsplit(":", 1)[1])],
        "limits.max_upload_bytes": UPLOAD_LIMIT,
    }
    assert put(server, changes).status_code == 200
    yield server
    server.stop()


@pytest.fixture
def key(host: Server) -> str:
    """A key of the test's own, so lists and rate limits see only its uploads."""
    return host.new_key()[0]


def rate_spent(server: Server, key_id: str, frees_in: float) -> None:
    """Give the key a limit of 1 request per minute, spent by a request made 60 - `frees_in`
    seconds ago: the server then answers 429 with Retry-After `frees_in` (rounded up). Writing
    the old request straight into the counter table spares the test a minute's wait."""
    repo = server.repo()
    try:
        repo.update_key(key_id, rpm=1)
    finally:
        repo.close()
    with sqlite3.connect(server.data_dir / "imghost.db") as db:
        db.execute(
            "INSERT INTO usage (key_id, charge_id, kind, amount, at) VALUES (?, ?, ?, ?, ?)",
            (key_id, uuid.uuid4().hex, "request", 1, time.time() - REQUEST_WINDOW + frees_in),
        )
