"""Streaming `multipart/form-data`: the `file` part goes to a Spool as it arrives.

python-multipart's incremental parser runs over the body's chunks as they arrive, so memory
stays bounded whatever the upload's size, and a too-large or non-image upload is refused before
the rest of the body is read. The reader knows the request only by its two headers and its
byte stream; the HTTP layer hands them over.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from imghost.errors import BodyTimeout, InvalidRequest, TooLarge
from imghost.ingest.spool import Spool, too_large
from imghost.numbers import whole_number

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FILE_FIELD = "file"
MAX_TEXT_FIELD_BYTES = 8 * 1024
MAX_PARTS = 16
# Room for part headers, boundaries and small text fields beside the file itself.
FORM_OVERHEAD_BYTES = 64 * 1024
# RFC 2046 5.1.1; a longer one only makes the parser search for more.
MAX_BOUNDARY_CHARS = 70

_SEND_AS = "Send the image as multipart/form-data in the field 'file'."


@dataclass
class ReceivedForm:
    spool: Spool | None = None
    filename: str = ""
    fields: dict[str, str] = field(default_factory=dict)


def boundary_of(content_type_header: str | None) -> bytes:
    content_type, params = parse_options_header(content_type_header)
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise InvalidRequest(
            "not_multipart", "The request body is not multipart/form-data. " + _SEND_AS
        )
    if len(boundary) > MAX_BOUNDARY_CHARS:
        raise InvalidRequest(
            "malformed_multipart",
            f"The multipart boundary is {len(boundary)} characters long; RFC 2046 allows at "
            f"most {MAX_BOUNDARY_CHARS}. " + _SEND_AS,
        )
    return boundary


def check_declared_length(content_length: str | None, limit: int) -> None:
    declared = whole_number(content_length or "")
    if declared is not None and declared > limit + FORM_OVERHEAD_BYTES:
        raise too_large(limit)


def clean_filename(raw: str) -> str:
    """The client's file name, for display only: base name, printable, at most 255 characters."""
    base = raw.replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    return printable.strip()[:255]


class _FormReader:
    def __init__(self, new_spool: Callable[[], Spool]) -> None:
        self.form = ReceivedForm()
        self.finished = False
        self._new_spool = new_spool
        self._parts = 0
        self._header_field = b""
        self._header_value = b""
        self._disposition = b""
        self._text: bytearray | None = None
        self._text_name = ""
        self._writing_file = False

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field_data,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise InvalidRequest("too_many_parts", f"The form has more than {MAX_PARTS} parts.")
        self._disposition = b""

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_field.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_field = b""
        self._header_value = b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._disposition)
        name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        if name == FILE_FIELD:
            self._start_file(filename)
        elif filename is not None:
            raise InvalidRequest(
                "unexpected_file_field",
                f"A file was sent in the field {name!r}; only 'file' is read. " + _SEND_AS,
            )
        else:
            self._text_name = name
            self._text = bytearray()

    def _start_file(self, filename: bytes | None) -> None:
        if self.form.spool is not None:
            raise InvalidRequest("too_many_files", "Send one file per request in the field 'file'.")
        self.form.filename = clean_filename((filename or b"").decode("utf-8", "replace"))
        self.form.spool = self._new_spool()
        self._writing_file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._writing_file and self.form.spool is not None:
            self.form.spool.write(memoryview(data)[start:end])
        elif self._text is not None:
            self._text += data[start:end]
            if len(self._text) > MAX_TEXT_FIELD_BYTES:
                raise InvalidRequest(
                    "field_too_large",
                    f"The form field {self._text_name!r} is longer than "
                    f"{MAX_TEXT_FIELD_BYTES} bytes.",
                )

    def _part_end(self) -> None:
        if self._text is not None:
            self.form.fields[self._text_name] = self._text.decode("utf-8", "replace")
        self._text = None
        self._writing_file = False

    def _end(self) -> None:
        self.finished = True


async def receive_form(
    content_type: str | None,
    content_length: str | None,
    body: AsyncIterator[bytes],
    new_spool: Callable[[], Spool],
    limit: int,
    idle_seconds: float,
) -> ReceivedForm:
    """Read the whole form from `body`, streaming `file` into the spool `new_spool()` opens.

    The body as a whole may not pass the file limit plus the form's overhead, whatever the
    framing (chunked, or bytes after the closing boundary), and may not stall for longer than
    `idle_seconds` between two chunks. The spool is its caller's to remove, whatever happens.
    """
    boundary = boundary_of(content_type)
    check_declared_length(content_length, limit)
    reader = _FormReader(new_spool)
    received = 0
    try:
        parser = MultipartParser(boundary, reader.callbacks())
        async for chunk in _chunks(body, idle_seconds):
            received += len(chunk)
            if received > limit + FORM_OVERHEAD_BYTES:
                raise TooLarge(
                    "body_too_large",
                    f"The request body is longer than the {limit}-byte file limit allows, "
                    "whatever follows the form. Send one image and nothing after the form.",
                )
            parser.write(chunk)
    except MultipartParseError as exc:
        raise InvalidRequest(
            "malformed_multipart", f"The multipart body is malformed: {exc}."
        ) from exc
    if not reader.finished:
        raise InvalidRequest(
            "incomplete_body",
            "The multipart body ended before its closing boundary: the upload was cut off.",
        )
    return reader.form


async def _chunks(body: AsyncIterator[bytes], idle_seconds: float) -> AsyncIterator[bytes]:
    stream = aiter(body)
    while True:
        try:
            async with asyncio.timeout(idle_seconds):
                chunk = await anext(stream)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise BodyTimeout(
                "body_timeout",
                f"The upload stalled: no data arrived for {idle_seconds:g} s. Check the "
                "connection and send it again.",
            ) from None
        yield chunk
