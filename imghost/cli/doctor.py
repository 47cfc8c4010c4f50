"""`imghost doctor`: checks the configuration about to run and says what is wrong, in words.

Nothing here changes the deployment on purpose: the database is never migrated or created.
The store check is the live check `PUT /api/settings` runs, so it writes (and, except on a
`remote` host, deletes) one probe object, exactly as a settings change would.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import click
import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from imghost.cli.common import config_option, data_dir_option
from imghost.repo import migrations
from imghost.repo.base import RepoUnavailable
from imghost.repo.sql import SqlRepo
from imghost.settings.runtime import with_defaults
from imghost.settings.startup import Config, ConfigError, load_config
from imghost.store.base import StoreUnavailable
from imghost.store.registry import build_store
from imghost.vision.report import fetchability_warnings

Status = Literal["ok", "warn", "FAIL"]

HTTP_TIMEOUT_SECONDS = 3.0
REDIS_TIMEOUT_SECONDS = 2.0
SKEW_WARN_SECONDS = 2.0
SKEW_FAIL_SECONDS = 30.0
# Uploads are spooled into the data folder whatever the store, so a nearly full disk fails them.
LOW_DISK_BYTES = 1024**3


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.detail}"


def run_checks(flags: Mapping[str, Any]) -> list[Result]:
    """Every check, in order; those that need the database are skipped when it failed."""
    try:
        config = load_config(flags)
    except ConfigError as exc:
        return [Result("config", "FAIL", f"{exc}. Fix the flag, IMGHOST_* variable or file.")]
    try:
        repo = open_repo(config)
    except (SQLAlchemyError, ImportError) as exc:
        return [
            Result(
                "config",
                "FAIL",
                f"database_url {config.database_url!r} is not a usable database URL "
                f"({_reason(exc)}); "
                "use sqlite:///path/to/imghost.db or postgresql://user@host:5432/name.",
            )
        ]
    results = [Result("config", "ok", f"loaded; data folder {config.data_dir}")]
    try:
        database = check_database(config, repo)
        results.append(database)
        usable = database.status != "FAIL"
        settings = runtime_settings(repo) if usable else None
        public_url = (settings or {}).get("public_url") or config.public_url
        results += [
            check_redis(config.redis_url),
            check_store(config.data_dir, settings),
            check_public_url(public_url),
            check_providers(public_url, settings),
            check_clock(repo) if usable else _not_checked("clock"),
            check_data_dir(config.data_dir),
        ]
    finally:
        if repo is not None:
            repo.close()
    return results


def failed(results: list[Result]) -> bool:
    return any(result.status == "FAIL" for result in results)


def open_repo(config: Config) -> SqlRepo | None:
    """The configured database, or None when it is a SQLite file that does not exist yet
    (connecting would create it, and an empty file is not what `imghost serve` will make)."""
    path = _sqlite_path(config.database_url)
    if path is not None and not path.exists():
        return None
    return SqlRepo.connect(config.database_url)


def _sqlite_path(database_url: str) -> Path | None:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _reason(exc: BaseException) -> str:
    """The first line of an error's message, to sit inside a sentence."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(".")


def _not_checked(name: str) -> Result:
    return Result(name, "warn", "not checked, because the database check above failed.")


def check_database(config: Config, repo: SqlRepo | None) -> Result:
    where = _shown(config.database_url)
    if repo is None:
        return Result(
            "database",
            "warn",
            f"there is no database at {_sqlite_path(config.database_url)} yet; "
            "`imghost serve` creates it on its first start (check --data-dir if you expected one).",
        )
    try:
        repo.ping()
        with repo.engine.connect() as conn:
            version = migrations.current_version(conn)
    except (RepoUnavailable, SQLAlchemyError) as exc:
        return Result(
            "database",
            "FAIL",
            f"cannot reach {where}: {_reason(exc)}. Is the database running, and is database_url "
            "(IMGHOST_DATABASE_URL) right?",
        )
    latest = len(migrations.MIGRATIONS)
    if version == latest:
        return Result("database", "ok", f"{where} answers; its schema is current (v{version}).")
    if version == 0:
        return Result(
            "database",
            "warn",
            f"{where} answers but is empty; `imghost serve` creates the tables on its first start.",
        )
    if version < latest:
        return Result(
            "database",
            "warn",
            f"{where} answers; its schema is v{version}, this imghost's is v{latest}: run "
            "`imghost serve` once to migrate (it does so on start).",
        )
    return Result(
        "database",
        "FAIL",
        f"{where} has schema v{version}, newer than this imghost knows (v{latest}): a newer "
        "imghost migrated it. Upgrade imghost on this machine before running it.",
    )


