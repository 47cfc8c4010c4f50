"""The `imghost` command: serve, keys, settings."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import click

from imghost.keys import issue_key, normalise_cidrs
from imghost.process.metrics_dir import MULTIPROC_ENV, prepare_multiprocess_dir
from imghost.repo.base import RepoUnavailable, Upload
from imghost.repo.sql import SqlRepo
from imghost.settings.runtime import (
    SettingError,
    described,
    redacted,
    validate,
    with_defaults,
    without_redacted,
)
from imghost.settings.startup import Config, ConfigError, load_config
from imghost.settings.update import StorageCheckFailed, update_settings
from imghost.store.registry import BACKENDS, Stores


def _config(**flags: Any) -> Config:
    try:
        return load_config(flags)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


def _repo(config: Config) -> SqlRepo:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return SqlRepo.connect(config.database_url, migrate=True)
    except RepoUnavailable as exc:
        raise click.ClickException(
            f"cannot open the database {config.database_url}: {exc}"
        ) from exc


config_option = click.option("--config", help="TOML file with start-up settings.")
data_dir_option = click.option("--data-dir", help="Folder for the database and local store.")


@click.group()
def main() -> None:
    """imghost: a self-hosted image host for AI applications."""


@main.command()
@config_option
@data_dir_option
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.option("--workers", type=int, help="Worker processes (default: CPU count).")
def serve(**flags: Any) -> None:
    """Run the image host."""
    config = _config(**flags)
    # Before anything imports prometheus_client, which picks its storage at import.
    os.environ[MULTIPROC_ENV] = str(prepare_multiprocess_dir(config.tmp_dir))
    from imghost.cli.serve import run

    repo = _repo(config)
    try:
        run(config, repo)
    finally:
        repo.close()


@main.group()
def keys() -> None:
    """Create, list and revoke API keys."""


def _cidrs(values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return normalise_cidrs(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow-ip") from exc


quota_option = click.option(
    "--quota-mb", type=click.FloatRange(min=0), help="Rolling 24 h upload quota in MB (0: none)."
)
rpm_option = click.option(
    "--rpm", type=click.IntRange(min=0), help="Requests per minute (0: none)."
)
allow_ip_option = click.option(
    "--allow-ip", multiple=True, help="CIDR the key may be used from (repeatable; none: any)."
)


@keys.command("create")
@config_option
@data_dir_option
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option("--admin", is_flag=True, help="Give the key the admin role.")
@click.option(
    "--expires-in", type=click.FloatRange(min=0, min_open=True), help="Days until it expires."
)
@quota_option
@rpm_option
@allow_ip_option
def keys_create(
    name: str,
    admin: bool,
    expires_in: float | None,
    quota_mb: float | None,
    rpm: int | None,
    allow_ip: tuple[str, ...],
    **flags: Any,
) -> None:
    """Create a key; the key itself is printed alone on the last line, once.

    User keys get the `quota.*` settings as their limits unless given; admin keys get none.
    """
    repo = _repo(_config(**flags))
    key, record = issue_key(
        repo,
        with_defaults(repo.get_settings()),
        name=name,
        role="admin" if admin else "user",
        expires_at=time.time() + expires_in * 86400 if expires_in else None,
        daily_bytes=None if quota_mb is None else _bytes(quota_mb),
        rpm=rpm,
        allow_ips=_cidrs(allow_ip),
    )
    click.echo(f"created {record.role} key {record.id} ({record.name}); it is shown only now:")
    click.echo(key)


def _bytes(megabytes: float) -> int:
    return round(megabytes * 1_000_000)


@keys.command("update")
@config_option
@data_dir_option
@click.argument("key_id")
@click.option("--name", help="A new name.")
@click.option(
    "--expires-in", type=click.FloatRange(min=0), help="Days from now until it expires (0: never)."
)
@quota_option
@rpm_option
@allow_ip_option
def keys_update(
    key_id: str,
    name: str | None,
    expires_in: float | None,
    quota_mb: float | None,
    rpm: int | None,
    allow_ip: tuple[str, ...],
    **flags: Any,
) -> None:
    """Change a key's name, expiry or limits."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if expires_in is not None:
        changes["expires_at"] = time.time() + expires_in * 86400 if expires_in else None
    if quota_mb is not None:
        changes["daily_bytes"] = _bytes(quota_mb)
    if rpm is not None:
        changes["rpm"] = rpm
    if allow_ip:
        changes["allow_ips"] = _cidrs(allow_ip)
    record = _repo(_config(**flags)).update_key(key_id, **changes)
    if record is None:
        raise click.ClickException(f"no key with id {key_id}")
    click.echo(f"updated {record.id}: quota {record.daily_bytes} bytes/24 h, {record.rpm} rpm")


