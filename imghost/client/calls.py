"""What the sync and async clients share: each method's request, when to send it again, and
how an answer becomes a `File` or an `ImghostError`. No I/O happens here beyond opening an
upload's file, so both clients are only their send loops."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import quote

import httpx

from imghost.client.errors import MAX_ERROR_TEXT, ImghostError, error_of, retry_after_of
from imghost.client.models import File, Page

# A path (str or PathLike), the bytes themselves, or a binary file object.
Uploadable = str | os.PathLike[str] | bytes | IO[bytes]

# Reads wait for the server's full decode of the image, which takes a while for big ones.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=60.0, pool=None)
# The statuses after which imghost says nothing was done and when to come back (Retry-After):
# a rate limit or quota (429), a backend down or the SQLite database locked (503).
RETRY_STATUSES = frozenset({429, 503})
BYTES_FILENAME = "image"

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often to try a request that is safe to repeat, and how long to wait for it.

    A request is sent again only after a 429 or 503 carrying `Retry-After`, and only if it can
    be repeated: reads and deletes always; uploads too (imghost saved nothing on a 429 or 503),
    unless their body is a file object that cannot seek back to its start. A `Retry-After`
    longer than `max_wait` seconds (a spent 24 h quota, say) is not waited for: the error is
    raised at once with its `retry_after`. `attempts` counts the first one; 1 never retries.
    """

    attempts: int = 3
    max_wait: float = 30.0

    def wait(self, call: Call, error: ImghostError, attempt: int) -> float | None:
        """Seconds to sleep before sending `call` again after `error` on try number `attempt`,
        or None to raise `error` now."""
        if attempt >= self.attempts or not call.repeatable or error.status not in RETRY_STATUSES:
            return None
        if error.retry_after is None or error.retry_after > self.max_wait:
            return None
        return error.retry_after


@dataclass(frozen=True)
class Call:
    """One API request. `upload` is the multipart file, opened anew for every attempt."""

    method: str
    path: str
    params: Mapping[str, str] | None = None
    json: Mapping[str, Any] | None = None
    data: Mapping[str, str] | None = None
    upload: Upload | None = None

    @property
    def repeatable(self) -> bool:
        return self.upload is None or self.upload.replayable

    @contextmanager
    def arguments(self) -> Iterator[dict[str, Any]]:
        """httpx's request arguments, the upload's file open while the block runs."""
        arguments: dict[str, Any] = {"params": self.params, "json": self.json, "data": self.data}
        if self.upload is None:
            yield arguments
            return
        with self.upload.opened() as content:
            files = {"file": (self.upload.filename, content)}
            if not isinstance(content, bytes):
                yield arguments | {"files": files}
                return
            # Bytes already in memory go in one write, not httpx's chunk per multipart piece:
            # imghost refuses a non-image at its first bytes and closes without reading the
            # rest, and a piece arriving after that close makes the kernel reset the
            # connection, losing the refusal on its way to us (an asyncio client often).
            encoded = httpx.Request(self.method, "http://imghost", data=self.data, files=files)
            body = encoded.read()
            headers = {"Content-Type": encoded.headers["Content-Type"]}
            yield {"params": self.params, "content": body, "headers": headers}


@dataclass(frozen=True)
class Upload:
    source: Uploadable
    filename: str

    @classmethod
    def of(cls, source: Uploadable, filename: str | None) -> Upload:
        if filename is None:
            if isinstance(source, bytes):
                filename = BYTES_FILENAME
            elif isinstance(source, str | os.PathLike):
                filename = Path(source).name
            else:
                name = getattr(source, "name", None)
                filename = Path(name).name if isinstance(name, str) else BYTES_FILENAME
        return cls(source, filename)

    @property
    def replayable(self) -> bool:
        if isinstance(self.source, bytes | str | os.PathLike):
            return True
        # httpx rewinds a seekable file to its start before sending it.
        return self.source.seekable()

    @contextmanager
    def opened(self) -> Iterator[bytes | IO[bytes]]:
        if isinstance(self.source, str | os.PathLike):
            # Opened per attempt and streamed by httpx: never held in memory whole.
            with open(self.source, "rb") as stream:
                yield stream
        else:
            yield self.source


def _form(for_: str | None, expires_in: int | None) -> dict[str, str]:
    form = {}
    if expires_in is not None:
        form["expires_in"] = str(expires_in)
    if for_ is not None:
        # `/v1` makes the presets named in `variants` before it answers.
        form["variants"] = for_
    return form


def upload(
    source: Uploadable, for_: str | None, expires_in: int | None, filename: str | None
) -> Call:
    form = _form(for_, expires_in)
    return Call("POST", "/v1/files/uploads", data=form, upload=Upload.of(source, filename))


def _json_body(fields: dict[str, Any], for_: str | None, expires_in: int | None) -> dict[str, Any]:
    if expires_in is not None:
        fields["expires_in"] = expires_in
    if for_ is not None:
        fields["variants"] = for_
    return fields


def upload_url(url: str, for_: str | None, expires_in: int | None) -> Call:
    return Call("POST", "/v1/files/uploads/url", json=_json_body({"url": url}, for_, expires_in))


def upload_base64(
    data: str, for_: str | None, expires_in: int | None, filename: str | None
) -> Call:
    fields: dict[str, Any] = {"data": data}
    if filename is not None:
        fields["filename"] = filename
    return Call("POST", "/v1/files/uploads/base64", json=_json_body(fields, for_, expires_in))


def get(file_id: str) -> Call:
    return Call("GET", _file_path(file_id))


def delete(file_id: str) -> Call:
    return Call("DELETE", _file_path(file_id))


def list_page(limit: int | None, after: str | None) -> Call:
    params = {}
    if limit is not None:
        params["limit"] = str(limit)
    if after is not None:
        params["after"] = after
    return Call("GET", "/v1/files", params=params)


def _file_path(file_id: str) -> str:
    # An id is the server's; quoting keeps a stray "/" or "?" from naming another route.
    return "/v1/files/" + quote(file_id, safe="")


def answer(response: httpx.Response, parse: Callable[[Any], T]) -> T:
    """The parsed success body, or the refusal raised. A 2xx that `parse` cannot read is not
    imghost's answer (a captive portal, a proxy) and is raised as such."""
    if not response.is_success:
        raise error_of(response)
    try:
        return parse(response.json())
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        text = response.text.strip()[:MAX_ERROR_TEXT] or response.reason_phrase
        raise ImghostError(
            f"unexpected answer: {text}",
            status=response.status_code,
            request_id=response.headers.get("X-Request-Id"),
            retry_after=retry_after_of(response),
        ) from exc


def file_of(response: httpx.Response) -> File:
    return answer(response, File.from_json)


def page_of(response: httpx.Response) -> Page:
    return answer(response, Page.from_json)


def deleted_of(response: httpx.Response) -> bool:
    return answer(response, lambda body: bool(body["deleted"]))


def client_options(server: str, key: str) -> dict[str, Any]:
    return {"base_url": server.rstrip("/"), "headers": {"Authorization": f"Bearer {key}"}}
