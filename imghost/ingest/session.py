"""One upload's temporary files and half-done steps, undone unless the upload is committed.

An upload passes through steps that each leave something behind: a spool file, a quota
charge, a pending record, an object in the store. Each step registers how to undo itself;
leaving the `async with` block without `commit()` undoes them newest first, and the temporary
files go in any case.
In the spirit of pict-rs's `Session`, whose drop removes what was stored unless disarmed.

Undoing is best effort: whatever a backend refuses now stays pending, and the sweep finishes
it. It runs on the worker pool, since each step may block on a database or a store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from imghost.ingest.spool import Spool
from imghost.process.threads import run_blocking

log = logging.getLogger("imghost")


class UploadSession:
    def __init__(self, spool_dir: Path, limit: int) -> None:
        self.spool_dir = spool_dir
        self.limit = limit
        self.spool: Spool | None = None
        self._temporaries: list[Path] = []
        # Insertion-ordered: a step registered again under its name keeps its place.
        self._undo: dict[str, Callable[[], object]] = {}

    def new_spool(self, on_head: Callable[[bytes], None] | None = None) -> Spool:
        """The file the upload's bytes stream into, removed when the session ends."""
        if self.spool is not None:
            raise RuntimeError("an upload session holds one spool")
        self.spool = Spool(self.spool_dir, self.limit, on_head)
        return self.spool

    def temporary(self, path: Path) -> None:
        """A file of the session's own (a prepared copy), removed when the session ends."""
        self._temporaries.append(path)

    def on_failure(self, step: str, undo: Callable[[], object]) -> None:
        """How to take back `step` if the upload is not committed; naming a step again
        replaces its undo (a record that now has an object to remove first)."""
        self._undo[step] = undo

    def commit(self) -> None:
        """The upload is complete: keep what the steps did."""
        self._undo.clear()

    async def __aenter__(self) -> UploadSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._undo:
            await run_blocking(self._take_back)
        self._remove_temporaries()

    def _take_back(self) -> None:
        while self._undo:
            step, undo = self._undo.popitem()
            try:
                undo()
            except Exception as exc:  # one refused undo must not keep the others from running
                log.warning("an unfinished upload's %s stays for the sweep: %s", step, exc)

    def _remove_temporaries(self) -> None:
        if self.spool is not None:
            self.spool.discard()
        for path in self._temporaries:
            path.unlink(missing_ok=True)
