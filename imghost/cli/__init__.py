"""The `imghost` command: the group every subcommand is registered on."""

from __future__ import annotations

import click

from imghost.cli.doctor import doctor
from imghost.cli.integrations import integrations
from imghost.cli.keys import keys
from imghost.cli.mcp import mcp
from imghost.cli.migrate_store import migrate_store
from imghost.cli.serve import serve, sweep
from imghost.cli.settings import settings
from imghost.cli.uploader import upload


@click.group()
def main() -> None:
    """imghost: a self-hosted image host for AI applications."""


for command in (serve, keys, settings, sweep, doctor, migrate_store, upload, mcp, integrations):
    main.add_command(command)
