"""Per-instance folders for in-flight upload bytes, and the start-up sweep of dead ones.

Each running instance holds an exclusive `flock` on `<tmp>/<id>.lock` for as long as any of
its processes live. A folder whose lock can be taken belongs to an instance that is gone
(killed, crashed), so its half-received uploads can be removed safely, even while other
instances share the data folder.
"""

from __future__ import annotations

import fcntl
import secrets
import shutil
from pathlib import Path
from typing import IO


class SpoolDir:
    def __init__(self, path: Path, lock: IO[bytes]) -> None:
        self.path = path
        self._lock = lock

    @classmethod
    def claim(cls, tmp_root: Path) -> SpoolDir:
        tmp_root.mkdir(parents=True, exist_ok=True)
        name = secrets.token_hex(8)
        lock = (tmp_root / f"{name}.lock").open("wb")
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        path = tmp_root / name
        path.mkdir()
        return cls(path, lock)

    def release(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        Path(self._lock.name).unlink(missing_ok=True)
        self._lock.close()


def sweep_dead(tmp_root: Path) -> int:
    """Remove the spool folders of instances that no longer run; returns how many."""
    removed = 0
    for lock_path in sorted(tmp_root.glob("*.lock")):
        with lock_path.open("ab") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(lock_path.with_suffix(""), ignore_errors=True)
            lock_path.unlink(missing_ok=True)
            removed += 1
    return removed
