"""HEIC/HEIF and AVIF through the ingest pipeline, on files made by real encoders.

Each is sniffed from its ftyp brands, walked without decoding, held to the limits before any
decoder runs, refused with a 4xx code when cut or damaged, turned upright by its irot/imir
(or, without them, its EXIF orientation) and stored as JPEG, or PNG when transparent, with
no EXIF or XMP left.
"""

from __future__ import annotations

import io
import os
import random
import secrets
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageOps

from imghost.errors import InvalidImage, Refusal, UnsupportedType
from imghost.ingest import formats, transcode
from imghost.ingest.prepare import PreparedImage, prepare
from imghost.ingest.validate import Limits, require_image
from tests.conftest import CORPUS, needs_corpus
from tests.heif_files import (
    add_transforms,
    avif_bytes,
    exif_with,
    heif_enc,
    imir,
    irot,
    resize_ispe,
)

LIMITS = Limits(
    max_pixels=100_000_000, max_side=16384, max_frames=1000, max_decoded_pixels=500_000_000
)
UNSUPPORTED = "invalid/unsupported-format/"


def quadrants(width: int = 64, height: int = 32) -> Image.Image:
    """Four colours, one per corner: each of the eight orientations looks different."""
    picture = Image.new("RGB", (width, height), (250, 250, 250))
    half_w, half_h = width // 2, height // 2
    picture.paste((220, 20, 20), (0, 0, half_w, half_h))
    picture.paste((20, 200, 20), (half_w, 0, width, half_h))
    picture.paste((20, 20, 220), (0, half_h, half_w, height))
    return picture


def store(
    tmp_path: Path, data: bytes, limits: Limits = LIMITS
) -> tuple[PreparedImage, Image.Image]:
    source = tmp_path / f"{secrets.token_hex(6)}.part"
    source.write_bytes(data)
    prepared = prepare(source, "0" * 64, limits, strip_metadata=True)
    stored = Image.open(io.BytesIO(prepared.path.read_bytes()))
    stored.load()
    return prepared, stored


def refusal(tmp_path: Path, data: bytes, limits: Limits = LIMITS) -> Refusal:
    with pytest.raises(Refusal) as caught:
        store(tmp_path, data, limits)
    return caught.value


def assert_close(expected: Image.Image, got: Image.Image) -> None:
    assert got.size == expected.size
    a = expected.convert("RGB").resize((16, 16)).tobytes()
    b = got.convert("RGB").resize((16, 16)).tobytes()
    assert sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a) < 10


def upright(picture: Image.Image, orientation: int) -> Image.Image:
    """What Pillow's own EXIF handling shows for `picture` tagged with `orientation`."""
    tagged = picture.copy()
    tagged.info["exif"] = exif_with(orientation).tobytes()
    return ImageOps.exif_transpose(tagged)


# --- sniffing ------------------------------------------------------------------------------


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + bytes(4) + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\0\0\0\x08meta"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (ftyp(b"heic", b"mif1", b"heic"), "heif"),
        (ftyp(b"heix", b"mif1"), "heif"),
        (ftyp(b"mif1", b"mif1", b"heic", b"hevc"), "heif"),
        (ftyp(b"mif1"), "heif"),
        (ftyp(b"avif", b"mif1", b"miaf"), "avif"),
        # Decided: a generic HEIF whose compatible brands say AV1 is AVIF.
        (ftyp(b"mif1", b"mif1", b"avif"), "avif"),
        (ftyp(b"avis", b"avif", b"msf1"), "avif-sequence"),
        (ftyp(b"msf1", b"hevc"), "heif-sequence"),
        (ftyp(b"hevc", b"msf1"), "heif-sequence"),
        (ftyp(b"isom", b"mp41", b"avc1"), None),
        (ftyp(b"qt  "), None),
        (ftyp(b"heic")[:10], None),
    ],
)
def test_sniff_reads_the_ftyp_brands(head: bytes, expected: str | None) -> None:
    assert formats.sniff(head[: formats.SNIFF_BYTES]) == expected


