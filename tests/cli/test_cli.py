"""The `imghost` command against a data folder: keys and their limits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IMGHOST, Server


def run(data_dir: Path, *args: str) -> str:
    result = subprocess.run(
        [*IMGHOST, *args, "--data-dir", str(data_dir)], capture_output=True, text=True, check=True
    )
    return result.stdout


def test_no_command_module_loads_prometheus_client() -> None:
    # `serve` must set PROMETHEUS_MULTIPROC_DIR before prometheus_client is imported, and every
    # module the `imghost` group registers is imported before any command runs.
    probe = "import sys, imghost.cli; print('prometheus_client' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "False"


def test_keys_lifecycle_with_limits(tmp_path: Path) -> None:
    created = run(tmp_path, "keys", "create", "--name", "app", "--quota-mb", "5", "--rpm", "7",
                  "--allow-ip", "10.0.0.0/8", "--allow-ip", "192.168.1.7")  # fmt: skip
    key = created.strip().splitlines()[-1]
    assert key.startswith("sk-")
    assert len(key) == 51
    repo = Server(tmp_path).repo()
    record = repo.list_keys()[0]
    assert (record.daily_bytes, record.rpm) == (5_000_000, 7)
    assert record.allow_ips == ("10.0.0.0/8", "192.168.1.7/32")
    run(tmp_path, "keys", "update", record.id, "--quota-mb", "0", "--rpm", "100", "--name", "app2")
    updated = repo.list_keys()[0]
    assert (updated.name, updated.daily_bytes, updated.rpm) == ("app2", 0, 100)
    listing = run(tmp_path, "keys", "list")
    assert record.id in listing
    assert key not in listing
    repo.close()


def test_user_keys_get_the_default_quota_admin_keys_none(tmp_path: Path) -> None:
    run(tmp_path, "settings", "set", "quota.daily_bytes=1234", "quota.rpm=9")
    run(tmp_path, "keys", "create", "--name", "user")
    run(tmp_path, "keys", "create", "--name", "root", "--admin")
    repo = Server(tmp_path).repo()
    limits = {k.name: (k.daily_bytes, k.rpm) for k in repo.list_keys()}
    repo.close()
    assert limits == {"user": (1234, 9), "root": (0, 0)}


def test_bad_cidr_is_refused(tmp_path: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError):
        run(tmp_path, "keys", "create", "--name", "x", "--allow-ip", "not-a-network")


def test_settings_set_never_prints_a_secret_back(tmp_path: Path) -> None:
    shown = run(
        tmp_path,
        "settings",
        "set",
        "storage.s3.secret_access_key=s3-secret-4711",
        "storage.remote.token=remote-token-0815",
        "quota.rpm=7",
    )
    assert "s3-secret-4711" not in shown
    assert "remote-token-0815" not in shown
    assert json.loads(shown) == {
        "storage.s3.secret_access_key": "********",
        "storage.remote.token": "********",
        "quota.rpm": 7,
    }
    assert json.loads(run(tmp_path, "settings", "get", "storage.remote.token")) == "********"