def runtime_settings(repo: SqlRepo | None) -> dict[str, Any] | None:
    """The run-time settings the server would start with; None if the database cannot say."""
    if repo is None:
        return with_defaults({})
    try:
        with repo.engine.connect() as conn:
            if migrations.current_version(conn) == 0:
                return with_defaults({})
        return with_defaults(repo.get_settings())
    except (RepoUnavailable, SQLAlchemyError):
        return None


def check_redis(redis_url: str) -> Result:
    if not redis_url:
        return Result(
            "redis", "ok", "not configured: counters live in the database (fine for one machine)."
        )
    # Imported here, not at the top: every `imghost` command imports this module, and loading
    # redis would add a tenth to the start-up of each.
    import redis

    where = _shown(redis_url)
    try:
        client = redis.Redis.from_url(
            redis_url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
    except ValueError as exc:
        return Result("redis", "FAIL", f"redis_url {where} is not a Redis URL: {_reason(exc)}.")
    try:
        client.ping()
    except redis.RedisError as exc:
        return Result(
            "redis",
            "FAIL",
            f"{where} did not answer PING: {_reason(exc)}. Quota checks would answer 503 "
            "limits_unavailable; start Redis, fix redis_url (IMGHOST_REDIS_URL), or unset it "
            "to count in the database.",
        )
    finally:
        client.close()
    return Result("redis", "ok", f"{where} answers PING.")


def check_store(data_dir: Path, settings: Mapping[str, Any] | None) -> Result:
    if settings is None:
        return Result(
            "store",
            "warn",
            "not checked: the active store is named in the database, which could not be read.",
        )
    backend = settings["storage.backend"]
    where = _store_location(backend, settings, data_dir)
    try:
        store = build_store(backend, settings, data_dir)
        try:
            store.check()
        finally:
            store.close()
    except StoreUnavailable as exc:
        return Result(
            "store",
            "FAIL",
            f"the active {backend} store ({where}) failed its live check: {_reason(exc)}. "
            "New uploads would fail; fix the storage.* settings (`imghost settings set` or "
            "/admin).",
        )
    return Result(
        "store",
        "ok",
        f"the active {backend} store ({where}) took a probe object and gave it back.",
    )


def _store_location(backend: str, settings: Mapping[str, Any], data_dir: Path) -> str:
    if backend == "s3":
        endpoint = settings["storage.s3.endpoint_url"] or "AWS"
        return f"bucket {settings['storage.s3.bucket'] or '(none)'} at {endpoint}"
    if backend == "remote":
        return settings["storage.remote.upload_url"] or "no upload_url"
    return str(data_dir / "uploads")


def check_public_url(public_url: str) -> Result:
    health = f"{public_url}/healthz"
    try:
        response = httpx.get(health, timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=True)
    except (httpx.ConnectError, httpx.TimeoutException) as exc:
        return Result(
            "public URL",
            "warn",
            f"nothing answered {health} ({_reason(exc)}): the server may not be running yet. "
            "If it is, check public_url and the proxy or firewall in front of it.",
        )
    except httpx.HTTPError as exc:
        return Result("public URL", "FAIL", f"{health} failed: {_reason(exc)}.")
    if response.status_code != 200 or _json(response) != {"status": "ok"}:
        return Result(
            "public URL",
            "FAIL",
            f"{health} answered {response.status_code}, not imghost's health answer: image URLs "
            "would not reach imghost. Point public_url (or your proxy) at this server.",
        )
    return Result("public URL", "ok", f"{health} answers.")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def check_providers(public_url: str, settings: dict[str, Any] | None) -> Result:
    """Can model providers fetch image URLs under `public_url`? The same words file objects
    carry in `vision.warnings`."""
    settings = settings or {}
    redirects = (
        settings.get("storage.backend") == "s3"
        and settings.get("storage.s3.get_mode") == "redirect"
    )
    warnings = fetchability_warnings(public_url, redirects)
    if warnings:
        return Result("providers", "warn", " ".join(warnings))
    return Result("providers", "ok", f"providers can fetch images under {public_url}.")


def check_clock(repo: SqlRepo | None) -> Result:
    if repo is None or repo.engine.dialect.name == "sqlite":
        return Result("clock", "ok", "skipped: SQLite is on this machine, so it shares its clock.")
    try:
        with repo.engine.connect() as conn:
            before = time.time()
            # clock_timestamp(), not now(): now() is when the transaction began.
            database_now = float(
                conn.execute(text("SELECT extract(epoch from clock_timestamp())")).scalar_one()
            )
            after = time.time()
    except (RepoUnavailable, SQLAlchemyError) as exc:
        return Result("clock", "warn", f"could not read the database's time: {_reason(exc)}.")
    skew = database_now - (before + after) / 2
    direction = "ahead of" if skew > 0 else "behind"
    measured = (
        f"the database's clock is {abs(skew):.3f} s {direction} this machine's "
        f"(±{(after - before) / 2:.3f} s)"
    )
    if abs(skew) > SKEW_FAIL_SECONDS:
        status: Status = "FAIL"
    elif abs(skew) > SKEW_WARN_SECONDS:
        status = "warn"
    else:
        return Result("clock", "ok", f"{measured}.")
    return Result(
        "clock",
        status,
        f"{measured}: expiry and sweeper leases depend on agreeing clocks. Sync both machines "
        "with NTP (chrony or systemd-timesyncd).",
    )


def check_data_dir(data_dir: Path) -> Result:
    if not data_dir.exists():
        parent = next(p for p in data_dir.parents if p.exists())
        if not os.access(parent, os.W_OK):
            return Result(
                "data dir",
                "FAIL",
                f"{data_dir} does not exist and cannot be created ({parent} is not writable): "
                "create it for this user or pick another --data-dir.",
            )
        return Result(
            "data dir",
            "warn",
            f"{data_dir} does not exist yet; `imghost serve` creates it ({_free(parent)}).",
        )
    try:
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".doctor-") as probe:
            probe.write(b"ok")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        return Result(
            "data dir",
            "FAIL",
            f"cannot write to {data_dir}: {exc.strerror}. Give this user write access or pick "
            "another --data-dir.",
        )
    if shutil.disk_usage(data_dir).free < LOW_DISK_BYTES:
        return Result(
            "data dir",
            "warn",
            f"{data_dir} is writable but has only {_free(data_dir)}. Uploads are spooled here "
            "and fail when the disk is full: free some space.",
        )
    return Result("data dir", "ok", f"{data_dir} is writable; {_free(data_dir)}.")


def _free(path: Path) -> str:
    usage = shutil.disk_usage(path)
    return f"{usage.free / 1024**3:.1f} GiB free of {usage.total / 1024**3:.1f} GiB"


@click.command()
@config_option
@data_dir_option
def doctor(**flags: Any) -> None:
    """Check the configuration (database, Redis, store, public URL, clock, data folder).

    Prints one line per check, "ok", "warn" or "FAIL" and what to do; exits 1 if any failed.
    Never migrates or creates the database; the store check writes and deletes a probe object,
    as a storage settings change does.
    """
    results = run_checks(flags)
    for result in results:
        click.echo(result.line())
    if failed(results):
        sys.exit(1)
