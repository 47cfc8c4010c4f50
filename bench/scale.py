"""Scale-out: 1, 2 and 3 imghost instances behind nginx, and what PostgreSQL + Redis cost.

    python -m bench --scale [--quick]

Part 1 starts N `imghost serve --workers 1` instances on one PostgreSQL, one Redis and a
SeaweedFS bucket (the `s3` store, `proxy` GET mode) behind `deploy/nginx-cluster.conf`, and
drives uploads and uncached GETs through nginx; then one GET row with the recipe's cache on.
Part 2 runs one instance (`--workers 2`, local store) on SQLite and on PostgreSQL + Redis and
compares upload latency at 1 and 16 connections. Every upload uses a user key with a quota and
a rate limit (set too high to refuse anything), so the counters are really kept.

This machine has 2 cores shared by the instances, nginx, PostgreSQL, Redis, SeaweedFS and wrk:
more instances cannot add CPU here, so the 2- and 3-instance rows show coordination overhead
(how much is lost by splitting the same cores among more processes), not capacity.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path

from bench import peers
from bench.peers import ADMIN_KEY, Peer
from bench.run import Result, Workload, image_file, measure, noise_image, place_image
from tests.conftest import free_port
from tests.nginx import cluster_site
from tests.postgres import postgres_schema_url
from tests.seaweed import SeaweedS3, start_seaweed

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get(
    "IMGHOST_BENCH_POSTGRES_URL",
    os.environ.get("IMGHOST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
REDIS_URL = os.environ.get(
    "IMGHOST_BENCH_REDIS_URL",
    os.environ.get("IMGHOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
)
UPLOAD = Workload("upload 100 kB JPEG", 16, noise_image("JPEG", 100_000), "small.jpg", True)
GET = Workload("GET 100 kB JPEG", 32, noise_image("JPEG", 100_000), "get-small.jpg", False)

NGINX_MAIN = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    include {prefix}/site.conf;
}}
"""


def cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "imghost", *args],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def user_key(env: dict[str, str]) -> str:
    """A user key whose quota and rate limit are counted on every upload but never reached."""
    created = cli(
        env, "keys", "create", "--name", "bench", "--quota-mb", "1e9", "--rpm", "10000000"
    )
    return created.strip().splitlines()[-1]


def s3_settings(seaweed: SeaweedS3) -> list[str]:
    return [
        "storage.backend=s3",
        f"storage.s3.endpoint_url={seaweed.endpoint}",
        f"storage.s3.bucket={seaweed.bucket}",
        f"storage.s3.access_key_id={seaweed.access_key_id}",
        f"storage.s3.secret_access_key={seaweed.secret_access_key}",
        "storage.s3.prefix=scale/",
        "images.deduplicate=false",
    ]


@contextmanager
def front(ports: list[int], cached: bool, key: str) -> Iterator[Peer]:
    prefix = Path(tempfile.mkdtemp(prefix="bench-front-"))
    port = free_port()
    site = cluster_site(ports, prefix, cached=cached)
    (prefix / "site.conf").write_text(site.replace("listen 80;", f"listen 127.0.0.1:{port};"))
    (prefix / "nginx.conf").write_text(NGINX_MAIN.format(prefix=prefix))
    command = ["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"]
    peer = Peer("nginx", command, port, key=key).start()
    try:
        yield peer
    finally:
        peer.stop()


def instances(work: Path, count: int, env: dict[str, str]) -> Iterator[Peer]:
    for number in range(count):
        yield peers.imghost(work, f"node{number}", workers=1, env=env)


def scaling(work: Path, env: dict[str, str], seconds: int, warmup: int) -> list[Result]:
    key = user_key(env)
    results: list[Result] = []
    body = image_file(work, UPLOAD)
    for count in (1, 2, 3):
        with ExitStack() as stack:
            nodes = [stack.enter_context(started(node)) for node in instances(work, count, env)]
            balancer = stack.enter_context(front([n.port for n in nodes], False, key))
            label = f"{count} instance{'s' if count > 1 else ''}"
            balancer.name = label
            results.append(
                measure(balancer, UPLOAD, balancer.base + "/api/upload", body, seconds, warmup)
            )
            url = place_image(balancer, GET)
            get_url = balancer.base + "/" + url.split("/", 3)[3]
            results.append(measure(balancer, GET, get_url, None, seconds, warmup))
            if count == 3:
                cached = stack.enter_context(front([n.port for n in nodes], True, key))
                cached.name = "3 instances, nginx cache on"
                cached_url = cached.base + "/" + url.split("/", 3)[3]
                results.append(measure(cached, GET, cached_url, None, seconds, warmup))
    return results


