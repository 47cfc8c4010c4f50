"""Storage keys: `uploads/YYYY/MM/<id>.<ext>` for an upload, `uploads/YYYY/MM/<id>.<preset>.<ext>`
for its variant made for a preset, made and read in this one place.

A key is also the path of its image's URL, so keys come back from clients. `parse` accepts
only what `make` can give, which keeps `..`, separators and odd names away from every backend
and every lookup.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

EXTENSIONS = ("jpg", "png", "gif", "webp")
# Ids of 16 to 64 characters, though `make` is given 22: the range every key was checked
# against since the first release.
_KEY = re.compile(
    r"uploads/([0-9]{4})/(0[1-9]|1[0-2])/([A-Za-z0-9_-]{16,64})"
    r"(?:\.([a-z0-9]+(?:-[a-z0-9]+)*))?\.(" + "|".join(EXTENSIONS) + ")"
)


class InvalidKey(ValueError):
    """A key that imghost would never make."""


@dataclass(frozen=True, slots=True)
class ImageKey:
    year: int
    month: int
    upload_id: str
    extension: str
    # The preset a variant of the upload was made for; None for the upload itself.
    preset: str | None = None

    @property
    def name(self) -> str:
        """The last part of the key: the image's file name."""
        middle = f".{self.preset}" if self.preset else ""
        return f"{self.upload_id}{middle}.{self.extension}"

    @property
    def original(self) -> str:
        """The key of the upload this key is, or is a variant of, without the extension."""
        return f"uploads/{self.year:04d}/{self.month:02d}/{self.upload_id}"

    def __str__(self) -> str:
        return f"uploads/{self.year:04d}/{self.month:02d}/{self.name}"


def make(upload_id: str, extension: str, created_at: float) -> str:
    """The key of an upload made at `created_at` (the month is UTC's)."""
    month = time.strftime("%Y/%m", time.gmtime(created_at))
    return check(f"uploads/{month}/{upload_id}.{extension}")


def variant_of(original: str, preset: str, extension: str) -> str:
    """The key of the `preset` variant of the upload whose key is `original`, beside it."""
    found = parse(original)
    return check(f"{found.original}.{preset}.{extension}")


def parse(key: str) -> ImageKey:
    found = _KEY.fullmatch(key)
    if found is None:
        raise InvalidKey(f"not a storage key: {key!r}")
    return ImageKey(int(found[1]), int(found[2]), found[3], found[5], found[4])


def check(key: str) -> str:
    """`key` itself, once it is known to be one `make` can give."""
    parse(key)
    return key
