"""A still PNG's pixel data is checked by inflating it row by row, without a decode."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from imghost.errors import Refusal
from imghost.http.errors import status_of
from imghost.ingest.formats import png
from imghost.ingest.prepare import prepare
from imghost.ingest.validate import Limits
from tests.conftest import CORPUS, needs_corpus

LIMITS = Limits(max_pixels=100_000_000, max_side=16384, max_frames=1000, max_decoded_pixels=10**9)
WIDTH, HEIGHT = 40, 30
STRIDE = 1 + WIDTH * 3


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def rgb_png(
    rows: bytes, *, interlace: int = 0, extra: bytes = b"", idat: bytes | None = None
) -> bytes:
    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, interlace)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + extra
        + chunk(b"IDAT", zlib.compress(rows) if idat is None else idat)
        + chunk(b"IEND", b"")
    )


def rows_with_filters(filters: list[int]) -> bytes:
    return b"".join(bytes([kind]) + bytes(range(WIDTH * 3)) for kind in filters)


GOOD_ROWS = rows_with_filters([row % 5 for row in range(HEIGHT)])


def prepared(tmp_path: Path, data: bytes) -> None:
    source = tmp_path / "upload.part"
    source.write_bytes(data)
    prepare(source, "digest", LIMITS, strip_metadata=True)


def test_every_filter_type_is_accepted_and_pillow_agrees(tmp_path: Path) -> None:
    data = rgb_png(GOOD_ROWS)
    assert png.inflate_check(io.BytesIO(data))
    prepared(tmp_path, data)
    assert Image.open(io.BytesIO(data)).convert("RGB").size == (WIDTH, HEIGHT)


def test_an_unknown_row_filter_is_corrupt(tmp_path: Path) -> None:
    filters = [0] * HEIGHT
    filters[HEIGHT - 1] = 5
    with pytest.raises(Refusal) as caught:
        prepared(tmp_path, rgb_png(rows_with_filters(filters)))
    assert status_of(caught.value) == 422
    assert caught.value.code == "corrupt_image"
    assert "filter" in caught.value.message


def test_image_data_one_row_short_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(Refusal) as caught:
        prepared(tmp_path, rgb_png(GOOD_ROWS[:-STRIDE]))
    assert caught.value.code == "corrupt_image"
    assert f"{HEIGHT - 1} of {HEIGHT} rows" in caught.value.message


def test_a_broken_deflate_stream_is_corrupt(tmp_path: Path) -> None:
    stream = bytearray(zlib.compress(GOOD_ROWS))
    stream[len(stream) // 2] ^= 0xFF
    with pytest.raises(Refusal) as caught:
        prepared(tmp_path, rgb_png(GOOD_ROWS, idat=bytes(stream)))
    assert caught.value.code == "corrupt_image"


def test_a_deflate_stream_cut_short_is_corrupt(tmp_path: Path) -> None:
    stream = zlib.compress(GOOD_ROWS)
    with pytest.raises(Refusal) as caught:
        prepared(tmp_path, rgb_png(GOOD_ROWS, idat=stream[: len(stream) // 3]))
    assert caught.value.code == "corrupt_image"


def test_interlaced_files_are_left_to_the_decoder_which_still_refuses_bad_rows(
    tmp_path: Path,
) -> None:
    bad = rgb_png(rows_with_filters([9] * HEIGHT) * 2, interlace=1)
    assert not png.inflate_check(io.BytesIO(bad))
    with pytest.raises(Refusal) as caught:
        prepared(tmp_path, bad)
    assert caught.value.code == "corrupt_image"


def test_files_with_metadata_are_decoded_and_still_refused_when_bad(tmp_path: Path) -> None:
    text = chunk(b"tEXt", b"Comment\0hello")
    with pytest.raises(Refusal) as caught:
        prepared(tmp_path, rgb_png(rows_with_filters([7] * HEIGHT), extra=text))
    assert caught.value.code == "corrupt_image"


@needs_corpus
def test_animated_pngs_are_left_to_the_decoder() -> None:
    data = (CORPUS / "tricky" / "apng" / "pillow_apng_dispose_op_previous.png").read_bytes()
    assert not png.inflate_check(io.BytesIO(data))
