"""Ready uploader configurations for screenshot tools (ShareX, uPic, PicGo), for a server and
a key.

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


def picgo(server: str, key: str, preset: str | None = None) -> dict[str, Any]:
    """A PicGo configuration (`picgo -c imghost-picgo.json upload …`) with imghost as its
    uploader, through the `web-uploader` plugin, which reads its headers and extra form fields
    as JSON text."""
    uploader = {
        "url": server.rstrip("/") + UPLOAD_PATH,
        "paramName": "file",
        "jsonPath": "data",
        "customHeader": json.dumps({"Authorization": f"Bearer {key}"}),
        "customBody": json.dumps({"for": preset}) if preset else "",
    }
    return {
        "picBed": {"uploader": "web-uploader", "current": "web-uploader", "web-uploader": uploader},
        "picgoPlugins": {"picgo-plugin-web-uploader": True},
    }


TOOLS = {"sharex": sharex, "upic": upic, "picgo": picgo}

# What each tool's file is called, so that opening it imports it.
FILE_NAMES = {"sharex": "imghost.sxcu", "upic": "imghost-upic.json", "picgo": "imghost-picgo.json"}
