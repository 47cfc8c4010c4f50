"""`remote` against local servers shaped like CloudFlare-ImgBed, Lsky Pro and Chevereto."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
import requests

from imghost.store.base import UpstreamRejected
from imghost.store.remote import RemoteSettings, RemoteStore, find_url
from tests.conftest import Server, auth, png_bytes, unique_png
from tests.fakehost import SHAPES, FakeHost, running
from tests.http.test_settings_api import put

KEY = "uploads/2026/11/AbCdEfGhIjKlMnOpQrStUv.png"


@pytest.mark.parametrize(
    ("answer", "path", "found"),
    [
        ({"data": "https://a/x.png"}, "data", "https://a/x.png"),
        ({"data": {"url": "https://a/x.png"}}, "data.url", "https://a/x.png"),
        ([{"src": "/file/x.png"}], "0.src", "/file/x.png"),
        ({"data": {"links": {"url": "u"}}}, "data.links.url", "u"),
    ],
)
def test_find_url(answer: object, path: str, found: str) -> None:
    assert find_url(answer, path) == found


@pytest.mark.parametrize(("answer", "path"), [({}, "data"), ([], "0.src"), ({"data": 3}, "data")])
def test_find_url_misses(answer: object, path: str) -> None:
    with pytest.raises(KeyError):
        find_url(answer, path)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_host_shape_gives_an_absolute_url(shape: str, tmp_path: Path) -> None:
    data = png_bytes()
    source = tmp_path / "a.png"
    source.write_bytes(data)
    with running(FakeHost(shape=shape)) as host:
        settings = RemoteSettings(
            upload_url=host.url + "/api/upload",
            url_path=SHAPES[shape][0],
            token="tok",
            extra_fields={"album": "7"},
        )
        with closing(RemoteStore(settings)) as store:
            location = store.put_file(KEY, source, "image/png")
            assert location.startswith(host.url + "/file/")
            assert host.uploads[0]["authorization"] == "Bearer tok"
            assert b"".join(store.open_range(location, 0, len(data))) == data
            assert store.public_url(location) == location
    assert not source.exists()


def test_upstream_errors_carry_its_status_and_message(tmp_path: Path) -> None:
    source = tmp_path / "a.png"
    source.write_bytes(png_bytes())
    with running(FakeHost(fail_with=(507, {"message": "disk full"}))) as host:
        store = RemoteStore(RemoteSettings(upload_url=host.url + "/upload"))
        with closing(store), pytest.raises(UpstreamRejected, match="507: disk full") as caught:
            store.put_file(KEY, source, "image/png")
    assert caught.value.status == 507


def test_uploads_through_a_remote_host_end_to_end(own_server: Server) -> None:
    # One worker: the process that takes the new settings is the one every upload goes to
    # (with two, a wait for "every worker switched" could be met by one of them).
    own_server.workers = 1
    server = own_server.start()
    key, _ = server.new_key()
    with running(FakeHost(shape="imgbed")) as host:
        changes = {
            "storage.backend": "remote",
            "storage.remote.upload_url": host.url + "/upload",
            "storage.remote.url_path": "0.src",
        }
        assert put(server, changes).status_code == 200

        def remote_url(data: bytes) -> str:
            response = requests.post(
                server.url + "/api/upload", headers=auth(key), files={"file": data}
            )
            assert response.status_code == 200
            return response.json()["data"]

        data = unique_png()
        url = remote_url(data)
        assert url.startswith(host.url + "/file/")
        assert requests.get(url).content == data
        probes = len(host.uploads)

        refused = requests.post(
            server.url + "/api/upload", headers=auth(key), files={"file": b"<html></html>"}
        )
        assert refused.status_code == 415
        assert len(host.uploads) == probes, "a rejected file was forwarded"

        host.fail_with = (500, {"error": "quota exceeded"})
        failed = requests.post(
            server.url + "/api/upload", headers=auth(key), files={"file": unique_png()}
        )
    assert failed.status_code == 502
    assert failed.json()["code"] == "storage_rejected"
    assert "500" in failed.json()["message"]
    assert "quota exceeded" in failed.json()["message"]
    repo = server.repo()
    assert [u.id for u in repo.stale_pending(float("inf"))] == []
    repo.close()


def test_another_imghost_as_the_remote(own_server: Server, server: Server, user_key: str) -> None:
    own_server.workers = 1  # as above: the settings apply to the very next request
    front = own_server.start()
    key, _ = front.new_key()
    changes = {
        "storage.backend": "remote",
        "storage.remote.upload_url": server.url + "/api/upload",
        "storage.remote.token": user_key,
    }
    assert put(front, changes).status_code == 200

    def url() -> str:
        response = requests.post(
            front.url + "/api/upload", headers=auth(key), files={"file": unique_png()}
        )
        assert response.status_code == 200
        return response.json()["data"]

    stored = url()
    assert stored.startswith(server.url + "/uploads/")
    assert requests.get(stored).headers["content-type"] == "image/png"
