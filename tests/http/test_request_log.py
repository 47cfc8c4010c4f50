"""Request ids and the JSON access log, on a real server."""

from __future__ import annotations

import json

import requests

from tests.conftest import Server, auth, eventually, unique_png


def test_every_answer_carries_a_request_id(server: Server, user_key: str) -> None:
    ok = requests.post(
        server.url + "/api/upload", headers=auth(user_key), files={"file": unique_png()}
    )
    assert len(ok.headers["x-request-id"]) >= 8
    refused = requests.post(server.url + "/api/upload", files={"file": unique_png()})
    assert refused.json()["request_id"] == refused.headers["x-request-id"]
    v1 = requests.get(server.url + "/v1/files/file-nope", headers=auth(user_key))
    assert v1.json()["error"]["request_id"] == v1.headers["x-request-id"]
    image = requests.get(ok.json()["data"])
    assert image.headers["x-request-id"] != ok.headers["x-request-id"]


def test_a_callers_request_id_is_kept_if_sane(server: Server) -> None:
    given = requests.get(server.url + "/healthz", headers={"X-Request-Id": "trace-1234abcd"})
    assert given.headers["x-request-id"] == "trace-1234abcd"
    hostile = requests.get(server.url + "/healthz", headers={"X-Request-Id": "<script>"})
    assert hostile.headers["x-request-id"] != "<script>"


def test_one_json_log_line_per_request_naming_the_key_not_showing_it(
    own_server: Server,
) -> None:
    server = own_server.start()
    key, _ = server.new_key()
    response = requests.post(
        server.url + "/api/upload", headers=auth(key), files={"file": unique_png()}
    )
    request_id = response.headers["x-request-id"]

    def logged() -> list[dict[str, object]]:
        return [json.loads(line) for line in server.log().splitlines() if request_id in line]

    # The line is written once the answer has gone out: wait for it to appear.
    assert eventually(lambda: len(logged()) > 0)
    assert key not in server.log()
    lines = logged()
    assert len(lines) == 1
    entry = lines[0]
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/api/upload", 200)
    assert entry["route"] == "/api/upload"
    assert entry["key"] == "test"
    assert entry["duration_ms"] > 0


def test_image_answers_are_logged_once_with_their_status_and_bytes(own_server: Server) -> None:
    """Images sent by pathsend are logged by the fast path itself, others by the request log."""
    server = own_server.start()
    key, _ = server.new_key()
    image = unique_png()
    url = requests.post(server.url + "/api/upload", headers=auth(key), files={"file": image})
    url.raise_for_status()
    whole = requests.get(url.json()["data"])
    etag = whole.headers["etag"]
    answers = {
        "whole": whole,
        "head": requests.head(url.json()["data"]),
        "range": requests.get(url.json()["data"], headers={"Range": "bytes=0-9"}),
        "unchanged": requests.get(url.json()["data"], headers={"If-None-Match": etag}),
        "missing": requests.get(url.json()["data"].replace(".png", ".jpg")),
    }
    expected = {
        "whole": (200, len(whole.content)),
        "head": (200, 0),
        "range": (206, 10),
        "unchanged": (304, 0),
        "missing": (404, int(answers["missing"].headers["content-length"])),
    }
    assert whole.content == image

    def lines_of(response: requests.Response) -> list[dict[str, object]]:
        request_id = response.headers["x-request-id"]
        log = server.log().splitlines()
        return [json.loads(line) for line in log if f'"request_id": "{request_id}"' in line]

    assert eventually(lambda: all(lines_of(r) for r in answers.values()))
    for name, response in answers.items():
        (entry,) = lines_of(response)
        assert (entry["status"], entry["bytes_out"]) == expected[name], name
        assert entry["route"] == "/uploads"
        assert response.status_code == expected[name][0], name