@pytest.mark.parametrize("kind", ["heif-sequence", "avif-sequence"])
def test_sequences_are_refused_from_their_first_bytes(kind: str) -> None:
    head = ftyp(b"avis" if kind == "avif-sequence" else b"msf1", b"mif1")
    with pytest.raises(UnsupportedType) as caught:
        require_image(head)
    assert caught.value.code == "unsupported_type"
    assert caught.value.message == formats.FORMATS[kind].refusal
    assert "GIF or WebP" in caught.value.message


def test_the_refusal_of_other_types_names_heic_and_avif() -> None:
    with pytest.raises(UnsupportedType) as caught:
        require_image(b"BM" + bytes(30))
    assert "HEIC/HEIF or AVIF images are accepted; this file looks like a BMP" in str(caught.value)


# --- what is stored ------------------------------------------------------------------------


@needs_corpus
@pytest.mark.parametrize(
    ("name", "kind", "size"),
    [
        ("filetype_fixture-mif1.heic", "heif", (1440, 960)),
        ("pillow_hopper.heif", "heif", (128, 128)),
        ("pillow_hopper.avif", "avif", (128, 128)),
        ("filetype_fixture-yuv420-8bit.avif", "avif", (2048, 858)),
    ],
)
def test_corpus_files_are_stored_as_jpeg(
    tmp_path: Path, name: str, kind: str, size: tuple[int, int]
) -> None:
    data = (CORPUS / UNSUPPORTED / name).read_bytes()
    structure = formats.parse(data, 1)
    assert (structure.format, structure.width, structure.height) == (kind, *size)
    prepared, stored = store(tmp_path, data)
    assert (prepared.format, prepared.source_format) == ("jpeg", kind)
    assert (prepared.content_type, prepared.extension) == ("image/jpeg", "jpg")
    assert stored.format == "JPEG"
    assert (prepared.width, prepared.height, prepared.frames) == (*size, 1)


def translucent(width: int = 48, height: int = 32) -> Image.Image:
    picture = quadrants(width, height).convert("RGBA")
    picture.putalpha(Image.linear_gradient("L").resize((width, height)))
    return picture


ENCODERS: dict[str, Callable[[Path, Image.Image], bytes]] = {
    "heif": heif_enc,
    "avif": lambda _tmp, picture: avif_bytes(picture),
}


@pytest.mark.parametrize("kind", ["heif", "avif"])
def test_an_opaque_picture_becomes_a_jpeg(tmp_path: Path, kind: str) -> None:
    picture = quadrants()
    prepared, stored = store(tmp_path, ENCODERS[kind](tmp_path, picture))
    assert (prepared.format, prepared.content_type, prepared.extension) == (
        "jpeg",
        "image/jpeg",
        "jpg",
    )
    assert prepared.source_format == kind
    assert (stored.format, stored.mode) == ("JPEG", "RGB")
    assert_close(picture, stored)


@pytest.mark.parametrize("kind", ["heif", "avif"])
def test_a_transparent_picture_becomes_a_png_with_its_alpha(tmp_path: Path, kind: str) -> None:
    picture = translucent()
    prepared, stored = store(tmp_path, ENCODERS[kind](tmp_path, picture))
    assert (prepared.format, prepared.content_type, prepared.extension) == (
        "png",
        "image/png",
        "png",
    )
    assert (stored.format, stored.mode) == ("PNG", "RGBA")
    for xy in ((5, 2), (40, 16), (5, 29)):
        assert abs(alpha(picture, xy) - alpha(stored, xy)) < 12


def alpha(picture: Image.Image, xy: tuple[int, int]) -> int:
    value = picture.getchannel("A").getpixel(xy)
    assert isinstance(value, int)
    return value


def test_an_alpha_channel_that_is_opaque_everywhere_makes_a_jpeg(tmp_path: Path) -> None:
    prepared, stored = store(tmp_path, avif_bytes(quadrants().convert("RGBA")))
    assert (prepared.format, stored.mode) == ("jpeg", "RGB")


