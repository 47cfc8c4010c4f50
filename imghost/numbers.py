"""Numbers from text that clients send: ASCII digits and finite values only.

`str.isdigit()` accepts "²" and "٣", which `int()` then refuses or reads, and `float()` accepts
"nan", "inf" and "1e999"; none of those is a count, a size or a time.
"""

from __future__ import annotations

import math


def whole_number(text: str) -> int | None:
    """`text` as a non-negative integer if it is one written in ASCII digits, else None."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def finite_number(value: object) -> float | None:
    """`value` (a JSON number or its text) as a finite float, else None."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) else math.nan
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None
