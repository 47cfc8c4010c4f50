"""imghost against reference peers, side by side in one run, reported as ratios.

    bash bench/setup.sh            # wrk and nginx from Debian, matplotlib from PyPI
    python -m bench [--quick]      # ~2 minutes with --quick (a smoke test), ~6 without
    python -m bench --only upload  # the upload workloads, imghost and the references only
    python -m bench --only get     # the GET workloads, every peer that serves images

Peers, each on 127.0.0.1: imghost as a user runs it (`serve --workers 2`, SQLite, local store,
validation and metadata stripping on); the minimal streaming upload handler of
`bench/reference_app.py` on the same granian, plain and durable (it fsyncs what it stores, as
imghost does); nginx serving imghost's upload folder; SeaweedFS's
S3 endpoint taking plain PUTs and GETs; imghost with its `s3` store on SeaweedFS. All of them
run at once; wrk drives each workload on each peer after a warm-up, in rounds that take the
peers in turn (`measure_interleaved`), so that a ratio compares the same minutes of a shared,
drifting machine. Peak memory is the PSS of the peer's whole process tree during its rounds.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import requests
from PIL import Image

from bench import peers
from bench.peers import Peer
from tests.seaweed import start_seaweed

HERE = Path(__file__).resolve().parent
BOUNDARY = "imghostbenchboundary"
USER_KEY = ", user key"


@dataclass(frozen=True)
class Workload:
    name: str
    connections: int
    image: bytes
    filename: str
    upload: bool
    # Sent with a user key whose quota and rate limit are counted (imghost peers only).
    user_key: bool = False


@dataclass
class Result:
    peer: str
    workload: str
    requests_per_s: float
    mb_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    peak_memory_mib: float


def noise_image(fmt: str, target_bytes: int) -> bytes:
    """A photo-like, incompressible image of about `target_bytes`."""
    rng = random.Random(7)
    side = 64
    while True:
        im = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        buffer = io.BytesIO()
        im.save(buffer, format=fmt, **({"quality": 92} if fmt == "JPEG" else {"compress_level": 1}))
        if buffer.tell() >= target_bytes:
            return buffer.getvalue()
        side = int(side * 1.1) + 1


def image_file(work: Path, workload: Workload) -> Path:
    path = work / workload.filename
    path.write_bytes(workload.image)
    return path


def tree_memory_mib(root_pid: int) -> float:
    """Memory of a process tree: the sum of its processes' PSS (proportional set size).

    Summing RSS would count every page a forked worker shares with its parent once per process
    (about 100 MiB of imghost's 180 MiB at rest); PSS splits each shared page among its users,
    so the sum is what the tree really holds.
    """
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += _pss_kib(pid)
        stack.extend(children.get(pid, []))
    return total / 1024


def _pss_kib(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    lines = rollup.splitlines()
    return next((int(line.split()[1]) for line in lines if line.startswith("Pss:")), 0)


@contextmanager
def peak_memory(pid: int) -> Iterator[list[float]]:
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_memory_mib(pid))
            stop.wait(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def wrk(url: str, connections: int, seconds: int, env: dict[str, str]) -> dict[str, int]:
    command = [
        "wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s",
        "--latency", "--timeout", "60s", "-s", str(HERE / "wrk.lua"), url,
    ]  # fmt: skip
    run_env = {**os.environ, **env}
    output = subprocess.run(command, env=run_env, capture_output=True, text=True, check=True)
    line = next(row for row in output.stdout.splitlines() if row.startswith("BENCH "))
    return json.loads(line.removeprefix("BENCH "))


def measure(
    peer: Peer,
    workload: Workload,
    url: str,
    body: Path | None,
    seconds: int,
    warmup: int,
    key: str | None = None,
) -> Result:
    if body is not None:
        env = {"BENCH_IMAGE": str(body), "BENCH_KEY": peer.key if key is None else key}
        env["BENCH_BOUNDARY"] = BOUNDARY if peer.multipart else ""
    else:
        env = {}
    wrk(url, workload.connections, warmup, env)
    assert peer.process is not None
    with peak_memory(peer.process.pid) as peak:
        stats = wrk(url, workload.connections, seconds, env)
    duration = stats["duration_us"] / 1e6
    return Result(
        peer=peer.name,
        workload=workload.name,
        requests_per_s=stats["requests"] / duration,
        mb_per_s=stats["requests"] * len(workload.image) / 1e6 / duration,
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        errors=stats["errors"] + stats["non_2xx"],
        peak_memory_mib=peak[0],
    )


def place_image(peer: Peer, workload: Workload) -> str:
    """Store `workload.image` on `peer` once; returns the URL to GET it from."""
    if peer.multipart:
        response = requests.post(
            peer.base + peer.upload_path,
            headers={"Authorization": f"Bearer {peer.key}"},
            files={"file": (workload.filename, workload.image)},
            timeout=60,
        )
        response.raise_for_status()
        return response.json()["data"]
    url = peer.base + peer.upload_path.rsplit("/", 1)[0] + "/" + workload.filename
    requests.put(url, data=workload.image, timeout=60).raise_for_status()
    return url


@dataclass(frozen=True)
class Target:
    """One peer's run of one workload: where wrk sends what."""

    peer: Peer
    workload: Workload
    url: str
    env: dict[str, str]


def targets_of(peer: Peer, workloads: list[Workload], work: Path) -> Iterator[Target]:
    for workload in workloads:
        if workload.user_key and not peer.name.startswith("imghost"):
            continue  # a peer without keys: its run of the keyless workload compares
        if workload.upload and peer.upload_path:
            env = {
                "BENCH_IMAGE": str(image_file(work, workload)),
                "BENCH_KEY": user_key(peer) if workload.user_key else peer.key,
                "BENCH_BOUNDARY": BOUNDARY if peer.multipart else "",
            }
            yield Target(peer, workload, peer.base + peer.upload_path, env)
        elif not workload.upload and peer.serves:
            url = place_image(peer, workload)
            yield Target(peer, workload, url, {})
            if peer.name == "imghost":
                yield variant_target(peer, workload, url)


def user_key(peer: Peer) -> str:
    """A new user key on `peer` with a quota and a rate limit that a run never reaches, so
    that every upload is counted against both but none is refused."""
    response = requests.post(
        peer.base + "/api/keys",
        headers={"Authorization": f"Bearer {peer.key}"},
        json={"name": "bench user", "daily_bytes": 10**15, "rpm": 10**9},
        timeout=60,
    )
    response.raise_for_status()
    return str(response.json()["key"])


def variant_target(peer: Peer, workload: Workload, url: str) -> Target:
    """The same GET of the image's `claude` variant, once made: it should cost what the
    original's does."""
    stem, extension = url.rsplit(".", 1)
    variant = f"{stem}.claude.{'jpg' if extension == 'jpg' else 'png'}"
    requests.get(variant, timeout=120).raise_for_status()  # made here, not while measured
    named = Workload(f"{workload.name}, claude variant", workload.connections, b"", "", False)
    return Target(peer, named, variant, {})


def rounds_of(workload: Workload, seconds: int) -> tuple[int, int]:
    """How many rounds of how many seconds: rounds of about 2 s; a 20 MB upload, which takes a
    second or more, gets one round, since each round starts with every connection's first
    upload still to finish (a bias that grows with the peer's latency as rounds shorten)."""
    rounds = 1 if len(workload.image) > 1_000_000 else max(1, seconds // 2)
    return rounds, seconds // rounds


def measure_interleaved(targets: list[Target], seconds: int, warmup: int) -> list[Result]:
    """Each workload's targets in turn, round after round, so that every peer it compares
    meets the same minutes of a shared machine, whose speed drifts by up to 2x between
    minutes: measured one after the other, the same build's ratio to nginx ranged from 0.24x
    to 0.42x. Latency is the median of the rounds' p50 and the worst of their p99."""
    results: list[Result] = []
    for workload in dict.fromkeys(t.workload for t in targets):
        group = [t for t in targets if t.workload == workload]
        for target in group:
            wrk(target.url, workload.connections, warmup, target.env)
        rounds, length = rounds_of(workload, seconds)
        runs: dict[int, list[dict[str, int]]] = {id(t): [] for t in group}
        peaks = dict.fromkeys(runs, 0.0)
        for _ in range(rounds):
            for target in group:
                assert target.peer.process is not None
                with peak_memory(target.peer.process.pid) as peak:
                    runs[id(target)].append(
                        wrk(target.url, workload.connections, length, target.env)
                    )
                peaks[id(target)] = max(peaks[id(target)], peak[0])
        results += [result_of(t, runs[id(t)], peaks[id(t)]) for t in group]
    return results


def result_of(target: Target, runs: list[dict[str, int]], peak_mib: float) -> Result:
    done = sum(run["requests"] for run in runs)
    duration = sum(run["duration_us"] for run in runs) / 1e6
    return Result(
        peer=target.peer.name,
        workload=target.workload.name,
        requests_per_s=done / duration,
        mb_per_s=done * len(target.workload.image) / 1e6 / duration,
        p50_ms=statistics.median(run["p50_us"] for run in runs) / 1000,
        p99_ms=max(run["p99_us"] for run in runs) / 1000,
        errors=sum(run["errors"] + run["non_2xx"] for run in runs),
        peak_memory_mib=peak_mib,
    )


def ratios_of(results: list[Result]) -> dict[str, float]:
    def rate(peer: str, workload: str) -> float | None:
        # A peer without keys ran the user-key workload as the keyless one.
        names = (workload, workload.removesuffix(USER_KEY))
        found = [r for name in names for r in results if r.peer == peer and r.workload == name]
        return found[0].requests_per_s if found and found[0].requests_per_s else None

    pairs = [
        ("imghost", "reference", "upload"),
        ("imghost", "reference-durable", "upload"),
        ("imghost", "seaweedfs", "upload"),
        ("imghost", "nginx", "GET"),
        ("imghost", "seaweedfs", "GET"),
        ("imghost-s3", "imghost", "upload"),
        ("imghost-s3", "imghost", "GET"),
        ("imghost-s3", "seaweedfs", "GET"),
    ]
    ratios = {}
    for workload in sorted({r.workload for r in results if r.workload.endswith(" variant")}):
        original = workload.removesuffix(", claude variant")
        a, b = rate("imghost", workload), rate("imghost", original)
        if a and b:
            ratios[f"imghost claude variant / original, {original}"] = a / b
    for ours, theirs, kind in pairs:
        for workload in sorted({r.workload for r in results if r.workload.startswith(kind)}):
            a, b = rate(ours, workload), rate(theirs, workload)
            if a and b:
                ratios[f"{ours} / {theirs}, {workload}"] = a / b
    return ratios


def table(results: list[Result], ratios: dict[str, float]) -> str:
    lines = [
        "| peer | workload | req/s | MB/s | p50 ms | p99 ms | errors | peak memory MiB (PSS) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.peer} | {r.workload} | {r.requests_per_s:.0f} | {r.mb_per_s:.1f} | "
            f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.errors} | {r.peak_memory_mib:.0f} |"
        )
    lines += ["", "| ratio (req/s) | value |", "|---|---:|"]
    lines += [f"| {name} | {value:.2f}x |" for name, value in ratios.items()]
    return "\n".join(lines)


def chart(ratios: dict[str, float], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = list(ratios)[::-1]
    figure, axes = plt.subplots(figsize=(9, 0.45 * len(names) + 1.2))
    axes.barh(names, [ratios[n] for n in names], color="#4a7bd0")
    axes.axvline(1.0, color="#333", linewidth=1)
    axes.set_xlabel("ratio of requests per second (1.0 = as fast as the peer)")
    axes.set_title("imghost vs reference peers, same run")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s per workload instead of 10 s")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument(
        "--only",
        choices=["upload", "get"],
        help="upload: only the upload workloads, on imghost (local store) and the references; "
        "get: only the GET workloads, on every peer that serves images",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="1/2/3 instances behind nginx on PostgreSQL + Redis + SeaweedFS, and the "
        "database's cost, instead of the peers (bench/scale.py)",
    )
    args = parser.parse_args()
    seconds, warmup = (3, 1) if args.quick else (10, 2)
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed: run bash bench/setup.sh first")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.scale:
        from bench import scale

        scale.main(seconds, warmup, args.out)
        return
    small = noise_image("JPEG", 100_000)
    workloads = [
        Workload("upload 100 kB JPEG", 16, small, "small.jpg", True),
        Workload("upload 100 kB JPEG" + USER_KEY, 16, small, "small.jpg", True, user_key=True),
        Workload("upload 20 MB PNG", 16, noise_image("PNG", 19_500_000), "large.png", True),
        Workload("GET 100 kB JPEG", 32, noise_image("JPEG", 100_000), "get-small.jpg", False),
        Workload("GET 2 MB PNG", 32, noise_image("PNG", 2_000_000), "get-large.png", False),
    ]
    if args.only == "upload":
        results = uploads_only([w for w in workloads if w.upload], seconds, warmup)
    elif args.only == "get":
        results = all_peers([w for w in workloads if not w.upload], seconds, warmup)
    else:
        results = all_peers(workloads, seconds, warmup)
    ratios = ratios_of(results)
    (args.out / "results.json").write_text(
        json.dumps({"results": [asdict(r) for r in results], "ratios": ratios}, indent=2)
    )
    report = table(results, ratios)
    (args.out / "results.md").write_text(report + "\n")
    drawn = chart(ratios, args.out / "ratios.png")
    print(report)
    print(f"\nwrote {args.out}/results.json, results.md" + (", ratios.png" if drawn else ""))


def uploads_only(workloads: list[Workload], seconds: int, warmup: int) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="imghost-bench-") as scratch, ExitStack() as running:
        work = Path(scratch)
        uploaders = (
            peers.reference(work),
            peers.reference(work, durable=True),
            peers.imghost(work),
        )
        targets = started(running, uploaders, workloads, work)
        return measure_interleaved(targets, seconds, warmup)