def test_metadata_is_stripped_and_the_icc_profile_kept(tmp_path: Path) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = exif_with(1)
    exif[0x010F] = "SecretMaker"
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><SecretXmp/></x:xmpmeta>'
    for data in (
        heif_enc(tmp_path, quadrants(), exif=exif, xmp=xmp, icc_profile=icc),
        avif_bytes(quadrants(), exif=exif, xmp=xmp, icc_profile=icc),
    ):
        assert b"SecretMaker" in data
        assert b"SecretXmp" in data
        prepared, stored = store(tmp_path, data)
        raw = prepared.path.read_bytes()
        assert b"Secret" not in raw
        assert b"Exif" not in raw
        assert b"http://ns.adobe.com/xap/1.0/" not in raw
        assert "exif" not in stored.info
        assert "xmp" not in stored.info
        assert stored.info["icc_profile"] == icc


# --- orientation ---------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_avif_irot_and_imir_turn_the_picture_upright(tmp_path: Path, orientation: int) -> None:
    """Pillow writes an EXIF orientation into AVIF as irot/imir, and removes the tag."""
    picture = quadrants()
    data = avif_bytes(picture, exif=exif_with(orientation))
    assert formats.parse(data, 1).transformed is (orientation != 1)
    _prepared, stored = store(tmp_path, data)
    assert_close(upright(picture, orientation), stored)


# The transformations added to a HEIC, in order, and the EXIF orientation they amount to.
HEIC_TRANSFORMS = [
    ((irot(1),), 8),
    ((irot(2),), 3),
    ((irot(3),), 6),
    ((imir(0),), 4),
    ((imir(1),), 2),
    ((irot(1), imir(1)), 7),
    ((irot(1), imir(0)), 5),
    ((irot(2), imir(1)), 4),
]


@pytest.mark.parametrize(("transforms", "orientation"), HEIC_TRANSFORMS)
def test_heic_irot_and_imir_turn_the_picture_upright(
    tmp_path: Path, transforms: tuple[bytes, ...], orientation: int
) -> None:
    picture = quadrants()
    data = add_transforms(heif_enc(tmp_path, picture), *transforms)
    structure = formats.parse(data, 1)
    assert (structure.transformed, structure.orientation) == (True, orientation)
    _prepared, stored = store(tmp_path, data)
    assert_close(upright(picture, orientation), stored)


def test_a_heic_exif_orientation_applies_when_it_has_no_transformations(tmp_path: Path) -> None:
    """heif-enc copies a JPEG's EXIF orientation 6 and writes no irot."""
    picture = quadrants()
    data = heif_enc(tmp_path, picture, exif=exif_with(6))
    structure = formats.parse(data, 1)
    assert (structure.transformed, structure.orientation) == (False, 6)
    prepared, stored = store(tmp_path, data)
    assert (prepared.width, prepared.height) == (32, 64)
    assert_close(upright(picture, 6), stored)


def test_a_heic_with_irot_and_an_exif_orientation_is_turned_once(tmp_path: Path) -> None:
    """As iPhones write them: the same quarter turn as irot and as EXIF orientation 6."""
    picture = quadrants()
    data = add_transforms(heif_enc(tmp_path, picture, exif=exif_with(6)), irot(3))
    _prepared, stored = store(tmp_path, data)
    assert_close(upright(picture, 6), stored)


# --- limits, before any decoder ------------------------------------------------------------


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_args: object) -> None:
        raise AssertionError("a decoder ran")

    monkeypatch.setattr(transcode, "decode", forbidden)


def test_a_header_claiming_a_huge_heic_is_refused_before_decoding(
    tmp_path: Path, no_decoding: None
) -> None:
    """A 1 kB file whose ispe claims 40000x40000 (1.6 gigapixels)."""
    data = resize_ispe((CORPUS / UNSUPPORTED / "pillow_hopper.heif").read_bytes(), (128, 128),
                       (40000, 40000))  # fmt: skip
    error = refusal(tmp_path, data)
    assert isinstance(error, InvalidImage)
    assert error.code == "image_too_large"
    assert "40000x40000" in error.message


