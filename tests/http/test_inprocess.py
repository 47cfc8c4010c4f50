"""The app in this process through httpx's ASGI transport: for faults that a real server cannot
be made to have at a chosen point of a request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import auth, png_bytes
from tests.inprocess import App

pytestmark = pytest.mark.anyio


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with App(tmp_path / "data") as instance:
        yield instance


@pytest.mark.parametrize(
    ("method_name", "verb", "path"),
    [
        ("list_uploads", "GET", "/v1/files"),
        ("get_upload", "GET", "/v1/files/{id}"),
        ("get_upload", "DELETE", "/v1/files/{id}"),
        ("get_upload", "GET", "/v1/files?after={id}"),
        ("expire_upload", "DELETE", "/v1/files/{id}"),
        ("live_duplicate", "POST", "/v1/files/uploads"),
    ],
)
async def test_a_database_failure_after_auth_answers_503_on_every_files_route(
    app: App, method_name: str, verb: str, path: str
) -> None:
    async with app.client() as client:
        created = await client.post(
            "/v1/files/uploads", headers=auth(app.key), files={"file": png_bytes()}
        )
        file_id = created.json()["id"]
        app.fail_repo(method_name)
        files = {"file": png_bytes()} if verb == "POST" else None
        response = await client.request(
            verb, path.format(id=file_id), headers=auth(app.key), files=files
        )
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_unavailable"
    assert response.headers["Retry-After"]
