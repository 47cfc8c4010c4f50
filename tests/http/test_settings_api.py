"""`GET`/`PUT /api/settings` on a real server: admin only, validated, live, all or nothing."""

from __future__ import annotations

import pytest
import requests

from imghost.settings.runtime import RUNTIME_SETTINGS
from tests.conftest import Server, auth, eventually, unique_png


def settings_url(server: Server) -> str:
    return server.url + "/api/settings"


def put(server: Server, changes: dict[str, object]) -> requests.Response:
    return requests.put(settings_url(server), headers=auth(server.admin_key), json=changes)


def current(server: Server) -> dict[str, dict[str, object]]:
    response = requests.get(settings_url(server), headers=auth(server.admin_key))
    assert response.status_code == 200
    return response.json()["settings"]


def upload(server: Server, key: str, data: bytes | None = None) -> requests.Response:
    files = {"file": ("a.png", data or unique_png())}
    return requests.post(server.url + "/api/upload", headers=auth(key), files=files, timeout=30)


def test_settings_need_an_admin_key(server: Server, user_key: str) -> None:
    assert requests.get(settings_url(server)).status_code == 401
    refused = requests.get(settings_url(server), headers=auth(user_key))
    assert refused.status_code == 403
    assert refused.json()["code"] == "admin_required"
    assert requests.put(settings_url(server), headers=auth(user_key), json={}).status_code == 403


def test_every_setting_is_listed_with_its_help(server: Server) -> None:
    listed = current(server)
    assert set(listed) == {s.name for s in RUNTIME_SETTINGS}
    backend = listed["storage.backend"]
    assert backend["default"] == "local"
    assert backend["help"]
    assert isinstance(backend["is_default"], bool)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"limits.max_side": "big"}, "limits.max_side"),
        ({"limits.max_side": 0}, "limits.max_side"),
        ({"storage.backend": "ftp"}, "storage.backend"),
        ({"public_url": "img.example.com"}, "public_url"),
        ({"no.such.setting": 1}, "no.such.setting"),
        ({"storage.remote.extra_fields": {"a": 1}}, "storage.remote.extra_fields"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_saved(
    own_server: Server, changes: dict[str, object], named: str
) -> None:
    server = own_server.start()
    before = current(server)
    response = put(server, {"limits.max_frames": 5, **changes})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_setting"
    assert named in response.json()["message"]
    assert current(server) == before


def test_secrets_are_redacted_and_the_placeholder_keeps_them(own_server: Server) -> None:
    server = own_server.start()
    assert put(server, {"storage.remote.token": "tok-123"}).status_code == 200
    assert current(server)["storage.remote.token"]["value"] == "********"
    assert put(server, {"storage.remote.token": "********"}).status_code == 200
    repo = server.repo()
    assert repo.get_settings()["storage.remote.token"] == "tok-123"
    repo.close()
    assert "tok-123" not in server.cli("settings", "get")


def test_unreachable_storage_is_refused_and_the_old_store_stays(own_server: Server) -> None:
    server = own_server.start()
    key, _ = server.new_key()
    response = put(
        server,
        {
            "storage.backend": "s3",
            "storage.s3.endpoint_url": "http://127.0.0.1:9",
            "storage.s3.bucket": "nowhere",
        },
    )
    assert response.status_code == 400
    assert response.json()["code"] == "storage_check_failed"
    assert "s3" in response.json()["message"]
    assert current(server)["storage.backend"]["value"] == "local"
    stored = upload(server, key)
    assert stored.status_code == 200
    assert requests.get(stored.json()["data"]).status_code == 200


def test_a_change_reaches_both_workers_without_restart(own_server: Server) -> None:
    server = own_server.start()
    key, _ = server.new_key()
    assert put(server, {"public_url": "https://img.example.com"}).status_code == 200

    def all_new() -> bool:
        urls = [upload(server, key).json()["data"] for _ in range(8)]
        return all(url.startswith("https://img.example.com/uploads/") for url in urls)

    assert eventually(all_new)


def test_a_change_reaches_another_instance_on_the_same_database(own_server: Server) -> None:
    first = own_server.start()
    second = Server(first.data_dir, workers=1, admin_key=first.admin_key).start()
    try:
        key, _ = first.new_key()
        assert upload(second, key, unique_png(50, 50)).status_code == 200
        assert put(first, {"limits.max_side": 40}).status_code == 200
        assert eventually(lambda: upload(second, key, unique_png(50, 50)).status_code == 422)
        assert upload(second, key, unique_png(30, 30)).status_code == 200
    finally:
        second.stop()


def test_cli_set_validates_like_the_api(own_server: Server) -> None:
    own_server.data_dir.mkdir(parents=True)
    with pytest.raises(Exception, match="exit status 1"):
        own_server.cli("settings", "set", "limits.max_side=-1")
    own_server.cli("settings", "set", "limits.max_side=100")
    assert own_server.cli("settings", "get", "limits.max_side").strip() == "100"
