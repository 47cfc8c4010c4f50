"""What each provider takes as is, and the warnings that say what to do instead."""

from __future__ import annotations

from imghost.vision.estimates import accepted_as_is, image_warnings

MB = 1_000_000


def test_a_4_mb_phone_photo_is_over_anthropics_cap_only() -> None:
    taken = accepted_as_is(4032, 3024, 4 * MB, "image/jpeg", 1)
    assert taken == {
        "openai": True,
        "anthropic": False,
        "gemini": True,
        "runway": True,
        "kling": True,
    }
    warnings = image_warnings(4032, 3024, 4 * MB, "image/jpeg", 1)
    assert any(
        "Anthropic's 5 MB base64 cap as is" in w and "use the `claude` variant" in w
        for w in warnings
    )


def test_exactly_anthropics_raw_cap_is_taken() -> None:
    assert accepted_as_is(1000, 1000, 3_932_160, "image/png", 1)["anthropic"]
    assert not accepted_as_is(1000, 1000, 3_932_161, "image/png", 1)["anthropic"]


def test_an_animated_gif() -> None:
    taken = accepted_as_is(400, 400, 100_000, "image/gif", 12)
    assert taken == {
        "openai": False,  # non-animated GIF only
        "anthropic": True,  # reads the first frame
        "gemini": False,
        "runway": False,
        "kling": False,
    }
    warnings = image_warnings(400, 400, 100_000, "image/gif", 12)
    assert "OpenAI refuses animated GIF images: use the `openai` variant (its first frame)." in (
        warnings
    )
    assert any(w.startswith("Gemini does not take GIF images") for w in warnings)
    assert accepted_as_is(400, 400, 100_000, "image/gif", 1)["openai"]


def test_kling_limits() -> None:
    assert not accepted_as_is(6000, 1000, MB, "image/jpeg", 1)["kling"]
    assert accepted_as_is(2500, 1000, MB, "image/jpeg", 1)["kling"]
    assert not accepted_as_is(2501, 1000, MB, "image/jpeg", 1)["kling"]
    assert not accepted_as_is(200, 200, 10_000, "image/jpeg", 1)["kling"]
    assert not accepted_as_is(1000, 1000, 10 * MB + 1, "image/jpeg", 1)["kling"]
    assert not accepted_as_is(1000, 1000, MB, "image/webp", 1)["kling"]
    panorama = image_warnings(6000, 1000, MB, "image/jpeg", 1)
    assert any("Kling's 2.5:1 aspect ratio" in w and "`kling` variant" in w for w in panorama)
    small = image_warnings(200, 200, 10_000, "image/jpeg", 1)
    assert any("under Kling's 300 px minimum" in w for w in small)


def test_anthropic_pixel_limits() -> None:
    assert not accepted_as_is(8001, 100, MB, "image/png", 1)["anthropic"]
    assert accepted_as_is(8000, 8000, MB, "image/png", 1)["anthropic"]
    assert any("more than 20 images" in w for w in image_warnings(2001, 10, MB, "image/png", 1))
    assert not any("more than 20 images" in w for w in image_warnings(2000, 10, MB, "image/png", 1))
    assert any("Claude's answers" in w for w in image_warnings(199, 800, 1000, "image/png", 1))


def test_runway_and_gemini_caps() -> None:
    assert accepted_as_is(4000, 3000, 16 * MB, "image/webp", 1)["runway"]
    assert not accepted_as_is(4000, 3000, 16 * MB + 1, "image/webp", 1)["runway"]
    assert accepted_as_is(4000, 3000, 50 * MB, "image/png", 1)["gemini"]
    assert not accepted_as_is(4000, 3000, 21 * MB, "image/png", 1)["openai"]
    assert "Over Runway's 16 MB limit as is (17.0 MB): use the `runway` variant." in (
        image_warnings(4000, 3000, 17 * MB, "image/png", 1)
    )


def test_a_small_clean_jpeg_raises_no_warning() -> None:
    assert image_warnings(1024, 768, 200_000, "image/jpeg", 1) == []
    assert all(accepted_as_is(1024, 768, 200_000, "image/jpeg", 1).values())
