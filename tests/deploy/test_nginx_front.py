"""`deploy/nginx-local-store.conf` in front of a real imghost: nginx serves the files."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import ROOT, Server, auth, unique_png
from tests.nginx import needs_nginx, run_nginx

pytestmark = needs_nginx


@pytest.fixture
def front(own_server: Server, tmp_path: Path) -> Iterator[str]:
    own_server.workers = 1
    server = own_server.start()
    site = (ROOT / "deploy" / "nginx-local-store.conf").read_text()
    site = site.replace("/srv/imghost/data", str(server.data_dir))
    site = site.replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")
    with run_nginx(site, tmp_path) as url:
        yield url


def test_images_come_from_nginx_and_the_rest_from_imghost(front: str, own_server: Server) -> None:
    key, _ = own_server.new_key()
    data = unique_png(300, 200)
    uploaded = requests.post(front + "/api/upload", headers=auth(key), files={"file": data})
    assert uploaded.status_code == 200
    path = "/" + uploaded.json()["data"].split("/", 3)[3]
    served = requests.get(front + path)
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["server"].startswith("nginx")
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    missing = requests.get(front + "/uploads/2026/11/AAAAAAAAAAAAAAAAAAAAAA.png")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


def test_over_size_uploads_get_the_envelope_from_nginx(front: str, own_server: Server) -> None:
    key, _ = own_server.new_key()
    body = b"\0" * (22 * 1024 * 1024)
    refused = requests.post(front + "/api/upload", headers=auth(key), files={"file": body})
    assert refused.status_code == 413
    assert refused.json()["code"] == "file_too_large"


def half_closed_upload(base_url: str, key: str, data: bytes) -> bytes:
    """POST a whole upload, shut the socket's write side (SHUT_WR), and read the answer."""
    form = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        + data
        + b"\r\n--b--\r\n"
    )
    address = urlsplit(base_url)
    head = (
        f"POST /api/upload HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {len(form)}\r\n\r\n"
    ).encode()
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(head + form)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_client_that_half_closes_after_its_upload_gets_the_answer(
    front: str, own_server: Server
) -> None:
    # granian (hyper) drops a connection whose client half-closed; nginx must not pass that on.
    key, _ = own_server.new_key()
    answer = half_closed_upload(front, key, unique_png())
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert b'"success":true' in answer.replace(b" ", b"")
