"""Why a URL may fail with a provider, in words: the file objects' warnings and `imghost doctor`."""

from __future__ import annotations

import pytest

from imghost.vision.report import fetchability_warnings, vision_report


def test_a_public_https_domain_has_nothing_to_warn_about() -> None:
    assert fetchability_warnings("https://img.example.com", redirects=False) == []


@pytest.mark.parametrize(
    ("public_url", "words"),
    [
        ("http://127.0.0.1:8000", "loopback"),
        ("https://localhost", "loopback"),
        ("https://10.1.2.3", "private address"),
        ("https://[fd00::1]", "private address"),
        ("https://93.184.215.14", "IP address: Runway needs a domain"),
        ("http://img.example.com", "plain http"),
    ],
)
def test_each_reason_a_provider_cannot_fetch_is_named(public_url: str, words: str) -> None:
    warnings = fetchability_warnings(public_url, redirects=False)
    assert any(words in warning for warning in warnings), warnings


def test_redirects_are_named_for_runway() -> None:
    (warning,) = fetchability_warnings("https://img.example.com", redirects=True)
    assert "302" in warning
    assert "Runway" in warning


def test_the_report_carries_the_rules_version_estimates_and_every_warning() -> None:
    report = vision_report(4032, 3024, 6_000_000, "image/jpeg", 1, ["the URL warning"])
    assert report["rules_version"] == "2026-12"
    assert report["estimates"]["gpt-4o"] == {"tokens": 765, "seen": [1024, 768]}
    assert report["accepted_as_is"]["anthropic"] is False  # 6 MB is over its 5 MB base64 cap
    assert report["warnings"][-1] == "the URL warning"
    assert any("claude" in warning for warning in report["warnings"][:-1])
