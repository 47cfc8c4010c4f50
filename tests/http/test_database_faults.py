"""A database that fails after the key was checked: every route answers 503, never 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import Server, auth, unique_png
from tests.postgres import NO_POSTGRES, POSTGRES_URL, postgres_schema_url

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)

# The server's statements give up after waiting this long for a lock, as they do on a database
# whose operator set a lock_timeout.
LOCK_TIMEOUT_MS = 1000


@pytest.fixture
def postgres_server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    with postgres_schema_url(POSTGRES_URL) as url:
        options = make_url(url).query["options"]
        app_url = make_url(url).update_query_dict(
            {"options": f"{options} -clock_timeout={LOCK_TIMEOUT_MS}"}
        )
        env = {"IMGHOST_DATABASE_URL": app_url.render_as_string(hide_password=False)}
        server = Server(tmp_path / "data", workers=1, env=env).start()
        try:
            yield server, url
        finally:
            server.stop()


def test_a_locked_uploads_table_answers_503_on_every_files_route(
    postgres_server: tuple[Server, str],
) -> None:
    server, url = postgres_server
    headers = auth(server.admin_key)
    stored = requests.post(
        server.url + "/v1/files/uploads", headers=headers, files={"file": unique_png()}
    )
    assert stored.status_code == 200, stored.text
    file_id = stored.json()["id"]
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    try:
        with engine.begin() as conn:
            # Keys and settings stay readable, so the key is checked; the routes' own
            # statements on the uploads table then fail.
            conn.execute(text("LOCK TABLE uploads IN ACCESS EXCLUSIVE MODE"))
            answers = {
                "list": requests.get(server.url + "/v1/files", headers=headers),
                "get": requests.get(f"{server.url}/v1/files/{file_id}", headers=headers),
                "list after": requests.get(
                    f"{server.url}/v1/files?after={file_id}", headers=headers
                ),
                "upload": requests.post(
                    server.url + "/v1/files/uploads", headers=headers, files={"file": unique_png()}
                ),
                "stats": requests.get(server.url + "/api/stats", headers=headers),
            }
    finally:
        engine.dispose()
    for route, response in answers.items():
        assert response.status_code == 503, (route, response.text)
        body = response.json()
        code = body["error"]["code"] if route != "stats" else body["code"]
        assert code == "database_unavailable"
        assert response.headers["retry-after"] == "5"
    assert requests.get(f"{server.url}/v1/files/{file_id}", headers=headers).status_code == 200
