"""The import contracts in pyproject.toml, as part of the test run: CI and a new user's `pytest`
both check that the domain knows no web framework, that backends stay apart, and so on."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, capture_output=True, text=True
    )


def test_the_package_keeps_its_import_contracts() -> None:
    checked = lint_imports(ROOT)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 broken" in checked.stdout


def test_a_domain_module_that_imports_starlette_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "imghost", tmp_path / "imghost")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    validate = tmp_path / "imghost" / "ingest" / "validate.py"
    validate.write_text(validate.read_text() + "\nfrom starlette.requests import Request\n")
    checked = lint_imports(tmp_path)
    assert checked.returncode != 0
    assert "The domain knows no web framework and no HTTP layer BROKEN" in checked.stdout
    assert "imghost.ingest.validate -> starlette (l." in checked.stdout
