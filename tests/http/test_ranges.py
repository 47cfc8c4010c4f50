"""Range requests of images: the parsing rules (RFC 9110 section 14), and the answers of both
ways an image is served, from a local file and streamed from a store, which must agree."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from imghost.http.errors import HttpRefusal
from imghost.http.ranges import requested_range
from imghost.store.base import ObjectMissing, StoreUnavailable
from tests.conftest import auth, jpeg_bytes
from tests.inprocess import App
from tests.memstore import MemoryStore

pytestmark = pytest.mark.anyio

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "span"),
    [
        ("bytes=0-9", (0, 10)),
        ("bytes=0-0", (0, 1)),
        ("bytes=990-", (990, SIZE)),
        ("bytes=-10", (SIZE - 10, SIZE)),
        ("bytes=-5000", (0, SIZE)),  # a suffix longer than the image is all of it
        ("bytes=500-99999", (500, SIZE)),  # a last position past the end is the end
        (f"bytes={SIZE - 1}-{SIZE - 1}", (SIZE - 1, SIZE)),
        ("BYTES=0-9", (0, 10)),
        (" bytes=0-9 ", (0, 10)),
    ],
)
def test_a_single_range(header: str, span: tuple[int, int]) -> None:
    assert requested_range(header, SIZE) == span


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes=-",
        "bytes=0-1,5-6",  # several ranges: the whole image, as RFC 9110 allows
        "bytes=9-0",  # last before first: not a valid range set
        "bytes=a-b",
        "bytes=0x1-2",
        "items=0-9",
        "bytes 0-9",
        "bytes=" + "9" * 19 + "-",  # no image is that large, and int() must not see 4300 digits
        "bytes=0-" + "9" * 5000,
    ],
)
def test_what_is_not_one_satisfiable_range_is_ignored(header: str | None) -> None:
    assert requested_range(header, SIZE) is None


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE}-{SIZE + 10}", "bytes=-0"])
def test_a_range_that_selects_nothing_is_a_416(header: str) -> None:
    with pytest.raises(HttpRefusal) as refused:
        requested_range(header, SIZE)
    assert refused.value.status == 416
    assert refused.value.code == "range_not_satisfiable"
    assert refused.value.headers == {"Content-Range": f"bytes */{SIZE}"}


class Served:
    """One stored image, its URL path and its bytes as a GET without a range answers them."""

    def __init__(self, app: App, client: httpx.AsyncClient, path: str, data: bytes) -> None:
        self.app = app
        self.client = client
        self.path = path
        self.data = data

    async def get(self, range_header: str, method: str = "GET") -> httpx.Response:
        return await self.client.request(method, self.path, headers={"Range": range_header})


@pytest.fixture(params=["local", "memory"])
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    # `local` is sent from its file (Starlette's FileResponse), `memory` has no file and is
    # streamed from the store in chunks, as an S3 proxy read is.
    store = MemoryStore() if request.param == "memory" else None
    async with App(tmp_path / "data", store) as app, app.client() as client:
        # Larger than the memory store's read chunk, so ranges can span two.
        uploaded = await client.post(
            "/api/upload", headers=auth(app.key), files={"file": jpeg_bytes(512, 512)}
        )
        path = urlsplit(uploaded.json()["data"]).path
        whole = await client.get(path)
        assert whole.status_code == 200
        assert whole.headers["Accept-Ranges"] == "bytes"
        yield Served(app, client, path, whole.content)


def assert_partial(response: httpx.Response, data: bytes, start: int, end: int) -> None:
    assert response.status_code == 206, response.text
    assert response.headers["Content-Range"] == f"bytes {start}-{end - 1}/{len(data)}"
    assert response.headers["Content-Length"] == str(end - start)
    assert response.content == data[start:end]
    # Still the image, and still immutable: the headers every image answer carries.
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["ETag"]


async def test_a_range_is_a_206_of_those_bytes(served: Served) -> None:
    assert_partial(await served.get("bytes=0-9"), served.data, 0, 10)
    assert_partial(await served.get("bytes=100-"), served.data, 100, len(served.data))


async def test_a_range_across_the_stores_read_chunks(served: Served) -> None:
    chunk = 64 * 1024
    response = await served.get(f"bytes={chunk - 5}-{2 * chunk + 5}")
    assert_partial(response, served.data, chunk - 5, 2 * chunk + 6)


async def test_a_suffix_range_is_the_images_last_bytes(served: Served) -> None:
    size = len(served.data)
    assert_partial(await served.get("bytes=-100"), served.data, size - 100, size)


async def test_a_suffix_longer_than_the_image_is_all_of_it(served: Served) -> None:
    size = len(served.data)
    assert_partial(await served.get(f"bytes=-{size + 50}"), served.data, 0, size)


async def test_a_last_position_past_the_end_stops_at_the_end(served: Served) -> None:
    size = len(served.data)
    assert_partial(await served.get(f"bytes=10-{size + 1000}"), served.data, 10, size)


async def test_a_head_with_a_range_answers_its_headers_only(served: Served) -> None:
    response = await served.get("bytes=0-9", method="HEAD")
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 0-9/{len(served.data)}"
    assert response.headers["Content-Length"] == "10"
    assert response.content == b""


@pytest.mark.parametrize("beyond", [0, 10])
async def test_a_range_past_the_end_is_a_416_naming_the_size(served: Served, beyond: int) -> None:
    size = len(served.data)
    response = await served.get(f"bytes={size + beyond}-")
    assert response.status_code == 416, response.text
    assert response.headers["Content-Range"] == f"bytes */{size}"
    assert response.json()["code"] == "range_not_satisfiable"


async def test_an_empty_suffix_is_a_416(served: Served) -> None:
    response = await served.get("bytes=-0")
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(served.data)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=9-0", "bytes=x-y", "pages=1-2"])
async def test_ranges_that_are_ignored_answer_the_whole_image(served: Served, header: str) -> None:
    response = await served.get(header)
    assert response.status_code == 200, response.text
    assert "Content-Range" not in response.headers
    assert response.content == served.data


async def test_a_matching_etag_wins_over_a_range(served: Served) -> None:
    etag = (await served.client.head(served.path)).headers["ETag"]
    response = await served.client.get(
        served.path, headers={"Range": "bytes=0-9", "If-None-Match": etag}
    )
    assert response.status_code == 304
    assert response.content == b""


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (StoreUnavailable("http://10.0.0.5:9000 refused"), 503, "storage_unavailable"),
        (ObjectMissing("no object there"), 404, "not_found"),
    ],
)
async def test_a_streamed_read_that_fails_is_answered_with_an_error_not_a_cut_off_206(
    tmp_path: Path, failure: StoreUnavailable, status: int, code: str
) -> None:
    store = MemoryStore()
    async with App(tmp_path / "data", store) as app, app.client() as client:
        uploaded = await client.post(
            "/api/upload", headers=auth(app.key), files={"file": jpeg_bytes(64, 64)}
        )
        store.fail("open_range", failure)
        response = await client.get(
            urlsplit(uploaded.json()["data"]).path, headers={"Range": "bytes=0-9"}
        )
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert "10.0.0.5" not in response.text  # the backend's details are for the log only
