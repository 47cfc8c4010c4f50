"""The type checker, as part of the test run: CI and a new user's `pytest` both run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_no_type_errors_in_the_package() -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "imghost"], cwd=ROOT, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
