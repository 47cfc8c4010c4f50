"""The OpenAPI document's schemas: the two error envelopes and the file object."""

from __future__ import annotations

from typing import Any

from imghost.ingest.formats import FORMATS

ENVELOPE_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["success", "message", "data", "code"],
    "properties": {
        "success": {"const": False},
        "message": {"type": "string", "description": "What went wrong and what to do."},
        "data": {"type": "null"},
        "code": {"type": "string", "description": "Stable machine code, e.g. file_too_large."},
    },
}

OPENAI_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": "string"},
            },
        }
    },
}

FILE_OBJECT: dict[str, Any] = {
    "type": "object",
    "description": "OpenAI's file object plus the image's URL and properties.",
    "properties": {
        name: {"type": kind}
        for name, kind in {
            "id": "string",
            "object": "string",
            "bytes": "integer",
            "created_at": "integer",
            "expires_at": ["integer", "null"],
            "filename": "string",
            "purpose": "string",
            "status": "string",
            "url": "string",
            "size": "integer",
            "width": "integer",
            "height": "integer",
            "frames": "integer",
            "blake3": "string",
            "key_id": "string",
        }.items()
    }
    | {
        "mime_type": {
            "type": "string",
            "description": "The stored image's type: HEIC/HEIF and AVIF are stored as JPEG, "
            "or PNG when transparent.",
        },
        "source_format": {
            "type": ["string", "null"],
            "enum": [*(name for name, f in FORMATS.items() if f.accepted), None],
            "description": "The format as uploaded; null for uploads older than this field "
            "whose type was not known.",
        },
        "variants": {
            "type": "object",
            "description": "Every preset's variant (openai, openai-low, claude, claude-hires, "
            "gemini, kling, runway): its URL and exact size; `bytes` is null until it is made "
            "(on its first GET, or at upload when named in `variants`).",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "url": {"type": "string"},
                    "width": {"type": "integer"},
                    "height": {"type": "integer"},
                    "mime_type": {"type": "string"},
                    "bytes": {"type": ["integer", "null"]},
                },
            },
        },
        "vision": {
            "type": "object",
            "description": "What each model sees and pays (`estimates`: tokens and the size "
            "seen), which providers take the image as is, and warnings in words.",
            "properties": {
                "rules_version": {"type": "string"},
                "estimates": {"type": "object"},
                "accepted_as_is": {"type": "object"},
                "warnings": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}

PRESETS_FIELD = {"type": "string", "description": "Presets to make now, comma-separated."}
