"""Is this upload an image we serve, within the limits? Structure first, then a real decode.

The order is cheapest first: the format from the magic bytes; a structural walk of the file
(`imghost.ingest.formats`: chunk CRCs, segment bounds, frame count, trailing bytes) that needs
no pixel decode; the size limits from the header, so bombs never reach a decoder; and only
then every frame is decoded once (a JPEG's first picture by libjpeg-turbo at 1/8 scale with its
warnings taken as errors: the entropy-coded data is still read in full, which is where
truncation and corruption show, for a fraction of the IDCT cost; everything else by Pillow).
HEIF and AVIF are decoded once, by `imghost.ingest.transcode`, which stores them anew.
A decode error is final: Pillow can succeed on a second load() of a corrupt file.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from typing import BinaryIO

import simplejpeg  # type: ignore[import-untyped]  # ships no type information
from PIL import Image

from imghost.errors import InvalidImage, InvalidRequest, Refusal, UnsupportedType
from imghost.ingest import formats
from imghost.ingest.formats import FORMATS, png
from imghost.ingest.formats._common import UNSUPPORTED, UNSUPPORTED_JPEG, truncated
from imghost.ingest.identify import describe

ORIENTATION_TAG = 0x0112
# Output colour spaces TurboJPEG can convert each JPEG colour space to (gray is the cheapest).
_TURBO_COLORSPACES = {"YCbCr": "GRAY", "Gray": "GRAY", "RGB": "RGB", "CMYK": "CMYK", "YCCK": "CMYK"}
# libjpeg warnings after which the decoder filled in pixels the file does not hold.
_JPEG_DAMAGE = ("bad huffman code", "instead of rst", "corrupt jpeg data: found marker")


@dataclass(frozen=True, slots=True)
class Limits:
    max_pixels: int
    max_side: int
    max_frames: int
    # Frames x canvas: every frame of an animation is composited on the whole canvas, so a few
    # kilobytes of one-pixel frames on a huge canvas cost minutes of decoding.
    max_decoded_pixels: int


def unsupported(head: bytes) -> Refusal:
    if not head:
        return InvalidRequest(
            "empty_file", "The file is empty. Choose an image file and try again."
        )
    kind = formats.sniff(head)
    if kind is not None and not FORMATS[kind].accepted:
        return UnsupportedType(UNSUPPORTED, FORMATS[kind].refusal)
    looks_like = describe(head)
    what = f"this file looks like {looks_like}" if looks_like else "this file is not one of them"
    return UnsupportedType(
        UNSUPPORTED, f"Only {formats.ACCEPTED_LABELS} images are accepted; {what}."
    )


def require_image(head: bytes) -> None:
    """Refuse a file that starts with `head` unless it is a format we take (415)."""
    kind = formats.sniff(head)
    if kind is None or not FORMATS[kind].accepted:
        raise unsupported(head)


def check_structure(buf: bytes | memoryview | mmap.mmap, limits: Limits) -> formats.Structure:
    try:
        structure = formats.parse(buf, limits.max_frames)
    except formats.FormatError as exc:
        kind = UnsupportedType if exc.code in (UNSUPPORTED, UNSUPPORTED_JPEG) else InvalidImage
        raise kind(exc.code, exc.message) from exc
    check_limits(structure, limits)
    return structure


def check_limits(structure: formats.Structure, limits: Limits) -> None:
    width, height = structure.width, structure.height
    if structure.frames > limits.max_frames:
        raise InvalidImage(
            "too_many_frames",
            f"The animation has more than {limits.max_frames} frames, the limit. "
            "Shorten it and try again.",
        )
    if max(width, height) > limits.max_side:
        raise InvalidImage(
            "image_too_large",
            f"The image is {width}x{height} pixels; no side may exceed {limits.max_side}. "
            "Resize it and try again.",
        )
    if width * height > limits.max_pixels:
        raise InvalidImage(
            "image_too_large",
            f"The image is {width}x{height} = {width * height / 1e6:.1f} megapixels; the limit "
            f"is {limits.max_pixels / 1e6:g}. Resize it and try again.",
        )
    _check_parts(structure, limits)
    decoded = structure.frames * width * height
    if structure.frames > 1 and decoded > limits.max_decoded_pixels:
        raise InvalidImage(
            "animation_too_large",
            f"The animation is {structure.frames} frames of {width}x{height} pixels = "
            f"{decoded / 1e6:,.0f} megapixels to decode; the limit is "
            f"{limits.max_decoded_pixels / 1e6:,.0f}. Use fewer frames or a smaller canvas.",
        )


def _check_parts(structure: formats.Structure, limits: Limits) -> None:
    """A HEIF/AVIF decoder allocates each coded picture (tile, alpha plane) whole."""
    for width, height in structure.parts:
        if max(width, height) > limits.max_side or width * height > limits.max_pixels:
            raise InvalidImage(
                "image_too_large",
                f"The image holds a coded picture of {width}x{height} pixels, over the limits "
                f"({limits.max_side} a side, {limits.max_pixels / 1e6:g} megapixels). "
                "Resize it and try again.",
            )
    decoded = sum(width * height for width, height in structure.parts)
    if decoded > limits.max_decoded_pixels:
        raise InvalidImage(
            "image_too_large",
            f"The image's tiles and planes decode to {decoded / 1e6:,.0f} megapixels; the limit "
            f"is {limits.max_decoded_pixels / 1e6:,.0f}. Resize it and try again.",
        )


def decode_check(
    fp: BinaryIO, buf: bytes | mmap.mmap, structure: formats.Structure, max_pixels: int
) -> int:
    """Decode every frame once; any failure rejects the upload as corrupt.

    Returns the EXIF orientation (1-8) as Pillow reads it, XMP included; 1 when invalid.
    """
    try:
        # Huffman-coded DCT only: TurboJPEG's scaled decode of a lossless JPEG corrupts its heap
        # (simplejpeg 1.9), and lossless and arithmetic files are decoded in full to be
        # re-encoded anyway.
        strict = structure.format == "jpeg" and not structure.reencode and _strict_jpeg(buf)
        return _decode_frames(fp, structure, max_pixels, strict)
    except Refusal:
        raise
    except Image.DecompressionBombError as exc:
        raise InvalidImage(
            "image_too_large", f"A frame of the image is too large to decode: {exc}"
        ) from exc
    except Exception as exc:  # Pillow raises many types for bad data
        raise corrupt(exc) from exc


def corrupt(exc: BaseException) -> Refusal:
    reason = str(exc).strip() or type(exc).__name__
    return InvalidImage(
        "corrupt_image",
        f"The image data is corrupt and cannot be decoded ({reason}). "
        "Re-export or re-download the image and try again.",
    )


def _strict_jpeg(buf: bytes | mmap.mmap) -> bool:
    """Decode the (first) picture with libjpeg-turbo and refuse it on a warning that means
    pixels were made up.

    libjpeg only warns when the entropy-coded data ends early ("premature end of data
    segment") or is garbled, and fills the rest grey, so Pillow accepts a cut file with an EOI
    appended, and a header that claims more pixels than the data holds. At 1/8 scale: the data
    is still read in full, which is where such damage shows. False (Pillow checks the file,
    as before) when TurboJPEG cannot take it (unusual sampling factors) or stopped on a
    harmless warning such as padding bytes before a marker.
    """
    try:
        _height, _width, colorspace, _subsampling = simplejpeg.decode_jpeg_header(buf)
        simplejpeg.decode_jpeg(
            buf,
            colorspace=_TURBO_COLORSPACES.get(colorspace, "GRAY"),
            strict=True,
            min_factor=8,
            min_width=1,
            min_height=1,
        )
    except ValueError as exc:
        warning = str(exc).lower()
        if "premature end" in warning:
            error = truncated("The JPEG's picture data ends before all its pixels")
            raise InvalidImage(error.code, error.message) from exc
        if any(damage in warning for damage in _JPEG_DAMAGE):
            raise corrupt(exc) from exc
        return False
    return True


def _decode_frames(
    fp: BinaryIO, structure: formats.Structure, max_pixels: int, first_checked: bool
) -> int:
    Image.MAX_IMAGE_PIXELS = max_pixels
    with Image.open(fp, formats=FORMATS[structure.format].pillow_formats) as im:
        if im.size != (structure.width, structure.height):
            raise corrupt(ValueError(f"header says {structure.width}x{structure.height}"))
        if structure.format == "jpeg":
            # Pillow's DCT scaling breaks seeking to MPO's later pictures; those decode in full,
            # as does a picture to re-encode.
            scaled = not structure.reencode and im.format == "JPEG"
            _decode_jpeg(
                im, first=1 if first_checked and not structure.reencode else 0, scaled=scaled
            )
            return _orientation(im)
        if _plain_png(structure) and png.inflate_check(fp):
            # Nothing in the file can carry an orientation (no EXIF, XMP or text chunks), and
            # the pixel data is whole: the picture is known good without decoding it.
            return 1
        decoded_frames = getattr(im, "n_frames", 1)
        if decoded_frames != structure.frames:
            raise corrupt(
                ValueError(f"{decoded_frames} frames decode, the file lists {structure.frames}")
            )
        for index in range(structure.frames):
            im.seek(index)
            im.load()
        im.seek(0)
        return _orientation(im)


def _plain_png(structure: formats.Structure) -> bool:
    """A still PNG with no chunk that metadata stripping would remove."""
    return (
        structure.format == "png"
        and structure.frames == 1
        and structure.keep == ((0, structure.length),)
    )


def _decode_jpeg(im: Image.Image, first: int, scaled: bool) -> None:
    """Decode the pictures from `first` on, MPO's later ones too: a broken one means a broken
    file."""
    for index in range(first, getattr(im, "n_frames", 1)):
        im.seek(index)
        if scaled:
            # DCT scaling skips most of the IDCT; lossless and arithmetic codings cannot scale.
            im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
        im.load()
    im.seek(0)


def _orientation(im: Image.Image) -> int:
    value = im.getexif().get(ORIENTATION_TAG, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1
