"""Ready uploader configurations for screenshot tools (ShareX, uPic), for a server and a key.

Each configuration sends the image to `POST /api/upload` (the seed's route: multipart `file`,
`Authorization: Bearer`, the URL in the JSON field `data` and a refusal's words in `message`),
optionally with `for=<preset>` so the URL is that preset's variant. None carries a deletion
URL: imghost deletes only with the key that uploaded (`DELETE /v1/files/{id}`), and a link
that deletes on a GET would be followed by chat and link previews.
"""

from __future__ import annotations

import json
from typing import Any

UPLOAD_PATH = "/api/upload"


def sharex(server: str, key: str, preset: str | None = None) -> dict[str, Any]:
    """A ShareX custom uploader (`.sxcu`, imported by opening the file in ShareX)."""
    config: dict[str, Any] = {
        "Version": "16.1.0",
        "Name": "imghost",
        "DestinationType": "ImageUploader",
        "RequestMethod": "POST",
        "RequestURL": server.rstrip("/") + UPLOAD_PATH,
        "Headers": {"Authorization": f"Bearer {key}"},
        "Body": "MultipartFormData",
        "FileFormName": "file",
        "URL": "{json:data}",
        "ErrorMessage": "{json:message}",
    }
    if preset:
        config["Arguments"] = {"for": preset}
    return config


def upic(server: str, key: str, preset: str | None = None) -> dict[str, Any]:
    """A uPic custom host (imported from its host list); uPic nests its settings as JSON text,
    and sends `bodys` as extra form fields."""
    bodys = [{"key": "for", "value": preset}] if preset else []
    data = {
        "url": server.rstrip("/") + UPLOAD_PATH,
        "method": "POST",
        "field": "file",
        "headers": json.dumps([{"key": "Authorization", "value": f"Bearer {key}"}]),
        "bodys": json.dumps(bodys),
        "resultPath": json.dumps(["data"]),
        "domain": "",
        "saveKeyPath": "",
        "suffix": "",
        "useBase64": False,
    }
    return {"name": "imghost", "type": "custom", "data": json.dumps(data)}


TOOLS = {"sharex": sharex, "upic": upic}

# What each tool's file is called, so that opening it imports it.
FILE_NAMES = {"sharex": "imghost.sxcu", "upic": "imghost-upic.json"}
