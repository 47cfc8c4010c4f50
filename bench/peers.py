"""The servers the benchmark compares, each started on 127.0.0.1 as its users would run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.conftest import free_port
from tests.seaweed import SeaweedS3

HERE = Path(__file__).resolve().parent
ADMIN_KEY = "sk-" + "b" * 48


@dataclass
class Peer:
    """A process tree serving HTTP; `upload_path` is where uploads go ("" if it takes none)."""

    name: str
    command: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    upload_path: str = "/api/upload"
    multipart: bool = True
    serves: bool = True
    key: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Peer:
        self.process = subprocess.Popen(
            self.command,
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(self.base + "/", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                # Seen once in the scale run right after wrk cut its connections mid-upload;
                # the benchmark measures speed, so it does not wait on that any longer.
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def imghost(
    work: Path,
    name: str = "imghost",
    settings: dict[str, str] | None = None,
    *,
    workers: int = 2,
    env: dict[str, str] | None = None,
) -> Peer:
    """`imghost serve --workers 2` with default settings, but for deduplication: wrk sends the
    same bytes every time, and each must do the full work. `env` adds start-up settings."""
    port = free_port()
    env = {"IMGHOST_DATA_DIR": str(work / name), "IMGHOST_ADMIN_KEY": ADMIN_KEY, **(env or {})}
    settings = {"images.deduplicate": "false", **(settings or {})}
    if settings:
        assignments = [f"{setting}={value}" for setting, value in settings.items()]
        subprocess.run(
            [sys.executable, "-m", "imghost", "settings", "set", *assignments],
            env={**os.environ, **env},
            check=True,
            stdout=subprocess.DEVNULL,
        )
    command = [
        sys.executable, "-m", "imghost", "serve", "--workers", str(workers), "--port", str(port),
    ]  # fmt: skip
    return Peer(name, command, port, env, key=ADMIN_KEY)


def imghost_on_s3(work: Path, seaweed: SeaweedS3) -> Peer:
    return imghost(
        work,
        "imghost-s3",
        {
            "storage.backend": "s3",
            "storage.s3.endpoint_url": seaweed.endpoint,
            "storage.s3.bucket": seaweed.bucket,
            "storage.s3.access_key_id": seaweed.access_key_id,
            "storage.s3.secret_access_key": seaweed.secret_access_key,
            "storage.s3.prefix": "bench/",
        },
    )


def reference(work: Path, durable: bool = False) -> Peer:
    """The minimal streaming upload handler in bench/reference_app.py, on the same granian;
    `durable`: one that also fsyncs each file and its folder before answering."""
    port = free_port()
    command = [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
        "--workers", "2", "--port", str(port), "--no-ws", "bench.reference_app:create_app",
    ]  # fmt: skip
    name = "reference-durable" if durable else "reference"
    env = {
        "BENCH_REFERENCE_DIR": str(work / name),
        "BENCH_REFERENCE_DURABLE": "1" if durable else "",
        "PYTHONPATH": str(HERE.parent),
    }
    return Peer(name, command, port, env, serves=False)


NGINX_CONF = """
worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    types {{ image/jpeg jpg; image/png png; image/gif gif; image/webp webp; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /uploads/ {{
            add_header Cache-Control "public, max-age=31536000, immutable";
            add_header X-Content-Type-Options nosniff;
            add_header Content-Security-Policy "default-src 'none'; sandbox";
            add_header Access-Control-Allow-Origin *;
        }}
    }}
}}
"""


def nginx(root: Path) -> Peer:
    """nginx serving imghost's local store folder: the static-file ceiling."""
    port = free_port()
    prefix = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    (prefix / "nginx.conf").write_text(NGINX_CONF.format(prefix=prefix, port=port, root=root))
    command = ["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"]
    return Peer("nginx", command, port, upload_path="")


def seaweed_peer(seaweed: SeaweedS3) -> Peer:
    """SeaweedFS's S3 endpoint (started without credentials) taking plain PUTs and GETs."""
    port = int(seaweed.endpoint.rsplit(":", 1)[1])
    peer = Peer("seaweedfs", [], port, upload_path=f"/{seaweed.bucket}/bench-object")
    peer.multipart = False
    return peer
