"""Every check value VISION.md publishes, and the properties its rules promise on a grid."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from imghost.vision import rules, sizing
from imghost.vision.estimates import Estimate, estimate
from imghost.vision.rules import ANTHROPIC_TIERS, PATCH_MODELS, TILE_MODELS

STANDARD = ANTHROPIC_TIERS["standard"]
HIGH_RES = ANTHROPIC_TIERS["high-res"]
SIDES = sorted({1, 2, 27, 28, 29, 383, 384, 385, 767, 768, 769, 2048, 2049, *range(1, 9000, 211)})


def test_the_rules_carry_their_version() -> None:
    assert rules.RULES_VERSION == "2026-12"


def test_anthropics_raw_cap_is_its_5_mb_base64_cap() -> None:
    raw = rules.ACCEPTANCE["anthropic"].max_bytes
    assert raw == 3_932_160
    assert math.ceil(raw / 3) * 4 == 5_242_880  # the API's own "> 5242880 bytes"
    assert math.ceil((raw + 1) / 3) * 4 > 5_242_880


@pytest.mark.parametrize(
    ("size", "tokens", "seen"),
    [((1024, 1024), 765, (768, 768)), ((2048, 4096), 1105, (768, 1536))],
)
def test_openai_tile_checks(size: tuple[int, int], tokens: int, seen: tuple[int, int]) -> None:
    assert estimate(*size)["gpt-4o"] == Estimate(tokens, seen)


def test_openai_low_is_a_512_version() -> None:
    assert sizing.openai_low(4032, 3024) == (512, 384)
    assert sizing.openai_low(300, 200) == (300, 200)


def test_tile_model_rows() -> None:
    assert (TILE_MODELS["gpt-5"].base, TILE_MODELS["gpt-5"].tile) == (70, 140)
    assert sizing.openai_tile_tokens(TILE_MODELS["o3"], (1024, 768)) == 75 + 150 * 4
    assert sizing.openai_tile_tokens(TILE_MODELS["gpt-4o-mini"], (1024, 768)) == 2833 + 5667 * 4


def test_openai_patch_check_1800x2400() -> None:
    seen = sizing.openai_patch_size(1800, 2400, PATCH_MODELS["gpt-4.1-mini"])
    assert sizing.patches(*seen) == 1452


def test_patch_rule_matches_the_published_float_formula_but_for_its_float_floors() -> None:
    """The float formula as written; exact arithmetic differs only where a float lands just
    under an integer, which makes its patch count no different."""
    model = PATCH_MODELS["gpt-4.1-mini"]
    for width in SIDES:
        for height in SIDES:
            if sizing.patches(width, height) <= model.budget or max(width, height) > 40 * min(
                width, height
            ):
                continue
            f = math.sqrt(32**2 * model.budget / (width * height))
            f *= min(
                math.floor(width * f / 32) / (width * f / 32),
                math.floor(height * f / 32) / (height * f / 32),
            )
            floats = (math.floor(width * f), math.floor(height * f))
            exact = sizing.openai_patch_size(width, height, model)
            assert all(abs(a - b) <= 1 for a, b in zip(exact, floats, strict=True))
            assert sizing.patches(*exact) == sizing.patches(*floats)
            assert sizing.patches(*exact) <= model.budget


def test_patch_rule_on_slivers_stays_within_budget() -> None:
    model = PATCH_MODELS["gpt-4.1-mini"]
    seen = sizing.openai_patch_size(10, 100_000, model)
    assert sizing.patches(*seen) <= model.budget
    assert seen[0] >= 1


@pytest.mark.parametrize(
    ("size", "seen", "tokens"),
    [((1920, 1080), (1456, 819), 1560), ((1075, 1520), (924, 1307), 1551)],
)
def test_anthropic_checks(size: tuple[int, int], seen: tuple[int, int], tokens: int) -> None:
    assert estimate(*size)["claude"] == Estimate(tokens, seen)


def test_anthropic_size_is_the_largest_that_fits() -> None:
    for tier in (STANDARD, HIGH_RES):
        for width in SIDES:
            for height in SIDES:
                seen = sizing.anthropic_size(width, height, tier)
                assert seen[0] <= width
                assert seen[1] <= height
                assert max(seen) <= tier.max_edge
                assert sizing.anthropic_tokens(*seen) <= tier.max_tokens
                assert sizing.anthropic_size(*seen, tier) == seen  # sent again, not resized
                if seen == (width, height):
                    continue
                long, short = max(width, height), min(width, height)
                bigger = max(seen) + 1
                other = max(1, round(Fraction(bigger * short, long)))
                assert (
                    max(bigger, other) > tier.max_edge
                    or sizing.anthropic_tokens(bigger, other) > tier.max_tokens
                )


def test_the_worked_example_a_4032x3024_phone_photo() -> None:
    """VISION.md's table says Claude sees 1269x952; its text says the published code gives
    1270x952 (952.5 rounds half to even). We follow the code: 1270x952, 1564 tokens."""
    got = estimate(4032, 3024)
    assert got["gpt-4o"] == Estimate(765, (1024, 768))
    assert got["claude"] == Estimate(1564, (1270, 952))
    assert got["claude-hires"] == Estimate(4740, (2212, 1659))
    assert got["gpt-4.1-mini"] == Estimate(2353, (1408, 1056))
    assert sizing.patches(1408, 1056) == 1452


def test_gemini2_is_not_monotonic() -> None:
    assert sizing.gemini2_tiles(1270, 952) == 6
    assert sizing.gemini2_tiles(1268, 951) == 4
    assert sizing.gemini2_tokens(384, 384) == 258
    assert sizing.gemini2_tokens(385, 100) == 258 * sizing.gemini2_tiles(385, 100)


def test_gemini3_is_its_media_resolution_cap() -> None:
    assert estimate(4032, 3024)["gemini-3"] == Estimate(1120, (4032, 3024))
    assert sizing.gemini3_tokens("ultra_high") == 2240


def test_estimates_cover_the_public_models_and_never_see_more_than_the_original() -> None:
    models = {"gpt-4o", "gpt-5", "gpt-4.1-mini", "claude", "claude-hires", "gemini-2", "gemini-3"}
    for width in SIDES:
        for height in SIDES:
            got = estimate(width, height)
            assert set(got) == models
            for row in got.values():
                assert row.tokens > 0
                assert 1 <= row.seen[0] <= width
                assert 1 <= row.seen[1] <= height


def test_fit_never_enlarges_and_rounds_down() -> None:
    assert sizing.fit(100, 50, 2048, 2048) == (100, 50)
    assert sizing.fit(4000, 3001, 2048, 2048) == (2048, 1536)  # 1536.51… rounded down
    assert sizing.fit(1, 10_000, 512, 512) == (1, 512)
