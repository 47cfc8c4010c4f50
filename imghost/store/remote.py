"""`remote`: forward each accepted upload to another image host's upload API.

Works with anything that takes a multipart upload and answers JSON holding the image's URL:
another imghost (`data`), CloudFlare-ImgBed (`0.src`, relative to the upload host), Lsky Pro
(`data.links.url`), Chevereto (`image.url`)… The location is the URL it answers; reads go to
that URL. Deleting cannot be forwarded generically: it removes only our record.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from PIL import Image

from imghost.options import choice, integer, json_path, option, string_map, text, url
from imghost.store import keys
from imghost.store.base import ObjectMissing, StoreUnavailable, UpstreamRejected

_READ_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class RemoteSettings:
    """The run-time settings `storage.remote.*`, one field each."""

    upload_url: str = option(
        "",
        "The external image host's upload API, e.g. https://img.example.com/api/upload.",
        url,
    )
    method: str = option("POST", "HTTP method of the upload call.", choice("POST", "PUT"))
    field_name: str = option("file", "Multipart field that carries the image.", text(100))
    auth_header: str = option("Authorization", "Header that carries the token.", text(100))
    auth_prefix: str = option("Bearer ", "Text before the token in that header.", text(100))
    token: str = option("", "The external host's API token.", text(2000), secret=True)
    extra_fields: Mapping[str, str] = option(
        {}, 'Extra form fields sent with every upload, e.g. {"album_id": "1"}.', string_map
    )
    url_path: str = option(
        "data",
        "Where the image URL is in the JSON answer: `data`, `data.url`, `data.links.url`, "
        "`0.src`, `image.url`…",
        json_path,
    )
    timeout_seconds: float = option(60, "How long to wait for the external host.", integer(1, 600))


def find_url(answer: Any, path: str) -> str:
    """The string at a dotted path such as `data.links.url` or `0.src` in a JSON answer."""
    node = answer
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(path)
    if not isinstance(node, str) or not node:
        raise KeyError(path)
    return node


class RemoteStore:
    name = "remote"

    def __init__(self, settings: RemoteSettings) -> None:
        if not settings.upload_url:
            raise StoreUnavailable("storage.remote.upload_url is not set")
        self.settings = settings
        headers = {}
        if settings.token:
            headers[settings.auth_header] = settings.auth_prefix + settings.token
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(
                settings.timeout_seconds, connect=min(10, settings.timeout_seconds)
            ),
        )

    def put_file(self, key: str, path: Path, content_type: str) -> str:
        filename = keys.parse(key).name
        with path.open("rb") as file:
            location = self._upload(filename, file, content_type)
        path.unlink()
        return location

    def _upload(self, filename: str, file: Any, content_type: str) -> str:
        s = self.settings
        try:
            response = self._client.request(
                s.method,
                s.upload_url,
                files={s.field_name: (filename, file, content_type)},
                data=dict(s.extra_fields),
            )
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"{s.upload_url} did not answer: {exc}") from exc
        if not response.is_success:
            raise UpstreamRejected(
                f"{s.upload_url} answered {response.status_code}: {_reason(response)}",
                response.status_code,
            )
        try:
            found = find_url(response.json(), s.url_path)
        except (ValueError, KeyError) as exc:
            raise UpstreamRejected(
                f"{s.upload_url} answered without a URL at {s.url_path!r}: {_reason(response)}",
                response.status_code,
            ) from exc
        return urljoin(s.upload_url, found)

    def copy(self, location: str, key: str) -> str:
        # The other host's object is immutable and never deleted from here (its API has no
        # delete), so two uploads can share its URL.
        return location

    def local_path(self, location: str) -> Path | None:
        return None

    def open_range(self, location: str, start: int, end: int) -> Iterator[bytes]:
        headers = {"Range": f"bytes={start}-{end - 1}"}
        try:
            with self._client.stream("GET", location, headers=headers) as response:
                if response.status_code == 404:
                    raise ObjectMissing(f"{location} answered 404")
                response.raise_for_status()
                skip = start if response.status_code == 200 else 0
                remaining = end - start
                for chunk in response.iter_bytes(_READ_CHUNK):
                    if skip:
                        dropped = min(skip, len(chunk))
                        chunk, skip = chunk[dropped:], skip - dropped
                    if chunk and remaining > 0:
                        yield chunk[:remaining]
                        remaining -= len(chunk[:remaining])
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"cannot read {location}: {exc}") from exc

    def exists(self, location: str) -> bool:
        try:
            return self._client.head(location, follow_redirects=True).is_success
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"cannot reach {location}: {exc}") from exc

    def delete(self, location: str) -> None:
        return None

    def public_url(self, location: str) -> str | None:
        return location

    def redirect_url(self, location: str) -> str | None:
        return location

    def check(self) -> None:
        """Upload a 1x1 probe image: proves the address, the token and `url_path` at once."""
        probe = io.BytesIO()
        Image.new("RGB", (1, 1)).save(probe, format="PNG")
        probe.seek(0)
        location = self._upload("imghost-probe.png", probe, "image/png")
        if not location.startswith(("http://", "https://")):
            raise UpstreamRejected(f"the answer's URL is not http(s): {location}", None)

    def ping(self) -> None:
        """Any HTTP answer from the upload address proves it is reachable."""
        try:
            self._client.head(self.settings.upload_url)
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"{self.settings.upload_url} did not answer: {exc}") from exc

    def close(self) -> None:
        self._client.close()


def _reason(response: httpx.Response) -> str:
    """The upstream's own message when its JSON has one, else the start of its body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if isinstance(body, dict):
        for key in ("message", "error", "msg", "detail"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key]
            if isinstance(body.get(key), dict) and isinstance(body[key].get("message"), str):
                return body[key]["message"]
    return json.dumps(body)[:200]
