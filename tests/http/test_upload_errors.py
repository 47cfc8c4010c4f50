"""Bad requests get the envelope, the right status and a stable code, and leave nothing behind."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests

from imghost.settings.runtime import REFRESH_SECONDS
from tests.conftest import Server, auth, png_bytes

LIMIT = 20 * 1024 * 1024


def assert_envelope(response: requests.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["data"] is None
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert len(body["message"]) > 10
    return body


def post(server: Server, key: str | None, **kwargs: object) -> requests.Response:
    headers = auth(key) if key else {}
    headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
    return requests.post(server.url + "/api/upload", headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def leaves_nothing(server: Server) -> Iterator[None]:
    """The test's requests add no upload row, no stored file and no spooled bytes. Counted as
    what is new since the test began: the shared server's sweeper may meanwhile remove an
    earlier test's expired upload."""
    before = _footprint(server)
    yield
    assert _added(server, before) == (0, 0, 0)


Footprint = tuple[set[str], set[Path]]


def _footprint(server: Server) -> Footprint:
    from sqlalchemy import select

    from imghost.repo.schema import uploads

    repo = server.repo()
    try:
        with repo.engine.connect() as conn:
            ids = set(conn.execute(select(uploads.c.id)).scalars())
    finally:
        repo.close()
    return ids, {p for p in (server.data_dir / "uploads").rglob("*") if p.is_file()}


def _added(server: Server, before: Footprint) -> tuple[int, int, int]:
    ids, files = _footprint(server)
    # Spool files only: the folder also holds the per-worker metric files, which come and go
    # with the workers.
    spooled = sum(1 for p in (server.data_dir / "tmp").rglob("*") if p.suffix in (".part", ".out"))
    return len(ids - before[0]), len(files - before[1]), spooled