@keys.command("list")
@config_option
@data_dir_option
def keys_list(**flags: Any) -> None:
    """List keys (never the keys themselves)."""
    for key in _repo(_config(**flags)).list_keys():
        expires = time.strftime("%Y-%m-%d", time.gmtime(key.expires_at)) if key.expires_at else "-"
        state = "enabled" if key.enabled else "disabled"
        click.echo(f"{key.id}\t{key.prefix}…\t{key.role}\t{state}\texpires {expires}\t{key.name}")


@keys.command("revoke")
@config_option
@data_dir_option
@click.argument("key_id")
def keys_revoke(key_id: str, **flags: Any) -> None:
    """Delete a key by its id; requests with it fail from now on."""
    if not _repo(_config(**flags)).delete_key(key_id):
        raise click.ClickException(f"no key with id {key_id}")
    click.echo(f"revoked {key_id}")


@keys.command("disable")
@config_option
@data_dir_option
@click.argument("key_id")
def keys_disable(key_id: str, **flags: Any) -> None:
    """Disable a key: requests with it answer 403 until it is enabled again."""
    _set_enabled(key_id, False, flags)


@keys.command("enable")
@config_option
@data_dir_option
@click.argument("key_id")
def keys_enable(key_id: str, **flags: Any) -> None:
    """Enable a disabled key."""
    _set_enabled(key_id, True, flags)


def _set_enabled(key_id: str, enabled: bool, flags: dict[str, Any]) -> None:
    if not _repo(_config(**flags)).set_key_enabled(key_id, enabled):
        raise click.ClickException(f"no key with id {key_id}")
    click.echo(f"{'enabled' if enabled else 'disabled'} {key_id}")


@main.group()
def settings() -> None:
    """Read and change run-time system settings."""


@settings.command("get")
@config_option
@data_dir_option
@click.argument("name", required=False)
def settings_get(name: str | None, **flags: Any) -> None:
    """Print settings as JSON (one, or all)."""
    values = {
        name: entry["value"]
        for name, entry in described(with_defaults(_repo(_config(**flags)).get_settings())).items()
    }
    if name is not None:
        if name not in values:
            raise click.ClickException(f"{name} is not a setting")
        click.echo(json.dumps(values[name]))
        return
    click.echo(json.dumps(values, indent=2))


@settings.command("set")
@config_option
@data_dir_option
@click.argument("assignments", nargs=-1, required=True)
def settings_set(assignments: tuple[str, ...], **flags: Any) -> None:
    """Set NAME=VALUE pairs (VALUE in JSON; bare words are strings), all or none."""
    changes = dict(_parse_assignment(item) for item in assignments)
    config = _config(**flags)
    try:
        update_settings(_repo(config), changes, config.data_dir)
    except (SettingError, StorageCheckFailed) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(redacted(validate(without_redacted(changes)))))


def _parse_assignment(item: str) -> tuple[str, Any]:
    name, sep, raw = item.partition("=")
    if not sep:
        raise click.UsageError(f"expected NAME=VALUE, got {item!r}")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw


@main.command()
@config_option
@data_dir_option
def sweep(**flags: Any) -> None:
    """Delete expired uploads (bytes, then records) now, once."""
    from imghost.sweeper import sweep_exclusively

    config = _config(**flags)
    repo = _repo(config)
    removed = sweep_exclusively(
        repo, Stores(config.data_dir), lambda: with_defaults(repo.get_settings())
    )
    if removed is None:
        click.echo("another imghost process is sweeping right now; nothing to do here")
    else:
        click.echo(f"removed {removed} upload(s)")


