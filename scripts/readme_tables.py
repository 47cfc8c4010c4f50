"""The README's settings tables, generated from the settings themselves.

    python scripts/readme_tables.py     # rewrites the tables in README.md in place

A test fails when README.md differs from what this generates, so a setting cannot be added,
renamed or re-defaulted without its documentation following.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from imghost.settings.runtime import RUNTIME_SETTINGS
from imghost.settings.startup import STARTUP_SETTINGS

README = Path(__file__).resolve().parent.parent / "README.md"


def _code(value: object) -> str:
    if value == "":
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value)
    return f"`{text}`"


def startup_table() -> str:
    rows = ["| name | env | default | meaning |", "|---|---|---|---|"]
    rows += [
        f"| `{s.name}` | `{s.env}` | {_code(s.default)} | {s.help} |" for s in STARTUP_SETTINGS
    ]
    return "\n".join(rows)


def runtime_table() -> str:
    rows = ["| name | default | meaning |", "|---|---|---|"]
    for s in RUNTIME_SETTINGS:
        secret = " Secret: read back as `********`." if s.secret else ""
        rows.append(f"| `{s.name}` | {_code(s.default)} | {s.help}{secret} |")
    return "\n".join(rows)


TABLES = {"startup-settings": startup_table, "runtime-settings": runtime_table}


def render(readme: str) -> str:
    for name, table in TABLES.items():
        pattern = re.compile(rf"(<!-- {name} -->\n).*?(<!-- /{name} -->)", re.DOTALL)
        found = pattern.search(readme)
        if found is None:
            raise ValueError(f"README.md lacks the <!-- {name} --> markers")
        readme = readme[: found.end(1)] + table() + "\n" + readme[found.start(2) :]
    return readme


if __name__ == "__main__":
    README.write_text(render(README.read_text()))
    sys.exit(0)
