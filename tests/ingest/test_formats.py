"""The structural walkers and metadata stripper, on the real files of the shared corpus.

Every accepted file must parse to the size and frame count Pillow reports, and its stripped
form must decode in Pillow without the removed metadata. Rejections are checked against what
each file really is; where the structure is intact and only compressed data is damaged,
parse() cannot tell, and the test says so (Pillow's decode step, elsewhere, rejects those).
"""

from __future__ import annotations

import contextlib
import csv
import io
import mmap
import random
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from imghost.ingest import formats
from imghost.ingest.formats import FormatError, Structure
from tests.conftest import CORPUS, needs_corpus

pytestmark = needs_corpus

MAX_FRAMES = 1000
ORIENTATION = 0x0112
GPS_IFD = 0x8825
SNIFFED = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
# Files carrying whole extra JPEG streams after the primary image's EOI; `length` stops there.
APPENDED_IMAGES = {
    "tricky/jpeg-coding/pillow_sugarshack.mpo",
    "tricky/jpeg-coding/pillow_frozenpond.mpo",
    "tricky/jpeg-coding/sharp_gain-map.jpg",
}
REENCODE = {"tricky/jpeg-coding/ljt_testimgari.jpg", "tricky/jpeg-coding/sharp_testimgl.jpg"}
# Pillow warns on the two acTL chunks, which strip() keeps: they are not metadata.
PILLOW_WARNINGS = {"tricky/apng/pillow_apng_chunk_multi_actl.png": "Invalid APNG"}


@dataclass(frozen=True)
class Row:
    path: str
    expected: str
    format: str
    width: str
    height: str
    frames: str


def _manifest() -> dict[str, Row]:
    if not CORPUS.is_dir():
        return {}
    with (CORPUS / "MANIFEST.tsv").open(newline="") as manifest:
        rows = csv.DictReader(manifest, delimiter="\t")
        return {row["path"]: Row(*(row[name] for name in Row.__annotations__)) for row in rows}


MANIFEST = _manifest()
ACCEPTED = sorted(
    path
    for path, row in MANIFEST.items()
    if path.startswith("valid/")
    or (path.startswith("tricky/") and row.expected == "accept" and row.format in SNIFFED)
)


def _read(path: str) -> bytes:
    return (CORPUS / path).read_bytes()


def _paths(pattern: str) -> list[str]:
    return sorted(str(path.relative_to(CORPUS)) for path in CORPUS.glob(pattern))


def _stripped(data: bytes, orientation: int = 1) -> bytes:
    return b"".join(formats.strip(data, formats.parse(data, MAX_FRAMES), orientation))


@contextlib.contextmanager
def _pillow_warnings(path: str) -> Iterator[None]:
    if path in PILLOW_WARNINGS:
        with pytest.warns(UserWarning, match=PILLOW_WARNINGS[path]):
            yield
    else:
        yield


def _decode(data: bytes, path: str = "") -> Image.Image:
    """Open `data` in Pillow and load every frame, as the upload pipeline does."""
    with _pillow_warnings(path):
        image = Image.open(io.BytesIO(data))
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            image.load()
    return image


def _png_chunk_types(data: bytes) -> list[bytes]:
    types, pos = [], 8
    while pos < len(data):
        (size,) = struct.unpack_from(">I", data, pos)
        types.append(data[pos + 4 : pos + 8])
        pos += 12 + size
    return types


# --- sniff ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0", "jpeg"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\x0d", "png"),
        (b"GIF87a", "gif"),
        (b"GIF89a\x01\0", "gif"),
        (b"RIFF\0\0\0\0WEBP", "webp"),
        (b"RIFF\0\0\0\0WAVE", None),
        (b"\xff\xd8", None),
        (b"\x89PNG\r\n\x1a", None),
        (b"GIF88a", None),
        (b"", None),
    ],
)
def test_sniff(head: bytes, expected: str | None) -> None:
    assert formats.sniff(head) == expected


# The corpus predates HEIC/AVIF support: these of its "unsupported" files are now sniffed
# (tests/ingest/test_heif.py checks what becomes of them).
SNIFFED_SINCE_HEIF = {
    "invalid/unsupported-format/filetype_fixture-mif1.heic": "heif",
    "invalid/unsupported-format/pillow_hopper.heif": "heif",
    "invalid/unsupported-format/pillow_hopper.avif": "avif",
    "invalid/unsupported-format/filetype_fixture-yuv420-8bit.avif": "avif",
    "invalid/unsupported-format/pillow_star.avifs": "avif-sequence",
}


