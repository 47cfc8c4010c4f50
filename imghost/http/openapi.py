"""The OpenAPI 3.1 document: every route with its request, answer and error shapes."""

from __future__ import annotations

from typing import Any

from imghost.http.openapi_schemas import ENVELOPE_ERROR, FILE_OBJECT, OPENAI_ERROR, PRESETS_FIELD
from imghost.ingest.formats import ACCEPTED_LABELS
from imghost.integrations import TOOLS

_UPLOAD_ERRORS = {
    "400": "Malformed request: not multipart, no `file`, two files, empty file.",
    "401": "Missing, malformed or unknown API key.",
    "403": "Disabled or expired API key.",
    "413": "Over `limits.max_upload_bytes` (read stops at the limit).",
    "415": f"Not {ACCEPTED_LABELS} (sniffed from the bytes), an animated HEIF or AVIF, or a "
    "JPEG variant browsers cannot show (12-bit).",
    "422": "Corrupt or truncated image, bytes after the image's end, or over the pixel, side "
    "or frame limits.",
    "429": "The key's rate limit or 24 h quota (`rate_limited`, `quota_exceeded`).",
    "502": "The remote image host refused the upload (`storage_rejected`).",
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
        "200": {
            "description": "The image, immutable; honours Range and If-None-Match. A name "
            "`<id>.<preset>.<ext>` is the upload's variant for that preset, made on first GET."
        },
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


_V1_ERRORS = {
    "400": "Malformed request or field (`invalid_json`, `invalid_base64`, `invalid_expires_in`, "
    "`url_invalid`, `url_forbidden`…).",
    "401": "Missing or unknown API key.",
    "403": "Disabled or expired key, or a client address outside its allow-list.",
    "404": "No such file (or not yours).",
    "413": "Over the size limit (`file_too_large`, `url_too_large`).",
    "415": f"Not {ACCEPTED_LABELS}, or an animated HEIF or AVIF (`unsupported_type`, "
    "`url_not_image`).",
    "422": "Corrupt image or over a pixel, side or frame limit.",
    "429": "Rate limit or 24 h quota (`rate_limited`, `quota_exceeded`), with Retry-After.",
    "502": "The URL's host failed (`url_unreachable`) or the remote store refused.",
    "503": "The database or the store is unavailable.",
    "504": "The URL took too long (`url_timeout`).",
}


def _v1_errors(statuses: dict[str, str]) -> dict[str, Any]:
    return {
        status: {
            "description": text,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/OpenAIError"}}
            },
        }
        for status, text in statuses.items()
    }


def _path_parameter(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


_LIST_PARAMETERS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    {"name": "after", "in": "query", "schema": {"type": "string"}},
    {"name": "order", "in": "query", "schema": {"enum": ["desc"]}},
    {"name": "key_id", "in": "query", "schema": {"type": "string"}},
    {"name": "created_after", "in": "query", "schema": {"type": "number"}},
    {"name": "created_before", "in": "query", "schema": {"type": "number"}},
]


def _v1(
    summary: str,
    body: dict[str, Any] | None,
    answer: dict[str, Any],
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        **({"parameters": parameters} if parameters else {}),
        "security": [{"bearer": []}],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": answer}}},
            **_v1_errors(_V1_ERRORS),
        },
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": body}
    return operation


