"""A real nginx on 127.0.0.1 running one of the site files in deploy/, for the recipe tests."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, free_port

START_TIMEOUT_SECONDS = 20

needs_nginx = pytest.mark.skipif(
    shutil.which("nginx") is None and not os.environ.get("IMGHOST_TEST_NGINX"),
    reason="needs nginx (apt-get install nginx-light); IMGHOST_TEST_NGINX=1 makes it mandatory",
)


_UPSTREAM_SERVERS = re.compile(r"(    server 127\.0\.0\.1:800\d( [^\n]*)?;\n)+")


def cluster_site(ports: list[int], cache_dir: Path, *, cached: bool = True) -> str:
    """deploy/nginx-cluster.conf balancing over `ports` (each with the recipe's own server
    options), its image cache in `cache_dir`, or no image cache at all."""
    site = (ROOT / "deploy" / "nginx-cluster.conf").read_text()
    servers = _UPSTREAM_SERVERS.search(site)
    if servers is None:
        raise ValueError("deploy/nginx-cluster.conf lists no 127.0.0.1:800N upstream servers")
    template = servers.group(1)
    lines = "".join(template.replace(template.split()[1], f"127.0.0.1:{port}", 1) for port in ports)
    site = site[: servers.start()] + lines + site[servers.end() :]
    if not cached:
        site = site.replace("        proxy_cache imghost_images;\n", "")
    return site.replace("/var/cache/nginx/imghost", str(cache_dir))


@contextmanager
def run_nginx(site: str, folder: Path) -> Iterator[str]:
    """Run `site` (a deploy/ file, paths already replaced) on a free port; yields its base URL."""
    port = free_port()
    (folder / "site.conf").write_text(site.replace("listen 80;", f"listen 127.0.0.1:{port};"))
    (folder / "nginx.conf").write_text(
        f"pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nuser root;\n"
        f"events {{}}\nhttp {{\n access_log off;\n include {folder}/site.conf;\n}}\n"
    )
    process = subprocess.Popen(
        ["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError((folder / "error.log").read_text(errors="replace"))
            try:
                requests.get(url + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
