"""Variants made from real encoded files: exact sizes, formats, caps, first frames, upright
pixels, sRGB, no metadata, and no file left behind on failure."""

from __future__ import annotations

import dataclasses
import errno
import os
from pathlib import Path

import pytest
from PIL import Image, ImageCms, JpegImagePlugin

from imghost.errors import OutOfSpace
from imghost.vision import sizing
from imghost.vision.presets import PRESETS
from imghost.vision.rules import ANTHROPIC_TIERS
from imghost.vision.variants import MadeVariant, make_variant
from tests.vision.images import noise, photo, save, swapped_primaries_profile

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)
Colour = tuple[int, ...]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def quadrants(size: tuple[int, int]) -> Image.Image:
    """Top left red, top right blue, bottom left green, bottom right white."""
    width, height = size
    image = Image.new("RGB", size, WHITE)
    image.paste(RED, (0, 0, width // 2, height // 2))
    image.paste(BLUE, (width // 2, 0, width, height // 2))
    image.paste(GREEN, (0, height // 2, width // 2, height))
    return image


def near(got: Colour, want: Colour, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(got, want, strict=False))


def pixel(image: Image.Image, xy: tuple[int, int]) -> Colour:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def opened(made: MadeVariant) -> Image.Image:
    """The variant, checked to be one clean 8-bit sRGB file of the size and type it claims."""
    assert made.path.parent.is_dir()
    assert made.path.suffix == "." + made.extension
    assert made.size == made.path.stat().st_size
    image = Image.open(made.path)
    assert image.size == (made.width, made.height)
    assert Image.MIME[image.format] == made.mime_type  # type: ignore[index]
    assert image.mode in ("RGB", "RGBA")
    for key in ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment"):
        assert key not in image.info
    if isinstance(image, JpegImagePlugin.JpegImageFile):
        assert [marker for marker, _ in image.applist] in ([], ["APP0"])
    image.load()
    return image


def only_file(folder: Path) -> Path:
    files = list(folder.iterdir())
    assert len(files) == 1
    return files[0]


@pytest.fixture
def rotated_photo(tmp_path: Path) -> Path:
    """A 4032x3024 JPEG whose EXIF says: turn 90 degrees clockwise to show it (orientation 6)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    return save(quadrants((4032, 3024)), path, quality=90, exif=exif.tobytes())


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("openai", (768, 1024)),
        ("openai-low", (384, 512)),
        ("claude", (952, 1270)),
        ("claude-hires", (1659, 2212)),
        ("gemini", (2304, 3072)),
        ("kling", (3024, 4032)),
    ],
)
def test_an_exif_rotated_photo_comes_out_upright(
    rotated_photo: Path, out: Path, name: str, size: tuple[int, int]
) -> None:
    made = make_variant(rotated_photo, PRESETS[name], out)
    assert (made.width, made.height) == size
    assert made.mime_type == "image/jpeg"
    assert made.extension == "jpg"
    image = opened(made)
    width, height = size
    # Turned clockwise: what was bottom left is top left, and so on round.
    assert near(pixel(image, (width // 4, height // 4)), GREEN)
    assert near(pixel(image, (3 * width // 4, height // 4)), RED)
    assert near(pixel(image, (3 * width // 4, 3 * height // 4)), BLUE)
    assert near(pixel(image, (width // 4, 3 * height // 4)), WHITE)
    assert only_file(out) == made.path


def test_jpegs_are_decoded_at_reduced_scale(
    rotated_photo: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[tuple[int, int]] = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def spy(
        self: JpegImagePlugin.JpegImageFile, mode: str | None, size: tuple[int, int] | None
    ) -> object:
        result = draft(self, mode, size)
        decoded.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    make_variant(rotated_photo, PRESETS["openai"], out)
    make_variant(rotated_photo, PRESETS["openai-low"], out)
    make_variant(rotated_photo, PRESETS["claude-hires"], out)
    # 1024x768 from 4032x3024: 1/2 (1/4 would be 1008 < 1024); 512x384: 1/4; 2212: full.
    assert decoded == [(2016, 1512), (1008, 756), (4032, 3024)]


def test_a_png_with_real_alpha_stays_png_with_its_alpha(tmp_path: Path, out: Path) -> None:
    image = Image.new("RGBA", (2000, 1500), (255, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, 1000, 1500))
    source = save(image, tmp_path / "alpha.png")
    made = make_variant(source, PRESETS["claude"], out)
    assert (made.width, made.height) == (1270, 952)
    assert (made.mime_type, made.extension) == ("image/png", "png")
    variant = opened(made)
    assert variant.mode == "RGBA"
    assert pixel(variant, (100, 476))[3] == 0
    assert pixel(variant, (1170, 476)) == (255, 0, 0, 255)


def test_an_alpha_channel_that_is_all_opaque_gives_a_jpeg(tmp_path: Path, out: Path) -> None:
    source = save(Image.new("RGBA", (800, 600), (0, 0, 255, 255)), tmp_path / "opaque.png")
    made = make_variant(source, PRESETS["openai"], out)
    assert made.mime_type == "image/jpeg"
    assert near(pixel(opened(made), (400, 300)), BLUE)


def test_an_animated_gif_gives_its_first_frame(tmp_path: Path, out: Path) -> None:
    frames = [Image.new("RGB", (600, 400), colour) for colour in (RED, GREEN, BLUE)]
    source = tmp_path / "animated.gif"
    frames[0].save(source, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(source) as check:
        assert check.n_frames == 3  # type: ignore[attr-defined]
    made = make_variant(source, PRESETS["claude"], out)
    assert (made.width, made.height, made.mime_type) == (600, 400, "image/jpeg")
    assert near(pixel(opened(made), (300, 200)), RED)


def test_a_transparent_gif_gives_a_png(tmp_path: Path, out: Path) -> None:
    image = Image.new("P", (400, 300), 1)
    image.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    image.paste(0, (0, 0, 200, 300))
    source = save(image, tmp_path / "transparent.gif", transparency=0)
    made = make_variant(source, PRESETS["gemini"], out)
    variant = opened(made)
    assert made.mime_type == "image/png"
    assert pixel(variant, (100, 150))[3] == 0
    assert pixel(variant, (300, 150)) == (0, 255, 0, 255)


def test_an_animated_webp_gives_its_first_frame(tmp_path: Path, out: Path) -> None:
    frames = [Image.new("RGB", (500, 500), colour) for colour in (BLUE, RED)]
    source = tmp_path / "animated.webp"
    frames[0].save(source, save_all=True, append_images=frames[1:], duration=100, lossless=True)
    made = make_variant(source, PRESETS["openai"], out)
    assert made.mime_type == "image/jpeg"
    assert near(pixel(opened(made), (250, 250)), BLUE)


def test_a_cmyk_jpeg_comes_out_rgb(tmp_path: Path, out: Path) -> None:
    source = save(Image.new("CMYK", (1200, 900), (0, 255, 255, 0)), tmp_path / "cmyk.jpg")
    with Image.open(source) as check:
        assert check.mode == "CMYK"
    made = make_variant(source, PRESETS["openai"], out)
    assert (made.width, made.height) == (1024, 768)
    assert near(pixel(opened(made), (512, 384)), RED)


def test_an_icc_profile_is_applied_then_dropped(tmp_path: Path, out: Path) -> None:
    """The profile says the file's red channel is sRGB's blue: sRGB pixels must be blue."""
    image = Image.new("RGB", (3000, 2000), (250, 20, 20))
    source = save(image, tmp_path / "wide.jpg", icc_profile=swapped_primaries_profile())
    for name in ("claude", "runway"):
        made = make_variant(source, PRESETS[name], out)
        centre = pixel(opened(made), (made.width // 2, made.height // 2))
        assert near(centre, (12, 12, 250)), (name, centre)


def test_a_profile_that_does_not_describe_the_pixels_is_ignored(tmp_path: Path, out: Path) -> None:
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    image = Image.new("RGB", (600, 400), (250, 20, 20))
    source = save(image, tmp_path / "lab.jpg", icc_profile=lab)
    made = make_variant(source, PRESETS["claude"], out)
    assert near(pixel(opened(made), (300, 200)), (250, 20, 20))


def test_metadata_is_stripped_and_a_clean_jpeg_is_copied(tmp_path: Path, out: Path) -> None:
    image = photo((1000, 750))
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tagged = save(
        image, tmp_path / "tagged.jpg", exif=exif.tobytes(), icc_profile=srgb, comment=b"hi"
    )
    made = make_variant(tagged, PRESETS["runway"], out)
    opened(made)
    assert made.path.read_bytes() != tagged.read_bytes()

    clean = save(image, tmp_path / "clean.jpg", quality=88)
    for name in ("runway", "kling", "claude", "openai"):  # all leave 1000x750 as it is
        made = make_variant(clean, PRESETS[name], out)
        assert made.path.read_bytes() == clean.read_bytes()
        assert (made.width, made.height, made.mime_type) == (1000, 750, "image/jpeg")


def test_a_16_bit_grey_png_is_scaled_to_8_bits_not_clipped(tmp_path: Path, out: Path) -> None:
    source = save(Image.new("I;16", (300, 200), 40_000), tmp_path / "grey16.png")
    made = make_variant(source, PRESETS["claude"], out)
    assert near(pixel(opened(made), (150, 100)), (156, 156, 156), tolerance=3)


def test_kling_pads_a_panorama_to_its_aspect_limit(tmp_path: Path, out: Path) -> None:
    source = save(Image.new("RGB", (6000, 1000), GREEN), tmp_path / "panorama.jpg", quality=90)
    made = make_variant(source, PRESETS["kling"], out)
    assert (made.width, made.height, made.mime_type) == (6000, 2400, "image/jpeg")
    variant = opened(made)
    assert near(pixel(variant, (3000, 100)), BLACK)
    assert near(pixel(variant, (3000, 1200)), GREEN)
    assert near(pixel(variant, (10, 705)), GREEN)  # content from row 700, nothing cropped
    assert near(pixel(variant, (5990, 1694)), GREEN)
    assert near(pixel(variant, (3000, 2350)), BLACK)


def test_kling_pads_a_small_image_to_its_minimum_side(tmp_path: Path, out: Path) -> None:
    source = save(Image.new("RGB", (200, 200), BLUE), tmp_path / "small.png")
    made = make_variant(source, PRESETS["kling"], out)
    assert (made.width, made.height) == (300, 300)
    variant = opened(made)
    assert near(pixel(variant, (10, 10)), BLACK)
    assert near(pixel(variant, (52, 52)), BLUE)  # not upscaled: 200 px in the middle
    assert near(pixel(variant, (247, 150)), BLUE)
    assert near(pixel(variant, (290, 290)), BLACK)

    alpha = save(Image.new("RGBA", (200, 100), (0, 0, 255, 128)), tmp_path / "alpha.png")
    made = make_variant(alpha, PRESETS["kling"], out)
    variant = opened(made)
    assert (made.width, made.height, made.mime_type) == (300, 300, "image/png")
    assert pixel(variant, (10, 10)) == (0, 0, 0, 0)
    assert pixel(variant, (150, 150)) == (0, 0, 255, 128)


def test_noise_with_alpha_is_shrunk_under_the_claude_cap(tmp_path: Path, out: Path) -> None:
    source = save(noise("RGBA", (1600, 1200)), tmp_path / "noise.png", compress_level=1)
    for name, tier in (("claude", "standard"), ("claude-hires", "high-res")):
        made = make_variant(source, PRESETS[name], out)
        assert made.mime_type == "image/png"
        assert made.size <= 3_932_160
        planned = PRESETS[name].plan(1600, 1200)
        assert made.width * made.height < planned.width * planned.height  # 4.8 MB as planned
        assert made.width > planned.width * 6 // 10  # one shrink, not a collapse
        assert abs(made.width / made.height - 4 / 3) < 0.01
        # Still a size Anthropic takes as is, for fewer tokens.
        seen = (made.width, made.height)
        assert sizing.anthropic_size(*seen, ANTHROPIC_TIERS[tier]) == seen
        opened(made)


def test_a_jpeg_over_its_cap_loses_quality_first_then_pixels(tmp_path: Path, out: Path) -> None:
    source = save(noise("RGB", (1600, 1200)), tmp_path / "noise.jpg", quality=95)
    full = make_variant(source, PRESETS["claude"], out)
    assert (full.width, full.height) == (1270, 952)

    lower = dataclasses.replace(PRESETS["claude"], max_bytes=full.size * 8 // 10)
    made = make_variant(source, lower, out)
    assert (made.width, made.height) == (1270, 952)
    assert made.size <= lower.max_bytes

    smaller = dataclasses.replace(PRESETS["claude"], max_bytes=full.size * 3 // 10)
    made = make_variant(source, smaller, out)
    assert made.size <= smaller.max_bytes
    assert made.width < 1270
    assert sizing.anthropic_size(made.width, made.height, ANTHROPIC_TIERS["standard"]) == (
        made.width,
        made.height,
    )
    opened(made)


def test_a_jpeg_over_klings_cap_is_reencoded_not_copied(tmp_path: Path, out: Path) -> None:
    source = save(noise("RGB", (4032, 3024)), tmp_path / "noise.jpg", quality=100)
    assert source.stat().st_size > 10_000_000
    made = make_variant(source, PRESETS["kling"], out)
    assert (made.width, made.height) == (4032, 3024)
    assert made.size <= 10_000_000


def test_no_file_is_left_when_writing_fails(
    rotated_photo: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.fdopen

    class Full:
        def __init__(self, fd: int) -> None:
            self.file = real(fd, "wb")

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            self.file.close()

        def write(self, data: bytes) -> int:
            self.file.write(data[:100])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Full(fd))
    with pytest.raises(OutOfSpace):
        make_variant(rotated_photo, PRESETS["claude"], out)
    assert list(out.iterdir()) == []


def test_no_file_is_left_for_a_broken_source(tmp_path: Path, out: Path) -> None:
    whole = save(photo((800, 600)), tmp_path / "whole.jpg").read_bytes()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(OSError, match="truncated"):
        make_variant(broken, PRESETS["openai-low"], out)
    assert list(out.iterdir()) == []
