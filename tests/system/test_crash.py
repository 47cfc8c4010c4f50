"""SIGKILL in the middle of parallel uploads loses nothing acknowledged and leaks nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import requests
from blake3 import blake3
from sqlalchemy import select

from imghost.repo.schema import uploads
from tests.conftest import Server, auth, jpeg_bytes

UPLOADS = 16
ACKS_BEFORE_KILL = 4


def paced(data: bytes, stop: threading.Event) -> Iterator[bytes]:
    """Send in small pieces, pausing between them, so uploads are mid-body at the kill."""
    for start in range(0, len(data), 16384):
        if stop.is_set():
            return
        yield data[start : start + 16384]
        time.sleep(0.01)


def test_sigkill_mid_upload(own_server: Server) -> None:
    server = own_server.start()
    key, _ = server.new_key()
    images = [jpeg_bytes(400 + i, 300) for i in range(UPLOADS)]
    acked: dict[str, bytes] = {}
    ack = threading.Condition()
    stop = threading.Event()

    def upload(data: bytes) -> None:
        try:
            response = requests.post(
                server.url + "/api/upload",
                headers={**auth(key), "Content-Type": "multipart/form-data; boundary=b"},
                data=paced(_form(data), stop),
                timeout=30,
            )
        except requests.RequestException:
            return
        if response.status_code == 200:
            with ack:
                acked[response.json()["data"]] = data
                ack.notify_all()

    with ThreadPoolExecutor(UPLOADS) as pool:
        for data in images:
            pool.submit(upload, data)
        with ack:
            assert ack.wait_for(lambda: len(acked) >= ACKS_BEFORE_KILL, timeout=60)
        server.kill()
        stop.set()
    assert ACKS_BEFORE_KILL <= len(acked) < UPLOADS, "the kill did not land mid-run"

    server.start()

    for url, data in acked.items():
        response = requests.get(url, timeout=10)
        assert response.status_code == 200
        assert response.content == data
    leftovers = [p for p in (server.data_dir / "tmp").rglob("*") if p.suffix == ".part"]
    assert leftovers == []
    repo = server.repo()
    with repo.engine.connect() as conn:
        rows = conn.execute(select(uploads)).all()
    repo.close()
    sent = {blake3(data).hexdigest() for data in images}
    for row in rows:
        path = server.data_dir / row.storage_key
        url = f"{server.url}/{row.storage_key}"
        if row.state == "ready":
            assert blake3(path.read_bytes()).hexdigest() == row.digest
            assert row.digest in sent
        else:
            assert requests.get(url, timeout=10).status_code == 404


def _form(data: bytes) -> bytes:
    return (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + data + b"\r\n--b--\r\n"
    )