@pytest.mark.parametrize("path", _paths("invalid/unsupported-format/*"))
def test_unsupported_formats_are_not_sniffed(path: str) -> None:
    head = _read(path)[: formats.SNIFF_BYTES]
    assert formats.sniff(head) == SNIFFED_SINCE_HEIF.get(path)


@pytest.mark.parametrize("path", _paths("invalid/not-image/*"))
def test_disguised_files_are_refused(path: str) -> None:
    data = _read(path)
    if formats.sniff(data[:12]) is not None:
        with pytest.raises(FormatError):
            formats.parse(data, MAX_FRAMES)


# --- accepted files ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ACCEPTED)
def test_accepted_file_parses_to_its_header_values(path: str) -> None:
    row = MANIFEST[path]
    data = _read(path)
    assert formats.sniff(data[:12]) == SNIFFED[row.format]
    structure = formats.parse(data, MAX_FRAMES)
    assert structure.format == SNIFFED[row.format]
    assert (structure.width, structure.height) == (int(row.width), int(row.height))
    # Our JPEG frame is the primary image; Pillow counts an MPO's pictures.
    assert structure.frames == (1 if row.format == "MPO" else int(row.frames))
    if path in APPENDED_IMAGES:
        assert structure.length < len(data)
    else:
        assert structure.length == len(data)
    assert structure.reencode == (path in REENCODE)


@pytest.mark.parametrize("path", ACCEPTED)
def test_stripped_file_decodes_without_metadata(path: str) -> None:
    row = MANIFEST[path]
    stripped = _stripped(_read(path))
    image = _decode(stripped, path)
    assert image.size == (int(row.width), int(row.height))
    assert getattr(image, "n_frames", 1) == (1 if row.format == "MPO" else int(row.frames))
    assert not image.getexif()
    assert not {"comment", "xmp", "exif"} & set(image.info)
    if image.format == "PNG":
        assert not set(_png_chunk_types(stripped)) & {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}
    # Nothing removable is left: stripping again changes nothing.
    assert _stripped(stripped) == stripped


def test_strip_removes_the_imagemagick_file_read_text() -> None:
    data = _read("tricky/polyglot/patt_imagemagick_CVE-2022-44268_convert_etc_passwd.png")
    assert b"tEXt" in data
    assert b"tEXt" not in _stripped(data)


def test_strip_removes_gps_location() -> None:
    data = _read("valid/jpeg/pillow_exif_gps.jpg")
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)
    assert not Image.open(io.BytesIO(_stripped(data))).getexif().get_ifd(GPS_IFD)


def test_strip_removes_php_from_jpeg_metadata() -> None:
    data = _read("tricky/polyglot/fuzzdb_POC_phpinfo-metadata.jpg")
    assert b"<?php" in data
    stripped = _stripped(data)
    assert b"<?php" not in stripped
    _decode(stripped)


def test_php_inside_gif_pixel_data_survives_strip() -> None:
    # Despite the manifest's note, this GIF has no comment extension: the PHP sits inside the
    # LZW-coded image data, which only a re-encode changes. Serving with nosniff is the defence.
    data = _read("tricky/polyglot/fuzzdb_POC_phpinfo-metadata.gif")
    assert b"<?php" in data
    assert _stripped(data) == data


def test_strip_keeps_what_decoders_need() -> None:
    icc_jpeg = _stripped(_read("valid/jpeg/pillow_icc_profile_big.jpg"))
    assert Image.open(io.BytesIO(icc_jpeg)).info.get("icc_profile")
    cmyk = Image.open(io.BytesIO(_stripped(_read("tricky/cmyk-jpeg/pillow_pil_sample_cmyk.jpg"))))
    assert "adobe" in cmyk.info  # APP14 tells decoders how to convert the colours
    assert cmyk.mode == "CMYK"
    looping = _decode(_stripped(_read("valid/gif/gifsuite_animated_loop.gif")))
    assert looping.info.get("loop") == 0


