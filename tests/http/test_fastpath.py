"""The image fast path answers its own failures once, exactly as the full app answers them.

Each request goes to the app twice, the second time with the fast path in front: the first
time through the full app alone (Starlette's router, middleware and exception handlers), over
the same services. The two answers must be equal (status, headers, bytes: the request id is
sent, so it is the same), and each must cost the same work.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event

from imghost.http.requestlog import RequestLog
from imghost.repo.base import Upload
from imghost.store import keys
from imghost.store.base import StoreUnavailable
from tests.conftest import auth, png_bytes
from tests.inprocess import App

pytestmark = pytest.mark.anyio

REQUEST_ID = "fastpath-test-0001"
UNKNOWN_ID = "AAAAAAAAAAAAAAAAAAAAAA"
Answer = tuple[int, list[tuple[str, str]], bytes]


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with App(tmp_path / "data") as instance:
        yield instance


async def full_answer(app: App, method: str, path: str) -> Answer:
    """The answer of the app without its fast path."""
    log = app.asgi.app
    full = RequestLog(app.starlette, log.route_of, log.records)
    # Starlette passes a bug's exception on to the server once it has answered it.
    return await _answer(httpx.ASGITransport(app=full, raise_app_exceptions=False), method, path)


async def fast_answer(app: App, method: str, path: str) -> Answer:
    """The answer of the app as served: nothing may escape it."""
    return await _answer(httpx.ASGITransport(app=app.asgi), method, path)


async def _answer(transport: httpx.ASGITransport, method: str, path: str) -> Answer:
    async with httpx.AsyncClient(transport=transport, base_url="http://imghost.test") as client:
        response = await client.request(method, path, headers={"X-Request-Id": REQUEST_ID})
    return response.status_code, response.headers.multi_items(), response.content


def json_of(answer: Answer) -> Any:
    return httpx.Response(answer[0], content=answer[2]).json()


@pytest.fixture
def upload_lookups(app: App) -> Iterator[list[str]]:
    """Every statement that reads upload records, as the database is sent it."""
    seen: list[str] = []

    def executing(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM uploads" in statement:
            seen.append(statement)

    engine = app.services.repo.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", executing)
    yield seen
    event.remove(engine, "before_cursor_execute", executing)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    ("path", "lookups"),
    [
        (f"/uploads/2026/11/{UNKNOWN_ID}.png", 1),
        # Keys imghost never makes: refused before any lookup.
        (f"/uploads/2026/13/{UNKNOWN_ID}.png", 0),
        (f"/uploads/2026/11/{UNKNOWN_ID}.svg", 0),
    ],
)
async def test_an_unknown_image_is_looked_up_once(
    app: App, upload_lookups: list[str], method: str, path: str, lookups: int
) -> None:
    full = await full_answer(app, method, path)
    assert len(upload_lookups) == lookups
    upload_lookups.clear()
    fast = await fast_answer(app, method, path)
    assert len(upload_lookups) == lookups
    assert fast == full
    assert fast[0] == 404
    assert ("content-type", "application/json") in fast[1]
    if method == "GET":
        assert json_of(fast) == {
            "success": False,
            "message": "No image at this URL: it never existed or was deleted.",
            "data": None,
            "code": "not_found",
            "request_id": REQUEST_ID,
        }


@dataclass
class SlowDownS3:
    """An overloaded S3 endpoint: every request is answered 503 SlowDown, and counted."""

    endpoint: str
    requests: int = 0


@pytest.fixture
def failing_s3() -> Iterator[SlowDownS3]:
    body = b"<Error><Code>SlowDown</Code><Message>Please reduce your rate.</Message></Error>"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            s3.requests += 1
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    s3 = SlowDownS3(f"http://127.0.0.1:{server.server_port}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield s3
    server.shutdown()
    server.server_close()


def image_in_s3(app: App, s3: SlowDownS3) -> str:
    """The path of an image recorded in an `s3` store at `s3`, read through imghost (proxy)."""
    app.services.repo.put_settings(
        {
            "storage.s3.endpoint_url": s3.endpoint,
            "storage.s3.bucket": "images",
            "storage.s3.access_key_id": "id",
            "storage.s3.secret_access_key": "secret",
        }
    )
    app.services.settings.invalidate()
    now = time.time()
    upload_id = "BBBBBBBBBBBBBBBBBBBBBB"
    key = keys.make(upload_id, "png", now)
    record = Upload(upload_id, "key_1", "s3", key, "image/png", 68, 1, 1, 1, "ab" * 32, "a", now)
    app.services.repo.begin_upload(record)
    app.services.repo.commit_upload(upload_id, None)
    return f"/{key}"


def failed_s3_reads() -> float:
    labels = {"backend": "s3", "operation": "get"}
    return REGISTRY.get_sample_value("imghost_store_errors_total", labels) or 0.0


def logged(caplog: pytest.LogCaptureFixture, start: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage().startswith(start)]


async def test_a_failing_store_is_asked_once(
    app: App, failing_s3: SlowDownS3, caplog: pytest.LogCaptureFixture
) -> None:
    path = image_in_s3(app, failing_s3)
    caplog.set_level(logging.WARNING, logger="imghost")
    full = await full_answer(app, "GET", path)
    # One read of the store, however many requests its client retries it with.
    one_read = failing_s3.requests
    assert one_read > 0
    failed_before = failed_s3_reads()
    caplog.clear()
    fast = await fast_answer(app, "GET", path)
    assert failing_s3.requests == 2 * one_read
    assert failed_s3_reads() == failed_before + 1
    assert len(logged(caplog, "image read failed (storage_unavailable)")) == 1
    assert fast == full
    assert fast[0] == 503
    assert ("retry-after", "5") in fast[1]
    assert json_of(fast)["code"] == "storage_unavailable"


async def uploaded(app: App) -> str:
    async with app.client() as client:
        created = await client.post(
            "/api/upload", headers=auth(app.key), files={"file": png_bytes()}
        )
    return httpx.URL(created.json()["data"]).path


def local_paths_fail(app: App, monkeypatch: pytest.MonkeyPatch, failure: Exception) -> list[str]:
    """Make the local store raise `failure` when asked for a file; returns what it was asked."""
    store = app.services.stores.get("local", app.services.settings.current())
    asked: list[str] = []

    def local_path(location: str) -> Path:
        asked.append(location)
        raise failure

    monkeypatch.setattr(store, "local_path", local_path)
    return asked


@pytest.mark.parametrize(
    ("failure", "log_start", "status", "code"),
    [
        pytest.param(
            StoreUnavailable("disk gone"),
            "StoreUnavailable on GET",
            503,
            "storage_unavailable",
            id="backend-failure",
        ),
        pytest.param(
            RuntimeError("a bug"), "unexpected error on GET", 500, "internal_error", id="bug"
        ),
    ],
)
async def test_an_exception_out_of_the_handler_is_answered_and_logged_once(
    app: App,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: Exception,
    log_start: str,
    status: int,
    code: str,
) -> None:
    path = await uploaded(app)
    asked = local_paths_fail(app, monkeypatch, failure)
    caplog.set_level(logging.WARNING, logger="imghost")
    full = await full_answer(app, "GET", path)
    asked.clear()
    caplog.clear()
    fast = await fast_answer(app, "GET", path)
    assert asked == [path.removeprefix("/")]
    records = logged(caplog, log_start)
    assert len(records) == 1
    if status == 500:
        assert records[0].exc_info is not None
        assert records[0].exc_info[1] is failure
    assert fast == full
    assert fast[0] == status
    assert json_of(fast)["code"] == code
    assert (("retry-after", "5") in fast[1]) is (status == 503)