@main.command()
@config_option
@data_dir_option
def doctor(**flags: Any) -> None:
    """Check the configuration (database, Redis, store, public URL, clock, data folder).

    Prints one line per check, "ok", "warn" or "FAIL" and what to do; exits 1 if any failed.
    Never migrates or creates the database; the store check writes and deletes a probe object,
    as a storage settings change does.
    """
    from imghost.cli.doctor import failed, run_checks

    results = run_checks(flags)
    for result in results:
        click.echo(result.line())
    if failed(results):
        sys.exit(1)


@main.command("migrate-store")
@config_option
@data_dir_option
@click.option("--to", "target", required=True, type=click.Choice(BACKENDS), help="Target store.")
@click.option("--dry-run", is_flag=True, help="Only count what would be copied.")
def migrate_store(target: str, dry_run: bool, **flags: Any) -> None:
    """Copy uploads from other stores into TARGET; their URLs do not change."""
    from rich.filesize import decimal
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from imghost.cli.migrate_store import migrate, pending

    config = _config(**flags)
    repo = _repo(config)
    todo = list(pending(repo, target))
    total_bytes = sum(upload.size for upload in todo)
    click.echo(f"{len(todo)} upload(s), {total_bytes} bytes, to copy into {target}")
    if dry_run or not todo:
        return
    settings = with_defaults(repo.get_settings())
    config.tmp_dir.mkdir(parents=True, exist_ok=True)
    # One bar counting uploads; the bytes copied so far beside it, as bytes.
    columns = (
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("uploads, {task.fields[done_bytes]}"),
    )
    with Progress(*columns) as progress:
        task = progress.add_task("copying", total=len(todo), done_bytes=decimal(0))
        done_bytes = 0

        def advance(upload: Upload) -> None:
            nonlocal done_bytes
            done_bytes += upload.size
            progress.update(task, advance=1, done_bytes=decimal(done_bytes))

        report = migrate(repo, Stores(config.data_dir), settings, target, config.tmp_dir, advance)
    click.echo(
        f"copied {report.copied} upload(s), {report.bytes} bytes, into {target} (their URLs "
        f"are unchanged; the originals stay where they were); {len(report.failed)} failed"
    )
    for failure in report.failed:
        click.echo(f"  {failure}", err=True)
    if report.failed:
        sys.exit(1)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--server",
    envvar="IMGHOST_SERVER",
    show_envvar=True,
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Base URL of the imghost server.",
)
@click.option("--key", envvar="IMGHOST_KEY", show_envvar=True, help="API key (sk-…).")
@click.option(
    "--expires-in",
    type=click.IntRange(min=1),
    help="Seconds each upload lives (default: the server's expiry.files_ttl).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object per line for every file, failures too.",
)
@click.option(
    "--jobs", type=click.IntRange(min=1), default=4, show_default=True, help="Parallel uploads."
)
def upload(
    paths: tuple[str, ...],
    server: str,
    key: str | None,
    expires_in: int | None,
    as_json: bool,
    jobs: int,
) -> None:
    """Upload image files and folders; print each new URL, in input order.

    Folders are walked recursively for image files (.jpg .jpeg .png .gif .webp .apng); files
    named explicitly are always sent, and the server refuses what is not an image. Exits 1 if
    any upload failed, after a summary on stderr.
    """
    from pathlib import Path

    from imghost.cli import uploader

    if not key:
        raise click.UsageError("no API key: pass --key sk-… or set IMGHOST_KEY.")
    files = uploader.find_files(Path(path) for path in paths)
    if not files:
        click.echo("no image files found", err=True)
        return
    failed: list[uploader.Failed] = []
    show_progress = not as_json and sys.stderr.isatty()
    with uploader.progress_display(files, show_progress) as progress:
        for result in uploader.upload_files(
            files, server=server, key=key, expires_in=expires_in, jobs=jobs, progress=progress
        ):
            if isinstance(result, uploader.Failed):
                failed.append(result)
            # print(), not click.echo: click writes around rich's capture of a terminal stdout,
            # so a URL would land on the progress bar's line.
            if as_json:
                print(json.dumps(result.as_json()), flush=True)
            elif isinstance(result, uploader.Uploaded):
                print(result.url, flush=True)
    if failed:
        click.echo(f"{len(failed)} of {len(files)} upload(s) failed:", err=True)
        for failure in failed:
            click.echo(f"  {failure.describe()}", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
