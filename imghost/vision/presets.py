"""The provider-exact variants: for each public preset name, the pixel size it gives an original,
the raw byte cap it keeps under, and the formats it may be written in.

A plan is the size the provider itself would turn the original into, so that it resizes
nothing again and bills the same tokens; it is never larger than the original. Two presets
are not a provider's own resize: `gemini` (Gemini does not publish one) fits 3072x3072 to make
the bytes small, and `kling` and `runway` keep the size and only make the file acceptable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from math import ceil

from imghost.vision import rules, sizing
from imghost.vision.sizing import Size

# What variants are written as: JPEG for opaque images, PNG for those with alpha.
OUTPUT_FORMATS = (rules.JPEG, rules.PNG)


@dataclass(frozen=True, slots=True)
class Plan:
    width: int  # the content
    height: int
    canvas: Size | None = None  # the padded output (kling), None when the content is all

    @property
    def size(self) -> Size:
        """The output's pixel size."""
        return self.canvas or (self.width, self.height)


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    provider: str  # a key of rules.ACCEPTANCE
    resize: Callable[[int, int], Size]
    max_bytes: int
    # A count that is not monotonic in the size (Gemini 2's tiles): the plan shrinks further
    # until the variant's count is no more than the original's.
    keeps: Callable[[int, int], int] | None = None
    pad: Callable[[int, int], Size | None] | None = None

    @property
    def formats(self) -> tuple[str, ...]:
        accepted = rules.ACCEPTANCE[self.provider].formats
        return tuple(mime for mime in OUTPUT_FORMATS if mime in accepted)

    def plan(self, width: int, height: int, max_side: int | None = None) -> Plan:
        """The variant of a `width`x`height` original. `max_side` bounds the content further,
        for a variant over its byte cap: the size rule is applied again to a smaller image."""
        content = (width, height)
        if max_side is not None:
            content = sizing.fit(width, height, max_side, max_side)
        content = self.resize(*content)
        if self.keeps is not None:
            content = _not_raising(content, self.keeps, self.keeps(width, height))
        canvas = self.pad(*content) if self.pad is not None else None
        return Plan(content[0], content[1], canvas)


def _not_raising(size: Size, count: Callable[[int, int], int], limit: int) -> Size:
    """The largest size at or below `size`, same aspect (free side rounded down), whose count is
    at most `limit`. It exists: small enough, every count here is its minimum."""
    width, height = size
    long = max(width, height)
    for edge in range(long, 0, -1):
        candidate = sizing.fit(width, height, edge, edge)
        if count(*candidate) <= limit:
            return candidate
    raise AssertionError("no size keeps the count")  # unreachable: a 1x1 image has the minimum


def _unchanged(width: int, height: int) -> Size:
    return width, height


def _gemini_fit(width: int, height: int) -> Size:
    return sizing.fit(width, height, rules.GEMINI_FIT, rules.GEMINI_FIT)


def _kling_canvas(width: int, height: int) -> Size | None:
    """Pad, never crop: first the short side up to Kling's aspect limit, then any side up to its
    minimum (which only brings the aspect closer to square)."""
    limits = rules.ACCEPTANCE["kling"]
    assert limits.max_aspect is not None
    assert limits.min_side is not None
    canvas_width, canvas_height = width, height
    if width > height * limits.max_aspect:
        canvas_height = ceil(Fraction(width) / limits.max_aspect)
    elif height > width * limits.max_aspect:
        canvas_width = ceil(Fraction(height) / limits.max_aspect)
    canvas = (max(canvas_width, limits.min_side), max(canvas_height, limits.min_side))
    return None if canvas == (width, height) else canvas


_ANTHROPIC_CAP = rules.ACCEPTANCE["anthropic"].max_bytes

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("openai", "openai", sizing.openai_high, rules.ACCEPTANCE["openai"].max_bytes),
        Preset("openai-low", "openai", sizing.openai_low, rules.ACCEPTANCE["openai"].max_bytes),
        Preset(
            "claude",
            "anthropic",
            partial(sizing.anthropic_size, tier=rules.ANTHROPIC_TIERS["standard"]),
            _ANTHROPIC_CAP,
        ),
        Preset(
            "claude-hires",
            "anthropic",
            partial(sizing.anthropic_size, tier=rules.ANTHROPIC_TIERS["high-res"]),
            _ANTHROPIC_CAP,
        ),
        Preset(
            "gemini",
            "gemini",
            _gemini_fit,
            rules.GEMINI_VARIANT_MAX_BYTES,
            keeps=sizing.gemini2_tiles,
        ),
        Preset(
            "kling",
            "kling",
            _unchanged,
            rules.ACCEPTANCE["kling"].max_bytes,
            pad=_kling_canvas,
        ),
        Preset("runway", "runway", _unchanged, rules.ACCEPTANCE["runway"].max_bytes),
    )
}
