"""The `/v1` upload API on a real server: ingest three ways, list/get/delete, expiry, dedup."""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image
from sqlalchemy import update

from imghost.repo.schema import uploads
from tests.conftest import Server, auth, jpeg_bytes, png_bytes
from tests.http.test_settings_api import put

FILE_FIELDS = {
    "id", "object", "bytes", "created_at", "expires_at", "filename", "purpose", "status",
    "url", "mime_type", "source_format", "size", "width", "height", "frames", "blake3",
    "key_id", "variants", "vision",
}  # fmt: skip


def v1(server: Server, key: str, path: str, **kwargs: Any) -> requests.Response:
    method = kwargs.pop("method", "POST")
    return requests.request(
        method, f"{server.url}/v1/{path}", headers=auth(key), timeout=30, **kwargs
    )


def assert_openai_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["type"]


def test_multipart_upload_answers_a_file_object(server: Server, user_key: str) -> None:
    before = time.time()
    response = v1(
        server, user_key, "files/uploads",
        files={"file": ("cat.png", png_bytes(40, 30))}, data={"purpose": "vision"},
    )  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert set(body) == FILE_FIELDS
    assert body["id"].startswith("file-")
    assert body["object"] == "file"
    assert (body["mime_type"], body["width"], body["height"], body["frames"]) == (
        "image/png",
        40,
        30,
        1,
    )
    assert body["source_format"] == "png"
    assert body["purpose"] == "vision"
    assert body["filename"] == "cat.png"
    assert before + 259200 - 5 <= body["expires_at"] <= time.time() + 259200 + 5
    served = requests.get(body["url"])
    assert served.content == png_bytes(40, 30)
    assert served.headers["etag"] == f'"{body["blake3"]}"'
    assert body["size"] == body["bytes"] == len(served.content)


def test_base64_bare_data_url_and_url_safe(server: Server, user_key: str) -> None:
    data = png_bytes(17, 9)
    encoded = base64.b64encode(data).decode()
    for payload in (
        encoded,
        "data:image/png;base64," + encoded,
        base64.urlsafe_b64encode(data).decode(),
        "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76)),
    ):
        response = v1(server, user_key, "files/uploads/base64", json={"data": payload})
        assert response.status_code == 200, response.text
        assert requests.get(response.json()["url"]).content == data


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        ("not base64 at all!", 400, "invalid_base64"),
        ("data:image/png,raw", 400, "invalid_base64"),
        ("éAAA", 400, "invalid_base64"),
        ("iVBORw0" + "é" * 5, 400, "invalid_base64"),
        ("", 400, "missing_data"),
        (base64.b64encode(b"<html>hi</html>").decode(), 415, "unsupported_type"),
    ],
)
def test_base64_errors(server: Server, user_key: str, data: str, status: int, code: str) -> None:
    assert_openai_error(
        v1(server, user_key, "files/uploads/base64", json={"data": data}), status, code
    )


def test_base64_longer_than_the_limit_is_refused_before_decoding(own_server: Server) -> None:
    own_server.workers = 1
    server = own_server.start()
    key, _ = server.new_key()
    assert put(server, {"limits.max_upload_bytes": 3000}).status_code == 200
    too_long = "A" * 4004
    response = v1(server, key, "files/uploads/base64", json={"data": too_long})
    assert_openai_error(response, 413, "file_too_large")


@contextmanager
def image_server(body: bytes) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_url_ingest_refuses_loopback_by_default(server: Server, user_key: str) -> None:
    with image_server(png_bytes()) as origin:
        response = v1(server, user_key, "files/uploads/url", json={"url": origin + "/a.png"})
    assert_openai_error(response, 400, "url_forbidden")


