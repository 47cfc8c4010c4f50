"""Make a preset's variant of a stored original: one file in `out_dir`, or none on error.

A variant is the first frame, upright, 8-bit sRGB (RGB, or RGBA when the alpha is real) with no
metadata, exactly the plan's size: JPEG (quality 90) when opaque, PNG when not. Speed is the
point of the order below: a JPEG is decoded by libjpeg at the smallest of 1/2, 1/4, 1/8 scale
that is no smaller than the target (`draft`), everything is resized once, and the colour work
is done on the resized pixels. A clean JPEG the plan leaves as it is is copied, not re-encoded.

Over the preset's byte cap, a JPEG is encoded again at lower qualities, and then the plan is
made again with a smaller bound (still at the lowest quality) until it fits. A PNG is only
shrunk: its pixels stay exact, and quantizing a picture with real alpha to a palette would
posterize exactly the photographic images that get this large.

Kling's padding is black (transparent black for PNG): letterbox bars, which video models know
as "not part of the scene"; the content is centred.
"""

from __future__ import annotations

import io
import os
import secrets
from dataclasses import dataclass
from math import isqrt
from pathlib import Path

from PIL import Image, ImageCms, ImageOps, JpegImagePlugin

from imghost.errors import insufficient_storage, out_of_space
from imghost.vision import rules
from imghost.vision.presets import Plan, Preset
from imghost.vision.sizing import Size

# Stored originals are JPEG (or its multi-picture form), PNG, GIF or WebP.
_OPENED = ("JPEG", "PNG", "GIF", "WEBP")  # a multi-picture JPEG opens as JPEG (format MPO)
_ORIENTATION = 0x0112
_SWAPPING = (5, 6, 7, 8)  # orientations that turn the picture a quarter
# `resize` first reduces by whole factors while staying 3x the target, then filters: near
# LANCZOS from the full image (Pillow's measure), much faster for large reductions.
_REDUCING_GAP = 3.0
_PADS = {"RGB": (0, 0, 0), "RGBA": (0, 0, 0, 0)}
EXTENSIONS = {rules.JPEG: "jpg", rules.PNG: "png"}
# A variant's format, known from its original's before it is made (its URL names it): a
# photograph's JPEG stays JPEG; PNG, GIF and WebP may hold alpha or sharp-edged graphics, and
# stay lossless as PNG.
VARIANT_FORMATS = {
    rules.JPEG: rules.JPEG,
    rules.PNG: rules.PNG,
    rules.GIF: rules.PNG,
    rules.WEBP: rules.PNG,
}
# A profile's colour space → the mode of pixels it can describe.
_PROFILE_MODES = {"RGB": "RGB", "GRAY": "L", "CMYK": "CMYK"}
# The only JPEG segments a variant that is a copy may keep: neither says anything a decoder
# could show differently.
_CLEAN_SEGMENTS = (("APP0", b"JFIF\x00"), ("APP14", b"Adobe"))
# A new try's side is the one whose pixels would just fit the cap if bytes went with pixels,
# less this margin: shrinking removes redundancy, so bytes per pixel grow a little.
_SHRINK_MARGIN = 0.95


@dataclass(frozen=True, slots=True)
class MadeVariant:
    path: Path
    width: int
    height: int
    mime_type: str
    size: int
    extension: str


def variant_mime(original_mime: str) -> str:
    return VARIANT_FORMATS[original_mime]


def make_variant(
    source: Path, preset: Preset, out_dir: Path, mime_type: str | None = None
) -> MadeVariant:
    """The variant, as `mime_type` if given (JPEG flattens any alpha), else JPEG when opaque
    and PNG when not."""
    with Image.open(source, formats=_OPENED) as im:
        orientation = im.getexif().get(_ORIENTATION, 1)
        original = (im.height, im.width) if orientation in _SWAPPING else im.size
        plan = preset.plan(*original)
        if mime_type in (None, rules.JPEG) and _is_copyable(im, source, preset, plan):
            # Already what the preset asks for: the same bytes, without a decode.
            return _written(source.read_bytes(), out_dir, rules.JPEG, plan.size)
        content = _content(im, (plan.width, plan.height), orientation)
    if mime_type == rules.JPEG and content.mode == "RGBA":
        content = content.convert("RGB")
    data, mime_type, plan = _within_cap(content, preset, plan, original, mime_type)
    return _written(data, out_dir, mime_type, plan.size)


def _is_copyable(im: Image.Image, source: Path, preset: Preset, plan: Plan) -> bool:
    return (
        isinstance(im, JpegImagePlugin.JpegImageFile)
        and im.format == "JPEG"
        and im.mode == "RGB"
        and plan.size == im.size
        and "icc_profile" not in im.info
        and "exif" not in im.info
        and all(_is_clean(segment) for segment in im.applist)
        and source.stat().st_size <= preset.max_bytes
    )


def _is_clean(segment: tuple[str, bytes]) -> bool:
    marker, data = segment
    return any(marker == name and data.startswith(start) for name, start in _CLEAN_SEGMENTS)


