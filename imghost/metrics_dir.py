"""Where an instance's workers keep their metric files: chosen before prometheus_client loads.

Kept apart from `imghost.metrics` so that `imghost serve` can set it up without importing
prometheus_client, which decides at import whether values live in files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


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
