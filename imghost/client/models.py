"""What the `/v1` API answers, as frozen dataclasses: a file, its variants, its vision block.

Parsing is lenient about fields a server may not send (an older server has no `variants` or
`vision`): they come back empty or None rather than failing, so a client never breaks on an
upload the server did make. `raw` keeps the whole object for fields not modelled here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

BlockKind = Literal["openai-chat", "openai-responses", "anthropic", "gemini"]
BLOCK_KINDS: tuple[BlockKind, ...] = ("openai-chat", "openai-responses", "anthropic", "gemini")


@dataclass(frozen=True)
class Variant:
    """One preset's variant. `bytes` is None until the variant is made (on its first GET, or
    at upload with `for_`)."""

    preset: str
    url: str
    width: int
    height: int
    mime_type: str
    bytes: int | None


@dataclass(frozen=True)
class Estimate:
    """What one model sees of the image (`seen`: its pixel size after the provider's resize)
    and the tokens it bills for it."""

    tokens: int
    seen: tuple[int, int]


@dataclass(frozen=True)
class Vision:
    rules_version: str
    estimates: Mapping[str, Estimate]
    accepted_as_is: Mapping[str, bool]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class File:
    """An upload, as `/v1` describes it. `url` is public: anyone holding it can fetch the image
    until `expires_at` (None: never expires)."""

    id: str
    url: str
    bytes: int
    mime_type: str
    width: int | None = None
    height: int | None = None
    created_at: int | None = None
    expires_at: int | None = None
    filename: str = ""
    purpose: str = "vision"
    source_format: str | None = None
    frames: int | None = None
    blake3: str | None = None
    variants: Mapping[str, Variant] = field(default_factory=dict)
    vision: Vision | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> File:
        """Parse a `/v1` file object; KeyError or TypeError if it is not one."""
        size = body["bytes"] if "bytes" in body else body["size"]
        variants = {
            preset: Variant(
                preset,
                str(v["url"]),
                int(v["width"]),
                int(v["height"]),
                str(v["mime_type"]),
                None if v.get("bytes") is None else int(v["bytes"]),
            )
            for preset, v in (body.get("variants") or {}).items()
        }
        vision = body.get("vision")
        return cls(
            id=str(body["id"]),
            url=str(body["url"]),
            bytes=int(size),
            mime_type=str(body["mime_type"]),
            width=_int_or_none(body.get("width")),
            height=_int_or_none(body.get("height")),
            created_at=_int_or_none(body.get("created_at")),
            expires_at=_int_or_none(body.get("expires_at")),
            filename=str(body.get("filename") or ""),
            purpose=str(body.get("purpose") or "vision"),
            source_format=body.get("source_format"),
            frames=_int_or_none(body.get("frames")),
            blake3=body.get("blake3"),
            variants=variants,
            vision=None if not isinstance(vision, Mapping) else _vision(vision),
            raw=dict(body),
        )

    def url_for(self, preset: str | None = None) -> str:
        """The original's URL, or `preset`'s variant's (ValueError naming the presets the
        server listed if it has no such variant)."""
        return self._image(preset)[0]

    def content_block(self, kind: BlockKind, preset: str | None = None) -> dict[str, Any]:
        """The ready content block of a model API for this image (or its `preset` variant):
        `openai-chat` (`image_url`), `openai-responses` (`input_image`), `anthropic` (an
        `image` with a URL source) or `gemini` (`file_data`, which needs the MIME type)."""
        url, mime_type = self._image(preset)
        if kind == "openai-chat":
            return {"type": "image_url", "image_url": {"url": url}}
        if kind == "openai-responses":
            return {"type": "input_image", "image_url": url}
        if kind == "anthropic":
            return {"type": "image", "source": {"type": "url", "url": url}}
        if kind == "gemini":
            return {"file_data": {"mime_type": mime_type, "file_uri": url}}
        raise ValueError(f"unknown content block kind {kind!r}; one of {', '.join(BLOCK_KINDS)}")

    def _image(self, preset: str | None) -> tuple[str, str]:
        if preset is None:
            return self.url, self.mime_type
        variant = self.variants.get(preset)
        if variant is None:
            listed = ", ".join(self.variants) or "none"
            raise ValueError(f"no {preset!r} variant for {self.id} (the server lists: {listed})")
        return variant.url, variant.mime_type


@dataclass(frozen=True)
class Page:
    """One page of `GET /v1/files`, newest first; pass `last_id` as `after` for the next."""

    files: tuple[File, ...]
    has_more: bool

    @property
    def last_id(self) -> str | None:
        return self.files[-1].id if self.files else None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Page:
        files = tuple(File.from_json(item) for item in body["data"])
        return cls(files, bool(body.get("has_more")))


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _vision(body: Mapping[str, Any]) -> Vision:
    estimates = {
        model: Estimate(int(found["tokens"]), (int(found["seen"][0]), int(found["seen"][1])))
        for model, found in (body.get("estimates") or {}).items()
    }
    return Vision(
        rules_version=str(body.get("rules_version") or ""),
        estimates=estimates,
        accepted_as_is={str(k): bool(v) for k, v in (body.get("accepted_as_is") or {}).items()},
        warnings=tuple(str(w) for w in body.get("warnings") or ()),
    )
