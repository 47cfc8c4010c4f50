"""The app in this process through httpx's ASGI transport: for faults that a real server cannot
be made to have at a chosen point of a request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from imghost.app import create_app
from imghost.http.services import Services
from imghost.keys import issue_key
from imghost.repo.base import RepoUnavailable
from imghost.repo.sql import SqlRepo
from imghost.settings.runtime import with_defaults
from imghost.settings.startup import load_config
from tests.conftest import auth, png_bytes


class App:
    def __init__(self, data_dir: Path) -> None:
        config = load_config({"data_dir": str(data_dir)}, environ={})
        data_dir.mkdir(parents=True, exist_ok=True)
        setup = SqlRepo.connect(config.database_url, migrate=True)
        self.key, _ = issue_key(setup, with_defaults({}), name="in-process", role="user")
        setup.close()
        self.asgi = create_app(config)
        self.starlette = self.asgi.app.app  # type: ignore[attr-defined]
        self.services: Services = self.starlette.state.services

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.asgi)
        return httpx.AsyncClient(transport=transport, base_url="http://imghost.test")

    def fail_repo(self, method: str) -> None:
        """Make one Repo method fail as a database that went away does."""

        def unavailable(*_args: Any, **_kwargs: Any) -> Any:
            raise RepoUnavailable("connection refused")

        setattr(self.services.repo, method, unavailable)


pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    instance = App(tmp_path / "data")
    # The app's own start-up and shut-down, as a server runs them around its requests.
    async with instance.starlette.router.lifespan_context(instance.starlette):
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
