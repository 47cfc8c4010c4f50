"""The OpenAPI 3.1 document: every route with its request, answer and error shapes."""

from __future__ import annotations

from typing import Any

_ENVELOPE_ERROR = {
    "type": "object",
    "required": ["success", "message", "data", "code"],
    "properties": {
        "success": {"const": False},
        "message": {"type": "string", "description": "What went wrong and what to do."},
        "data": {"type": "null"},
        "code": {"type": "string", "description": "Stable machine code, e.g. file_too_large."},
    },
}

_UPLOAD_ERRORS = {
    "400": "Malformed request: not multipart, no `file`, two files, empty file.",
    "401": "Missing, malformed or unknown API key.",
    "403": "Disabled or expired API key.",
    "413": "Over `limits.max_upload_bytes` (read stops at the limit).",
    "415": "Not JPEG, PNG, GIF or WebP (sniffed from the bytes), or a JPEG variant browsers "
    "cannot show (12-bit).",
    "422": "Corrupt or truncated image, bytes after the image's end, or over the pixel, side "
    "or frame limits.",
    "503": "The database or the image store failed; nothing was saved.",
}


def _errors(statuses: dict[str, str]) -> dict[str, Any]:
    return {
        status: {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for status, text in statuses.items()
    }


def _image_route() -> dict[str, Any]:
    parameters = [
        {"name": "year", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "month", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
    ]
    answer = {
        "200": {"description": "The image, immutable; honours Range and If-None-Match."},
        "206": {"description": "The requested byte range."},
        "304": {"description": "Not modified (If-None-Match matched the ETag)."},
        "416": {"description": "The requested range is outside the image."},
        **_errors({"404": "No image at this URL."}),
    }
    return {
        "get": {"summary": "Fetch an image", "parameters": parameters, "responses": answer},
        "head": {"summary": "Image headers", "parameters": parameters, "responses": answer},
    }


def _settings_route() -> dict[str, Any]:
    answer = {
        "description": "Every setting: value (secrets as ********), default, is_default, help.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    admin_errors = {
        "401": "Missing or unknown API key.",
        "403": "Not an admin key.",
        "503": "The database is unavailable.",
    }
    return {
        "get": {
            "summary": "Read the run-time settings",
            "security": [{"bearer": []}],
            "responses": {"200": answer, **_errors(admin_errors)},
        },
        "put": {
            "summary": "Change settings: all validated, storage checked live, saved together",
            "security": [{"bearer": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "200": answer,
                **_errors(
                    {
                        **admin_errors,
                        "400": "Not a JSON object, an unknown setting or a bad value "
                        "(`invalid_setting`), or a store that fails its live check "
                        "(`storage_check_failed`).",
                    }
                ),
            },
        },
    }


def openapi_document(server_url: str) -> dict[str, Any]:
    upload_answer = {
        "type": "object",
        "required": ["success", "message", "data"],
        "properties": {
            "success": {"const": True},
            "message": {"const": ""},
            "data": {"type": "string", "format": "uri", "description": "The image's URL."},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "imghost", "version": "0.1.0"},
        "servers": [{"url": server_url}],
        "components": {
            "schemas": {"Error": _ENVELOPE_ERROR, "UploadAnswer": upload_answer},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/api/upload": {
                "post": {
                    "summary": "Upload an image and get its public URL",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["file"],
                                    "properties": {"file": {"type": "string", "format": "binary"}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Stored.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/UploadAnswer"}
                                }
                            },
                        },
                        **_errors(_UPLOAD_ERRORS),
                    },
                }
            },
            "/uploads/{year}/{month}/{name}": _image_route(),
            "/api/settings": _settings_route(),
            "/healthz": {
                "get": {"summary": "Liveness", "responses": {"200": {"description": "Up."}}}
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: database and store reachable",
                    "responses": {
                        "200": {"description": "Ready."},
                        "503": {"description": "A dependency is unavailable."},
                    },
                }
            },
            "/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": {"description": "OK"}}}
            },
        },
    }
