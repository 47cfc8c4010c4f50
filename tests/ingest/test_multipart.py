"""The streaming multipart reader, fed chunks directly, and through the app in this process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from imghost.errors import BodyTimeout, InvalidRequest, Refusal, TooLarge
from imghost.ingest.multipart import (
    FORM_OVERHEAD_BYTES,
    MAX_BOUNDARY_CHARS,
    MAX_PARTS,
    MAX_TEXT_FIELD_BYTES,
    receive_form,
)
from imghost.ingest.session import UploadSession
from tests.conftest import auth, png_bytes
from tests.inprocess import App

pytestmark = pytest.mark.anyio

LIMIT = 1000
BOUNDARY = "b"


def part(name: str, data: bytes, filename: str | None = None, boundary: str = BOUNDARY) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"


def form(*parts: bytes, boundary: str = BOUNDARY) -> bytes:
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


def followed_by(first: bytes, chunk: bytes, total: int) -> Iterator[bytes]:
    """`first`, then `chunk` again and again to `total` bytes: a body that goes on. Twice a
    bound shows the reader stops at it, and ends, so a reader that does not stop still ends."""
    yield first
    for _ in range((total - len(first)) // len(chunk) + 1):
        yield chunk


async def stream(chunks: Iterable[bytes], taken: list[bytes] | None = None) -> AsyncIterator[bytes]:
    """The chunks as a request body; `taken` collects those the reader asked for."""
    for chunk in chunks:
        if taken is not None:
            taken.append(chunk)
        yield chunk


@dataclass(frozen=True)
class Received:
    fields: dict[str, str]
    filename: str
    file: bytes | None


async def receive(
    body: bytes | AsyncIterator[bytes],
    spool_dir: Path,
    *,
    content_type: str | None = f"multipart/form-data; boundary={BOUNDARY}",
    content_length: str | None = None,
    idle_seconds: float = 30,
) -> Received:
    """Read a form as the upload routes do, in a session that removes its spool at the end."""
    chunks = stream([body]) if isinstance(body, bytes) else body
    async with UploadSession(spool_dir, LIMIT) as session:
        received = await receive_form(
            content_type, content_length, chunks, session.new_spool, LIMIT, idle_seconds
        )
        file = None
        if received.spool is not None:
            received.spool.finish()
            file = received.spool.path.read_bytes()
        return Received(received.fields, received.filename, file)


async def refused(body: bytes | AsyncIterator[bytes], spool_dir: Path, **options: Any) -> Refusal:
    with pytest.raises(Refusal) as caught:
        await receive(body, spool_dir, **options)
    assert list(spool_dir.iterdir()) == [], "a refused form left its spool behind"
    return caught.value


async def test_the_file_and_the_text_fields_are_received(tmp_path: Path) -> None:
    data = png_bytes()
    body = form(part("purpose", b"vision"), part("file", data, "photo.png"), part("x", b""))
    received = await receive(body, tmp_path)
    assert received.file == data
    assert received.filename == "photo.png"
    assert received.fields == {"purpose": "vision", "x": ""}


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64])
async def test_boundaries_split_across_chunks_are_found(tmp_path: Path, size: int) -> None:
    # Bytes that look like a delimiter but are not one (another boundary, no CRLF before it,
    # a longer name) are the file's.
    data = b"--b-\r\n--x\r\n\r\n-\r\n--bb--b\r" + png_bytes(4, 4)
    body = form(part("expires_in", b"60"), part("file", data, "a.png"))
    received = await receive(stream(pieces(body, size)), tmp_path)
    assert received.file == data
    assert received.fields == {"expires_in": "60"}


async def test_the_boundary_is_read_from_a_quoted_parameter_in_any_case(tmp_path: Path) -> None:
    boundary = "'()+_,-./:=? " + "x" * 10
    body = form(part("file", b"bytes", "a.png", boundary=boundary), boundary=boundary)
    content_type = f'Multipart/Form-Data; charset=utf-8; Boundary="{boundary}"'
    received = await receive(body, tmp_path, content_type=content_type)
    assert received.file == b"bytes"


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/json",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/mixed; boundary=b",
        "application/x-www-form-urlencoded",
    ],
)
async def test_a_body_that_is_not_a_form_is_refused(
    tmp_path: Path, content_type: str | None
) -> None:
    error = await refused(form(part("file", b"x", "a.png")), tmp_path, content_type=content_type)
    assert isinstance(error, InvalidRequest)
    assert error.code == "not_multipart"


async def test_a_boundary_of_at_most_70_characters(tmp_path: Path) -> None:
    longest = "b" * MAX_BOUNDARY_CHARS
    body = form(part("file", b"x", "a.png", boundary=longest), boundary=longest)
    received = await receive(
        body, tmp_path, content_type=f"multipart/form-data; boundary={longest}"
    )
    assert received.file == b"x"
    longer = longest + "b"
    body = form(part("file", b"x", "a.png", boundary=longer), boundary=longer)
    error = await refused(body, tmp_path, content_type=f"multipart/form-data; boundary={longer}")
    assert error.code == "malformed_multipart"
    assert str(MAX_BOUNDARY_CHARS) in error.message


async def test_at_most_16_parts(tmp_path: Path) -> None:
    fields = [part(f"f{n}", b"v") for n in range(MAX_PARTS - 1)]
    received = await receive(form(*fields, part("file", b"x", "a.png")), tmp_path)
    assert len(received.fields) == MAX_PARTS - 1
    error = await refused(form(*fields, part("one", b"v"), part("file", b"x", "a.png")), tmp_path)
    assert isinstance(error, InvalidRequest)
    assert error.code == "too_many_parts"


async def test_a_text_field_of_at_most_8_kib(tmp_path: Path) -> None:
    longest = b"v" * MAX_TEXT_FIELD_BYTES
    received = await receive(form(part("purpose", longest), part("file", b"x", "a.png")), tmp_path)
    assert received.fields["purpose"] == longest.decode()
    error = await refused(form(part("purpose", longest + b"v")), tmp_path)
    assert isinstance(error, InvalidRequest)
    assert error.code == "field_too_large"
    assert "'purpose'" in error.message


async def test_a_form_without_a_file_part_has_no_spool(tmp_path: Path) -> None:
    received = await receive(form(part("purpose", b"vision")), tmp_path)
    assert received.file is None
    assert received.fields == {"purpose": "vision"}


@pytest.mark.parametrize(
    ("parts", "code"),
    [
        ([part("image", b"x", "a.png")], "unexpected_file_field"),
        ([part("file", b"x", "a.png"), part("file", b"y", "b.png")], "too_many_files"),
    ],
)
async def test_one_file_in_the_field_file(tmp_path: Path, parts: list[bytes], code: str) -> None:
    error = await refused(form(*parts), tmp_path)
    assert isinstance(error, InvalidRequest)
    assert error.code == code


async def test_the_file_name_is_for_display_only(tmp_path: Path) -> None:
    body = form(part("file", b"x", "C:\\Users\\me\\..\\pho\x07to.png"))
    assert (await receive(body, tmp_path)).filename == "photo.png"


async def test_a_file_over_the_limit_is_refused_as_it_streams(tmp_path: Path) -> None:
    taken: list[bytes] = []
    head = part("file", b"", "a.png").removesuffix(b"\r\n")
    error = await refused(stream(followed_by(head, b"\0" * 100, 2 * LIMIT), taken), tmp_path)
    assert isinstance(error, TooLarge)
    assert error.code == "file_too_large"
    assert len(taken) <= LIMIT // 100 + 2, "the reader went on past the file limit"


async def test_a_body_over_the_limit_after_the_form_is_refused_as_it_streams(
    tmp_path: Path,
) -> None:
    # Whatever follows the closing boundary is read too, so it counts against the bound.
    taken: list[bytes] = []
    bound = LIMIT + FORM_OVERHEAD_BYTES
    body = followed_by(form(part("file", b"x", "a.png")), b"\0" * 1024, 2 * bound)
    error = await refused(stream(body, taken), tmp_path)
    assert isinstance(error, TooLarge)
    assert error.code == "body_too_large"
    assert len(taken) <= bound // 1024 + 2


async def test_a_declared_length_over_the_bound_is_refused_before_reading(tmp_path: Path) -> None:
    taken: list[bytes] = []
    body = stream([form(part("file", b"x", "a.png"))], taken)
    declared = str(LIMIT + FORM_OVERHEAD_BYTES + 1)
    error = await refused(body, tmp_path, content_length=declared)
    assert error.code == "file_too_large"
    assert taken == []
    fits = str(LIMIT + FORM_OVERHEAD_BYTES)
    received = await receive(form(part("file", b"x", "a.png")), tmp_path, content_length=fits)
    assert received.file == b"x"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (part("file", b"cut off", "a.png"), "incomplete_body"),
        (b"", "incomplete_body"),
        (b"xx--b\r\n", "malformed_multipart"),
        (b"--b\r\nno colon in this header\r\n\r\nv\r\n--b--\r\n", "malformed_multipart"),
    ],
)
async def test_a_broken_body_is_refused(tmp_path: Path, body: bytes, code: str) -> None:
    error = await refused(body, tmp_path)
    assert isinstance(error, InvalidRequest)
    assert error.code == code


async def test_a_stalled_body_is_refused(tmp_path: Path) -> None:
    never = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield part("file", png_bytes()[:40], "a.png").removesuffix(b"\r\n")
        await never.wait()
        yield b""  # not reached: the event is never set

    async with asyncio.timeout(10):  # fails a reader that would wait for ever
        error = await refused(stalls(), tmp_path, idle_seconds=0.05)
    assert isinstance(error, BodyTimeout)
    assert error.code == "body_timeout"


# Through the app: how the routes answer what the reader refuses, and that nothing stays.


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    settings = {"limits.body_timeout_seconds": 1, "limits.max_upload_bytes": LIMIT}
    async with App(tmp_path / "data", settings=settings) as instance:
        yield instance


async def test_a_form_without_a_file_is_a_400(app: App) -> None:
    async with app.client() as client:
        response = await client.post(
            "/api/upload", headers=auth(app.key), files={"purpose": (None, "vision")}
        )
    assert response.status_code == 400
    assert response.json()["code"] == "missing_file"


async def test_a_stalled_upload_answers_408_and_leaves_no_spool(app: App) -> None:
    never = asyncio.Event()
    spooled: list[list[Path]] = []

    async def stalls() -> AsyncIterator[bytes]:
        yield part("file", png_bytes()[:40], "a.png").removesuffix(b"\r\n")
        spooled.append(app.spooled())
        await never.wait()
        yield b""  # not reached: the event is never set

    body = stalls()
    headers = {**auth(app.key), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    try:
        async with asyncio.timeout(20), app.client() as client:
            response = await client.post("/api/upload", headers=headers, content=body)
    finally:
        await body.aclose()
    assert response.status_code == 408, response.text
    assert response.json()["code"] == "body_timeout"
    assert len(spooled[0]) == 1, "the first bytes were not being spooled"
    assert app.spooled() == []


async def test_a_body_that_goes_on_after_the_form_answers_413(app: App) -> None:
    bound = LIMIT + FORM_OVERHEAD_BYTES
    body = followed_by(form(part("file", png_bytes(), "a.png")), b"\0" * 4096, 2 * bound)
    headers = {**auth(app.key), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    async with app.client() as client:
        response = await client.post("/api/upload", headers=headers, content=stream(body))
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "body_too_large"
    assert app.upload_rows() == 0
    assert app.spooled() == []