def _v1_routes() -> dict[str, Any]:
    file_ref = {"$ref": "#/components/schemas/File"}
    form = {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "purpose": {"type": "string"},
                    "expires_in": {"type": "integer"},
                    "expires_after[anchor]": {"const": "created_at"},
                    "expires_after[seconds]": {"type": "integer"},
                    "variants": PRESETS_FIELD,
                },
            }
        }
    }

    def json_body(required: str) -> dict[str, Any]:
        fields = {required: {"type": "string"}, "purpose": {"type": "string"}}
        fields |= {"expires_in": {"type": "integer"}, "filename": {"type": "string"}}
        fields |= {"variants": PRESETS_FIELD}
        schema = {"type": "object", "required": [required], "properties": fields}
        return {"application/json": {"schema": schema}}

    listing = {
        "type": "object",
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": file_ref},
            "first_id": {"type": ["string", "null"]},
            "last_id": {"type": ["string", "null"]},
            "has_more": {"type": "boolean"},
        },
    }
    deleted = {
        "type": "object",
        "properties": {"id": {"type": "string"}, "deleted": {"const": True}},
    }
    return {
        "/v1/files/uploads": {"post": _v1("Upload a file (multipart)", form, file_ref)},
        "/v1/files/uploads/base64": {
            "post": _v1("Upload base64 data or a data URL", json_body("data"), file_ref)
        },
        "/v1/files/uploads/url": {
            "post": _v1("Fetch a URL and re-host it", json_body("url"), file_ref)
        },
        "/v1/files": {
            "post": _v1("OpenAI Files API: create", form, file_ref),
            "get": _v1(
                "List files, newest first (key_id for admins)", None, listing, _LIST_PARAMETERS
            ),
        },
        "/v1/files/{file_id}": {
            "get": _v1("Describe a file", None, file_ref, [_path_parameter("file_id")]),
            "delete": _v1(
                "Delete a file: its URL answers 404 at once",
                None,
                deleted,
                [_path_parameter("file_id")],
            ),
        },
        "/v1/files/{file_id}/content": {
            "get": _v1(
                "The file's bytes (OpenAI's files.content)",
                None,
                {"type": "string", "format": "binary"},
                [_path_parameter("file_id")],
            )
        },
    }


def _admin(summary: str, body: bool = False, path_parameter: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        **({"parameters": [_path_parameter(path_parameter)]} if path_parameter else {}),
        "security": [{"bearer": []}],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {}}}},
            **_errors(
                {
                    "400": "A bad field (`invalid_key_field`, `invalid_json`, `own_key`).",
                    "401": "Missing or unknown API key.",
                    "403": "Not an admin key.",
                    "404": "No such key (`key_not_found`).",
                    "503": "The database is unavailable.",
                }
            ),
        },
    }
    if body:
        schema = {"type": "object"}
        operation["requestBody"] = {"content": {"application/json": {"schema": schema}}}
    return operation


def _admin_routes() -> dict[str, Any]:
    page = {"get": {"summary": "An HTML page", "responses": {"200": {"description": "HTML"}}}}
    return {
        "/api/keys": {
            "get": _admin("List keys (never the secrets)"),
            "post": _admin(
                "Create a key: name, role, daily_bytes, rpm, expires_at, allow_ips; the "
                "answer's `key` is the secret, shown once",
                body=True,
            ),
        },
        "/api/keys/{key_id}": {
            "patch": _admin(
                "Change name, enabled, expires_at, daily_bytes, rpm, allow_ips",
                body=True,
                path_parameter="key_id",
            ),
            "delete": _admin("Revoke a key", path_parameter="key_id"),
        },
        "/api/stats": {"get": _admin("Uploads and bytes per day (30 days), top keys, stores")},
        "/": page,
        "/admin": page,
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
            "schemas": {
                "Error": ENVELOPE_ERROR,
                "OpenAIError": OPENAI_ERROR,
                "File": FILE_OBJECT,
                "UploadAnswer": upload_answer,
            },
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
                                    "properties": {
                                        "file": {"type": "string", "format": "binary"},
                                        "for": {
                                            "type": "string",
                                            "description": "A preset: `data` is then the URL "
                                            "of that variant, made before the answer.",
                                        },
                                        "variants": PRESETS_FIELD,
                                    },
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
            **_v1_routes(),
            **_admin_routes(),
            "/api/integrations/{tool}": {
                "get": {
                    "summary": "A screenshot tool's uploader configuration (sharex, upic, picgo) "
                    "for "
                    "this server and the calling key, as a file",
                    "security": [{"bearer": []}],
                    "parameters": [
                        {
                            "name": "tool",
                            "in": "path",
                            "required": True,
                            "schema": {"enum": sorted(TOOLS)},
                        },
                        {
                            "name": "for",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": {"description": "The configuration (JSON), as an attachment."},
                        **_errors({"400": "Unknown preset.", "404": "Unknown tool."}),
                    },
                }
            },
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
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics of every worker of this instance",
                    "responses": {"200": {"description": "text/plain; version=0.0.4"}},
                }
            },
            "/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": {"description": "OK"}}}
            },
        },
    }