@pytest.mark.parametrize("path", sorted(APPENDED_IMAGES))
def test_strip_drops_appended_pictures(path: str) -> None:
    stripped = _stripped(_read(path))
    assert b"MPF\0" not in stripped
    image = _decode(stripped)
    assert image.format == "JPEG"
    assert getattr(image, "n_frames", 1) == 1


# --- orientation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "valid/jpeg/pillow_hopper.jpg",  # JFIF APP0 first: EXIF goes after it
        "tricky/exif-orientation/recurser_Landscape_3.jpg",  # EXIF first, replaced
        "valid/png/pillow_hopper.png",
        "tricky/exif-orientation/pillow_exif_imagemagick_orientation.png",
        "valid/webp/libwebp_test.webp",  # simple lossy: a VP8X is synthesised
        "valid/webp/libwebp_lossless1.webp",  # simple lossless with alpha
        "tricky/exif-orientation/pillow_hopper_orientation_6.webp",
        "tricky/animated-webp/sharp_rotating-squares.webp",
    ],
)
def test_strip_writes_the_orientation(path: str) -> None:
    row = MANIFEST[path]
    rotated = _stripped(_read(path), orientation=6)
    image = _decode(rotated)
    assert image.getexif()[ORIENTATION] == 6
    assert image.size == (int(row.width), int(row.height))
    assert getattr(image, "n_frames", 1) == int(row.frames)
    # The written EXIF is removable metadata like any other: stripping again changes nothing.
    assert _stripped(rotated, orientation=6) == rotated


def test_jpeg_orientation_goes_after_jfif() -> None:
    rotated = _stripped(_read("valid/jpeg/pillow_hopper.jpg"), orientation=6)
    (jfif_size,) = struct.unpack_from(">H", rotated, 4)
    assert rotated[6:11] == b"JFIF\0"
    assert rotated[4 + jfif_size : 4 + jfif_size + 2] == b"\xff\xe1"


def test_jpeg_orientation_skips_a_jfif_app0_too_short_to_keep() -> None:
    # APP0 length 4: "JF" is its whole payload, so it is dropped, and the JFIF bytes after it
    # are stray bytes that libjpeg skips. The EXIF must then go right after SOI.
    data = bytearray(_read("valid/jpeg/pillow_hopper.jpg"))
    assert data[6:11] == b"JFIF\0"
    data[4:6] = b"\x00\x04"
    rotated = _stripped(bytes(data), orientation=6)
    assert rotated[2:4] == b"\xff\xe1"
    assert _decode(rotated).getexif()[ORIENTATION] == 6


def test_png_orientation_goes_after_ihdr() -> None:
    rotated = _stripped(_read("valid/png/pillow_hopper.png"), orientation=6)
    assert _png_chunk_types(rotated)[:2] == [b"IHDR", b"eXIf"]


def test_gif_has_no_orientation_to_write() -> None:
    data = _read("valid/gif/gifsuite_animated_loop.gif")
    assert _stripped(data, orientation=6) == _stripped(data)


# --- rejections ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", _paths("tricky/polyglot/derived_*"))
def test_appended_payload_is_trailing_data(path: str) -> None:
    with pytest.raises(FormatError) as caught:
        formats.parse(_read(path), MAX_FRAMES)
    assert caught.value.code == "trailing_data"


@pytest.mark.parametrize(
    "path",
    [
        "valid/jpeg/pillow_hopper.jpg",
        "valid/png/pillow_hopper.png",
        "valid/gif/pillow_hopper.gif",
        "valid/webp/pillow_hopper.webp",
        "tricky/jpeg-coding/pillow_frozenpond.mpo",
    ],
)
def test_zero_padding_at_the_end_is_allowed(path: str) -> None:
    data = _read(path)
    structure = formats.parse(data, MAX_FRAMES)
    padded = formats.parse(data + bytes(4096), MAX_FRAMES)
    assert padded == structure


