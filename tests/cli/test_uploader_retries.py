"""`imghost upload` sends through `imghost.client`, so it waits out a 429's Retry-After."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.cli.test_uploader import run_upload, write
from tests.client.conftest import rate_spent
from tests.conftest import Server, unique_png


def test_a_rate_limited_upload_is_retried_after_retry_after(
    own_server: Server, tmp_path: Path
) -> None:
    server = own_server.start()
    key, key_id = server.new_key()
    image = write(tmp_path / "pic.png", unique_png(30, 20))
    rate_spent(server, key_id, frees_in=2)
    started = time.monotonic()
    result = run_upload(str(image), "--server", server.url, "--key", key)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 1  # it slept the server's Retry-After
    (url,) = result.stdout.splitlines()
    assert requests.get(url, timeout=10).content == image.read_bytes()