def test_url_ingest_with_the_intranet_setting(own_server: Server) -> None:
    own_server.workers = 1
    server = own_server.start()
    key, _ = server.new_key()
    photo = jpeg_bytes(50, 40)
    with image_server(photo) as origin:
        port = int(origin.rsplit(":", 1)[1])
        changes = {"fetch.allow_private": True, "fetch.ports": [port]}
        assert put(server, changes).status_code == 200
        response = v1(server, key, "files/uploads/url", json={"url": origin + "/photo.jpg"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["mime_type"] == "image/jpeg"
        assert body["filename"] == "photo.jpg"
        assert requests.get(body["url"]).content == photo
    with image_server(b"<html></html>") as origin:
        port = int(origin.rsplit(":", 1)[1])
        assert put(server, {"fetch.ports": [port]}).status_code == 200
        response = v1(server, key, "files/uploads/url", json={"url": origin + "/x.png"})
    assert_openai_error(response, 415, "url_not_image")


def test_expires_in(server: Server, user_key: str) -> None:
    response = v1(
        server,
        user_key,
        "files/uploads",
        files={"file": png_bytes(3, 3)},
        data={"expires_in": "60"},
    )
    assert abs(response.json()["expires_at"] - (time.time() + 60)) < 5
    for bad in ("-5", "soon", "1.5", "²", str(10**9)):
        refused = v1(
            server,
            user_key,
            "files/uploads",
            files={"file": png_bytes(3, 4)},
            data={"expires_in": bad},
        )
        assert_openai_error(refused, 400, "invalid_expires_in")
    seed = requests.post(
        server.url + "/api/upload", headers=auth(user_key),
        files={"file": png_bytes(3, 5)}, data={"expires_in": "120"},
    )  # fmt: skip
    assert seed.status_code == 200


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=²", "invalid_limit"),
        ("limit=\u0661\u0660", "invalid_limit"),  # Arabic-Indic 10
        ("limit=0", "invalid_limit"),
        ("limit=1e1", "invalid_limit"),
        ("created_after=nan", "invalid_date"),
        ("created_before=inf", "invalid_date"),
        ("created_after=1e999", "invalid_date"),
        ("created_after=²", "invalid_date"),
    ],
)
def test_list_parameters_are_ascii_numbers(
    server: Server, user_key: str, query: str, code: str
) -> None:
    assert_openai_error(v1(server, user_key, f"files?{query}", method="GET"), 400, code)


def test_list_get_delete(own_server: Server) -> None:
    server = own_server.start()
    mine, _ = server.new_key()
    theirs, their_id = server.new_key()
    ids = [
        v1(server, mine, "files/uploads", files={"file": png_bytes(5, n)}).json()["id"]
        for n in range(1, 6)
    ]
    other = v1(server, theirs, "files/uploads", files={"file": png_bytes(5, 1)}).json()["id"]
    first = v1(server, mine, "files?limit=2", method="GET").json()
    assert [f["id"] for f in first["data"]] == ids[::-1][:2]
    assert first["has_more"] is True
    rest = v1(server, mine, f"files?limit=10&after={first['last_id']}", method="GET").json()
    assert [f["id"] for f in rest["data"]] == ids[::-1][2:]
    assert rest["has_more"] is False
    everyone = v1(server, server.admin_key, "files?limit=100", method="GET").json()
    assert {*ids, other} <= {f["id"] for f in everyone["data"]}
    filtered = v1(server, server.admin_key, f"files?key_id={their_id}", method="GET").json()
    assert [f["id"] for f in filtered["data"]] == [other]

    assert_openai_error(v1(server, theirs, f"files/{ids[0]}", method="GET"), 404, "file_not_found")
    described = v1(server, mine, f"files/{ids[0]}", method="GET").json()
    url = described["url"]
    assert requests.get(url).status_code == 200
    assert_openai_error(
        v1(server, theirs, f"files/{ids[0]}", method="DELETE"), 404, "file_not_found"
    )
    deleted = v1(server, mine, f"files/{ids[0]}", method="DELETE").json()
    assert deleted == {"id": ids[0], "object": "file", "deleted": True}
    assert requests.get(url).status_code == 404
    assert_openai_error(v1(server, mine, f"files/{ids[0]}", method="GET"), 404, "file_not_found")


def test_expired_uploads_vanish_at_once_and_the_sweep_removes_them(own_server: Server) -> None:
    server = own_server.start()
    key, _ = server.new_key()
    body = v1(server, key, "files/uploads", files={"file": png_bytes(6, 6)}).json()
    upload_id = body["id"].removeprefix("file-")
    repo = server.repo()
    with repo.engine.begin() as conn:
        conn.execute(
            update(uploads).where(uploads.c.id == upload_id).values(expires_at=time.time() - 1)
        )
    record = repo.get_upload(upload_id)
    repo.close()
    assert record is not None
    assert requests.get(body["url"]).status_code == 404
    assert_openai_error(v1(server, key, f"files/{body['id']}", method="GET"), 404, "file_not_found")
    assert "removed 1 upload(s)" in server.cli("sweep")
    assert not (server.data_dir / record.storage_key).exists()
    repo = server.repo()
    assert repo.get_upload(upload_id) is None
    repo.close()


def stored_file(server: Server, url: str) -> Path:
    """Where the local store keeps the bytes behind one of its URLs."""
    return server.data_dir / urlsplit(url).path.lstrip("/")


