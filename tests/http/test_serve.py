"""`GET`/`HEAD /uploads/…`: immutable caching, validators, ranges, lock-down headers, 404s."""

from __future__ import annotations

import http.client

import pytest
import requests

from tests.conftest import Server, auth, jpeg_bytes


@pytest.fixture(scope="module")
def image(server: Server, user_key: str) -> tuple[str, bytes]:
    data = jpeg_bytes(320, 240)
    response = requests.post(
        server.url + "/api/upload", headers=auth(user_key), files={"file": ("a.jpg", data)}
    )
    url = response.json()["data"]
    return url, requests.get(url).content


def test_headers_of_an_image(image: tuple[str, bytes]) -> None:
    url, body = image
    response = requests.get(url)
    assert response.status_code == 200
    assert response.content == body
    headers = response.headers
    assert headers["content-type"] == "image/jpeg"
    assert headers["content-length"] == str(len(body))
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert headers["access-control-allow-origin"] == "*"
    assert headers["accept-ranges"] == "bytes"
    assert headers["last-modified"].endswith("GMT")
    etag = headers["etag"]
    assert etag.startswith('"')
    assert not etag.startswith("W/")
    assert len(etag) == 66


def test_head_has_headers_and_no_body(image: tuple[str, bytes]) -> None:
    url, body = image
    response = requests.head(url)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(body))
    assert response.content == b""


def test_if_none_match_gives_304(image: tuple[str, bytes]) -> None:
    url, _ = image
    etag = requests.get(url).headers["etag"]
    for value in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = requests.get(url, headers={"If-None-Match": value})
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == etag
    assert requests.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_range_requests(image: tuple[str, bytes]) -> None:
    url, body = image
    response = requests.get(url, headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.content == body[10:20]
    assert response.headers["content-range"] == f"bytes 10-19/{len(body)}"
    suffix = requests.get(url, headers={"Range": "bytes=-5"})
    assert suffix.status_code == 206
    assert suffix.content == body[-5:]
    assert_ranges_follow_rfc_9110(url, body)


def assert_ranges_follow_rfc_9110(url: str, body: bytes) -> None:
    """Invalid range sets are ignored (200, the whole image); valid ones that select nothing
    are a 416 with the envelope; several ranges get the whole image."""
    for ignored in (
        "bytes=5-1",
        "bytes=abc",
        "items=0-5",
        "bytes=-",
        "bytes=0-1,5-9",
        "bytes=" + "9" * 5000 + "-",
    ):
        whole = requests.get(url, headers={"Range": ignored})
        assert whole.status_code == 200, ignored
        assert whole.content == body, ignored
    for unsatisfiable in (f"bytes={len(body)}-", f"bytes={len(body) + 10}-20000000", "bytes=-0"):
        beyond = requests.get(url, headers={"Range": unsatisfiable})
        assert beyond.status_code == 416, unsatisfiable
        assert beyond.headers["content-range"] == f"bytes */{len(body)}"
        assert beyond.headers["content-type"] == "application/json"
        assert beyond.json()["code"] == "range_not_satisfiable"


@pytest.mark.parametrize(
    "path",
    [
        "/uploads/2026/11/AAAAAAAAAAAAAAAAAAAAAA.png",
        "/uploads/2026/11/notanid.png",
        "/uploads/../imghost.db",
        "/uploads/2026/11/..%2F..%2Fimghost.db",
        "/uploads/2026/11/%2e%2e%2f%2e%2e%2fimghost.db",
        "/uploads/%2e%2e/%2e%2e/imghost.db",
        "/uploads/2026/../../imghost.db",
        "/uploads/2026/11/..\\..\\imghost.db",
        "/uploads/2026/11/x.png%00.jpg",
        "/uploads/tmp/x/y.png",
        "/imghost.db",
        "/data/imghost.db",
    ],
)
def test_unknown_and_traversal_paths_are_404(server: Server, path: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest("GET", path, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 404
    assert b"SQLite" not in body
    assert b'"success":false' in body.replace(b" ", b"")


def test_same_id_under_another_month_or_extension_is_404(image: tuple[str, bytes]) -> None:
    url, _ = image
    prefix, _, name = url.rpartition("/")
    assert requests.get(f"{prefix}/{name[:-4]}.png").status_code == 404
    base, _, month = prefix.rpartition("/")
    other_month = "01" if month != "01" else "02"
    assert requests.get(f"{base}/{other_month}/{name}").status_code == 404
