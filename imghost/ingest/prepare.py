"""From a validated upload to the exact bytes we store.

Most uploads are stored byte for byte, or with metadata segments cut out losslessly. Pixels
are re-encoded only when browsers or models would otherwise see the wrong thing: JPEG codings
that browsers cannot show (arithmetic, lossless), still images whose EXIF orientation is
not 1 while metadata is stripped, so the stored pixels are upright for every consumer, and
formats that providers do not take (HEIF, AVIF: `FORMATS[...].transcoded`), which become
JPEG or PNG.
"""

from __future__ import annotations

import mmap
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from blake3 import blake3
from PIL import Image, ImageOps, JpegImagePlugin

from imghost.errors import insufficient_storage, out_of_space
from imghost.ingest import formats, validate
from imghost.ingest.formats import FORMATS, SNIFF_BYTES
from imghost.ingest.spool import unwritable
from imghost.ingest.transcode import transcode

# Decoding holds a whole frame's pixels in memory and keeps a core busy: a few at a time per
# process bound both, whatever the number of uploads in flight.
DECODE_SLOTS = threading.BoundedSemaphore(2)


@dataclass(frozen=True, slots=True)
class PreparedImage:
    path: Path
    format: str  # as stored
    size: int
    digest: str
    width: int
    height: int
    frames: int
    source_format: str  # as uploaded

    @property
    def content_type(self) -> str:
        return FORMATS[self.format].content_type

    @property
    def extension(self) -> str:
        return FORMATS[self.format].extension


def prepare(
    source: Path, source_digest: str, limits: validate.Limits, strip_metadata: bool
) -> PreparedImage:
    """Validate `source` and give the file to store: `source` itself, or a new file beside it."""
    target = source.with_suffix(".out")
    with source.open("rb") as fp:
        size = os.fstat(fp.fileno()).st_size
        if size == 0:
            raise validate.unsupported(b"")
        # Not closed explicitly: slices of it may outlive this call inside an exception's
        # traceback, and closing an mmap with live slices raises. It unmaps with the last one.
        buf = mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ)
        validate.require_image(buf[:SNIFF_BYTES])
        structure = validate.check_structure(buf, limits)
        # The walk read every page; hand them back (they stay in the page cache) so that
        # uploads in flight do not count their whole files in this worker's memory.
        buf.madvise(mmap.MADV_DONTNEED)
        with DECODE_SLOTS:
            if FORMATS[structure.format].transcoded:
                fp.seek(0)
                stored, width, height = transcode(fp, structure, limits.max_pixels, target)
                return _encoded(target, structure, stored, width, height)
            orientation = validate.decode_check(fp, buf, structure, limits.max_pixels)
            if _needs_reencode(structure, orientation, strip_metadata):
                fp.seek(0)
                return _reencode(fp, structure, target)
        pieces = _kept_pieces(buf, structure, orientation, strip_metadata)
        if sum(len(piece) for piece in pieces) == size:
            return _prepared(source, structure, size, source_digest)
        written, digest = _write(target, pieces)
        return _prepared(target, structure, written, digest)


def _needs_reencode(structure: formats.Structure, orientation: int, strip_metadata: bool) -> bool:
    upright_needed = strip_metadata and orientation != 1 and structure.frames == 1
    return structure.reencode or upright_needed


def _kept_pieces(
    buf: mmap.mmap, structure: formats.Structure, orientation: int, strip_metadata: bool
) -> list[bytes | memoryview]:
    if strip_metadata:
        return formats.strip(buf, structure, orientation)
    return [memoryview(buf)[: structure.length]]


def _prepared(path: Path, structure: formats.Structure, size: int, digest: str) -> PreparedImage:
    return PreparedImage(
        path=path,
        format=structure.format,
        size=size,
        digest=digest,
        width=structure.width,
        height=structure.height,
        frames=structure.frames,
        source_format=structure.format,
    )


def _write(target: Path, pieces: list[bytes | memoryview]) -> tuple[int, str]:
    hasher = blake3()
    size = 0
    try:
        with target.open("wb") as out:
            for piece in pieces:
                out.write(piece)
                hasher.update(piece)
                size += len(piece)
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise unwritable(exc) from exc
    return size, hasher.hexdigest()


def _reencode(fp: BinaryIO, structure: formats.Structure, target: Path) -> PreparedImage:
    pillow_formats = FORMATS[structure.format].pillow_formats
    try:
        with Image.open(fp, formats=pillow_formats) as im:
            im.load()
            options = _encoder_options(im, structure.format)
            upright = ImageOps.exif_transpose(im)
            upright.save(target, format=pillow_formats[0], **options)
    except (OSError, ValueError) as exc:
        target.unlink(missing_ok=True)
        if isinstance(exc, OSError) and out_of_space(exc):
            raise insufficient_storage() from exc
        raise validate.corrupt(exc) from exc
    return _encoded(target, structure, structure.format, upright.width, upright.height)


def _encoded(
    target: Path, structure: formats.Structure, stored: str, width: int, height: int
) -> PreparedImage:
    """A still picture encoded anew into `target`."""
    size, digest = file_digest(target)
    return PreparedImage(
        path=target,
        format=stored,
        size=size,
        digest=digest,
        width=width,
        height=height,
        frames=1,
        source_format=structure.format,
    )


def _encoder_options(im: Image.Image, fmt: str) -> dict[str, object]:
    options: dict[str, object] = {}
    if icc := im.info.get("icc_profile"):
        options["icc_profile"] = icc
    if fmt == "jpeg":
        options.update(quality=95, optimize=True)
        sampling = JpegImagePlugin.get_sampling(im)
        if sampling >= 0:
            options["subsampling"] = sampling
    elif fmt == "webp":
        options.update(quality=95, method=4)
    return options


def file_digest(path: Path) -> tuple[int, str]:
    """A file's size and hex BLAKE3, the digest every stored image is known by."""
    hasher = blake3()
    hasher.update_mmap(path)
    return path.stat().st_size, hasher.hexdigest()
