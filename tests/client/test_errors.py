"""Every way `Client` fails, against a real server: one `ImghostError` with the server's status,
code, message and request id, and retries only where the server said when (Retry-After) and
the request is safe to repeat."""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import requests

from imghost.client import Client, ImghostError, RetryPolicy
from imghost.client.errors import error_of
from imghost.repo.writes import BUSY_SECONDS
from tests.cli.test_uploader import noise_png
from tests.client.conftest import UPLOAD_LIMIT, rate_spent
from tests.conftest import Server, auth, eventually, free_port, unique_png

# The Retry-After of imghost.errors' 503s (`Unavailable`).
UNAVAILABLE_RETRY_AFTER = 5


def uploads_of(host: Server, key_id: str) -> list[str]:
    """The key's file ids, asked with the admin key (the key itself may be rate-limited)."""
    with Client(host.url, host.admin_key) as admin:
        return [file.id for file in admin.list() if file.raw["key_id"] == key_id]


def test_an_unknown_key_is_a_401_with_the_servers_message_and_request_id(host: Server) -> None:
    with Client(host.url, "sk-not-a-key") as imghost, pytest.raises(ImghostError) as caught:
        imghost.upload(unique_png())
    error = caught.value
    assert (error.status, error.code) == (401, "invalid_api_key")
    assert error.message == "This API key is not known. Check it for typos."
    assert str(error) == f"{error.message} (401 invalid_api_key)"
    # The id the server logged this request under, so a user can quote it to an operator.
    assert error.request_id
    assert eventually(lambda: str(error.request_id) in host.log())


def test_both_envelopes_are_read(host: Server) -> None:
    for route in ("/api/upload", "/v1/files/uploads"):
        response = httpx.post(
            host.url + route, headers=auth("sk-nope"), files={"file": ("a.png", unique_png())}
        )
        error = error_of(response)
        assert (error.status, error.code) == (401, "invalid_api_key"), route
        assert error.message == "This API key is not known. Check it for typos."
        assert error.request_id == response.headers["X-Request-Id"]


def test_not_found_on_get_and_delete(host: Server, key: str) -> None:
    with Client(host.url, key) as imghost:
        for call in (imghost.get, imghost.delete):
            with pytest.raises(ImghostError) as caught:
                call("file-doesnotexist")
            assert (caught.value.status, caught.value.code) == (404, "file_not_found")
            assert caught.value.request_id
        # An id is quoted into the path: it cannot reach another route.
        with pytest.raises(ImghostError) as odd:
            imghost.get("../files?limit=1")
        assert odd.value.status == 404


def test_too_large_and_not_an_image(host: Server, key: str) -> None:
    big = noise_png(800, 600)
    assert len(big) > UPLOAD_LIMIT
    # A client of its own: the server stops reading at the limit and drops the connection
    # without saying so (no `Connection: close`), so a request sent on it next may find it gone.
    with Client(host.url, key) as imghost, pytest.raises(ImghostError) as large:
        imghost.upload(big)
    assert (large.value.status, large.value.code) == (413, "file_too_large")
    with Client(host.url, key) as imghost:
        with pytest.raises(ImghostError) as text:
            imghost.upload(b"just some text, not an image\n" * 8, filename="notes.txt")
        assert (text.value.status, text.value.code) == (415, "unsupported_type")
        assert "images are accepted" in text.value.message
        with pytest.raises(ImghostError) as preset:
            imghost.upload(unique_png(), for_="gpt-9")
        assert (preset.value.status, preset.value.code) == (400, "invalid_preset")
        assert list(imghost.list()) == []  # nothing was saved


def test_a_429_is_retried_after_its_retry_after(host: Server) -> None:
    key, key_id = host.new_key()
    rate_spent(host, key_id, frees_in=2)
    started = time.monotonic()
    with Client(host.url, key) as imghost:
        file = imghost.upload(unique_png())
        waited = time.monotonic() - started
        assert 1 <= waited < 10  # slept the server's Retry-After (2 s, less the time to ask)
    assert uploads_of(host, key_id) == [file.id]


