"""Health, readiness, the OpenAPI document and the error shape of unknown routes."""

from __future__ import annotations

import requests
from starlette.routing import Route

from imghost.app import ROUTES
from tests.conftest import Server


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
        assert {m.lower() for m in route.methods or ()} - {"head"} <= documented
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