def test_a_header_claiming_a_huge_avif_is_refused_before_decoding(
    tmp_path: Path, no_decoding: None
) -> None:
    data = resize_ispe(avif_bytes(quadrants()), (64, 32), (30000, 20000))
    error = refusal(tmp_path, data)
    assert error.code == "image_too_large"
    assert "30000x20000" in error.message


def test_a_huge_tile_behind_a_small_grid_is_refused_before_decoding(
    tmp_path: Path, no_decoding: None
) -> None:
    """heif-enc wraps the picture in a one-tile grid: the tile is what a decoder allocates."""
    data = resize_ispe(heif_enc(tmp_path, quadrants()), (64, 64), (20000, 20000))
    assert formats.parse(data, 1).width == 64
    error = refusal(tmp_path, data)
    assert error.code == "image_too_large"
    assert "20000x20000" in error.message


@pytest.mark.parametrize(
    "limits",
    [
        Limits(max_pixels=2000, max_side=16384, max_frames=1000, max_decoded_pixels=10**9),
        Limits(max_pixels=10**8, max_side=50, max_frames=1000, max_decoded_pixels=10**9),
        # Alpha makes two 64x64 coded pictures of a 48x32 image: 8192 pixels to decode.
        Limits(max_pixels=10**8, max_side=16384, max_frames=1000, max_decoded_pixels=8000),
    ],
)
def test_the_limits_apply_to_the_header_sizes(
    tmp_path: Path, no_decoding: None, limits: Limits
) -> None:
    data = heif_enc(tmp_path, translucent())
    assert formats.parse(data, 1).parts == ((64, 64), (64, 64))
    assert refusal(tmp_path, data, limits).code == "image_too_large"


# --- refused files -------------------------------------------------------------------------


@needs_corpus
def test_an_animated_avif_is_refused_as_unsupported(tmp_path: Path) -> None:
    data = (CORPUS / UNSUPPORTED / "pillow_star.avifs").read_bytes()
    error = refusal(tmp_path, data)
    assert isinstance(error, UnsupportedType)
    assert error.message == formats.FORMATS["avif-sequence"].refusal
    # Branded as a still, it is refused all the same for its track.
    still_branded = data[:8] + b"avif" + data[12:]
    assert formats.sniff(still_branded[: formats.SNIFF_BYTES]) == "avif"
    assert refusal(tmp_path, still_branded).code == "unsupported_type"


def test_an_animation_made_by_pillow_is_refused(tmp_path: Path) -> None:
    frames = [quadrants(), quadrants().rotate(180)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="AVIF", save_all=True, append_images=frames[1:])
    assert refusal(tmp_path, buffer.getvalue()).code == "unsupported_type"


@needs_corpus
def test_a_picture_coded_otherwise_is_unsupported(tmp_path: Path) -> None:
    data = (CORPUS / UNSUPPORTED / "pillow_hopper.heif").read_bytes()
    infe = b"infe\x02\x00\x00\x00\x00\x01\x00\x00hvc1"
    error = refusal(tmp_path, data.replace(infe, infe[:-4] + b"jpeg"))
    assert isinstance(error, UnsupportedType)
    assert "coded as 'jpeg', not hvc1" in error.message
    # HEVC under AVIF brands: libavif would refuse it, and libheif is not asked.
    avif_branded = data[:8] + b"avif" + data[12:16] + b"avif" + data[20:]
    error = refusal(tmp_path, avif_branded)
    assert isinstance(error, UnsupportedType)
    assert "coded as 'hvc1', not av01" in error.message


@pytest.mark.parametrize("kind", ["heif", "avif"])
@pytest.mark.parametrize("fraction", [0.02, 0.3, 0.6, 0.9, 0.995])
def test_a_cut_file_is_truncated(tmp_path: Path, kind: str, fraction: float) -> None:
    picture = Image.frombytes("RGB", (96, 64), os.urandom(96 * 64 * 3))
    data = ENCODERS[kind](tmp_path, picture)
    error = refusal(tmp_path, data[: max(16, int(len(data) * fraction))])
    assert isinstance(error, InvalidImage)
    assert error.code == "truncated_image"


