"""`imghost serve`: prepare the data folder and database once, then run granian's workers."""

from __future__ import annotations

import contextlib
import os

import click
from granian import Granian
from granian.constants import Interfaces

from imghost.app import SPOOL_DIR_ENV
from imghost.keys import hash_key, issue_key
from imghost.process.spooldir import SpoolDir, sweep_dead
from imghost.repo.base import DuplicateKey, Repo
from imghost.settings.runtime import with_defaults
from imghost.settings.startup import Config
from imghost.store.registry import Stores
from imghost.sweeper import sweep_exclusively

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
    generated = ensure_admin_key(config, repo)
    if generated:
        click.echo(
            "\n  First start: created an admin API key. It is shown only this once; keep it:\n\n"
            f"    {generated}\n\n"
            f"  Try it:  curl -H 'Authorization: Bearer {generated}' "
            f"-F file=@photo.png {config.public_url}/api/upload\n"
        )
    sweep_dead(config.tmp_dir)
    sweep_exclusively(repo, Stores(config.data_dir), lambda: with_defaults(repo.get_settings()))
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
