"""What each model provider does with an image, as data (`/work/shared/VISION.md`, late 2026).

Providers change these often, so every number lives here and nowhere else: a rule change is
one edit in this file and a new `RULES_VERSION`. Entries marked (u) come from third parties
only (VISION.md's "(u)"), or, where said, from neither VISION.md nor the provider: defaults that
settings may override later.

Byte caps: VISION.md writes "MB". Anthropic's own error gives 5 MB as 5 242 880 bytes, so its
cap is binary; for the others the unit is unpublished and the smaller reading (decimal) is
taken, so that a variant under our cap is under theirs either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

RULES_VERSION = "2026-12"

JPEG = "image/jpeg"
PNG = "image/png"
GIF = "image/gif"
WEBP = "image/webp"
HEIC = "image/heic"
HEIF = "image/heif"

# ---- OpenAI, tile models (`detail`: low / high / auto) ----


@dataclass(frozen=True, slots=True)
class TileModel:
    base: int
    tile: int


TILE_FIT = 2048  # high: first fit this square, never enlarging
TILE_SHORT_SIDE = 768  # then the short side at most this, the other side rounded down
TILE_SIDE = 512
LOW_SIDE = 512  # low: a version fitting this square, billed `base` only
TILE_MODELS = {
    "gpt-4o": TileModel(85, 170),
    "gpt-4.1": TileModel(85, 170),
    "gpt-5": TileModel(70, 140),
    "gpt-5.1": TileModel(70, 140),
    "o1": TileModel(75, 150),
    "o3": TileModel(75, 150),
    "gpt-4o-mini": TileModel(2833, 5667),
}

# ---- OpenAI, patch models ----


@dataclass(frozen=True, slots=True)
class PatchModel:
    budget: int  # patches
    multiplier: Fraction  # exact, so that ⌈patches x multiplier⌉ has no float error
    max_side: int | None = None  # fitted first, never enlarging; None: none published


PATCH_SIDE = 32
PATCH_MODELS = {
    "gpt-4.1-mini": PatchModel(1536, Fraction("1.62")),
    "gpt-4.1-nano": PatchModel(1536, Fraction("2.46")),
    "o4-mini": PatchModel(1536, Fraction("1.72")),
    # (u) VISION.md gives their budget, not their multipliers; these are the ones third-party
    # token counters use (the same as gpt-4.1-mini / -nano).
    "gpt-5-mini": PatchModel(1536, Fraction("1.62")),
    "gpt-5-nano": PatchModel(1536, Fraction("2.46")),
    # VISION.md states "2048 px max" without the order of the steps: fit first, then patches.
    "gpt-5.4": PatchModel(2500, Fraction("1.2"), max_side=2048),
    # `detail: original`; the multiplier is the model's, as VISION.md gives no other.
    "gpt-5.4-original": PatchModel(10_000, Fraction("1.2"), max_side=6000),
}

# ---- Anthropic ----


@dataclass(frozen=True, slots=True)
class AnthropicTier:
    max_edge: int
    max_tokens: int


ANTHROPIC_PATCH = 28
ANTHROPIC_TIERS = {
    "standard": AnthropicTier(1568, 1568),
    "high-res": AnthropicTier(2576, 4784),  # Opus 4.7 and later
}

# ---- Gemini ----

GEMINI2_SMALL_SIDE = 384  # both sides at most this: one tile's tokens
GEMINI2_TILE_TOKENS = 258
GEMINI2_CROP_DIVISOR = Fraction(3, 2)  # crop unit ⌊min(w, h) / 1.5⌋ (approximate, (u))
GEMINI3_MEDIA_RESOLUTION = {"low": 280, "medium": 560, "high": 1120, "ultra_high": 2240}
GEMINI3_DEFAULT = "high"

# ---- What each provider takes as is (VISION.md §1) ----


@dataclass(frozen=True, slots=True)
class Acceptance:
    formats: frozenset[str]
    max_bytes: int
    still_only: frozenset[str] = frozenset()  # formats refused when animated
    max_side: int | None = None
    min_side: int | None = None
    max_aspect: Fraction | None = None  # long side / short side


MB = 1_000_000
ANTHROPIC_BASE64_CAP = 5 * 1024 * 1024  # the API's own number: 5 242 880 bytes
ANTHROPIC_MANY_IMAGES = 20  # requests with more than this many images…
ANTHROPIC_MANY_IMAGES_SIDE = 2000  # …refuse any side over this
ANTHROPIC_SMALL_SIDE = 200  # a side under this degrades answers

ACCEPTANCE = {
    "openai": Acceptance(
        frozenset({PNG, JPEG, WEBP, GIF}),
        20 * MB,  # per image in older docs; requests enforce 50 MB of images (u)
        still_only=frozenset({GIF}),
    ),
    "anthropic": Acceptance(
        frozenset({JPEG, PNG, GIF, WEBP}),
        ANTHROPIC_BASE64_CAP * 3 // 4,  # base64 inflates by 4/3: 3 932 160 raw bytes
        max_side=8000,
    ),
    "gemini": Acceptance(frozenset({PNG, JPEG, WEBP, HEIC, HEIF}), 100 * MB),  # inline, Jan 2026
    "runway": Acceptance(frozenset({JPEG, PNG, WEBP}), 16 * MB),  # by URL (data URI: 5 MB)
    "kling": Acceptance(
        frozenset({JPEG, PNG}), 10 * MB, min_side=300, max_aspect=Fraction(5, 2)
    ),  # (u)
}

# ---- Our presets' own numbers (not providers' rules, but kept with them) ----

GEMINI_FIT = 3072  # keeps Gemini 2's tile count in most cases; presets.py guards the rest
# Gemini's inline cap was 20 MB per request until Jan 2026; SDKs and gateways that still
# enforce it take a variant under it.
GEMINI_VARIANT_MAX_BYTES = 20 * MB
JPEG_QUALITY = 90
JPEG_FALLBACK_QUALITIES = (85, 80, 70, 60)  # tried in turn when a variant is over its cap
