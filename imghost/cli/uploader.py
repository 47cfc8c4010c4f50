"""`imghost upload`: find image files, send them in parallel to `/v1/files/uploads` with
`imghost.client` (which retries a 429 or 503 the server says to retry after).

The click command at the end only parses options and prints; everything else is usable from
Python too:

    files = find_files([Path("photos")])
    for result in upload_files(files, server="http://127.0.0.1:8000", key="sk-…"):
        print(result.as_json())
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
import httpx

from imghost.cli.common import key_option, server_option
from imghost.cli.progress import NoProgress, ProgressSink, progress_display
from imghost.client import Client, File, ImghostError
from imghost.client.calls import file_of
from imghost.ingest.formats import FORMATS
from imghost.vision.presets import PRESETS

DEFAULT_JOBS = 4
# Only a pre-filter for folder walks, so a folder of mixed files does not flood the server
# with refusals; the server decides what an image is from its bytes.
IMAGE_SUFFIXES = frozenset(suffix for f in FORMATS.values() if f.accepted for suffix in f.suffixes)


@dataclass(frozen=True)
class LocalFile:
    """A file to send, with its size taken once for the progress total."""

    path: Path
    size: int


@dataclass(frozen=True)
class Uploaded:
    path: Path
    id: str
    url: str
    size: int
    mime_type: str
    # The URL of the variant asked for with `--for` (None without it).
    variant_url: str | None = None

    @property
    def printed_url(self) -> str:
        """The URL a person asked for: the variant's with `--for`, else the original's."""
        return self.variant_url or self.url

    def as_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "path": str(self.path),
            "ok": True,
            "id": self.id,
            "url": self.url,
            "size": self.size,
            "mime_type": self.mime_type,
        }
        if self.variant_url is not None:
            answer["variant_url"] = self.variant_url
        return answer


@dataclass(frozen=True)
class Failed:
    """A refusal (the server's status, code and message), or a network or disk error (no status,
    code `network_error` or `unreadable_file`)."""

    path: Path
    message: str
    status: int | None = None
    code: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "ok": False,
            "status": self.status,
            "code": self.code,
            "message": self.message,
        }

    def describe(self) -> str:
        """One line for the failure summary: the path, the message, and what the server said."""
        said = " ".join(str(part) for part in (self.status, self.code) if part is not None)
        return f"{self.path}: {self.message}" + (f" ({said})" if said else "")


Result = Uploaded | Failed


# --- Finding files ---------------------------------------------------------------------------


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def walk_images(folder: Path) -> Iterator[Path]:
    """Image files under `folder`, recursively, in a stable (sorted) order."""
    for root, dirs, names in os.walk(folder):
        dirs.sort()  # os.walk descends in the order left in `dirs`
        for name in sorted(names):
            path = Path(root, name)
            if is_image_name(path) and path.is_file():
                yield path


def find_files(paths: Iterable[Path]) -> list[LocalFile]:
    """Files to send, in input order: named files always, folders' image files recursively.

    A file reached twice (named and inside a named folder) is sent once, where first seen.
    """
    found: list[LocalFile] = []
    seen: set[Path] = set()
    for given in paths:
        for path in walk_images(given) if given.is_dir() else (given,):
            identity = path.resolve()
            if identity not in seen:
                seen.add(identity)
                found.append(LocalFile(path, path.stat().st_size))
    return found


# --- Uploading -------------------------------------------------------------------------------


class _CountingFile(io.FileIO):
    """A file read straight from disk in httpx's 64 KiB chunks, reporting each chunk's size.

    httpx streams a multipart file field from any binary file object (its length from fstat),
    so no file is ever held in memory whole. It rewinds the file before sending it, and again
    when the client retries after a 429 or 503: the rewind is reported as negative progress,
    so a retried file is not counted twice.
    """

    def __init__(self, path: Path, on_read: Callable[[int], None]) -> None:
        super().__init__(path, "rb")
        self._on_read = on_read

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if data:
            self._on_read(len(data))
        return data or b""

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        before = self.tell()
        after = super().seek(offset, whence)
        if after != before:
            self._on_read(after - before)
        return after


def new_client(server: str, key: str, jobs: int) -> Client:
    """One client shared by every worker thread: a connection per job, kept alive."""
    return Client(
        server, key, limits=httpx.Limits(max_connections=jobs, max_keepalive_connections=jobs)
    )


def result_of(path: Path, response: httpx.Response, preset: str | None = None) -> Result:
    """The file object of an upload's answer (with `preset`'s variant URL when one was asked
    for), or its refusal."""
    try:
        file = file_of(response)
    except ImghostError as error:
        return failed(path, error)
    return uploaded(path, file, preset)


def uploaded(path: Path, file: File, preset: str | None) -> Result:
    result = Uploaded(path, file.id, file.url, file.bytes, file.mime_type)
    if preset is None:
        return result
    variant = file.variants.get(preset)
    if variant is None:
        message = f"uploaded as {result.url}, but the server answered no {preset!r} variant"
        # The answer itself was a success: imghost answers an upload with 200.
        return Failed(path, message, 200, "no_variant")
    return replace(result, variant_url=variant.url)


def failed(path: Path, error: ImghostError) -> Failed:
    """A refusal keeps the server's status and code; a network failure has code
    `network_error` and no status."""
    return Failed(path, error.message, error.status, error.code)


def send(
    client: Client,
    path: Path,
    expires_in: int | None,
    on_read: Callable[[int], None],
    preset: str | None = None,
) -> Result:
    """POST one file; every error becomes a `Failed`, so one bad file never stops the rest.

    With `preset`, the server makes that variant before it answers."""
    try:
        with _CountingFile(path, on_read) as stream:
            file = client.upload(stream, for_=preset, expires_in=expires_in, filename=path.name)
    except ImghostError as error:
        return failed(path, error)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return Failed(path, f"cannot read the file: {reason}", code="unreadable_file")
    return uploaded(path, file, preset)


def upload_file(
    client: Client,
    file: LocalFile,
    expires_in: int | None,
    progress: ProgressSink,
    preset: str | None = None,
) -> Result:
    """Send one file, reporting its bytes and its end to `progress`."""
    read = 0

    def on_read(nbytes: int) -> None:
        nonlocal read
        read += nbytes
        progress.advance(nbytes)

    result = send(client, file.path, expires_in, on_read, preset)
    # A refused file may not have been read to its end; count the rest so the bar ends full.
    progress.advance(max(file.size - read, 0))
    progress.finished(result)
    return result


def upload_files(
    files: Sequence[LocalFile],
    *,
    server: str,
    key: str,
    expires_in: int | None = None,
    jobs: int = DEFAULT_JOBS,
    progress: ProgressSink | None = None,
    preset: str | None = None,
) -> Iterator[Result]:
    """Upload `files` with `jobs` in parallel, yielding results in input order as they are ready.
    With `preset`, each upload's variant for it is made at once and its URL returned too.

    Stopping early (Ctrl-C, or closing the generator) cancels the uploads not yet started and
    waits only for the ones in flight.
    """
    sink = progress or NoProgress()
    with new_client(server, key, jobs) as client, ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [
            pool.submit(upload_file, client, file, expires_in, sink, preset) for file in files
        ]
        try:
            for future in futures:
                yield future.result()
        finally:
            # Without this, leaving the pool's block would wait for every queued upload.
            pool.shutdown(wait=True, cancel_futures=True)


# --- The command -----------------------------------------------------------------------------


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@server_option
@key_option
@click.option(
    "--expires-in",
    type=click.IntRange(min=1),
    help="Seconds each upload lives (default: the server's expiry.files_ttl).",
)
@click.option(
    "--for",
    "preset",
    metavar="PRESET",
    help=(
        f"Also make each upload's variant for a model ({', '.join(PRESETS)}) and print its URL "
        "instead of the original's."
    ),
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object per line for every file, failures too.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=DEFAULT_JOBS,
    show_default=True,
    help="Parallel uploads.",
)
def upload(
    paths: tuple[str, ...],
    server: str,
    key: str | None,
    expires_in: int | None,
    preset: str | None,
    as_json: bool,
    jobs: int,
) -> None:
    """Upload image files and folders; print each new URL (with --for, its variant's), in order.

    Folders are walked recursively for image files (.jpg .jpeg .png .apng .gif .webp .heic
    .heif .hif .avif); files named explicitly are always sent, and the server refuses what is
    not an image. Exits 1 if any upload failed, after a summary on stderr.
    """
    if not key:
        raise click.UsageError("no API key: pass --key sk-… or set IMGHOST_KEY.")
    if preset is not None and not preset.strip():
        raise click.UsageError("--for needs a preset name, e.g. --for claude.")
    files = find_files(Path(path) for path in paths)
    if not files:
        click.echo("no image files found", err=True)
        return
    failed: list[Failed] = []
    show_progress = not as_json and sys.stderr.isatty()
    with progress_display(files, show_progress) as progress:
        for result in upload_files(
            files,
            server=server,
            key=key,
            expires_in=expires_in,
            jobs=jobs,
            progress=progress,
            preset=preset,
        ):
            if isinstance(result, Failed):
                failed.append(result)
            # print(), not click.echo: click writes around rich's capture of a terminal stdout,
            # so a URL would land on the progress bar's line.
            if as_json:
                print(json.dumps(result.as_json()), flush=True)
            elif isinstance(result, Uploaded):
                print(result.printed_url, flush=True)
    if failed:
        click.echo(f"{len(failed)} of {len(files)} upload(s) failed:", err=True)
        for failure in failed:
            click.echo(f"  {failure.describe()}", err=True)
        sys.exit(1)