@pytest.mark.usefixtures("leaves_nothing")
class TestRejections:
    def test_missing_key(self, server: Server) -> None:
        assert_envelope(post(server, None, files={"file": png_bytes()}), 401, "missing_api_key")

    def test_unknown_key(self, server: Server) -> None:
        response = post(server, "sk-" + "x" * 48, files={"file": png_bytes()})
        assert_envelope(response, 401, "invalid_api_key")

    def test_not_a_bearer_key(self, server: Server) -> None:
        response = post(server, None, headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert_envelope(response, 401, "invalid_api_key")

    def test_expired_key(self, server: Server) -> None:
        key, _ = server.new_key(expires_at=time.time() - 1)
        assert_envelope(post(server, key, files={"file": png_bytes()}), 403, "api_key_expired")

    def test_missing_file(self, server: Server, user_key: str) -> None:
        response = post(server, user_key, files={"purpose": (None, "vision")})
        assert_envelope(response, 400, "missing_file")

    def test_wrong_field_name(self, server: Server, user_key: str) -> None:
        response = post(server, user_key, files={"image": ("a.png", png_bytes())})
        assert_envelope(response, 400, "unexpected_file_field")

    def test_two_files(self, server: Server, user_key: str) -> None:
        files = [("file", ("a.png", png_bytes())), ("file", ("b.png", png_bytes()))]
        assert_envelope(post(server, user_key, files=files), 400, "too_many_files")

    def test_empty_file(self, server: Server, user_key: str) -> None:
        response = post(server, user_key, files={"file": ("a.png", b"")})
        assert_envelope(response, 400, "empty_file")

    def test_not_multipart(self, server: Server, user_key: str) -> None:
        response = post(server, user_key, json={"file": "aGVsbG8="})
        assert_envelope(response, 400, "not_multipart")

    def test_malformed_multipart(self, server: Server, user_key: str) -> None:
        response = post(
            server,
            user_key,
            data=b"this is not multipart at all",
            headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        )
        assert response.status_code == 400
        assert response.json()["code"] in ("malformed_multipart", "incomplete_body", "missing_file")

    def test_a_boundary_longer_than_rfc_2046_allows(self, server: Server, user_key: str) -> None:
        boundary = "b" * 5000
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"'
                f"\r\nContent-Type: image/png\r\n\r\n"
            ).encode()
            + png_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        response = post(
            server,
            user_key,
            data=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert_envelope(response, 400, "malformed_multipart")
        assert "70" in response.json()["message"]

    def test_not_an_image(self, server: Server, user_key: str) -> None:
        html = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
        body = assert_envelope(
            post(server, user_key, files={"file": ("x.png", html, "image/png")}),
            415,
            "unsupported_type",
        )
        assert "HTML" in str(body["message"])

    def test_declared_length_over_limit_is_refused_before_reading(
        self, server: Server, user_key: str
    ) -> None:
        status, body = raw_request(
            server,
            user_key,
            headers={"Content-Length": str(LIMIT * 5)},
            body_chunks=iter([b"--b\r\n"]),
        )
        assert status == 413
        assert body["code"] == "file_too_large"

    def test_streamed_body_over_limit_stops_at_the_limit(
        self, server: Server, user_key: str
    ) -> None:
        head = (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + png_bytes()
        )
        endless = (head if i == 0 else b"\0" * 65536 for i in range(10**9))
        status, body = raw_request(
            server, user_key, headers={"Transfer-Encoding": "chunked"}, body_chunks=endless
        )
        assert status == 413
        assert body["code"] == "file_too_large"

    def test_an_endless_epilogue_after_the_form_stops_at_the_limit(
        self, server: Server, user_key: str
    ) -> None:
        form = (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
            + png_bytes()
            + b"\r\n--b--\r\n"
        )
        endless = (form if i == 0 else b"\0" * 65536 for i in range(10**9))
        status, body = raw_request(
            server, user_key, headers={"Transfer-Encoding": "chunked"}, body_chunks=endless
        )
        assert status == 413
        assert body["code"] == "body_too_large"

    def test_content_length_shorter_than_body(self, server: Server, user_key: str) -> None:
        form = (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
            + png_bytes()
            + b"\r\n--b--\r\n"
        )
        status, body = raw_request(
            server,
            user_key,
            headers={"Content-Length": str(len(form) // 2)},
            body_chunks=iter([form]),
        )
        assert status == 400
        assert body["code"] == "incomplete_body"


def test_disabled_then_enabled_then_revoked_key(server: Server) -> None:
    # The server's workers see each change within the key cache's bound.
    key, key_id = server.new_key()
    server.cli("keys", "disable", key_id)
    time.sleep(REFRESH_SECONDS)  # the bound under test, not a wait for some work to end
    assert_envelope(post(server, key, files={"file": png_bytes()}), 403, "api_key_disabled")
    server.cli("keys", "enable", key_id)
    time.sleep(REFRESH_SECONDS)
    assert post(server, key, files={"file": png_bytes()}).status_code == 200
    server.cli("keys", "revoke", key_id)
    time.sleep(REFRESH_SECONDS)
    assert_envelope(post(server, key, files={"file": png_bytes()}), 401, "invalid_api_key")


def raw_request(
    server: Server,
    key: str,
    headers: dict[str, str],
    body_chunks: Iterator[bytes],
    max_sent: int = 3 * LIMIT,
) -> tuple[int, dict[str, object]]:
    """POST over a bare socket, stop sending once the server answers; (status, JSON body)."""
    chunked = headers.get("Transfer-Encoding") == "chunked"
    lines = [
        "POST /api/upload HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        f"Authorization: Bearer {key}",
        "Content-Type: multipart/form-data; boundary=b",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        for chunk in body_chunks:
            if _readable(sock) or sent > max_sent:
                break
            data = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        if not _readable(sock, timeout=30):
            sock.shutdown(socket.SHUT_WR)
        response = _read_all(sock)
    assert sent <= max_sent, "the server read far past the limit without answering"
    head, _, payload = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(_dechunk(head, payload))


def _readable(sock: socket.socket, timeout: float = 0) -> bool:
    return bool(select.select([sock], [], [], timeout)[0])


def _read_all(sock: socket.socket) -> bytes:
    parts = []
    try:
        while chunk := sock.recv(65536):
            parts.append(chunk)
    except ConnectionResetError:
        pass  # the server may reset once it has answered and stopped reading
    return b"".join(parts)


def _dechunk(head: bytes, payload: bytes) -> bytes:
    if b"transfer-encoding: chunked" not in head.lower():
        return payload
    out, rest = b"", payload
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


def test_client_that_disconnects_mid_body_leaves_nothing(server: Server, user_key: str) -> None:
    before = _footprint(server)
    head = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        + png_bytes(400, 400)[:2000]
    )
    lines = [
        "POST /api/upload HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        f"Authorization: Bearer {user_key}",
        "Content-Type: multipart/form-data; boundary=b",
        "Content-Length: 100000",
    ]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + head)
        sock.shutdown(socket.SHUT_WR)
        answer = _read_all(sock)
    assert not answer.startswith(b"HTTP/1.1 5")
    assert _added(server, before) == (0, 0, 0)


def test_slow_client_still_uploads(server: Server, user_key: str) -> None:
    data = png_bytes(300, 300)

    def trickle() -> Iterator[bytes]:
        form = (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
            + data
            + b"\r\n--b--\r\n"
        )
        for start in range(0, len(form), 97):
            time.sleep(0.002)
            yield form[start : start + 97]

    response = requests.post(
        server.url + "/api/upload",
        headers={**auth(user_key), "Content-Type": "multipart/form-data; boundary=b"},
        data=trickle(),
        timeout=60,
    )
    assert response.status_code == 200
    assert requests.get(response.json()["data"], timeout=10).content == data


def test_a_stalled_body_is_refused_and_its_spool_removed(own_server: Server) -> None:
    own_server.cli("settings", "set", "limits.body_timeout_seconds=1")
    server = own_server.start()
    key, _ = server.new_key()
    head = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        + png_bytes()[:40]
    )
    lines = [
        "POST /api/upload HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        f"Authorization: Bearer {key}",
        "Content-Type: multipart/form-data; boundary=b",
        "Content-Length: 100000",
    ]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + head)
        # The server answers of its own accord; the wait only bounds a server that never does.
        assert _readable(sock, timeout=20), "no answer to a stalled body"
        response = _read_until_json(sock)
    assert response.startswith(b"HTTP/1.1 408"), response[:80]
    assert b'"body_timeout"' in response
    assert _added(server, (set(), set()))[1:] == (0, 0)


def _read_until_json(sock: socket.socket) -> bytes:
    data = b""
    while b"}" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_client_still_sending_a_refused_body_reads_its_refusal(
    server: Server, user_key: str
) -> None:
    # Refused at its first bytes, a 5 MB body is still on its way: closing on it reset the
    # connection, and async httpx lost the answer every time.
    junk = b"not an image at all" + b"\0" * 5_000_000

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as client:
            return [
                await client.post(
                    server.url + "/api/upload",
                    headers=auth(user_key),
                    files={"file": ("a.png", junk)},
                )
                for _ in range(10)
            ]

    for answer in asyncio.run(send_all()):
        assert_envelope(answer, 415, "unsupported_type")
