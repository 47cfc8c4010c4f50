"""Every error code the code can answer is documented in the README's error table."""

from __future__ import annotations

import re
from pathlib import Path

from imghost.errors import Refusal
from imghost.http.errors import HttpRefusal

ROOT = Path(__file__).resolve().parent.parent
# Where codes are written: a refusal's kind with its code (`InvalidRequest("code", …)`, an
# HttpRefusal(status, "code", …)), FormatError's constants, the limiter's kinds, fetch's
# (status, "code") pairs, the HTTP error map.
_KINDS = "|".join(kind.__name__ for kind in Refusal.__subclasses__() if kind is not HttpRefusal)
_CODE = re.compile(
    rf'\b(?:{_KINDS})\(\s*"([a-z_]+)"|HttpRefusal\(\s*\d{{3}},\s*"([a-z_]+)"|'
    r'^[A-Z_]+ = "([a-z]+_[a-z_]+)"$|\{404: "([a-z_]+)", 405: "([a-z_]+)"\}|'
    r'\b\d{3}, "([a-z]+_[a-z_]+)"|LimitKind = Literal\["([a-z_]+)", "([a-z_]+)"\]',
    re.MULTILINE,
)


def codes_in_source() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "imghost").rglob("*.py"):
        for match in _CODE.finditer(path.read_text()):
            found.update(group for group in match.groups() if group)
    return found


def test_every_error_code_is_in_the_readme() -> None:
    codes = codes_in_source()
    assert {"file_too_large", "url_forbidden", "quota_exceeded", "trailing_data"} <= codes
    readme = (ROOT / "README.md").read_text()
    missing = sorted(code for code in codes if f"`{code}`" not in readme)
    assert missing == []
