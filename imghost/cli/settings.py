"""`imghost settings`: read and change the run-time settings kept in the database."""

from __future__ import annotations

import json
from typing import Any

import click

from imghost.cli.common import config_option, data_dir_option, migrated_repo, startup_config
from imghost.settings.runtime import (
    SettingError,
    described,
    redacted,
    validate,
    with_defaults,
    without_redacted,
)
from imghost.settings.update import StorageCheckFailed, update_settings


@click.group()
def settings() -> None:
    """Read and change run-time system settings."""


@settings.command("get")
@config_option
@data_dir_option
@click.argument("name", required=False)
def settings_get(name: str | None, **flags: Any) -> None:
    """Print settings as JSON (one, or all)."""
    repo = migrated_repo(startup_config(**flags))
    values = {
        name: entry["value"]
        for name, entry in described(with_defaults(repo.get_settings())).items()
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
    config = startup_config(**flags)
    try:
        update_settings(migrated_repo(config), changes, config.data_dir)
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
