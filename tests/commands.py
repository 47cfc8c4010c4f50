"""System commands some tests need: skipped with a clear reason where missing, unless the
variable that makes them mandatory is set (`.ci/run` sets each one, so CI never skips)."""

from __future__ import annotations

import os
import shutil

import pytest


def required_command(name: str, mandatory_env: str, install: str) -> str:
    found = shutil.which(name)
    if found is not None:
        return found
    reason = f"the {name} command is not installed ({install})"
    if os.environ.get(mandatory_env):
        pytest.fail(f"{reason}, and {mandatory_env} makes this test mandatory")
    pytest.skip(f"{reason}; set {mandatory_env}=1 to make this test mandatory")
