"""`imghost upload`'s progress: a rich bar on stderr, or nothing when output is not a terminal."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class Sized(Protocol):
    """A file about to be sent: its size on disk."""

    @property
    def size(self) -> int: ...


class ProgressSink(Protocol):
    """Told of bytes read from disk and of each finished file; called from worker threads."""

    def advance(self, nbytes: int) -> None: ...

    def finished(self, result: object) -> None: ...


class NoProgress:
    def advance(self, nbytes: int) -> None:
        pass

    def finished(self, result: object) -> None:
        pass


class RichProgress:
    """A rich bar on stderr: bytes done/total, speed, files done/total."""

    def __init__(self, progress: Progress, total_files: int, total_bytes: int) -> None:
        self._progress = progress
        self._lock = threading.Lock()
        self._done = 0
        self._total_files = total_files
        self._task = progress.add_task("uploading", total=total_bytes, files=self._files_text())

    def _files_text(self) -> str:
        return f"{self._done}/{self._total_files} files"

    def advance(self, nbytes: int) -> None:
        self._progress.update(self._task, advance=nbytes)

    def finished(self, result: object) -> None:
        # The count and its text change together, or two threads could show a stale count.
        with self._lock:
            self._done += 1
            self._progress.update(self._task, files=self._files_text())


@contextmanager
def progress_display(files: Sequence[Sized], enabled: bool) -> Iterator[ProgressSink]:
    """A live progress bar on stderr while the block runs, or nothing when not `enabled`."""
    if not enabled:
        yield NoProgress()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[files]}"),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    # URLs printed meanwhile go above the bar when stdout is the same terminal; when stdout is
    # a pipe or file, rich must not capture it (it would send the URLs to stderr).
    with Progress(
        *columns, console=Console(stderr=True), redirect_stdout=sys.stdout.isatty()
    ) as progress:
        yield RichProgress(progress, len(files), sum(file.size for file in files))
