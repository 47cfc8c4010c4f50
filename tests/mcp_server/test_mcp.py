"""`imghost mcp` as an agent meets it: the real command, spoken to by the official SDK's own
client over stdio and over streamable HTTP, in front of a real imghost server."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult

from imghost.client import BLOCK_KINDS
from imghost.mcp_server.tools import PRESETS_HELP
from imghost.vision.presets import PRESETS
from tests.client.conftest import SITE_PHOTO
from tests.conftest import IMGHOST, Server, free_port, unique_png

pytestmark = pytest.mark.anyio
TOOLS = {"upload_image", "describe_upload", "list_uploads", "delete_upload"}


def agent_env(host: Server, key: str) -> dict[str, str]:
    return {"IMGHOST_SERVER": host.url, "IMGHOST_KEY": key}


def stdio(host: Server, key: str, cwd: Path, *allow: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=IMGHOST[0],
        args=[*IMGHOST[1:], "mcp", *(f"--allow-dir={folder}" for folder in allow)],
        env=agent_env(host, key),
        cwd=cwd,
    )


def answer(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def refusal(result: CallToolResult) -> str:
    """The text of a tool error, which must be a message, never a traceback."""
    assert result.is_error
    text = " ".join(getattr(part, "text", "") for part in result.content)
    assert "Traceback" not in text
    return text


def test_the_descriptions_name_every_preset() -> None:
    for preset in PRESETS:
        assert f"{preset} (" in PRESETS_HELP


async def test_stdio_upload_describe_list_delete(host: Server, key: str, tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    image = unique_png(300, 200)
    (shots / "screenshot.png").write_bytes(image)
    async with Client(stdio(host, key, shots)) as agent:
        listed = await agent.list_tools()
        assert {tool.name for tool in listed.tools} == TOOLS
        upload = next(tool for tool in listed.tools if tool.name == "upload_image")
        assert upload.description is not None
        assert "public" in upload.description
        assert set(upload.input_schema["properties"]) >= {"path", "url", "base64", "preset"}

        # A relative path, from the working folder, which is the default allowed folder.
        made = answer(
            await agent.call_tool("upload_image", {"path": "screenshot.png", "preset": "claude"})
        )
        assert requests.get(made["url"], timeout=30).content == image
        assert made["image_url"] == made["variants"]["claude"]
        assert requests.get(made["image_url"], timeout=30).status_code == 200
        assert made["content_blocks"]["openai-chat"] == {
            "type": "image_url",
            "image_url": {"url": made["image_url"]},
        }
        assert set(made["content_blocks"]) == set(BLOCK_KINDS)
        assert made["token_estimates"]["claude"] > 0
        assert set(made["variants"]) == set(PRESETS)
        assert made["filename"] == "screenshot.png"

        described = answer(await agent.call_tool("describe_upload", {"file_id": made["id"]}))
        assert described["url"] == made["url"]
        assert described["image_url"] == made["url"]  # no preset: the original
        page = answer(await agent.call_tool("list_uploads", {}))
        assert [upload["id"] for upload in page["uploads"]] == [made["id"]]
        assert answer(await agent.call_tool("delete_upload", {"file_id": made["id"]})) == {
            "id": made["id"],
            "deleted": True,
        }
        assert requests.get(made["url"], timeout=30).status_code == 404
        gone = refusal(await agent.call_tool("describe_upload", {"file_id": made["id"]}))
        assert "(404 file_not_found)" in gone
        assert "No such file" in gone


async def test_stdio_refuses_paths_outside_the_allowed_folders(
    host: Server, key: str, tmp_path: Path
) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    secret = tmp_path / "home" / ".ssh" / "id_rsa"
    secret.parent.mkdir(parents=True)
    secret.write_bytes(unique_png())  # an image, even: the folder decides, not the bytes
    (allowed / "link.png").symlink_to(secret)
    (allowed / "notes.txt").write_text("not an image\n" * 10)
    async with Client(stdio(host, key, tmp_path, allowed)) as agent:
        escapes = (secret, "home/.ssh/id_rsa", allowed / "link.png", "allowed/../home/.ssh/id_rsa")
        for path in map(str, escapes):
            text = refusal(await agent.call_tool("upload_image", {"path": path}))
            assert "outside the folders" in text
            assert "(path_not_allowed)" in text
        missing = refusal(await agent.call_tool("upload_image", {"path": "allowed/none.png"}))
        assert "cannot read" in missing
        # Inside, but not an image: imghost's own refusal, with its code.
        text = refusal(await agent.call_tool("upload_image", {"path": "allowed/notes.txt"}))
        assert "(415 unsupported_type)" in text
        both = refusal(await agent.call_tool("upload_image", {"path": "a", "url": "http://b"}))
        assert "exactly one" in both
        assert answer(await agent.call_tool("list_uploads", {}))["uploads"] == []


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "imghost mcp --http exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"imghost mcp --http did not listen on {port}")


@pytest.fixture
def mcp_http(host: Server, key: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, **agent_env(host, key)}
    log = (tmp_path / "mcp.log").open("wb")
    process = subprocess.Popen(
        [*IMGHOST, "mcp", "--http", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


async def test_streamable_http_base64_and_url(mcp_http: str, site: str) -> None:
    image = unique_png(120, 80)
    async with Client(mcp_http) as agent:
        assert {tool.name for tool in (await agent.list_tools()).tools} == TOOLS
        made = answer(
            await agent.call_tool(
                "upload_image",
                {"base64": base64.b64encode(image).decode(), "expires_in": 600},
            )
        )
        assert requests.get(made["url"], timeout=30).content == image
        assert made["expires_at"] == made["created_at"] + 600
        rehosted = answer(
            await agent.call_tool("upload_image", {"url": site + "/cat.jpg", "preset": "gemini"})
        )
        assert requests.get(rehosted["url"], timeout=30).content == SITE_PHOTO
        assert rehosted["content_blocks"]["gemini"] == {
            "file_data": {"mime_type": "image/jpeg", "file_uri": rehosted["variants"]["gemini"]}
        }
        page = answer(await agent.call_tool("list_uploads", {"limit": 1}))
        assert [upload["id"] for upload in page["uploads"]] == [rehosted["id"]]
        assert page["has_more"] is True
        bad = refusal(await agent.call_tool("upload_image", {"base64": "bm90IGFuIGltYWdl"}))
        assert "(415 unsupported_type)" in bad
        preset = refusal(
            await agent.call_tool("upload_image", {"base64": "AAAA", "preset": "gpt-9"})
        )
        assert "invalid_preset" in preset
        json.dumps(made)  # plain JSON, as an agent gets it


def test_a_working_folder_that_holds_home_needs_allow_dir(tmp_path: Path) -> None:
    """Desktop apps may start servers in `/` or `~`: the default must not open `~/.ssh`."""
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(
        [*IMGHOST, "mcp"],
        cwd=tmp_path,
        env={**os.environ, "HOME": str(home), "IMGHOST_KEY": "sk-x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "holds your home folder" in result.stderr
    assert "--allow-dir" in result.stderr
