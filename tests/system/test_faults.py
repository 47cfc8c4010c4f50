"""Faults made for real: a full disk, a locked database, workers killed under load."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from imghost.repo.schema import uploads
from imghost.settings.runtime import with_defaults
from imghost.store.registry import Stores
from imghost.sweeper import STALE_PENDING_SECONDS, sweep_once
from tests.conftest import Server, auth, eventually, unique_png

TMPFS_ENV = "IMGHOST_TEST_TMPFS"
TMPFS_BYTES = 24 * 1024 * 1024
UPLOAD_LIMIT = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs of this test's own; mounting needs root (CI runs as root)."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        reason = f"cannot mount a tmpfs here ({mounted.stderr.strip()})"
        if os.environ.get(TMPFS_ENV):
            pytest.fail(f"{reason}, and {TMPFS_ENV} makes this test mandatory")
        pytest.skip(f"{reason}; run as root, or set {TMPFS_ENV}=1 to make it mandatory")
    yield mountpoint
    subprocess.run(["umount", "-l", str(mountpoint)], check=True)


def fill(disk: Path) -> Path:
    """Write until the disk refuses another byte."""
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def worker_pids(server: Server) -> set[int]:
    assert server.process is not None
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return {int(pid) for pid in children.read_text().split()}


def count_uploads(server: Server) -> int:
    repo = server.repo()
    try:
        with repo.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(uploads)).scalar_one()
    finally:
        repo.close()


def test_a_full_disk_refuses_uploads_keeps_serving_and_heals(
    small_disk: Path, tmp_path: Path
) -> None:
    server = Server(small_disk / "data")
    server.log_path = tmp_path / "server.log"
    server.cli("settings", "set", f"limits.max_upload_bytes={UPLOAD_LIMIT}")
    server.start()
    try:
        key, _ = server.new_key()
        before = requests.post(
            server.url + "/api/upload", headers=auth(key), files={"file": unique_png()}
        )
        assert before.status_code == 200
        url = before.json()["data"]
        workers = worker_pids(server)
        filler = fill(small_disk)

        for attempt in range(12):
            refused = requests.post(
                server.url + f"/{'api/upload' if attempt % 2 else 'v1/files/uploads'}",
                headers=auth(key),
                files={"file": unique_png(400, 300)},
            )
            assert refused.status_code in (503, 507), refused.text
            body = refused.json()
            code = body["code"] if "code" in body else body["error"]["code"]
            assert code in ("insufficient_storage", "database_unavailable")
            assert "Retry-After" in refused.headers
        assert requests.get(url).status_code == 200
        not_ready = requests.get(server.url + "/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"]["disk"].startswith("full")
        assert worker_pids(server) == workers, "a worker died on the full disk"
        assert server.process is not None
        assert server.process.poll() is None
        assert count_uploads(server) == 1
        spooled = [p for p in (server.data_dir / "tmp").rglob("*") if p.suffix in (".part", ".out")]
        assert spooled == []

        filler.unlink()
        assert requests.get(server.url + "/readyz").status_code == 200
        after = requests.post(
            server.url + "/api/upload", headers=auth(key), files={"file": unique_png()}
        )
        assert after.status_code == 200
        assert requests.get(after.json()["data"]).status_code == 200
    finally:
        server.stop()


def test_killed_workers_are_replaced_and_lose_nothing_acknowledged(own_server: Server) -> None:
    server = own_server.start()
    key, _ = server.new_key()
    acknowledged: dict[str, bytes] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def upload_until_stopped() -> int:
        failures = 0
        with requests.Session() as session:
            while not stop.is_set():
                data = unique_png(120, 90)
                try:
                    response = session.post(
                        server.url + "/api/upload",
                        headers=auth(key),
                        files={"file": data},
                        timeout=30,
                    )
                except requests.ConnectionError:
                    failures += 1  # the connection was on the worker that died
                    continue
                assert response.status_code == 200, response.text
                with lock:
                    acknowledged[response.json()["data"]] = data
        return failures

    def more_acknowledged(count: int) -> bool:
        with lock:
            seen = len(acknowledged)
        return eventually(lambda: len(acknowledged) >= seen + count, seconds=30)

    with ThreadPoolExecutor(4) as pool:
        clients = [pool.submit(upload_until_stopped) for _ in range(4)]
        try:
            for _ in range(3):
                assert more_acknowledged(10)
                victim = min(worker_pids(server))
                os.kill(victim, signal.SIGKILL)
                assert eventually(
                    lambda victim=victim: len(worker_pids(server) - {victim}) == server.workers,
                    seconds=30,
                ), "the killed worker was not replaced"
                assert server.process is not None
                assert server.process.poll() is None, "the server stopped with its worker"
            assert more_acknowledged(10)
        finally:
            stop.set()
        failures = sum(client.result() for client in clients)
    # At a kill each client can lose its request in flight, and the retry it had just sent on
    # a connection the dying worker accepted: two per client per kill, and nothing else.
    assert failures <= 2 * 3 * len(clients), "more requests failed than the kills can explain"

    for url, data in acknowledged.items():
        response = requests.get(url, timeout=10)
        assert response.status_code == 200
        assert response.content == data
    # A replacement worker removes what its dead predecessor was receiving.
    assert list((server.data_dir / "tmp").rglob("*.part")) == []
    # What a worker killed mid-upload left (a pending record, perhaps its bytes) is what the
    # sweep finishes once it is old enough: afterwards every record and file has its partner.
    repo = server.repo()
    try:
        later = time.time() + STALE_PENDING_SECONDS + 1
        sweep_once(repo, Stores(server.data_dir), with_defaults(repo.get_settings()), later)
        with repo.engine.connect() as conn:
            rows = conn.execute(select(uploads.c.storage_key, uploads.c.state)).all()
    finally:
        repo.close()
    assert {state for _, state in rows} <= {"ready"}
    stored = {
        str(p.relative_to(server.data_dir)) for p in (server.data_dir / "uploads").rglob("*.*")
    }
    assert stored == {key for key, _ in rows}


@contextmanager
def database_locked(server: Server) -> Iterator[None]:
    """Another process's write transaction on the SQLite database, held until the block ends."""
    holder = sqlite3.connect(server.data_dir / "imghost.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


def stored_files(server: Server) -> set[Path]:
    return {p for p in (server.data_dir / "uploads").rglob("*") if p.is_file()}


def test_a_locked_database_answers_503_in_bounded_time_and_saves_nothing(
    own_server: Server,
) -> None:
    server = own_server.start()
    key, _ = server.new_key()
    kept = requests.post(
        server.url + "/api/upload", headers=auth(key), files={"file": unique_png()}
    )
    files = stored_files(server)

    def upload(n: int) -> requests.Response:
        route = "/api/upload" if n % 2 else "/v1/files/uploads"
        # The timeout only stops a hang from stalling the suite; the server answers in seconds.
        return requests.post(
            server.url + route, headers=auth(key), files={"file": unique_png()}, timeout=30
        )

    with database_locked(server), ThreadPoolExecutor(6) as pool:
        refused = list(pool.map(upload, range(6)))
        assert requests.get(kept.json()["data"]).status_code == 200
    for response in refused:
        assert response.status_code == 503, response.text
        body = response.json()
        assert (body.get("code") or body["error"]["code"]) == "database_unavailable"
        assert "Retry-After" in response.headers
    assert count_uploads(server) == 1
    assert stored_files(server) == files
    assert upload(1).status_code == 200


def test_a_delete_on_a_locked_database_answers_503_and_deletes_nothing(
    own_server: Server,
) -> None:
    server = own_server.start()
    key, _ = server.new_key()
    data = unique_png()
    created = requests.post(
        server.url + "/v1/files/uploads", headers=auth(key), files={"file": data}
    ).json()
    file_url = f"{server.url}/v1/files/{created['id']}"
    with database_locked(server):
        refused = requests.delete(file_url, headers=auth(key), timeout=30)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "database_unavailable"
    assert "nothing was deleted" in refused.json()["error"]["message"]
    assert requests.get(file_url, headers=auth(key)).json()["status"] == "processed"
    assert requests.get(created["url"]).content == data

    assert requests.delete(file_url, headers=auth(key)).json()["deleted"] is True
    assert requests.get(created["url"]).status_code == 404
    assert requests.get(file_url, headers=auth(key)).status_code == 404
    assert stored_files(server) == set()
