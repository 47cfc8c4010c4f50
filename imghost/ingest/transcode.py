"""HEIF and AVIF: decoded once, turned upright, stored as JPEG, or PNG when transparent.

No model provider takes HEIC or AVIF by URL, every one takes JPEG and PNG. The structural walk
(`imghost.ingest.formats.heif`) has checked every coded picture against the limits before
anything here runs, so a decoder only meets pictures within them. Only the primary picture
is decoded. The stored file carries the ICC profile and nothing else: no EXIF, XMP or
orientation, since its pixels are upright.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pi_heif  # type: ignore[import-untyped]  # ships no type information
from PIL import Image

from imghost.errors import InvalidImage, Refusal
from imghost.ingest.formats import FORMATS, Structure
from imghost.ingest.spool import unwritable
from imghost.ingest.validate import corrupt

# Thumbnails, depth maps and auxiliary pictures are never decoded; reading their headers
# would only cost time.
pi_heif.options.THUMBNAILS = False
pi_heif.options.DEPTH_IMAGES = False
pi_heif.options.AUX_IMAGES = False

_ENCODER_OPTIONS: dict[str, dict[str, object]] = {
    "jpeg": {"quality": 90, "optimize": True},
    "png": {},
}
# EXIF orientation -> the transposition that turns the picture upright.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def transcode(
    fp: BinaryIO, structure: Structure, max_pixels: int, target: Path
) -> tuple[str, int, int]:
    """Write the upright picture to `target`; gives its format (a `FORMATS` key) and size."""
    picture, icc = decode(fp, structure, max_pixels)
    picture, translucent = _for_storage(picture)
    row = FORMATS[structure.format]
    stored = row.stored_as_with_alpha if translucent else row.stored_as
    try:
        picture.save(
            target,
            format=FORMATS[stored].pillow_formats[0],
            icc_profile=icc,
            **_ENCODER_OPTIONS[stored],
        )
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise unwritable(exc) from exc
    return stored, picture.width, picture.height


def decode(fp: BinaryIO, structure: Structure, max_pixels: int) -> tuple[Image.Image, bytes | None]:
    """The primary picture, upright and with no metadata, and its ICC profile."""
    try:
        picture = _DECODERS[FORMATS[structure.format].decoder](fp, structure, max_pixels)
    except Refusal:
        raise
    except Image.DecompressionBombError as exc:
        raise InvalidImage("image_too_large", f"The image is too large to decode: {exc}") from exc
    except Exception as exc:  # the decoders raise many types for bad data
        raise corrupt(exc) from exc
    icc = picture.info.get("icc_profile") or None
    picture.info = {}
    return picture, icc


def _libheif(fp: BinaryIO, structure: Structure, max_pixels: int) -> Image.Image:
    """libheif applies the irot/imir transformations (and any clean-aperture crop) itself."""
    heif = pi_heif.open_heif(fp, convert_hdr_to_8bit=True)
    image = heif[heif.primary_index]
    width, height = image.size
    if width * height > structure.width * structure.height:
        header = f"{structure.width}x{structure.height}"
        raise corrupt(ValueError(f"it decodes to {width}x{height}, larger than its {header}"))
    picture: Image.Image = image.to_pillow()
    return _turned(picture, 1 if structure.transformed else structure.orientation)


def _pillow(fp: BinaryIO, structure: Structure, max_pixels: int) -> Image.Image:
    """Pillow's AVIF decoder leaves the transformations to us (it reports them as EXIF)."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    with Image.open(fp, formats=FORMATS[structure.format].pillow_formats) as im:
        if im.size != (structure.width, structure.height) or getattr(im, "n_frames", 1) != 1:
            raise corrupt(ValueError(f"the header says one {structure.width}x{structure.height}"))
        im.load()
        return _turned(im, structure.orientation)


_DECODERS: dict[str, Callable[[BinaryIO, Structure, int], Image.Image]] = {
    "libheif": _libheif,
    "pillow": _pillow,
}


def _turned(picture: Image.Image, orientation: int) -> Image.Image:
    """A new image (the source may be closed after), upright for the EXIF `orientation`."""
    method = _UPRIGHT.get(orientation)
    return picture.copy() if method is None else picture.transpose(method)


def _for_storage(picture: Image.Image) -> tuple[Image.Image, bool]:
    """8-bit grey or RGB, with an alpha channel only when some pixel is not fully opaque."""
    grey = picture.getbands()[0] == "L"
    if any(band in ("A", "a") for band in picture.getbands()):
        with_alpha = picture.convert("LA" if grey else "RGBA")
        lowest, _highest = with_alpha.getchannel("A").getextrema()
        if isinstance(lowest, int) and lowest < 255:
            return with_alpha, True
    return picture.convert("L" if grey else "RGB"), False
