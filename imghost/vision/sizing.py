"""The pixel size each provider turns an image into, and what it counts on that size.

Exact integer arithmetic throughout: the providers' published code uses floats, whose
rounding can land a side one pixel off where the exact value is an integer (4032 x 0.349…
giving 1407.999…). The exact value is the rule as written; where a float reading could differ,
the function says which one it follows.
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil, isqrt

from imghost.vision import rules
from imghost.vision.rules import AnthropicTier, PatchModel, TileModel

Size = tuple[int, int]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def fit(width: int, height: int, box_width: int, box_height: int) -> Size:
    """Scale to fit the box keeping the aspect ratio, never enlarging; the free side rounded
    down (but kept at least 1 px)."""
    if width <= box_width and height <= box_height:
        return width, height
    if width * box_height >= height * box_width:
        return box_width, max(1, height * box_width // width)
    return max(1, width * box_height // height), box_height


# ---- OpenAI, tile models ----


def openai_high(width: int, height: int) -> Size:
    width, height = fit(width, height, rules.TILE_FIT, rules.TILE_FIT)
    short = rules.TILE_SHORT_SIDE
    if min(width, height) <= short:
        return width, height
    if width <= height:
        return short, height * short // width
    return width * short // height, short


def openai_low(width: int, height: int) -> Size:
    return fit(width, height, rules.LOW_SIDE, rules.LOW_SIDE)


def openai_tiles(width: int, height: int) -> int:
    """Tiles billed for an image already at its `high` size."""
    return _ceil_div(width, rules.TILE_SIDE) * _ceil_div(height, rules.TILE_SIDE)


def openai_tile_tokens(model: TileModel, seen: Size) -> int:
    return model.base + model.tile * openai_tiles(*seen)


# ---- OpenAI, patch models ----


def patches(width: int, height: int) -> int:
    return _ceil_div(width, rules.PATCH_SIDE) * _ceil_div(height, rules.PATCH_SIDE)


def openai_patch_size(width: int, height: int, model: PatchModel) -> Size:
    """VISION.md's patch rule. With f = √(32²·budget/(w·h)), w·f/32 is √(budget·w/h), so the
    floors in its correction step are integer square roots, and the side whose correction is
    the smaller comes out at exactly 32·k px: computed so, with no float error."""
    if model.max_side is not None:
        width, height = fit(width, height, model.max_side, model.max_side)
    budget = model.budget
    if patches(width, height) <= budget:
        return width, height
    across = isqrt(budget * width // height)  # ⌊w·f/32⌋
    down = isqrt(budget * height // width)  # ⌊h·f/32⌋
    side = rules.PATCH_SIDE
    if min(across, down) == 0:
        # An aspect beyond budget:1 makes the published factor 0 (a 0x0 image). Unpublished;
        # read as: the narrow side keeps its one patch and the long side gets the budget.
        return fit(width, height, side * budget, side * budget)
    # across/(w·f/32) <= down/(h·f/32), squared and multiplied out:
    if across * height <= down * width:
        return side * across, max(1, height * side * across // width)
    return max(1, width * side * down // height), side * down


def openai_patch_tokens(model: PatchModel, seen: Size) -> int:
    return ceil(patches(*seen) * model.multiplier)


# ---- Anthropic ----


def anthropic_tokens(width: int, height: int) -> int:
    unit = rules.ANTHROPIC_PATCH
    return _ceil_div(width, unit) * _ceil_div(height, unit)


def anthropic_size(width: int, height: int, tier: AnthropicTier) -> Size:
    """The largest size with the image's aspect ratio whose sides, rounded up to whole 28 px
    patches, fit the tier's edge and whose tokens fit its limit: a binary search on the long
    edge, the short edge rounded half to even (Python's `round`, on the exact ratio).

    On 4032x3024 this gives 1270x952 (the short edge 952.5 rounds to even): the published
    code's answer, which VISION.md's table misquotes as 1269x952."""
    unit = rules.ANTHROPIC_PATCH
    long, short = max(width, height), min(width, height)

    def short_edge(edge: int) -> int:
        # Clamped for aspects so extreme that the short edge would round to nothing.
        return max(1, round(Fraction(edge * short, long)))

    def fits(edge: int) -> bool:
        other = short_edge(edge)
        return (
            _ceil_div(edge, unit) * unit <= tier.max_edge
            and _ceil_div(other, unit) * unit <= tier.max_edge
            and anthropic_tokens(edge, other) <= tier.max_tokens
        )

    if fits(long):
        return width, height
    low, high = 1, long  # fits(low) always (one patch), fits(high) never
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    if width >= height:
        return low, short_edge(low)
    return short_edge(low), low


# ---- Gemini ----


def gemini2_tiles(width: int, height: int) -> int:
    """Not monotonic in the size: 1270x952 gives 6 tiles, 1268x951 gives 4."""
    if width <= rules.GEMINI2_SMALL_SIDE and height <= rules.GEMINI2_SMALL_SIDE:
        return 1
    # Clamped to 1 px for slivers (the approximation publishes no lower bound).
    crop = max(1, int(min(width, height) // rules.GEMINI2_CROP_DIVISOR))
    return _ceil_div(width, crop) * _ceil_div(height, crop)


def gemini2_tokens(width: int, height: int) -> int:
    return rules.GEMINI2_TILE_TOKENS * gemini2_tiles(width, height)


def gemini3_tokens(media_resolution: str = rules.GEMINI3_DEFAULT) -> int:
    """The cap for the part's `media_resolution`, whatever the size: Gemini 3 publishes no
    count below it, so the estimate is the most the image can cost."""
    return rules.GEMINI3_MEDIA_RESOLUTION[media_resolution]
