"""`/api/keys` and `/api/stats` on a real server: the admin console's data."""

from __future__ import annotations

import time

import requests

from imghost.settings.runtime import REFRESH_SECONDS
from tests.conftest import Server, auth, png_bytes, unique_png


def api(server: Server, method: str, path: str, key: str, **kwargs: object) -> requests.Response:
    return requests.request(
        method, f"{server.url}/api/{path}", headers=auth(key), timeout=30, **kwargs
    )  # type: ignore[arg-type]


def test_keys_need_an_admin(server: Server, user_key: str) -> None:
    assert api(server, "GET", "keys", user_key).status_code == 403
    assert api(server, "POST", "keys", user_key, json={"name": "x"}).status_code == 403
    assert api(server, "GET", "stats", user_key).json()["code"] == "admin_required"


def test_create_use_disable_update_revoke(server: Server) -> None:
    admin = server.admin_key
    created = api(
        server, "POST", "keys", admin,
        json={"name": "console", "daily_bytes": 10**6, "rpm": 50, "allow_ips": ["127.0.0.1"]},
    )  # fmt: skip
    assert created.status_code == 201
    body = created.json()
    secret, key_id = body["key"], body["id"]
    assert secret.startswith("sk-")
    assert (body["role"], body["daily_bytes"], body["rpm"]) == ("user", 10**6, 50)
    assert body["allow_ips"] == ["127.0.0.1/32"]
    listed = api(server, "GET", "keys", admin).json()["keys"]
    assert any(k["id"] == key_id for k in listed)
    assert all("key" not in k and "key_hash" not in k for k in listed)

    def upload() -> int:
        return requests.post(
            server.url + "/api/upload", headers=auth(secret), files={"file": unique_png()}
        ).status_code

    # Each change reaches the worker that did not make it within the key cache's bound.
    assert upload() == 200
    assert api(server, "PATCH", f"keys/{key_id}", admin, json={"enabled": False}).status_code == 200
    time.sleep(REFRESH_SECONDS)  # the bound under test, not a wait for some work to end
    assert upload() == 403
    changed = api(server, "PATCH", f"keys/{key_id}", admin, json={"enabled": True, "rpm": 0}).json()
    assert (changed["enabled"], changed["rpm"]) == (True, 0)
    time.sleep(REFRESH_SECONDS)
    assert upload() == 200
    assert api(server, "DELETE", f"keys/{key_id}", admin).json() == {"id": key_id, "deleted": True}
    time.sleep(REFRESH_SECONDS)
    assert upload() == 401
    assert api(server, "DELETE", f"keys/{key_id}", admin).status_code == 404


def test_bad_key_fields_are_refused(server: Server) -> None:
    admin = server.admin_key
    for body in (
        {},
        {"name": ""},
        {"name": "x", "role": "root"},
        {"name": "x", "rpm": -1},
        {"name": "x", "allow_ips": ["nope"]},
        {"name": "x", "colour": "red"},
    ):
        response = api(server, "POST", "keys", admin, json=body)
        assert response.status_code == 400, body
        assert response.json()["code"] == "invalid_key_field"


def test_stats_count_todays_uploads(own_server: Server) -> None:
    server = own_server.start()
    key, key_id = server.new_key()
    sizes = []
    for _ in range(3):
        data = unique_png()
        sizes.append(len(data))
        requests.post(server.url + "/api/upload", headers=auth(key), files={"file": data})
    stats = api(server, "GET", "stats", server.admin_key).json()
    assert len(stats["days"]) == 30
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert stats["days"][-1] == {"day": today, "uploads": 3, "bytes": sum(sizes)}
    assert stats["top_keys"][0] == {
        "key_id": key_id,
        "name": "test",
        "uploads": 3,
        "bytes": sum(sizes),
    }
    assert stats["stores"] == [{"store": "local", "uploads": 3, "bytes": sum(sizes)}]


def test_out_of_range_key_fields_are_refused_and_save_nothing(server: Server) -> None:
    admin = server.admin_key
    target = api(server, "POST", "keys", admin, json={"name": "target"}).json()
    before = api(server, "GET", "keys", admin).json()["keys"]
    huge = 10**20
    # Raw bodies: Python's json module writes NaN and Infinity, which are not JSON.
    for raw in (
        f'{{"name": "x", "daily_bytes": {huge}}}',
        f'{{"name": "x", "rpm": {huge}}}',
        f'{{"name": "x", "rpm": {2**31}}}',
        '{"name": "x", "expires_at": 1e999}',
        '{"name": "x", "expires_at": -1e999}',
        '{"name": "x", "expires_at": 1e300}',
        '{"name": "x", "expires_at": -5}',
        '{"name": "x", "expires_at": true}',
    ):
        for method, path in (("POST", "keys"), ("PATCH", f"keys/{target['id']}")):
            response = api(server, method, path, admin, data=raw)
            assert response.status_code == 400, (raw, response.text)
            assert response.json()["code"] == "invalid_key_field", raw
    for raw in ('{"name": "x", "expires_at": NaN}', '{"name": "x", "rpm": Infinity}'):
        response = api(server, "POST", "keys", admin, data=raw)
        assert response.status_code == 400, (raw, response.text)
        assert response.json()["code"] == "invalid_json"
    assert api(server, "GET", "keys", admin).json()["keys"] == before


def test_disabling_and_revoking_reach_every_worker_within_the_bound(server: Server) -> None:
    """Each worker keeps the keys it has read for up to REFRESH_SECONDS; a change made in
    another process (here the CLI) must be in force on both workers once that has passed."""
    key, key_id = server.new_key()

    def codes() -> list[tuple[int, str]]:
        # Eight requests on new connections: both workers answer some of them.
        answers = [
            requests.post(
                server.url + "/api/upload", headers=auth(key), files={"file": png_bytes()}
            )
            for _ in range(8)
        ]
        return [(a.status_code, a.json().get("code", "")) for a in answers]

    assert {status for status, _ in codes()} == {200}  # cached by whichever worker answered
    server.cli("keys", "disable", key_id)
    time.sleep(REFRESH_SECONDS)
    assert set(codes()) == {(403, "api_key_disabled")}
    server.cli("keys", "enable", key_id)
    time.sleep(REFRESH_SECONDS)
    assert {status for status, _ in codes()} == {200}
    server.cli("keys", "revoke", key_id)
    time.sleep(REFRESH_SECONDS)
    assert set(codes()) == {(401, "invalid_api_key")}
