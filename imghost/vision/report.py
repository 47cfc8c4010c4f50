"""What a model will see and pay for an upload, and why its URL may fail with a provider:
the `vision` block of a file object, and the fetchability check `imghost doctor` runs too."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from imghost.vision import rules
from imghost.vision.estimates import accepted_as_is, estimate, image_warnings


def fetchability_warnings(public_url: str, redirects: bool) -> list[str]:
    """Why providers' fetchers may not reach images under `public_url`."""
    parts = urlsplit(public_url)
    host = (parts.hostname or "").lower()
    warnings: list[str] = []
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if (
        host in ("localhost", "")
        or host.endswith(".localhost")
        or (address is not None and address.is_loopback)
    ):
        warnings.append(
            f"public_url ({public_url}) is a loopback address: no provider can fetch these "
            "URLs. Set public_url to the address the internet reaches this server at."
        )
    elif address is not None and not address.is_global:
        warnings.append(
            f"public_url ({public_url}) is a private address: providers fetch from the "
            "internet and cannot reach it. Set public_url to a public domain."
        )
    elif address is not None:
        warnings.append(
            f"public_url ({public_url}) is an IP address: Runway needs a domain name; give "
            "the server a domain and set public_url to it."
        )
    if parts.scheme != "https":
        warnings.append(
            f"public_url ({public_url}) is plain http: Runway needs HTTPS and other providers "
            "may refuse it. Serve imghost behind TLS and set an https public_url."
        )
    if redirects:
        warnings.append(
            "The S3 store is in redirect mode: image URLs answer 302, which Runway refuses. "
            "Use the proxy or public mode for image-to-video providers."
        )
    return warnings


def vision_report(
    width: int,
    height: int,
    size_bytes: int,
    mime_type: str,
    frames: int,
    url_warnings: list[str],
) -> dict[str, Any]:
    return {
        "rules_version": rules.RULES_VERSION,
        "estimates": {
            model: {"tokens": found.tokens, "seen": list(found.seen)}
            for model, found in estimate(width, height).items()
        },
        "accepted_as_is": accepted_as_is(width, height, size_bytes, mime_type, frames),
        "warnings": image_warnings(width, height, size_bytes, mime_type, frames) + url_warnings,
    }
