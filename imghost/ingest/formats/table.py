"""Every format decision in one table: what is taken, how it is decoded, what it is stored as.

The sniffer, the validator, the preparer, the OpenAPI document, the command-line uploader and
the tests read this table. Only the storage-key codec (`store.keys`, which may not import
ingest) lists the stored extensions again; a test holds it to the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Decoder = Literal["pillow", "libheif"]


@dataclass(frozen=True, slots=True)
class Format:
    label: str  # how messages name it
    content_type: str = ""
    extension: str = ""  # of a stored file of this format (and the URL's); none if never stored
    suffixes: tuple[str, ...] = ()  # file names the uploader's folder walk picks up
    # What an upload of this format is stored as, without and with transparency: itself
    # (metadata cut out losslessly), or a format every model provider accepts.
    stored_as: str = ""
    stored_as_with_alpha: str = ""
    decoder: Decoder = "pillow"
    pillow_formats: tuple[str, ...] = ()  # Pillow's names for it, when Pillow decodes it
    refusal: str = ""  # why it is not taken: the 415 message

    @property
    def accepted(self) -> bool:
        return not self.refusal

    @property
    def transcoded(self) -> bool:
        """Stored as another format, so its pixels are always decoded and encoded anew."""
        return self.accepted and self is not FORMATS[self.stored_as]


_SEQUENCE = (
    "Animated {} files (image sequences) are not accepted: imghost stores HEIC and AVIF as a "
    "still JPEG or PNG. Upload the animation as GIF or WebP, or one frame as a still image."
)

FORMATS: dict[str, Format] = {
    "jpeg": Format(
        "JPEG",
        "image/jpeg",
        "jpg",
        (".jpg", ".jpeg"),
        "jpeg",
        "jpeg",
        pillow_formats=("JPEG", "MPO"),
    ),
    "png": Format(
        "PNG", "image/png", "png", (".png", ".apng"), "png", "png", pillow_formats=("PNG",)
    ),
    "gif": Format("GIF", "image/gif", "gif", (".gif",), "gif", "gif", pillow_formats=("GIF",)),
    "webp": Format(
        "WebP", "image/webp", "webp", (".webp",), "webp", "webp", pillow_formats=("WEBP",)
    ),
    # JPEG and PNG, because neither OpenAI, Anthropic nor Gemini take HEIC or AVIF by URL.
    "heif": Format(
        "HEIC/HEIF",
        "image/heic",
        suffixes=(".heic", ".heif", ".hif"),
        stored_as="jpeg",
        stored_as_with_alpha="png",
        decoder="libheif",
    ),
    "avif": Format(
        "AVIF",
        "image/avif",
        suffixes=(".avif",),
        stored_as="jpeg",
        stored_as_with_alpha="png",
        pillow_formats=("AVIF",),
    ),
    "heif-sequence": Format("HEIF image sequence", refusal=_SEQUENCE.format("HEIF")),
    "avif-sequence": Format("animated AVIF", refusal=_SEQUENCE.format("AVIF")),
}

_LABELS = [f.label for f in FORMATS.values() if f.accepted]
ACCEPTED_LABELS = ", ".join(_LABELS[:-1]) + " or " + _LABELS[-1]  # "JPEG, PNG, … or AVIF"
