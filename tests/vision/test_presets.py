"""The presets' plans: exact provider sizes, never larger, and never more tokens than the original
with the provider the preset is for (the guard), over a grid of sizes and aspects."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from imghost.vision import rules, sizing
from imghost.vision.estimates import ESTIMATORS
from imghost.vision.presets import PRESETS, Plan

# 1…8000 by steps, the rules' edges, both orientations (all pairs), aspects up to 8000:1.
EDGES = {1, 2, 199, 200, 299, 300, 383, 384, 385, 512, 767, 768, 769, 1568, 1569, 2048, 2049}
EDGES |= {2576, 2577, 3072, 3073, 4032, 6000, 7999, 8000}
SIDES = sorted(EDGES | set(range(1, 8001, 89)))

Count = Callable[[int, int], int]


def _estimated(model: str) -> Count:
    return lambda width, height: ESTIMATORS[model](width, height).tokens


def _tile_high(model: rules.TileModel) -> Count:
    return lambda width, height: sizing.openai_tile_tokens(model, sizing.openai_high(width, height))


# Each preset's provider and what it bills there. `openai-low` is billed `base` at detail low;
# the guard also holds for it at `high`, where a model with the wrong detail would bill it.
GUARDED: dict[str, list[Count]] = {
    "openai": [_tile_high(model) for model in rules.TILE_MODELS.values()],
    "openai-low": [_tile_high(model) for model in rules.TILE_MODELS.values()],
    "claude": [_estimated("claude")],
    "claude-hires": [_estimated("claude-hires")],
    "gemini": [sizing.gemini2_tiles, _estimated("gemini-3")],
}


def test_the_public_names() -> None:
    assert set(PRESETS) == {
        "openai",
        "openai-low",
        "claude",
        "claude-hires",
        "gemini",
        "kling",
        "runway",
    }
    assert all(name == preset.name for name, preset in PRESETS.items())


def test_caps_and_formats() -> None:
    caps = {name: preset.max_bytes for name, preset in PRESETS.items()}
    assert caps == {
        "openai": 20_000_000,
        "openai-low": 20_000_000,
        "claude": 3_932_160,
        "claude-hires": 3_932_160,
        "gemini": 20_000_000,
        "kling": 10_000_000,
        "runway": 16_000_000,
    }
    for preset in PRESETS.values():
        assert preset.formats == ("image/jpeg", "image/png")


def test_plans_of_a_4032x3024_photo() -> None:
    plans = {name: preset.plan(4032, 3024) for name, preset in PRESETS.items()}
    assert plans == {
        "openai": Plan(1024, 768),
        "openai-low": Plan(512, 384),
        "claude": Plan(1270, 952),
        "claude-hires": Plan(2212, 1659),
        "gemini": Plan(3072, 2304),
        "kling": Plan(4032, 3024),
        "runway": Plan(4032, 3024),
    }
    assert PRESETS["claude"].plan(3024, 4032) == Plan(952, 1270)


@pytest.mark.parametrize(
    ("size", "canvas"),
    [
        ((6000, 1000), (6000, 2400)),  # a panorama: padded to 2.5:1
        ((1000, 6000), (2400, 6000)),
        ((200, 200), (300, 300)),  # the minimum side, by padding
        ((700, 100), (700, 300)),  # 2.5:1 would be 700x280, under the minimum
        ((2500, 1000), None),
        ((2501, 1000), (2501, 1001)),
        ((300, 750), None),
        ((1, 1), (300, 300)),
    ],
)
def test_kling_pads_never_crops_or_scales(
    size: tuple[int, int], canvas: tuple[int, int] | None
) -> None:
    plan = PRESETS["kling"].plan(*size)
    assert (plan.width, plan.height) == size
    assert plan.canvas == canvas


def test_kling_canvases_over_the_grid_are_acceptable() -> None:
    limits = rules.ACCEPTANCE["kling"]
    for width in SIDES:
        for height in SIDES:
            plan = PRESETS["kling"].plan(width, height)
            canvas_width, canvas_height = plan.size
            assert (plan.width, plan.height) == (width, height)
            assert min(canvas_width, canvas_height) >= 300
            long, short = max(plan.size), min(plan.size)
            assert long <= short * limits.max_aspect  # type: ignore[operator]
            assert canvas_width >= width
            assert canvas_height >= height


def test_every_plan_is_within_the_original_and_sent_again_unchanged() -> None:
    for width in SIDES:
        for height in SIDES:
            for name, preset in PRESETS.items():
                plan = preset.plan(width, height)
                assert 1 <= plan.width <= width, name
                assert 1 <= plan.height <= height, name
                again = preset.plan(plan.width, plan.height)
                assert (again.width, again.height) == (plan.width, plan.height), name


def test_the_provider_exact_presets_are_the_providers_own_resize() -> None:
    for width in SIDES:
        for height in SIDES:
            assert PRESETS["openai"].plan(width, height) == Plan(*sizing.openai_high(width, height))
            for name, tier in (("claude", "standard"), ("claude-hires", "high-res")):
                size = sizing.anthropic_size(width, height, rules.ANTHROPIC_TIERS[tier])
                assert PRESETS[name].plan(width, height) == Plan(*size)


@pytest.mark.parametrize("name", sorted(GUARDED))
def test_guard_a_variant_never_costs_more_than_its_original(name: str) -> None:
    preset = PRESETS[name]
    for width in SIDES:
        for height in SIDES:
            plans = [preset.plan(width, height)]
            # Byte-cap re-plans too (the size rule again at a smaller bound).
            side = max(plans[0].width, plans[0].height)
            plans += [preset.plan(width, height, max_side=side * k // 7) for k in (1, 3, 5)]
            for count in GUARDED[name]:
                original = count(width, height)
                for plan in plans:
                    assert count(plan.width, plan.height) <= original, (width, height, plan)


def test_fitting_3072_alone_would_raise_gemini2s_count_and_the_plan_does_not() -> None:
    width, height = 3073, 923
    fitted = sizing.fit(width, height, 3072, 3072)
    assert sizing.gemini2_tiles(*fitted) > sizing.gemini2_tiles(width, height)  # 12 > 10
    plan = PRESETS["gemini"].plan(width, height)
    assert sizing.gemini2_tiles(plan.width, plan.height) <= sizing.gemini2_tiles(width, height)
    assert max(plan.width, plan.height) <= 3072
    assert plan.width > 3000  # a few pixels less, not a different image
