"""`imghost migrate-store`: copy every upload held elsewhere into one store, URLs unchanged.

Each upload is copied, verified against its recorded BLAKE3, and only then is its record
pointed at the copy; the old copy stays where it was. An interrupted run resumes where it
stopped, since only uploads not yet in the target are listed.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from blake3 import blake3
from rich.filesize import decimal
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from imghost.cli.common import config_option, data_dir_option, migrated_repo, startup_config
from imghost.repo.base import Repo, Upload
from imghost.settings.runtime import with_defaults
from imghost.store.base import ObjectExists, Store, StoreUnavailable
from imghost.store.registry import BACKENDS, Stores

BATCH = 100


@dataclass
class MigrationReport:
    copied: int = 0
    bytes: int = 0
    failed: list[str] = field(default_factory=list)


def pending(repo: Repo, target: str) -> Iterator[Upload]:
    after = ""
    while batch := repo.uploads_outside(target, after, BATCH):
        yield from batch
        after = batch[-1].id


def _digest_of(chunks: Iterator[bytes], sink: Callable[[bytes], Any] | None = None) -> str:
    hasher = blake3()
    for chunk in chunks:
        hasher.update(chunk)
        if sink is not None:
            sink(chunk)
    return hasher.hexdigest()


def copy_one(upload: Upload, source: Store, target: Store, scratch: Path) -> str | None:
    """Copy and verify one upload; returns its location in `target` (None: at its key)."""
    temp = scratch / f"{secrets.token_hex(8)}.migrate"
    try:
        with temp.open("wb") as out:
            copied = _digest_of(source.open_range(upload.where, 0, upload.size), out.write)
        if copied != upload.digest:
            raise StoreUnavailable(f"{upload.id}: the source bytes do not match the record")
        try:
            location = target.put_file(upload.storage_key, temp, upload.content_type)
        except ObjectExists:
            # An earlier, interrupted run got this far: keep its copy if it is the same bytes.
            existing = target.open_range(upload.storage_key, 0, upload.size)
            if _digest_of(existing) != upload.digest:
                raise
            location = upload.storage_key
    finally:
        temp.unlink(missing_ok=True)
    return None if location == upload.storage_key else location


def migrate(
    repo: Repo,
    stores: Stores,
    settings: dict[str, Any],
    target_name: str,
    scratch: Path,
    on_progress: Callable[[Upload], None] = lambda upload: None,
) -> MigrationReport:
    target = stores.get(target_name, settings)
    report = MigrationReport()
    for upload in pending(repo, target_name):
        try:
            source = stores.get(upload.store, settings)
            location = copy_one(upload, source, target, scratch)
        except StoreUnavailable as exc:
            report.failed.append(f"{upload.id}: {exc}")
        else:
            repo.move_upload(upload.id, target_name, location)
            report.copied += 1
            report.bytes += upload.size
        on_progress(upload)
    return report


@click.command("migrate-store")
@config_option
@data_dir_option
@click.option("--to", "target", required=True, type=click.Choice(BACKENDS), help="Target store.")
@click.option("--dry-run", is_flag=True, help="Only count what would be copied.")
def migrate_store(target: str, dry_run: bool, **flags: Any) -> None:
    """Copy uploads from other stores into TARGET; their URLs do not change."""
    config = startup_config(**flags)
    repo = migrated_repo(config)
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
