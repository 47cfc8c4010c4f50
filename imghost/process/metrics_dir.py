"""Where an instance's workers keep their metric files: chosen before prometheus_client loads.

Kept apart from `imghost.process.metrics` so that `imghost serve` can set it up without importing
prometheus_client, which decides at import whether values live in files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# prometheus_client keeps a process's values in one memory-mapped file per metric type, made
# sparse and grown by truncate(): on a full disk the next write to a new page is a SIGBUS that
# kills the worker. Files whose blocks are reserved up front never fault; imghost's labelled
# series take well under this much.
RESERVED_BYTES = 1024 * 1024
_METRIC_TYPES = ("counter", "histogram")


def prepare_multiprocess_dir(tmp_dir: Path) -> Path:
    """A fresh folder for this instance's metric files; dead instances' folders go."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    for old in tmp_dir.glob("metrics-*"):
        pid = old.name.removeprefix("metrics-")
        if not pid.isdigit() or not Path(f"/proc/{pid}").exists():
            shutil.rmtree(old, ignore_errors=True)
    folder = tmp_dir / f"metrics-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


def reserve_files(folder: Path) -> None:
    """Create this process's metric files with their space allocated, before any value is set.

    prometheus_client opens a file that exists at its current size instead of making its own.
    """
    for metric_type in _METRIC_TYPES:
        path = folder / f"{metric_type}_{os.getpid()}.db"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        try:
            os.posix_fallocate(fd, 0, RESERVED_BYTES)
        except OSError:
            # No room even now: leave the file to prometheus_client, which makes it sparse.
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
