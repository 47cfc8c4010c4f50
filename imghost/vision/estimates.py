"""What a model will see of an image and bill for it, and whether each provider takes it as is.

The keys of `estimate` (model names) and of `accepted_as_is` (provider names) are public API:
they are the file object's `vision.estimates` and `vision.accepted_as_is`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from imghost.vision import rules, sizing
from imghost.vision.rules import Acceptance, AnthropicTier, PatchModel, TileModel


@dataclass(frozen=True, slots=True)
class Estimate:
    tokens: int
    seen: tuple[int, int]  # the pixel size the model is given after the provider's resize


def _tile(model: TileModel) -> Callable[[int, int], Estimate]:
    def estimate(width: int, height: int) -> Estimate:
        seen = sizing.openai_high(width, height)
        return Estimate(sizing.openai_tile_tokens(model, seen), seen)

    return estimate


def _patch(model: PatchModel) -> Callable[[int, int], Estimate]:
    def estimate(width: int, height: int) -> Estimate:
        seen = sizing.openai_patch_size(width, height, model)
        return Estimate(sizing.openai_patch_tokens(model, seen), seen)

    return estimate


def _anthropic(tier: AnthropicTier) -> Callable[[int, int], Estimate]:
    def estimate(width: int, height: int) -> Estimate:
        seen = sizing.anthropic_size(width, height, tier)
        return Estimate(sizing.anthropic_tokens(*seen), seen)

    return estimate


# Gemini publishes no resize: the model is given the image as sent.
def _gemini2(width: int, height: int) -> Estimate:
    return Estimate(sizing.gemini2_tokens(width, height), (width, height))


def _gemini3(width: int, height: int) -> Estimate:
    return Estimate(sizing.gemini3_tokens(), (width, height))


ESTIMATORS: dict[str, Callable[[int, int], Estimate]] = {
    "gpt-4o": _tile(rules.TILE_MODELS["gpt-4o"]),
    "gpt-5": _tile(rules.TILE_MODELS["gpt-5"]),
    "gpt-4.1-mini": _patch(rules.PATCH_MODELS["gpt-4.1-mini"]),
    "claude": _anthropic(rules.ANTHROPIC_TIERS["standard"]),
    "claude-hires": _anthropic(rules.ANTHROPIC_TIERS["high-res"]),
    "gemini-2": _gemini2,
    "gemini-3": _gemini3,
}


def estimate(width: int, height: int) -> dict[str, Estimate]:
    return {model: estimator(width, height) for model, estimator in ESTIMATORS.items()}


# ---- Acceptance ----

# The provider's name in a sentence, and the preset that makes an image it takes.
_PROVIDERS = {
    "openai": ("OpenAI", "openai"),
    "anthropic": ("Anthropic", "claude"),
    "gemini": ("Gemini", "gemini"),
    "runway": ("Runway", "runway"),
    "kling": ("Kling", "kling"),
}
_FORMAT_NAMES = {
    rules.JPEG: "JPEG",
    rules.PNG: "PNG",
    rules.GIF: "GIF",
    rules.WEBP: "WebP",
    rules.HEIC: "HEIC",
    rules.HEIF: "HEIF",
}


@dataclass(frozen=True, slots=True)
class _Image:
    width: int
    height: int
    size: int
    mime_type: str
    frames: int


def _megabytes(size: int, unit: int = rules.MB) -> str:
    return f"{size / unit:.1f} MB"


def _refusals(provider: str, limits: Acceptance, image: _Image) -> list[str]:
    """Why `provider` refuses the image as is, each reason a sentence that ends in the fix."""
    name, preset = _PROVIDERS[provider]
    use = f"use the `{preset}` variant"
    kind = _FORMAT_NAMES.get(image.mime_type, image.mime_type)
    reasons = []
    if image.mime_type not in limits.formats:
        reasons.append(f"{name} does not take {kind} images: {use} (JPEG or PNG).")
    elif image.frames > 1 and image.mime_type in limits.still_only:
        reasons.append(f"{name} refuses animated {kind} images: {use} (its first frame).")
    if image.size > limits.max_bytes:
        if provider == "anthropic":
            inflated = -(-image.size // 3) * 4
            binary = 1024 * 1024
            reasons.append(
                f"Over Anthropic's {rules.ANTHROPIC_BASE64_CAP // binary} MB base64 cap as is "
                f"(these {_megabytes(image.size, binary)} are {_megabytes(inflated, binary)} in "
                f"base64, which gateways send for a URL): {use}."
            )
        else:
            reasons.append(
                f"Over {name}'s {limits.max_bytes // rules.MB} MB limit as is "
                f"({_megabytes(image.size)}): {use}."
            )
    long, short = max(image.width, image.height), min(image.width, image.height)
    if limits.max_side is not None and long > limits.max_side:
        reasons.append(
            f"Over {name}'s {limits.max_side}x{limits.max_side} pixel limit "
            f"({image.width}x{image.height}): {use}."
        )
    if limits.min_side is not None and short < limits.min_side:
        reasons.append(
            f"A side under {name}'s {limits.min_side} px minimum ({image.width}x{image.height}): "
            f"{use} (padded, nothing cropped)."
        )
    elif limits.max_aspect is not None and long > short * limits.max_aspect:
        reasons.append(
            f"Beyond {name}'s {float(limits.max_aspect):g}:1 aspect ratio "
            f"({image.width}x{image.height}): {use} (padded, nothing cropped)."
        )
    return reasons


def _advice(image: _Image) -> list[str]:
    """What a provider takes but handles badly."""
    advice = []
    if max(image.width, image.height) > rules.ANTHROPIC_MANY_IMAGES_SIDE:
        advice.append(
            f"Over {rules.ANTHROPIC_MANY_IMAGES_SIDE} px on a side: Anthropic refuses it in "
            f"requests with more than {rules.ANTHROPIC_MANY_IMAGES} images; use the `claude` "
            "variant there."
        )
    if min(image.width, image.height) < rules.ANTHROPIC_SMALL_SIDE:
        advice.append(
            f"A side under {rules.ANTHROPIC_SMALL_SIDE} px: Claude's answers about images this "
            "small degrade; send a larger original if there is one."
        )
    return advice


def accepted_as_is(
    width: int, height: int, size_bytes: int, mime_type: str, frames: int
) -> dict[str, bool]:
    image = _Image(width, height, size_bytes, mime_type, frames)
    return {
        provider: not _refusals(provider, limits, image)
        for provider, limits in rules.ACCEPTANCE.items()
    }


def image_warnings(
    width: int, height: int, size_bytes: int, mime_type: str, frames: int
) -> list[str]:
    """Why the image may fail or disappoint with a provider, in words a person can act on."""
    image = _Image(width, height, size_bytes, mime_type, frames)
    warnings = [
        reason
        for provider, limits in rules.ACCEPTANCE.items()
        for reason in _refusals(provider, limits, image)
    ]
    return warnings + _advice(image)
