"""What several `imghost` commands share: the start-up options, the config and the database."""

from __future__ import annotations

from typing import Any

import click

from imghost.repo.base import RepoUnavailable
from imghost.repo.sql import SqlRepo
from imghost.settings.startup import Config, ConfigError, load_config

config_option = click.option("--config", help="TOML file with start-up settings.")
data_dir_option = click.option("--data-dir", help="Folder for the database and local store.")
# The commands that talk to a running server (upload, mcp) find it and its key alike.
server_option = click.option(
    "--server",
    envvar="IMGHOST_SERVER",
    show_envvar=True,
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Base URL of the imghost server.",
)
key_option = click.option("--key", envvar="IMGHOST_KEY", show_envvar=True, help="API key (sk-…).")


def startup_config(**flags: Any) -> Config:
    """The start-up settings, flags first; a bad one is a usage error, not a traceback."""
    try:
        return load_config(flags)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


def migrated_repo(config: Config) -> SqlRepo:
    """The database at the current schema; one that cannot be opened ends the command."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return SqlRepo.connect(config.database_url, migrate=True)
    except RepoUnavailable as exc:
        raise click.ClickException(
            f"cannot open the database {config.database_url}: {exc}"
        ) from exc
