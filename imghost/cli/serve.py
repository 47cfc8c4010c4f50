"""`imghost serve`, the granian supervisor, and `imghost sweep`.

`sweep` sits beside `serve` because it is the sweep every `serve` runs before its workers
start, run once on its own: both call `sweep_now`.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import click

from imghost.cli.common import config_option, data_dir_option, migrated_repo, startup_config
from imghost.keys import hash_key, issue_key
from imghost.process.metrics_dir import MULTIPROC_ENV, prepare_multiprocess_dir
from imghost.process.spooldir import SpoolDir, sweep_dead
from imghost.repo.base import DuplicateKey, Repo
from imghost.settings.runtime import with_defaults
from imghost.settings.startup import Config
from imghost.store.registry import Stores

RESPAWN_SECONDS = 0.5


def ensure_admin_key(config: Config, repo: Repo) -> str | None:
    """Create the admin key on a first start; returns a key that was generated now."""
    settings = with_defaults(repo.get_settings())
    if config.admin_key:
        if repo.key_by_hash(hash_key(config.admin_key)) is None:
            # Instances starting together on one database all get here; one insert wins.
            with contextlib.suppress(DuplicateKey):
                issue_key(repo, settings, name="admin", role="admin", secret=config.admin_key)
        return None
    if repo.count_keys() > 0:
        return None
    return issue_key(repo, settings, name="admin", role="admin")[0]


def run(config: Config, repo: Repo) -> None:
    # Imported here, not at the top, since every `imghost` command imports this module: the app
    # loads prometheus_client, which must find MULTIPROC_ENV set by `serve` first, and granian
    # is only needed to serve.
    from granian import Granian
    from granian.constants import Interfaces

    from imghost.app import SPOOL_DIR_ENV

    generated = ensure_admin_key(config, repo)
    if generated:
        click.echo(
            "\n  First start: created an admin API key. It is shown only this once; keep it:\n\n"
            f"    {generated}\n\n"
            f"  Try it:  curl -H 'Authorization: Bearer {generated}' "
            f"-F file=@photo.png {config.public_url}/api/upload\n"
        )
    sweep_dead(config.tmp_dir)
    sweep_now(repo, config)
    spool = SpoolDir.claim(config.tmp_dir)
    os.environ.update(config.as_env())
    os.environ[SPOOL_DIR_ENV] = str(spool.path)
    click.echo(f"imghost listening on {config.public_url} with {config.workers} worker(s)")
    try:
        Granian(
            "imghost.app:create_app",
            address=config.host,
            port=config.port,
            interface=Interfaces.ASGI,
            workers=config.workers,
            factory=True,
            log_access=False,
            # A worker that dies (SIGKILL, the OOM killer) is replaced; without this granian
            # stops the whole server when any worker exits unexpectedly.
            respawn_failed_workers=True,
            respawn_interval=RESPAWN_SECONDS,
        ).serve()
    finally:
        spool.release()


@click.command()
@config_option
@data_dir_option
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.option("--workers", type=int, help="Worker processes (default: CPU count).")
def serve(**flags: Any) -> None:
    """Run the image host."""
    config = startup_config(**flags)
    # Before anything imports prometheus_client, which picks its storage at import.
    os.environ[MULTIPROC_ENV] = str(prepare_multiprocess_dir(config.tmp_dir))
    repo = migrated_repo(config)
    try:
        run(config, repo)
    finally:
        repo.close()


def sweep_now(repo: Repo, config: Config) -> int | None:
    """Delete expired uploads now; None when another process is sweeping."""
    # Imported here for the same reason as the app in `run`: the sweeper loads prometheus_client.
    from imghost.sweeper import sweep_exclusively

    return sweep_exclusively(
        repo,
        Stores(config.data_dir, config.cache_mb * 2**20),
        lambda: with_defaults(repo.get_settings()),
    )


@click.command()
@config_option
@data_dir_option
def sweep(**flags: Any) -> None:
    """Delete expired uploads (bytes, then records) now, once."""
    config = startup_config(**flags)
    removed = sweep_now(migrated_repo(config), config)
    if removed is None:
        click.echo("another imghost process is sweeping right now; nothing to do here")
    else:
        click.echo(f"removed {removed} upload(s)")
