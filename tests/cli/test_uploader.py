"""`imghost upload`: the real CLI, as a subprocess, against a real server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import requests
from PIL import Image

from imghost.cli.uploader import Failed, find_files, result_of
from imghost.vision.presets import PRESETS
from tests.conftest import Server, auth, jpeg_bytes, unique_png
from tests.http.test_settings_api import put

UPLOAD = [sys.executable, "-m", "imghost", "upload"]
SMALL_LIMIT = 16 * 1024


def run_upload(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI with only the given IMGHOST_* variables, whatever the caller's shell holds."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("IMGHOST_")}
    return subprocess.run(
        [*UPLOAD, *args], capture_output=True, text=True, env={**clean, **env}, timeout=120
    )


def noise_png(width: int, height: int) -> bytes:
    """Random pixels barely compress: a PNG about width x height x 3 bytes."""
    buffer = io.BytesIO()
    Image.effect_noise((width, height), 90).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def server_message(server: Server, key: str, path: Path) -> dict[str, Any]:
    """What the server itself answers for `path`: the message the CLI must pass on."""
    with path.open("rb") as stream:
        response = requests.post(
            server.url + "/v1/files/uploads",
            headers=auth(key),
            files={"file": (path.name, stream)},
            timeout=30,
        )
    assert response.status_code >= 400
    return response.json()["error"]


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_folders_are_walked_for_images_and_named_files_always_taken(tmp_path: Path) -> None:
    a = write(tmp_path / "tree" / "a.PNG", b"x")
    write(tmp_path / "tree" / "notes.txt", b"x")
    c = write(tmp_path / "tree" / "sub" / "c.webp", b"x")
    b = write(tmp_path / "tree" / "b.jpeg", b"x")
    text = write(tmp_path / "readme.txt", b"x")
    found = find_files([tmp_path / "tree", text, a])
    # Sorted within the folder; `a` named again is not sent twice.
    assert [file.path for file in found] == [a, b, c, text]


def test_a_folder_tree_with_one_file_over_the_limit(own_server: Server, tmp_path: Path) -> None:
    own_server.workers = 1  # the PUT's worker is the only one: the new limit holds at once
    server = own_server.start()
    assert put(server, {"limits.max_upload_bytes": SMALL_LIMIT}).status_code == 200
    key, _ = server.new_key()
    tree = tmp_path / "tree"
    good = [
        write(tree / "a.png", unique_png(40, 30)),
        write(tree / "b.jpg", jpeg_bytes(48, 32)),
        write(tree / "nested" / "deeper" / "c.png", unique_png(20, 20)),
    ]
    big = write(tree / "big.png", noise_png(120, 100))
    write(tree / "notes.txt", b"not an image, and not sent")
    assert big.stat().st_size > SMALL_LIMIT > max(path.stat().st_size for path in good)

    result = run_upload(str(tree), "--server", server.url, "--key", key, "--jobs", "3")

    assert result.returncode == 1, result.stderr
    urls = result.stdout.splitlines()
    assert len(urls) == len(good)  # in walk order: a.png, b.jpg, (big.png failed), nested/c.png
    for path, url in zip(good, urls, strict=True):
        fetched = requests.get(url, timeout=10)
        assert fetched.status_code == 200
        assert fetched.content == path.read_bytes()
    refusal = server_message(server, key, big)
    assert refusal["code"] == "file_too_large"
    assert "1 of 4 upload(s) failed" in result.stderr
    assert f"{big}: {refusal['message']} (413 file_too_large)" in result.stderr
    assert "notes.txt" not in result.stdout + result.stderr


def test_a_named_text_file_is_sent_and_refused(
    server: Server, user_key: str, tmp_path: Path
) -> None:
    notes = write(tmp_path / "notes.txt", b"Just some text, certainly not an image.\n" * 4)
    result = run_upload(str(notes), "--server", server.url, "--key", user_key)
    assert result.returncode == 1
    assert result.stdout == ""
    refusal = server_message(server, user_key, notes)
    assert f"{notes}: {refusal['message']} (415 {refusal['code']})" in result.stderr


def test_json_lines_carry_results_and_refusals(
    server: Server, user_key: str, tmp_path: Path
) -> None:
    image = write(tmp_path / "pic.png", unique_png(33, 22))
    notes = write(tmp_path / "notes.txt", b"plain text " * 10)
    result = run_upload(str(image), str(notes), "--json", "--server", server.url, "--key", user_key)
    assert result.returncode == 1
    uploaded, refused = json_lines(result.stdout)

    # Without --for the line is as it always was.
    assert list(uploaded) == ["path", "ok", "id", "url", "size", "mime_type"]
    assert uploaded["path"] == str(image)
    assert uploaded["ok"] is True
    assert uploaded["id"].startswith("file-")
    assert uploaded["size"] == image.stat().st_size
    assert uploaded["mime_type"] == "image/png"
    assert requests.get(uploaded["url"], timeout=10).content == image.read_bytes()

    expected = server_message(server, user_key, notes)
    assert refused == {
        "path": str(notes),
        "ok": False,
        "status": 415,
        "code": expected["code"],
        "message": expected["message"],
    }


def test_a_missing_key_is_a_usage_error(server: Server, tmp_path: Path) -> None:
    image = write(tmp_path / "pic.png", unique_png())
    result = run_upload(str(image), "--server", server.url)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--key" in result.stderr
    assert "IMGHOST_KEY" in result.stderr


def test_key_and_server_from_the_environment(server: Server, user_key: str, tmp_path: Path) -> None:
    image = write(tmp_path / "pic.gif", b"")
    Image.new("P", (7, 5), 3).save(image, format="GIF")
    result = run_upload(str(image), IMGHOST_KEY=user_key, IMGHOST_SERVER=server.url)
    assert result.returncode == 0, result.stderr
    (url,) = result.stdout.splitlines()
    assert requests.get(url, timeout=10).content == image.read_bytes()


def test_expires_in(server: Server, user_key: str, tmp_path: Path) -> None:
    image = write(tmp_path / "short.png", unique_png(21, 13))
    before = time.time()
    result = run_upload(
        str(image), "--expires-in", "60", "--json", "--server", server.url, "--key", user_key
    )
    after = time.time()
    assert result.returncode == 0, result.stderr
    (line,) = json_lines(result.stdout)
    described = requests.get(
        f"{server.url}/v1/files/{line['id']}", headers=auth(user_key), timeout=10
    )
    assert described.status_code == 200
    # expires_at is whole seconds: created within [before, after], plus 60.
    assert int(before) + 60 <= described.json()["expires_at"] <= after + 60


def test_for_a_preset_prints_its_variants_url(
    server: Server, user_key: str, tmp_path: Path
) -> None:
    photo = write(tmp_path / "photo.jpg", jpeg_bytes(2000, 1500))
    result = run_upload(str(photo), "--for", "claude", "--server", server.url, "--key", user_key)
    assert result.returncode == 0, result.stderr
    (url,) = result.stdout.splitlines()
    assert url.endswith(".claude.jpg")
    fetched = requests.get(url, timeout=30)
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(fetched.content)) as image:
        assert image.size == PRESETS["claude"].plan(2000, 1500).size
        assert image.width < 2000  # resized for Anthropic, not the original

    # JSON lines keep the original's URL and add the variant's, made before the answer.
    diagram = write(tmp_path / "diagram.png", unique_png(1800, 1200))
    result = run_upload(
        str(diagram), "--for", "openai", "--json", "--server", server.url, "--key", user_key
    )
    assert result.returncode == 0, result.stderr
    (line,) = json_lines(result.stdout)
    assert line["variant_url"].endswith(".openai.png")
    described = requests.get(
        f"{server.url}/v1/files/{line['id']}", headers=auth(user_key), timeout=10
    ).json()
    assert line["url"] == described["url"]
    variant = described["variants"]["openai"]
    assert variant["url"] == line["variant_url"]
    assert variant["bytes"] is not None  # made at upload, not on its first GET
    fetched = requests.get(line["variant_url"], timeout=30)
    assert len(fetched.content) == variant["bytes"]
    with Image.open(io.BytesIO(fetched.content)) as image:
        assert image.size == (variant["width"], variant["height"]) == (1152, 768)


def test_an_unknown_preset_is_refused_with_the_servers_message(
    server: Server, user_key: str, tmp_path: Path
) -> None:
    image = write(tmp_path / "pic.png", unique_png(30, 20))
    refused = requests.post(
        server.url + "/v1/files/uploads",
        headers=auth(user_key),
        files={"file": (image.name, image.read_bytes())},
        data={"variants": "gpt-9"},
        timeout=30,
    )
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "invalid_preset"

    result = run_upload(str(image), "--for", "gpt-9", "--server", server.url, "--key", user_key)
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"{image}: {error['message']} (400 invalid_preset)" in result.stderr
    assert "claude" in error["message"]  # the server names the presets there are


def test_a_server_that_makes_no_such_variant_is_a_failure(tmp_path: Path) -> None:
    """A server older than variants answers the file object without them: say so."""
    file = {"id": "file-x", "url": "http://img/x.png", "size": 3, "mime_type": "image/png"}
    result = result_of(tmp_path / "x.png", httpx.Response(200, json=file), "claude")
    assert isinstance(result, Failed)
    assert result.code == "no_variant"
    assert "http://img/x.png" in result.message
    assert "'claude'" in result.message