def test_jpeg_appended_stream_must_be_whole() -> None:
    data = _read("valid/jpeg/pillow_hopper.jpg")
    with pytest.raises(FormatError) as caught:
        formats.parse(data + data[: len(data) // 2], MAX_FRAMES)
    assert caught.value.code == "trailing_data"


def test_motion_photo_video_after_a_jpeg_is_cut_off() -> None:
    data = _read("valid/jpeg/pillow_hopper.jpg")
    video = struct.pack(">I", 24) + b"ftypmp42" + bytes(12) + b"mdat-and-more"
    structure = formats.parse(data + video, MAX_FRAMES)
    assert structure.length == len(data)


def test_hierarchical_jpeg_is_an_unsupported_variant() -> None:
    data = bytearray(_read("valid/jpeg/pillow_hopper.jpg"))
    sof0 = data.index(b"\xff\xc0")
    data[sof0 + 1] = 0xC5
    with pytest.raises(FormatError) as caught:
        formats.parse(bytes(data), MAX_FRAMES)
    assert caught.value.code == "unsupported_jpeg_variant"


def test_12_bit_jpeg_is_an_unsupported_variant() -> None:
    with pytest.raises(FormatError) as caught:
        formats.parse(_read("tricky/jpeg-coding/ljt_monkey12.jpg"), MAX_FRAMES)
    assert caught.value.code == "unsupported_jpeg_variant"
    assert "12-bit" in caught.value.message


# Truncated files whose every block is complete: only the LZW data inside the last frame is
# short, which parse() does not decode. Pillow's decode step rejects it.
STRUCTURALLY_COMPLETE_TRUNCATED = {"invalid/truncated/its_fc3e2b992c559055267e26dc23e484c0.gif"}


@pytest.mark.parametrize("path", _paths("invalid/truncated/*"))
def test_truncated_files(path: str) -> None:
    data = _read(path)
    if path in STRUCTURALLY_COMPLETE_TRUNCATED:
        assert formats.parse(data, MAX_FRAMES).length == len(data)
        return
    with pytest.raises(FormatError) as caught:
        formats.parse(data, MAX_FRAMES)
    assert caught.value.code == "truncated_image"


# Corrupt files whose structure is intact. libpng_badadler.png: every chunk CRC is right, only
# the zlib Adler-32 inside IDAT is wrong, and checking it means inflating the pixels.
# pillow_sugarshack_no_data.mpo: its MP index points the second picture at nothing, but the
# primary JPEG is whole and the file is cut at its EOI before storing.
STRUCTURALLY_INTACT_CORRUPT = {
    "invalid/corrupt/libpng_badadler.png",
    "invalid/corrupt/pillow_sugarshack_no_data.mpo",
}
CORRUPT_CODES = {
    "invalid/corrupt/its_55abb3cc464305dd554171c3d44cb61f.gif": "truncated_image",
    "invalid/corrupt/its_6d939393058de0579fca1bbf10ecff25.gif": "truncated_image",
    "invalid/corrupt/its_754664a12e36abff7950e796c906ae39.jpg": "truncated_image",
    "invalid/corrupt/sharp_corrupt-header.jpg": "truncated_image",
    "invalid/corrupt/libpng_huge_IDAT.png": "truncated_image",
    "invalid/corrupt/libpng_huge_iCCP_chunk.png": "truncated_image",
}


@pytest.mark.parametrize(
    "path",
    [path for path in _paths("invalid/corrupt/*") if formats.sniff(_read(path)[:12])],
)
def test_corrupt_files(path: str) -> None:
    data = _read(path)
    if path in STRUCTURALLY_INTACT_CORRUPT:
        formats.parse(data, MAX_FRAMES)
        return
    with pytest.raises(FormatError) as caught:
        formats.parse(data, MAX_FRAMES)
    assert caught.value.code == CORRUPT_CODES.get(path, "corrupt_image")


def test_apng_sequence_gap_is_corrupt() -> None:
    with pytest.raises(FormatError) as caught:
        formats.parse(_read("tricky/apng/pillow_apng_sequence_gap.png"), MAX_FRAMES)
    assert caught.value.code == "corrupt_image"


def test_frame_flood_stops_counting_early() -> None:
    data = _read("invalid/bomb/fuzzdb_uber.gif")
    structure = formats.parse(data, MAX_FRAMES)
    assert structure.frames == MAX_FRAMES + 1
    assert structure.length < len(data) // 10  # stopped near frame 1001 of 40,000


@pytest.mark.parametrize(
    ("path", "size"),
    [
        ("invalid/bomb/sharp_65536-uint32-limit.png", (65536, 65536)),
        ("invalid/bomb/pillow_decompression_bomb_extents.gif", (100, 100)),
        ("tricky/huge-dimensions/sharp_giant-image.jpg", (20000, 14000)),
    ],
)
def test_pixel_floods_report_their_header_size(path: str, size: tuple[int, int]) -> None:
    # The caller's limits reject these from the header size, before any decoder runs.
    structure = formats.parse(_read(path), MAX_FRAMES)
    assert (structure.width, structure.height) == size


@pytest.mark.parametrize(
    "path",
    [
        "tricky/apng/pillow_iss634.apng",
        "tricky/animated-webp/pillow_iss634.webp",
        "valid/gif/pillow_iss634.gif",
    ],
)
def test_frame_count_stops_past_max_frames(path: str) -> None:
    assert formats.parse(_read(path), max_frames=10).frames == 11


def test_text_chunk_bomb_is_stripped_without_inflating() -> None:
    data = _read("invalid/bomb/pillow_png_decompression_dos.png")
    assert b"zTXt" in data
    assert b"zTXt" not in _stripped(data)


# --- synthetic files -----------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _tiny_png(*extra: bytes) -> bytes:
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    pixels = _png_chunk(b"IDAT", zlib.compress(b"\0\0"))
    return b"\x89PNG\r\n\x1a\n" + header + b"".join(extra) + pixels + _png_chunk(b"IEND", b"")


# A 1x1 GIF: 2-colour global table, then the blocks given, then the trailer.
GIF_HEAD = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
GIF_CONTROL = b"\x21\xf9\x04\x00\x00\x00\x00\x00"
GIF_TEXT = b"\x21\x01\x0c" + bytes(12) + b"\x03abc\x00"
GIF_IMAGE = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
GIF_LOOP = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
GIF_XMP = b"\x21\xff\x0bXMP DataXMP\x04<x/>\x00"
GIF_COMMENT = b"\x21\xfe\x05hello\x00"


def test_gif_strip_drops_text_with_its_graphic_control() -> None:
    data = GIF_HEAD + GIF_LOOP + GIF_XMP + GIF_CONTROL + GIF_TEXT + GIF_COMMENT + GIF_CONTROL
    data += GIF_IMAGE + b";"
    assert _stripped(data) == GIF_HEAD + GIF_LOOP + GIF_CONTROL + GIF_IMAGE + b";"
    _decode(_stripped(data))


def test_png_strip_drops_text_and_time_only() -> None:
    kept = [_png_chunk(b"gAMA", struct.pack(">I", 45455)), _png_chunk(b"pHYs", bytes(9))]
    removed = [
        _png_chunk(b"tEXt", b"Comment\0hello"),
        _png_chunk(b"tIME", bytes(7)),
        _png_chunk(b"eXIf", b"MM\0*" + bytes(4)),
    ]
    data = _tiny_png(removed[0], kept[0], removed[1], kept[1], removed[2])
    assert _stripped(data) == _tiny_png(*kept)


# Millions of tiny units would cost seconds of Python-level work; past a budget of
# 10,000 + one per 4 KiB (per 64 bytes for GIF blocks), the file is refused.
FLOODS = {
    "png": _tiny_png(*[_png_chunk(b"abCd", b"")] * 12_000),
    "jpeg": b"\xff\xd8" + b"\xff\xfe\x00\x02" * 12_000 + b"\xff\xd9",
    "gif": GIF_HEAD + GIF_IMAGE[:-1] + b"\x01\x00" * 20_000 + b"\x00;",
    "webp": b"RIFF"
    + struct.pack("<I", 4 + 18 + 8 * 12_000)
    + b"WEBPVP8X\x0a\0\0\0"
    + bytes(10)
    + b"abcd\0\0\0\0" * 12_000,
}


@pytest.mark.parametrize("kind", sorted(FLOODS))
def test_floods_of_tiny_units_are_refused(kind: str) -> None:
    with pytest.raises(FormatError, match="split into more") as caught:
        formats.parse(FLOODS[kind], MAX_FRAMES)
    assert caught.value.code == "corrupt_image"


# --- robustness ----------------------------------------------------------------------------

FUZZED = [
    "valid/jpeg/pillow_hopper.jpg",
    "valid/jpeg/pillow_app13-multiple.jpg",
    "tricky/exif-orientation/recurser_Portrait_6.jpg",
    "tricky/jpeg-coding/pillow_sugarshack.mpo",
    "valid/png/pngsuite_exif2c08.png",
    "tricky/apng/pillow_apng_dispose_op_previous.png",
    "valid/gif/gifsuite_animated_loop.gif",
    "valid/gif/pillow_hopper.gif",
    "valid/webp/libwebp_test.webp",
    "valid/webp/libwebp_lossy_alpha1.webp",
    "tricky/exif-orientation/pillow_hopper_orientation_6.webp",
    "tricky/animated-webp/sharp_rotating-squares.webp",
]


FORMAT_ERROR_CODES = {
    "corrupt_image",
    "truncated_image",
    "trailing_data",
    "unsupported_jpeg_variant",
}


def _parse_or_format_error(data: bytes) -> Structure | None:
    """parse() and strip() may refuse a damaged file, but only with FormatError."""
    try:
        structure = formats.parse(data, MAX_FRAMES)
    except FormatError as error:
        code, message = error.code, error.message
    else:
        for orientation in (1, 6):
            assert sum(len(piece) for piece in formats.strip(data, structure, orientation))
        return structure
    assert code in FORMAT_ERROR_CODES
    assert message
    return None


@pytest.mark.parametrize("path", FUZZED)
def test_every_truncation_is_refused(path: str) -> None:
    data = _read(path)
    for length in range(0, len(data), max(1, len(data) // 50)):
        assert _parse_or_format_error(data[:length]) is None, length


@pytest.mark.parametrize("path", FUZZED)
def test_single_byte_mutations_raise_only_format_errors(path: str) -> None:
    data = _read(path)
    rng = random.Random(f"{path}-mutations")
    for round_ in range(200):
        # Half the mutations land in the first KiB, where the headers are.
        span = len(data) if round_ % 2 else min(len(data), 1024)
        mutated = bytearray(data)
        mutated[rng.randrange(span)] = rng.randrange(256)
        _parse_or_format_error(bytes(mutated))


def test_crc_is_checked_on_every_png_chunk() -> None:
    original = _read("valid/png/pillow_hopper.png")
    for damaged_at in (len(original) - 13, len(original) - 1):  # the chunk before IEND; IEND
        damaged = bytearray(original)
        damaged[damaged_at] ^= 0x01
        with pytest.raises(FormatError, match="CRC"):
            formats.parse(bytes(damaged), MAX_FRAMES)


def test_parse_reads_an_mmap(tmp_path: Path) -> None:
    target = tmp_path / "hopper.png"
    target.write_bytes(_read("valid/png/pillow_hopper.png"))
    with target.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        assert formats.parse(buf, MAX_FRAMES) == formats.parse(target.read_bytes(), MAX_FRAMES)


def test_a_refused_mmap_can_still_be_closed(tmp_path: Path) -> None:
    # The upload pipeline parses a view of an mmap; a FormatError's traceback must not keep
    # a view alive, or closing the mmap raises BufferError and hides the real error.
    target = tmp_path / "appended.jpg"
    target.write_bytes(_read("tricky/polyglot/derived_ljt_testorig_html_after_EOI.jpg"))
    with target.open("rb") as file:
        buf = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(buf)
        with pytest.raises(FormatError) as caught:
            formats.parse(view, MAX_FRAMES)
        view.release()
        buf.close()
    assert caught.value.code == "trailing_data"
    assert buf.closed


def _resident_kib(path: Path) -> int:
    """How much of this process's mapping of `path` is in its memory (its smaps Rss)."""
    lines = Path("/proc/self/smaps").read_text().splitlines()
    at = next(n for n, line in enumerate(lines) if line.endswith(str(path)))
    return next(int(line.split()[1]) for line in lines[at:] if line.startswith("Rss:"))


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux's /proc")
def test_a_mapped_png_is_handed_back_as_its_crcs_are_checked(tmp_path: Path) -> None:
    # 24 MB of noise in Pillow's 64 KiB IDAT chunks: the CRC check reads every byte.
    target = tmp_path / "noise.png"
    noise = Image.frombytes("RGB", (2900, 2900), random.Random(7).randbytes(2900 * 2900 * 3))
    noise.save(target, compress_level=0)
    with target.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        structure = formats.parse(buf, MAX_FRAMES)
        left = _resident_kib(target)
    assert (structure.width, structure.height) == (2900, 2900)
    assert target.stat().st_size > 24_000_000
    assert left <= 2048  # at most the last MiB or two walked, not the 24 MB file
