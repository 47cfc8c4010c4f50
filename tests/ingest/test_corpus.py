"""Every file of the shared acceptance corpus, uploaded to a real server, gets its verdict.

Accepted files must come back from their URL as the same image: same format family, same
displayed size and frame count, and (when not re-encoded) the same pixels; HEIC and AVIF come
back as JPEG of the same picture. Rejected files must get a 4xx envelope. `POLICY` lists where
we knowingly differ from the corpus's recommendation, `SINCE_HEIF` the verdicts HEIC/AVIF
support changed; the README's "Image policy" section says the same, with the reasons.
"""

from __future__ import annotations

import csv
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import pi_heif  # type: ignore[import-untyped]  # ships no type information
import pytest
import requests
from PIL import Image, ImageOps

from imghost.ingest import formats
from tests.conftest import CORPUS, Server, auth, needs_corpus

pytestmark = needs_corpus

# path -> our verdict where it differs from MANIFEST.tsv's "expected" (see README).
POLICY: dict[str, str] = {
    # The PHP in EXIF is stripped on ingest; the GIF's sits in its LZW pixel data, which no
    # check can tell from pixels and which is only ever served as image/gif with nosniff.
    "tricky/polyglot/fuzzdb_POC_phpinfo-metadata.jpg": "accept",
    "tricky/polyglot/fuzzdb_POC_phpinfo-metadata.gif": "accept",
}

_UNSUPPORTED = "invalid/unsupported-format/"
# The manifest was written before HEIC/AVIF support and says `reject` for these:
# path -> (our verdict, the refusal code we pin, why).
SINCE_HEIF: dict[str, tuple[str, str | None, str]] = {
    _UNSUPPORTED + "filetype_fixture-mif1.heic": (
        "accept", None, "HEIC (mif1 brand, HEVC): accepted since HEIC/AVIF support, as JPEG"
    ),
    _UNSUPPORTED + "pillow_hopper.heif": (
        "accept", None, "HEIC: accepted since HEIC/AVIF support, stored as JPEG"
    ),
    _UNSUPPORTED + "pillow_hopper.avif": (
        "accept", None, "AVIF: accepted since HEIC/AVIF support, stored as JPEG"
    ),
    _UNSUPPORTED + "filetype_fixture-yuv420-8bit.avif": (
        "accept", None, "AVIF 4:2:0: accepted since HEIC/AVIF support, stored as JPEG"
    ),
    _UNSUPPORTED + "pillow_star.avifs": (
        "reject", "unsupported_type", "animated AVIF: refused (415), only stills are stored"
    ),
}  # fmt: skip

# JPEG codings that browsers cannot show: stored re-encoded as baseline JPEG.
REENCODED = {"tricky/jpeg-coding/ljt_testimgari.jpg", "tricky/jpeg-coding/sharp_testimgl.jpg"}
PILLOW_FAMILY = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "GIF": "GIF", "WEBP": "WEBP"}
TRANSPOSING = {5, 6, 7, 8}


@dataclass(frozen=True)
class Case:
    path: str
    expected: str
    reason: str
    frames: str
    code: str | None = None  # the refusal code, where the test pins it

    @property
    def file(self) -> Path:
        return CORPUS / self.path


def load_cases() -> list[Case]:
    if not CORPUS.is_dir():
        return []
    with (CORPUS / "MANIFEST.tsv").open(newline="") as manifest:
        rows = list(csv.DictReader(manifest, delimiter="\t"))
    return [_case(row) for row in rows]


def _case(row: dict[str, str]) -> Case:
    path = row["path"]
    if path in SINCE_HEIF:
        verdict, code, reason = SINCE_HEIF[path]
        return Case(path, verdict, reason, row["frames"], code)
    return Case(path, POLICY.get(path, row["expected"]), row["reason"], row["frames"])


CASES = load_cases()


def test_the_whole_corpus_is_here() -> None:
    assert len(CASES) >= 190
    assert all(case.file.is_file() for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.path for c in CASES])
def test_corpus_file(server: Server, user_key: str, case: Case) -> None:
    original = case.file.read_bytes()
    response = requests.post(
        server.url + "/api/upload",
        headers=auth(user_key),
        files={"file": (case.file.name, original, "application/octet-stream")},
        timeout=60,
    )
    body = response.json()
    if case.expected == "reject":
        assert 400 <= response.status_code < 500, f"accepted: {case.reason}"
        assert response.status_code in (400, 413, 415, 422)
        assert body["success"] is False
        assert body["data"] is None
        assert body["code"]
        assert case.code in (None, body["code"])
        return
    assert response.status_code == 200, f"{body} — {case.reason}"
    served = requests.get(body["data"], timeout=30)
    assert served.status_code == 200
    assert_same_image(original, served.content, served.headers["content-type"], case.path)


def assert_same_image(original: bytes, stored: bytes, content_type: str, path: str) -> None:
    with warnings.catch_warnings():
        # The corpus is made to upset decoders: Pillow warns about its broken EXIF and APNGs.
        warnings.simplefilter("ignore")
        _assert_same_image(original, stored, content_type, path)


def _assert_same_image(original: bytes, stored: bytes, content_type: str, path: str) -> None:
    if path in SINCE_HEIF:
        _assert_same_picture_as_jpeg(original, stored, content_type)
        return
    with Image.open(io.BytesIO(original)) as before, Image.open(io.BytesIO(stored)) as after:
        family = PILLOW_FAMILY[before.format or ""]
        assert PILLOW_FAMILY[after.format or ""] == family
        assert content_type == f"image/{family.lower()}"
        orientation = before.getexif().get(0x0112, 1)
        upright = orientation in TRANSPOSING
        expected_size = before.size[::-1] if upright else before.size
        assert after.size in (before.size, expected_size)
        expected_frames = 1 if before.format == "MPO" else getattr(before, "n_frames", 1)
        assert getattr(after, "n_frames", 1) == expected_frames
        reencoded = path in REENCODED or (orientation in range(2, 9) and expected_frames == 1)
        if reencoded:
            assert after.size == expected_size
            assert _close(ImageOps.exif_transpose(before), after)
        else:
            assert _pixels(before) == _pixels(after)


def _assert_same_picture_as_jpeg(original: bytes, stored: bytes, content_type: str) -> None:
    if formats.sniff(original[: formats.SNIFF_BYTES]) == "heif":
        heif = pi_heif.open_heif(io.BytesIO(original))
        before = heif[heif.primary_index].to_pillow()
    else:
        before = Image.open(io.BytesIO(original))
    with Image.open(io.BytesIO(stored)) as after:
        assert (after.format, content_type) == ("JPEG", "image/jpeg")
        assert after.size == before.size
        assert _close(before, after)


def _pixels(im: Image.Image) -> bytes:
    im.seek(0)
    return im.convert("RGBA").tobytes()


def _close(before: Image.Image, after: Image.Image) -> bool:
    a = before.convert("RGB").resize((32, 32))
    b = after.convert("RGB").resize((32, 32))
    diff = sum(abs(x - y) for x, y in zip(a.tobytes(), b.tobytes(), strict=True))
    return diff / (32 * 32 * 3) < 8
