"""The FORMATS table is the one place format decisions live: everything that lists formats
(the walkers, the uploader's folder walk, the upload page, the README) agrees with it."""

from __future__ import annotations

import re

from imghost.cli.uploader import IMAGE_SUFFIXES, is_image_name
from imghost.ingest import formats
from imghost.ingest.formats import FORMATS
from imghost.store import keys
from tests.conftest import ROOT

ACCEPTED = {name: row for name, row in FORMATS.items() if row.accepted}


def test_every_accepted_format_is_stored_as_one_served_as_itself() -> None:
    for name, row in ACCEPTED.items():
        assert row.content_type.startswith("image/"), name
        assert bool(row.extension) is not row.transcoded, name
        assert row.suffixes, name
        for stored in (row.stored_as, row.stored_as_with_alpha):
            assert FORMATS[stored].accepted
            assert not FORMATS[stored].transcoded
            # Stores and the image route find the bytes by the key's extension.
            extension = FORMATS[stored].extension
            assert keys.parse(f"uploads/2026/01/{'a' * 22}.{extension}").extension == extension
    stored = {FORMATS[row.stored_as].extension for row in ACCEPTED.values()}
    assert stored == set(keys.EXTENSIONS)
    assert {name for name, row in ACCEPTED.items() if row.transcoded} == {"heif", "avif"}
    assert FORMATS["heif"].stored_as == FORMATS["avif"].stored_as == "jpeg"
    assert FORMATS["heif"].stored_as_with_alpha == FORMATS["avif"].stored_as_with_alpha == "png"


def test_refused_formats_say_why() -> None:
    refused = {name: row for name, row in FORMATS.items() if not row.accepted}
    assert set(refused) == {"heif-sequence", "avif-sequence"}
    assert all(row.refusal and not row.suffixes for row in refused.values())
    assert formats.ACCEPTED_LABELS == "JPEG, PNG, GIF, WebP, HEIC/HEIF or AVIF"


def test_the_uploader_walks_every_accepted_suffix() -> None:
    assert {suffix for row in ACCEPTED.values() for suffix in row.suffixes} == IMAGE_SUFFIXES
    for name in ("IMG_0001.HEIC", "a.heif", "b.hif", "c.avif", "d.jpg"):
        assert is_image_name(ROOT / name)
    assert not is_image_name(ROOT / "anim.avifs")


def test_the_upload_page_offers_heic_and_avif() -> None:
    page = (ROOT / "imghost" / "web" / "upload.html").read_text()
    match = re.search(r'id="file-input"[^>]*\saccept="([^"]+)"', page, re.DOTALL)
    assert match is not None
    accept = set(match.group(1).split(","))
    assert "image/*" in accept
    for name in ("heif", "avif"):
        assert FORMATS[name].content_type in accept
        assert set(FORMATS[name].suffixes) <= accept
    assert "HEIC or AVIF" in page


def test_the_readme_names_every_accepted_format() -> None:
    policy = (ROOT / "README.md").read_text().split("## Image policy", 1)[1]
    for row in ACCEPTED.values():
        assert row.label in policy.split("\n## ", 1)[0], row.label