def test_same_bytes_again_make_an_upload_of_its_own_sharing_the_bytes(
    server: Server, user_key: str
) -> None:
    other_key, _ = server.new_key()
    data = png_bytes(7, 77)
    first = v1(server, user_key, "files/uploads", files={"file": data}).json()
    again = v1(server, user_key, "files/uploads", files={"file": data}).json()
    theirs = v1(server, other_key, "files/uploads", files={"file": data}).json()
    assert len({first["id"], again["id"], theirs["id"]}) == 3
    assert len({first["url"], again["url"], theirs["url"]}) == 3
    # One key's repeat shares the stored bytes (a second name for the same file), another
    # key's upload never does.
    assert stored_file(server, again["url"]).stat().st_ino == (
        stored_file(server, first["url"]).stat().st_ino
    )
    assert stored_file(server, theirs["url"]).stat().st_ino != (
        stored_file(server, first["url"]).stat().st_ino
    )
    assert v1(server, user_key, f"files/{first['id']}", method="DELETE").status_code == 200
    assert requests.get(first["url"]).status_code == 404
    kept = requests.get(again["url"])
    assert kept.status_code == 200
    assert kept.content == requests.get(theirs["url"]).content
    assert v1(server, user_key, f"files/{again['id']}", method="GET").status_code == 200


def test_a_url_lives_as_long_as_its_own_request_asked(own_server: Server) -> None:
    server = own_server.start()
    key, _ = server.new_key()
    data = png_bytes(7, 78)
    short = v1(server, key, "files/uploads", files={"file": data}, data={"expires_in": "60"})
    seed = requests.post(server.url + "/api/upload", headers=auth(key), files={"file": data})
    assert seed.json()["data"] != short.json()["url"]
    longer = v1(server, key, "files/uploads", files={"file": data}, data={"expires_in": "3600"})
    assert abs(longer.json()["expires_at"] - (time.time() + 3600)) < 5
    assert abs(short.json()["expires_at"] - (time.time() + 60)) < 5

    # The 60 s upload runs out; the seed endpoint's URL (kept forever) and the hour stay.
    repo = server.repo()
    with repo.engine.begin() as conn:
        conn.execute(
            update(uploads)
            .where(uploads.c.id == short.json()["id"].removeprefix("file-"))
            .values(expires_at=time.time() - 1)
        )
    repo.close()
    assert requests.get(short.json()["url"]).status_code == 404
    assert "removed 1 upload(s)" in server.cli("sweep")
    assert requests.get(seed.json()["data"]).content == requests.get(longer.json()["url"]).content
    assert Image.open(io.BytesIO(requests.get(seed.json()["data"]).content)).size == (7, 78)


def test_expires_in_zero_keeps_an_upload_forever_where_allowed(own_server: Server) -> None:
    own_server.workers = 1  # the process that takes the setting is the one that is asked
    server = own_server.start()
    key, _ = server.new_key()
    forever = v1(server, key, "files/uploads", files={"file": png_bytes(4, 9)},
                 data={"expires_in": "0"})  # fmt: skip
    assert forever.status_code == 200, forever.text
    assert forever.json()["expires_at"] is None
    encoded = base64.b64encode(png_bytes(4, 11)).decode()
    as_json = v1(server, key, "files/uploads/base64", json={"data": encoded, "expires_in": 0})
    assert as_json.json()["expires_at"] is None
    assert put(server, {"expiry.allow_forever": False}).status_code == 200
    refused = v1(server, key, "files/uploads", files={"file": png_bytes(4, 10)},
                 data={"expires_in": "0"})  # fmt: skip
    assert_openai_error(refused, 400, "invalid_expires_in")
    assert "forever" not in refused.json()["error"]["message"]


def test_openai_style_errors_on_v1(server: Server) -> None:
    response = requests.post(f"{server.url}/v1/files/uploads", files={"file": png_bytes()})
    assert_openai_error(response, 401, "missing_api_key")


def test_openai_sdk_files_api(server: Server, user_key: str, tmp_path: Any) -> None:
    from openai import OpenAI

    path = tmp_path / "photo.png"
    path.write_bytes(png_bytes(64, 64))
    client = OpenAI(api_key=user_key, base_url=server.url + "/v1", max_retries=0)
    with path.open("rb") as file:
        created = client.files.create(file=file, purpose="vision")
    assert created.id.startswith("file-")
    assert created.filename == "photo.png"
    assert created.bytes == len(png_bytes(64, 64))
    url = created.model_extra["url"]  # type: ignore[index]
    assert Image.open(io.BytesIO(requests.get(url).content)).size == (64, 64)
    assert client.files.retrieve(created.id).id == created.id
    listed = [f.id for f in client.files.list()]
    assert created.id in listed
    assert client.files.delete(created.id).deleted is True
    assert requests.get(url).status_code == 404


def test_deduplication_can_be_switched_off(own_server: Server) -> None:
    own_server.workers = 1
    server = own_server.start()
    key, _ = server.new_key()
    assert put(server, {"images.deduplicate": False}).status_code == 200
    data = png_bytes(8, 88)
    first = v1(server, key, "files/uploads", files={"file": data}).json()
    again = v1(server, key, "files/uploads", files={"file": data}).json()
    assert again["id"] != first["id"]
    assert stored_file(server, again["url"]).stat().st_ino != (
        stored_file(server, first["url"]).stat().st_ino
    )
