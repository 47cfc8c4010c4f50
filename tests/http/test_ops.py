"""Health, readiness, the OpenAPI document and the error shape of unknown routes."""

from __future__ import annotations

import requests
from starlette.routing import Route

from imghost.app import ROUTES
from tests.conftest import Server, auth, png_bytes


def test_healthz_and_readyz(server: Server) -> None:
    assert requests.get(server.url + "/healthz").json() == {"status": "ok"}
    ready = requests.get(server.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "store": "ok", "disk": "ok"}


def test_openapi_documents_every_route_and_method(server: Server) -> None:
    document = requests.get(server.url + "/openapi.json").json()
    assert document["openapi"].startswith("3.")
    for route in ROUTES:
        if not isinstance(route, Route):
            continue  # the /static mount: files, not an API
        assert route.path in document["paths"], route.path
        documented = set(document["paths"][route.path])
        assert {m.lower() for m in route.methods or ()} - {"head", "options"} <= documented
    upload = document["paths"]["/api/upload"]["post"]
    for status in ("400", "401", "403", "413", "415", "422", "503"):
        schema = upload["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}


def test_unknown_route_and_wrong_method_use_the_envelope(server: Server) -> None:
    missing = requests.get(server.url + "/nope")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong = requests.get(server.url + "/api/upload")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"


def test_options_and_405_list_every_method_of_the_path(server: Server, user_key: str) -> None:
    path = server.url + "/v1/files/file-abc"
    options = requests.options(path)
    assert options.status_code == 204
    assert options.headers["Allow"] == "DELETE, GET, HEAD, OPTIONS"
    wrong = requests.put(path, headers=auth(user_key))
    assert wrong.status_code == 405
    assert set(wrong.headers["Allow"].split(", ")) == {"DELETE", "GET", "HEAD", "OPTIONS"}
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    keys = requests.post(server.url + "/api/keys/key_x", headers=auth(user_key))
    assert set(keys.headers["Allow"].split(", ")) == {"PATCH", "DELETE", "OPTIONS"}


def test_an_image_url_with_a_slash_added_is_not_found(server: Server, user_key: str) -> None:
    url = requests.post(
        server.url + "/api/upload", headers=auth(user_key), files={"file": png_bytes(5, 6)}
    ).json()["data"]
    assert requests.get(url).status_code == 200
    slashed = requests.get(url + "/", allow_redirects=False)
    assert slashed.status_code == 404
    assert slashed.json()["code"] == "not_found"