def test_a_retry_after_longer_than_max_wait_is_raised_at_once(host: Server) -> None:
    key, key_id = host.new_key()
    rate_spent(host, key_id, frees_in=50)
    started = time.monotonic()
    with Client(host.url, key, retry=RetryPolicy(max_wait=10)) as imghost:
        with pytest.raises(ImghostError) as caught:
            imghost.upload(unique_png())
        assert time.monotonic() - started < 5
    error = caught.value
    assert (error.status, error.code) == (429, "rate_limited")
    assert error.retry_after is not None
    assert 45 <= error.retry_after <= 50
    assert "1 request per minute" in error.message


def test_attempts_bound_the_retries(host: Server) -> None:
    key, key_id = host.new_key()
    rate_spent(host, key_id, frees_in=3)
    started = time.monotonic()
    policy = RetryPolicy(attempts=1)
    with Client(host.url, key, retry=policy) as imghost, pytest.raises(ImghostError) as caught:
        imghost.get("file-whatever")
    assert caught.value.status == 429
    assert time.monotonic() - started < 2  # no retry, no sleep


class OneWayStream(io.BytesIO):
    """A binary stream that cannot go back, like a pipe: an upload of it cannot be resent."""

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = 0) -> int:
        raise io.UnsupportedOperation("seek")

    def tell(self) -> int:
        raise io.UnsupportedOperation("tell")


def test_an_upload_that_cannot_be_resent_is_not_retried(host: Server) -> None:
    key, key_id = host.new_key()
    rate_spent(host, key_id, frees_in=3)
    started = time.monotonic()
    with Client(host.url, key) as imghost, pytest.raises(ImghostError) as caught:
        imghost.upload(OneWayStream(unique_png()), filename="pipe.png")
    assert caught.value.status == 429
    assert time.monotonic() - started < 2


def test_other_4xx_are_never_retried(host: Server) -> None:
    """A 4xx but 429 is an answer, not a busy server: raised at once even with a big policy."""
    started = time.monotonic()
    policy = RetryPolicy(attempts=10)
    with Client(host.url, "sk-nope", retry=policy) as imghost, pytest.raises(ImghostError):
        imghost.get("file-x")
    assert time.monotonic() - started < 2


@contextmanager
def database_locked_for(host: Server, seconds: float) -> Iterator[None]:
    """Another process's exclusive transaction on the SQLite database, held `seconds` from the
    moment the block starts (in a thread, so the block can go on meanwhile)."""
    locked = threading.Event()

    def hold() -> None:
        holder = sqlite3.connect(host.data_dir / "imghost.db", isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            locked.set()
            time.sleep(seconds)
            holder.execute("ROLLBACK")
        finally:
            holder.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(10)
    try:
        yield
    finally:
        thread.join()


def test_a_503_on_a_locked_database_is_retried(host: Server, key: str) -> None:
    data = unique_png()
    # The first attempt waits BUSY_SECONDS and is refused; the lock is gone before the retry.
    with Client(host.url, key) as imghost:
        with database_locked_for(host, BUSY_SECONDS + 1.5):
            started = time.monotonic()
            file = imghost.upload(data)
            waited = time.monotonic() - started
        assert waited >= BUSY_SECONDS + UNAVAILABLE_RETRY_AFTER - 1
        assert requests.get(file.url, timeout=30).content == data
        assert [listed.id for listed in imghost.list()] == [file.id]  # the 503 saved nothing


def test_no_server_is_a_network_error(host: Server) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with Client(nowhere, "sk-x") as imghost, pytest.raises(ImghostError) as caught:
        imghost.get("file-x")
    assert caught.value.status is None
    assert caught.value.code == "network_error"
    assert caught.value.message.startswith("network error: ")


def test_an_answer_that_is_not_imghosts(site: str) -> None:
    """A proxy or a captive portal answering 200 with something else is not a file."""
    with Client(site, "sk-x") as imghost, pytest.raises(ImghostError) as caught:
        imghost.get("file-x")
    assert caught.value.status == 200
    assert caught.value.code is None
    assert caught.value.message.startswith("unexpected answer: ")