@pytest.mark.parametrize("kind", ["heif", "avif"])
def test_garbage_picture_data_is_corrupt(tmp_path: Path, kind: str) -> None:
    data = ENCODERS[kind](tmp_path, Image.frombytes("RGB", (96, 64), os.urandom(96 * 64 * 3)))
    mdat = data.index(b"mdat") + 4
    error = refusal(tmp_path, data[:mdat] + random.Random(1).randbytes(len(data) - mdat))
    assert error.code == "corrupt_image"


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        (lambda d: d.replace(b"ispe", b"ispf"), "corrupt_image"),  # no sizes
        (lambda d: d.replace(b"pitm", b"pitn"), "corrupt_image"),  # no primary picture
        (lambda d: d.replace(b"pict", b"vide"), "corrupt_image"),  # not a picture's metadata
        (lambda d: resize_ispe(d, (64, 64), (16, 16)), "corrupt_image"),  # tiles too small
        (lambda d: resize_ispe(d, (48, 32), (48, 40)), "corrupt_image"),  # grid disagrees
        (lambda d: d[:4] + b"free" + d[8:], "unsupported_type"),  # no ftyp: not an image
    ],
)
def test_a_damaged_structure_is_refused(
    tmp_path: Path, edit: Callable[[bytes], bytes], code: str
) -> None:
    data = heif_enc(tmp_path, quadrants(48, 32))
    store(tmp_path, data)
    assert refusal(tmp_path, edit(data)).code == code


@pytest.mark.parametrize("kind", ["heif", "avif"])
def test_random_damage_is_refused_or_stored_never_a_crash(tmp_path: Path, kind: str) -> None:
    rng = random.Random(kind)
    data = ENCODERS[kind](tmp_path, Image.frombytes("RGB", (80, 48), rng.randbytes(80 * 48 * 3)))
    codes = set()
    for _ in range(150):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        if rng.random() < 0.3:
            mutated = mutated[: rng.randrange(1, len(mutated))]
        try:
            store(tmp_path, bytes(mutated))
            codes.add("stored")
        except Refusal as exc:
            codes.add(exc.code)
    assert codes <= {"stored", "corrupt_image", "truncated_image", "unsupported_type",
                     "image_too_large"}  # fmt: skip
    assert {"corrupt_image", "truncated_image"} <= codes


def test_millions_of_tiny_entries_are_refused_quickly() -> None:
    """A 6 MB property table of one-byte associations: each costs Python work to walk."""

    def box(kind: bytes, payload: bytes, version: int | None = None) -> bytes:
        header = b"" if version is None else bytes([version, 0, 0, 0])
        return struct.pack(">I4s", 8 + len(header) + len(payload), kind) + header + payload

    entries = 24_000
    ipma = struct.pack(">I", entries) + (struct.pack(">HB", 1, 255) + b"\x01" * 255) * entries
    ipco = box(b"ipco", box(b"ispe", struct.pack(">II", 8, 8), 0))
    meta = box(
        b"meta",
        box(b"hdlr", bytes(4) + b"pict" + bytes(13), 0)
        + box(b"pitm", b"\x00\x01", 0)
        + box(b"iinf", b"\x00\x01" + box(b"infe", b"\x00\x01\x00\x00hvc1\x00", 2), 0)
        + box(b"iloc", b"\x44\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x01" + bytes(8), 1)
        + box(b"iprp", ipco + box(b"ipma", ipma, 0)),
        0,
    )
    data = box(b"ftyp", b"heic\0\0\0\0mif1heic") + meta
    started = time.perf_counter()
    with pytest.raises(formats.FormatError, match="more boxes and items than any encoder"):
        formats.parse(data, 1)
    assert time.perf_counter() - started < 2