@contextmanager
def started(peer: Peer) -> Iterator[Peer]:
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


def database_cost(
    work: Path, database_env: dict[str, str], seconds: int, warmup: int
) -> list[Result]:
    results: list[Result] = []
    body = image_file(work, UPLOAD)
    for name, env in (("SQLite", {}), ("PostgreSQL + Redis", database_env)):
        peer = peers.imghost(work, f"db-{len(results)}", env=env)
        peer.key = user_key({"IMGHOST_DATA_DIR": str(work / f"db-{len(results)}"), **env})
        with started(peer):
            for connections in (1, 16):
                workload = Workload(
                    f"upload 100 kB JPEG, {connections} conn.", connections, UPLOAD.image,
                    UPLOAD.filename, True,
                )  # fmt: skip
                peer.name = name
                results.append(
                    measure(peer, workload, peer.base + "/api/upload", body, seconds, warmup)
                )
    return results


def table(results: list[Result]) -> str:
    lines = [
        "| setup | workload | req/s | MB/s | p50 ms | p99 ms | errors |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.peer} | {r.workload} | {r.requests_per_s:.0f} | {r.mb_per_s:.1f} | "
        f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.errors} |"
        for r in results
    ]
    return "\n".join(lines)


def ratios_of(results: list[Result]) -> dict[str, float]:
    rate = {(r.peer, r.workload): r.requests_per_s for r in results}
    ratios = {}
    for workload in (UPLOAD.name, GET.name):
        one = rate.get(("1 instance", workload))
        for count in (2, 3):
            many = rate.get((f"{count} instances", workload))
            if one and many:
                ratios[f"{count} / 1 instances, {workload}"] = many / one
    for connections in (1, 16):
        workload = f"upload 100 kB JPEG, {connections} conn."
        sqlite, shared = rate.get(("SQLite", workload)), rate.get(("PostgreSQL + Redis", workload))
        if sqlite and shared:
            ratios[f"PostgreSQL + Redis / SQLite, {workload}"] = shared / sqlite
    return ratios


def main(seconds: int, warmup: int, out: Path) -> None:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="imghost-scale-") as scratch, ExitStack() as stack:
        work = Path(scratch)
        database_url = stack.enter_context(postgres_schema_url(POSTGRES_URL))
        seaweed = start_seaweed(work / "s3")
        stack.callback(seaweed.stop)
        env = {
            "IMGHOST_DATABASE_URL": database_url,
            "IMGHOST_REDIS_URL": REDIS_URL,
            "IMGHOST_ADMIN_KEY": ADMIN_KEY,
        }
        cli(
            {**env, "IMGHOST_DATA_DIR": str(work / "setup")},
            "settings",
            "set",
            *s3_settings(seaweed),
        )
        results += scaling(work, env, seconds, warmup)
        shared = {k: v for k, v in env.items() if k != "IMGHOST_ADMIN_KEY"}
        results += database_cost(work, stack.enter_context(fresh_schema(shared)), seconds, warmup)
    ratios = ratios_of(results)
    (out / "scale.json").write_text(
        json.dumps({"results": [asdict(r) for r in results], "ratios": ratios}, indent=2)
    )
    report = (
        table(results)
        + "\n\n| ratio (req/s) | value |\n|---|---:|\n"
        + "\n".join(f"| {name} | {value:.2f}x |" for name, value in ratios.items())
    )
    (out / "scale.md").write_text(report + "\n")
    print(report)
    print(f"\nwrote {out}/scale.json, scale.md")


@contextmanager
def fresh_schema(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """PostgreSQL + Redis on an empty schema, local store: only the database differs."""
    with postgres_schema_url(POSTGRES_URL) as database_url:
        yield {**env, "IMGHOST_DATABASE_URL": database_url}