def all_peers(workloads: list[Workload], seconds: int, warmup: int) -> list[Result]:
    """Every peer running at once, each idle but while its own rounds run."""
    with tempfile.TemporaryDirectory(prefix="imghost-bench-") as scratch, ExitStack() as running:
        work = Path(scratch)
        work.chmod(0o755)  # nginx's workers run as nobody and must reach imghost's files
        private_s3 = start_seaweed(work / "s3")
        running.callback(private_s3.stop)
        open_s3 = start_seaweed(work / "s3-open", open_access=True)
        running.callback(open_s3.stop)
        plain_s3 = peers.seaweed_peer(open_s3)
        plain_s3.process = open_s3.process
        targets = started(
            running,
            (
                peers.reference(work),
                peers.reference(work, durable=True),
                peers.imghost(work),
                peers.imghost_on_s3(work, private_s3),
            ),
            workloads,
            work,
        )
        front = peers.nginx(work / "imghost").start()
        running.callback(front.stop)
        targets += [nginx_target(front, t) for t in targets if _imghost_original_get(t)]
        targets += targets_of(plain_s3, workloads, work)
        return measure_interleaved(targets, seconds, warmup)


def started(
    running: ExitStack, peers_to_start: tuple[Peer, ...], workloads: list[Workload], work: Path
) -> list[Target]:
    """Start each peer (stopped when `running` closes) and give its targets."""
    targets: list[Target] = []
    for peer in peers_to_start:
        running.callback(peer.start().stop)
        targets += targets_of(peer, workloads, work)
    return targets


def _imghost_original_get(target: Target) -> bool:
    workload = target.workload
    return target.peer.name == "imghost" and not workload.upload and bool(workload.image)


def nginx_target(front: Peer, imghost_get: Target) -> Target:
    """nginx serving the very file that imghost's GET target reads from its data folder."""
    path = imghost_get.url.split("/", 3)[3]
    return Target(front, imghost_get.workload, f"{front.base}/{path}", {})


if __name__ == "__main__":
    main()
