"""Measure imghost's upload path against the reference handler, side by side in one run.

    python -m bench [--quick] [--out bench/results]

Each peer runs under granian with 2 workers on 127.0.0.1; wrk drives it. We report ratios,
because these machines are shared and noisy: only numbers from the same run compare.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import requests
from PIL import Image

from tests.seaweed import SeaweedS3, start_seaweed

HERE = Path(__file__).resolve().parent
BOUNDARY = "imghostbenchboundary"


@dataclass(frozen=True)
class Workload:
    name: str
    body: Path
    connections: int


@dataclass
class Result:
    peer: str
    workload: str
    requests_per_s: float
    mb_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    peak_rss_mib: float


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def noise_image(fmt: str, target_bytes: int) -> bytes:
    """A photo-like incompressible image of about `target_bytes` in `fmt`."""
    rng = random.Random(7)
    side = 64
    while True:
        im = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        buffer = io.BytesIO()
        im.save(buffer, format=fmt, **({"quality": 92} if fmt == "JPEG" else {"compress_level": 1}))
        if buffer.tell() >= target_bytes:
            return buffer.getvalue()
        side = int(side * 1.1) + 1


def multipart_body(path: Path, image: bytes, filename: str) -> Path:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    path.write_bytes(head + image + f"\r\n--{BOUNDARY}--\r\n".encode())
    return path


def tree_rss_mib(root_pid: int) -> float:
    """Resident memory of a process and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[int(entry.name)] = int(line.split()[1])
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 1024


@contextmanager
def peak_rss(pid: int) -> Iterator[list[float]]:
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss_mib(pid))
            stop.wait(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


@dataclass
class Peer:
    name: str
    command: list[str]
    env: dict[str, str]
    port: int
    key: str = ""
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
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
                requests.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)


def imghost_peer(work: Path, name: str = "imghost", settings: dict[str, str] | None = None) -> Peer:
    """`imghost serve --workers 2` as a user runs it, with optional run-time settings."""
    port = free_port()
    key = "sk-" + "b" * 48
    data_dir = work / name
    command = [sys.executable, "-m", "imghost", "serve", "--workers", "2", "--port", str(port)]
    env = {"IMGHOST_DATA_DIR": str(data_dir), "IMGHOST_ADMIN_KEY": key}
    if settings:
        assignments = [f"{setting}={value}" for setting, value in settings.items()]
        subprocess.run(
            [sys.executable, "-m", "imghost", "settings", "set", *assignments],
            env={**os.environ, **env},
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return Peer(name, command, env, port, key)


def imghost_s3_peer(work: Path, seaweed: SeaweedS3) -> Peer:
    return imghost_peer(
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


def reference_peer(work: Path) -> Peer:
    port = free_port()
    command = [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
        "--workers", "2", "--port", str(port), "--no-ws", "bench.reference_app:create_app",
    ]  # fmt: skip
    env = {"BENCH_REFERENCE_DIR": str(work / "reference"), "PYTHONPATH": str(HERE.parent)}
    return Peer("reference", command, env, port)


def wrk(peer: Peer, workload: Workload, seconds: int) -> dict[str, int]:
    env = {
        **os.environ,
        "BENCH_BODY": str(workload.body),
        "BENCH_BOUNDARY": BOUNDARY,
        "BENCH_KEY": peer.key,
    }
    command = [
        "wrk", "-t", "2", "-c", str(workload.connections), "-d", f"{seconds}s",
        "--latency", "--timeout", "60s", "-s", str(HERE / "upload.lua"), f"http://127.0.0.1:{peer.port}/api/upload",
    ]  # fmt: skip
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(row for row in output.splitlines() if row.startswith("BENCH "))
    return json.loads(line.removeprefix("BENCH "))


def measure(peer: Peer, workload: Workload, seconds: int, warmup: int) -> Result:
    wrk(peer, workload, warmup)
    assert peer.process is not None
    with peak_rss(peer.process.pid) as peak:
        stats = wrk(peer, workload, seconds)
    duration = stats["duration_us"] / 1e6
    body_mb = workload.body.stat().st_size / 1e6
    return Result(
        peer=peer.name,
        workload=workload.name,
        requests_per_s=stats["requests"] / duration,
        mb_per_s=stats["requests"] * body_mb / duration,
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        errors=stats["errors"] + stats["non_2xx"],
        peak_rss_mib=peak[0],
    )


def table(results: list[Result], ratios: dict[str, float]) -> str:
    lines = [
        "| peer | workload | req/s | MB/s | p50 ms | p99 ms | errors | peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.peer} | {r.workload} | {r.requests_per_s:.0f} | {r.mb_per_s:.1f} | "
            f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.errors} | {r.peak_rss_mib:.0f} |"
        )
    lines += ["", "| ratio | value |", "|---|---:|"]
    lines += [f"| {name} | {value:.2f}x |" for name, value in ratios.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s per workload instead of 10 s")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    seconds, warmup = (3, 1) if args.quick else (10, 2)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: run bench/setup.sh first")

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="imghost-bench-") as scratch:
        work = Path(scratch)
        small = multipart_body(work / "small.body", noise_image("JPEG", 100_000), "a.jpg")
        large = multipart_body(work / "large.body", noise_image("PNG", 19_500_000), "a.png")
        workloads = [
            Workload("upload 100 kB JPEG", small, 16),
            Workload("upload 20 MB PNG", large, 16),
        ]
        results: list[Result] = []
        seaweed = start_seaweed(work / "seaweed")
        try:
            peers = (
                reference_peer(work),
                imghost_peer(work),
                imghost_s3_peer(work, seaweed),
            )
            for peer in peers:
                peer.start()
                try:
                    results += [measure(peer, w, seconds, warmup) for w in workloads]
                finally:
                    peer.stop()
        finally:
            seaweed.stop()

    def rate(peer: str, workload: str) -> float:
        return next(r.mb_per_s for r in results if r.peer == peer and r.workload == workload)

    ratios = {
        f"imghost / reference, {w.name}": rate("imghost", w.name) / rate("reference", w.name)
        for w in workloads
    } | {
        f"imghost-s3 / imghost, {w.name}": rate("imghost-s3", w.name) / rate("imghost", w.name)
        for w in workloads
    }
    (args.out / "results.json").write_text(
        json.dumps({"results": [asdict(r) for r in results], "ratios": ratios}, indent=2)
    )
    report = table(results, ratios)
    (args.out / "results.md").write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
