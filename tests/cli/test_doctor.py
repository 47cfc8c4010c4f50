"""`imghost doctor` against real deployments: a running server, closed ports, PostgreSQL, S3."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from imghost.repo import migrations
from imghost.repo.schema import schema_version
from imghost.repo.sql import SqlRepo
from tests.conftest import IMGHOST, Server, free_port, s3_changes
from tests.postgres import NO_POSTGRES, POSTGRES_URL, postgres_schema_url
from tests.seaweed import SeaweedS3

CHECKS = ("config", "database", "redis", "store", "public URL", "providers", "clock", "data dir")
LINE = re.compile(r"(ok|warn|FAIL) +([^:]+): (.+)")
REDIS_URL = os.environ.get("IMGHOST_TEST_REDIS_URL", "")


@dataclass(frozen=True)
class Report:
    code: int
    output: str
    checks: dict[str, tuple[str, str]]

    def status(self, name: str) -> str:
        return self.checks[name][0]

    def detail(self, name: str) -> str:
        return self.checks[name][1]


def doctor(data_dir: Path, **env: str) -> Report:
    """Run `imghost doctor` with only the given IMGHOST_* variables, as a user would."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("IMGHOST_")}
    result = subprocess.run(
        [*IMGHOST, "doctor", "--data-dir", str(data_dir)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    checks = {}
    for line in result.stdout.splitlines():
        match = LINE.fullmatch(line)
        assert match, f"not a check line: {line!r}\n{result.stdout}{result.stderr}"
        checks[match[2]] = (match[1], match[3])
    return Report(result.returncode, result.stdout + result.stderr, checks)


def sqlite_repo(data_dir: Path) -> SqlRepo:
    data_dir.mkdir(parents=True, exist_ok=True)
    return SqlRepo.connect(f"sqlite:///{data_dir}/imghost.db", migrate=True)


def test_a_running_server_passes_every_check(own_server: Server) -> None:
    own_server.start()
    report = doctor(own_server.data_dir, IMGHOST_PORT=str(own_server.port))
    assert report.code == 0, report.output
    assert tuple(report.checks) == CHECKS, report.output
    # A server on loopback plain http works; only model providers cannot reach it.
    expected = dict.fromkeys(CHECKS, "ok") | {"providers": "warn"}
    assert {name: report.status(name) for name in CHECKS} == expected, report.output
    assert f"127.0.0.1:{own_server.port}/healthz answers" in report.detail("public URL")
    assert "loopback address: no provider can fetch" in report.detail("providers")
    assert "plain http" in report.detail("providers")


def test_a_fresh_data_dir_only_warns_and_no_database_is_created(tmp_path: Path) -> None:
    report = doctor(tmp_path / "data", IMGHOST_PORT=str(free_port()))
    assert report.code == 0, report.output
    assert report.status("database") == "warn"
    assert "imghost serve` creates it" in report.detail("database")
    assert report.status("public URL") == "warn"
    assert "may not be running yet" in report.detail("public URL")
    assert not (tmp_path / "data" / "imghost.db").exists()


def test_an_old_schema_is_reported_not_migrated(tmp_path: Path) -> None:
    repo = sqlite_repo(tmp_path / "data")
    latest = len(migrations.MIGRATIONS)
    with repo.engine.begin() as conn:
        conn.execute(delete(schema_version).where(schema_version.c.version == latest))
    report = doctor(tmp_path / "data")
    assert report.status("database") == "warn", report.output
    assert f"v{latest - 1}, this imghost's is v{latest}" in report.detail("database")
    assert "run `imghost serve` once to migrate" in report.detail("database")
    with repo.engine.connect() as conn:
        assert conn.execute(select(func.max(schema_version.c.version))).scalar_one() == latest - 1
    repo.close()


def test_a_bad_config_fails_alone(tmp_path: Path) -> None:
    report = doctor(tmp_path / "data", IMGHOST_PORT="eighty")
    assert report.code == 1
    assert report.checks == {
        "config": ("FAIL", "port must be a whole number, got 'eighty'. Fix the flag, "
                   "IMGHOST_* variable or file."),
    }  # fmt: skip


def test_an_unreachable_database_fails_naming_its_address(tmp_path: Path) -> None:
    port = free_port()
    report = doctor(
        tmp_path / "data", IMGHOST_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/x"
    )
    assert report.code == 1, report.output
    assert report.status("database") == "FAIL"
    assert f"cannot reach postgresql://postgres@127.0.0.1:{port}/x" in report.detail("database")
    for dependent in ("store", "clock"):
        assert report.status(dependent) == "warn"
        assert "not checked" in report.detail(dependent)


def test_an_unreachable_redis_fails(tmp_path: Path) -> None:
    port = free_port()
    report = doctor(tmp_path / "data", IMGHOST_REDIS_URL=f"redis://:secret@127.0.0.1:{port}/0")
    assert report.code == 1, report.output
    assert report.status("redis") == "FAIL"
    assert f"redis://:***@127.0.0.1:{port}/0 did not answer PING" in report.detail("redis")
    assert "secret" not in report.output


def test_a_reachable_redis_is_ok(tmp_path: Path) -> None:
    if not REDIS_URL:
        pytest.skip("Redis tests need IMGHOST_TEST_REDIS_URL (set by .ci/run)")
    report = doctor(tmp_path / "data", IMGHOST_REDIS_URL=REDIS_URL)
    assert report.status("redis") == "ok", report.output
    assert "answers PING" in report.detail("redis")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    with postgres_schema_url(POSTGRES_URL) as url:
        yield url


def test_postgres_clock_skew_is_measured(tmp_path: Path, postgres_url: str) -> None:
    SqlRepo.connect(postgres_url, migrate=True).close()
    report = doctor(tmp_path / "data", IMGHOST_DATABASE_URL=postgres_url)
    assert report.code == 0, report.output
    assert report.status("database") == "ok"
    assert report.status("clock") == "ok"
    assert re.fullmatch(
        r"the database's clock is \d+\.\d{3} s (ahead of|behind) this machine's "
        r"\(±\d+\.\d{3} s\)\.",
        report.detail("clock"),
    ), report.detail("clock")


def test_a_store_that_cannot_be_reached_fails_naming_it(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    repo = sqlite_repo(tmp_path / "data")
    # Straight into the database: `imghost settings set` would refuse a store that fails.
    repo.put_settings(
        {
            "storage.backend": "s3",
            "storage.s3.endpoint_url": endpoint,
            "storage.s3.bucket": "images",
            "storage.s3.access_key_id": "AKIATEST",
            "storage.s3.secret_access_key": "secret",
        }
    )
    repo.close()
    report = doctor(tmp_path / "data")
    assert report.code == 1, report.output
    assert report.status("store") == "FAIL"
    assert report.detail("store").startswith(
        f"the active s3 store (bucket images at {endpoint}) failed its live check: S3 failed"
    )


def test_a_store_on_seaweedfs_is_ok(tmp_path: Path, seaweed: SeaweedS3) -> None:
    repo = sqlite_repo(tmp_path / "data")
    repo.put_settings(s3_changes(seaweed))
    repo.close()
    report = doctor(tmp_path / "data")
    assert report.code == 0, report.output
    assert report.checks["store"] == (
        "ok",
        f"the active s3 store (bucket {seaweed.bucket} at {seaweed.endpoint}) took a probe "
        "object and gave it back.",
    )