def _content(im: Image.Image, size: Size, orientation: int) -> Image.Image:
    """The frame at `size`, upright, in sRGB, RGB or RGBA."""
    stored = (size[1], size[0]) if orientation in _SWAPPING else size
    if im.format in ("JPEG", "MPO"):
        im.draft("RGB", stored)
    icc = im.info.get("icc_profile")
    frame = _eight_bit(im)
    if frame.size != stored:
        frame = frame.resize(stored, Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)
    ImageOps.exif_transpose(frame, in_place=True)
    if frame.size != size:
        raise ValueError(f"the frame is {frame.size} upright, not {size}")
    if frame.mode in ("RGBA", "LA") and frame.getchannel("A").getextrema()[0] == 255:
        frame = frame.convert(frame.mode[:-1])
    return _in_srgb(frame, icc)


def _eight_bit(im: Image.Image) -> Image.Image:
    """The first frame as L, LA, RGB, RGBA or CMYK: modes that resize and colour-convert."""
    if "transparency" in im.info and im.mode in ("P", "L", "RGB"):
        return im.convert("RGBA")
    if im.mode in ("P", "PA"):
        return im.convert("RGBA" if im.mode == "PA" else "RGB")
    if im.mode == "I" or im.mode.startswith("I;16"):
        # Pillow clips these to 0…255 when converting to L; 16-bit samples are scaled instead.
        return im.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if im.mode == "1":
        return im.convert("L")
    if im.mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        im.load()
        return im
    return im.convert("RGBA" if "A" in im.getbands() else "RGB")


def _in_srgb(frame: Image.Image, icc: bytes | None) -> Image.Image:
    """The colour channels through the embedded profile into sRGB, alpha kept as it is."""
    alpha = frame.getchannel("A") if frame.mode in ("LA", "RGBA") else None
    colour = frame.convert(frame.mode[:-1]) if alpha is not None else frame
    converted = _through_profile(colour, icc) if icc else None
    rgb = converted if converted is not None else colour.convert("RGB")
    if alpha is not None:
        rgb.putalpha(alpha)
    rgb.info = {}  # no profile, EXIF or text chunk travels to the encoder
    return rgb


def _through_profile(colour: Image.Image, icc: bytes) -> Image.Image | None:
    """None when the profile does not parse or does not describe these pixels: it says nothing
    reliable, so the pixels are taken as sRGB, as browsers do."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if _PROFILE_MODES.get(profile.profile.xcolor_space.strip()) != colour.mode:
            return None
        # A fresh sRGB profile per call: LittleCMS profiles are not safe to share across
        # threads, and making one costs microseconds.
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(colour, profile, srgb, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None


def _within_cap(
    content: Image.Image, preset: Preset, plan: Plan, original: Size, mime_type: str | None
) -> tuple[bytes, str, Plan]:
    if mime_type is None:
        mime_type = rules.PNG if content.mode == "RGBA" else rules.JPEG
    qualities: tuple[int | None, ...] = (None,)  # PNG has none
    if mime_type == rules.JPEG:
        qualities = (rules.JPEG_QUALITY, *rules.JPEG_FALLBACK_QUALITIES)
    while True:
        output = _padded(content, plan)
        for quality in qualities:
            data = _encoded(output, mime_type, quality)
            if len(data) <= preset.max_bytes:
                return data, mime_type, plan
        qualities = qualities[-1:]  # smaller sizes at the lowest quality
        plan = _smaller(preset, plan, original, len(data))
        content = content.resize(
            (plan.width, plan.height), Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP
        )


def _smaller(preset: Preset, plan: Plan, original: Size, size: int) -> Plan:
    long = max(plan.width, plan.height)
    if long == 1:
        raise ValueError(f"a 1 px {preset.name} variant is still over {preset.max_bytes} bytes")
    # Bytes go with pixels, pixels with the square of the side.
    bound = isqrt(long * long * preset.max_bytes // size)
    bound = min(long - 1, int(bound * _SHRINK_MARGIN))
    return preset.plan(*original, max_side=max(1, bound))


def _padded(content: Image.Image, plan: Plan) -> Image.Image:
    if plan.canvas is None:
        return content
    canvas = Image.new(content.mode, plan.canvas, _PADS[content.mode])
    left = (plan.canvas[0] - content.width) // 2
    top = (plan.canvas[1] - content.height) // 2
    canvas.paste(content, (left, top))
    return canvas


def _encoded(image: Image.Image, mime_type: str, quality: int | None) -> bytes:
    out = io.BytesIO()
    if mime_type == rules.JPEG:
        # optimize (a second Huffman pass) would save ~5 % for ~30 % more encoding time.
        image.save(out, "JPEG", quality=quality, optimize=False)
    else:
        image.save(out, "PNG")
    return out.getvalue()


def _written(data: bytes, out_dir: Path, mime_type: str, size: Size) -> MadeVariant:
    path = out_dir / f".variant-{secrets.token_hex(8)}.{EXTENSIONS[mime_type]}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    except OSError as exc:
        if out_of_space(exc):
            raise insufficient_storage() from exc
        raise
    return _made(path, mime_type, size)


def _made(path: Path, mime_type: str, size: Size) -> MadeVariant:
    return MadeVariant(
        path=path,
        width=size[0],
        height=size[1],
        mime_type=mime_type,
        size=path.stat().st_size,
        extension=EXTENSIONS[mime_type],
    )
