"""Each screenshot tool's configuration, interpreted the way the tool reads it (request URL,
headers, form fields, where the URL and the error are in the answer), against a real server."""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from tests.commands import required_command
from tests.conftest import IMGHOST, Server, png_bytes


def written(tool: str, server: Server, key: str, *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        [*IMGHOST, "integrations", tool, "--server", server.url, "--key", key, *extra],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def json_path(answer: dict[str, Any], path: list[str]) -> Any:
    for name in path:
        answer = answer[name]
    return answer


def sharex_upload(config: dict[str, Any], image: bytes) -> str:
    """ShareX: the request its custom uploader sends, and its `{json:…}` syntax on the answer."""
    assert config["Body"] == "MultipartFormData"
    response = requests.request(
        config["RequestMethod"],
        config["RequestURL"],
        headers=config["Headers"],
        data=config.get("Arguments", {}),
        files={config["FileFormName"]: ("screenshot.png", image, "image/png")},
        timeout=60,
    )
    syntax = config["URL"] if response.ok else config["ErrorMessage"]
    found = re.fullmatch(r"\{json:([\w.]+)\}", syntax)
    assert found is not None
    return str(json_path(response.json(), found[1].split(".")))


def upic_upload(config: dict[str, Any], image: bytes) -> str:
    """uPic: its custom host's nested JSON settings, `bodys` as form fields, `resultPath`."""
    assert config["type"] == "custom"
    data = json.loads(config["data"])
    headers = {pair["key"]: pair["value"] for pair in json.loads(data["headers"])}
    fields = {pair["key"]: pair["value"] for pair in json.loads(data["bodys"])}
    response = requests.request(
        data["method"],
        data["url"],
        headers=headers,
        data=fields,
        files={data["field"]: ("screenshot.png", image, "image/png")},
        timeout=60,
    )
    response.raise_for_status()
    return data["domain"] + str(json_path(response.json(), json.loads(data["resultPath"])))


def picgo_upload(config: dict[str, Any], image: bytes) -> str:
    """PicGo's web-uploader plugin: headers and extra fields as JSON text, a dotted jsonPath."""
    uploader = config["picBed"][config["picBed"]["uploader"]]
    response = requests.post(
        uploader["url"],
        headers=json.loads(uploader["customHeader"]),
        data=json.loads(uploader["customBody"] or "{}"),
        files={uploader["paramName"]: ("screenshot.png", image, "image/png")},
        timeout=60,
    )
    response.raise_for_status()
    return str(json_path(response.json(), uploader["jsonPath"].split(".")))


UPLOADERS = {"sharex": sharex_upload, "upic": upic_upload, "picgo": picgo_upload}

PICGO_ENV = "IMGHOST_TEST_PICGO"


@pytest.fixture(scope="module")
def picgo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PicGo command line, from the npm registry."""
    npm = required_command("npm", PICGO_ENV, "Debian's npm package")
    folder = tmp_path_factory.mktemp("picgo")
    (folder / "package.json").write_text('{"name": "picgo-cli", "private": true}')
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", "picgo@^3.1"],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return folder / "node_modules/.bin/picgo"


@pytest.mark.parametrize("tool", sorted(UPLOADERS))
def test_the_configuration_uploads_and_finds_the_url(
    tool: str, server: Server, user_key: str
) -> None:
    image = png_bytes(300, 200)
    url = UPLOADERS[tool](written(tool, server, user_key), image)
    served = requests.get(url, timeout=30)
    assert served.status_code == 200
    assert served.content == image


@pytest.mark.parametrize("tool", sorted(UPLOADERS))
def test_a_preset_makes_the_url_that_variants(tool: str, server: Server, user_key: str) -> None:
    url = UPLOADERS[tool](written(tool, server, user_key, "--for", "openai"), png_bytes(3000, 2000))
    assert url.endswith(".openai.png")
    with Image.open(io.BytesIO(requests.get(url, timeout=30).content)) as image:
        assert image.size == (1152, 768)


@pytest.mark.parametrize("preset", [None, "openai"])
def test_picgo_itself_uploads_with_the_configuration(
    picgo: Path, server: Server, user_key: str, preset: str | None, tmp_path: Path
) -> None:
    """As the README says: the plugin installed beside the file, then an upload with it."""
    config = tmp_path / "imghost-picgo.json"
    extra = ["--for", preset] if preset else []
    config.write_text(json.dumps(written("picgo", server, user_key, *extra)))

    def run_picgo(*args: str | Path) -> str:
        done = subprocess.run(
            [picgo, "-c", config, *args], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run_picgo("install", "web-uploader")
    image = png_bytes(3000, 2000)
    screenshot = tmp_path / "screenshot.png"
    screenshot.write_bytes(image)
    url = run_picgo("upload", screenshot).strip().splitlines()[-1]
    assert url.startswith(server.url + "/uploads/")
    served = requests.get(url, timeout=30)
    assert served.status_code == 200
    if preset is None:
        assert served.content == image
    else:
        assert url.endswith(".openai.png")
        with Image.open(io.BytesIO(served.content)) as variant:
            assert variant.size == (1152, 768)


def test_sharex_shows_the_servers_message_on_a_refusal(server: Server) -> None:
    config = written("sharex", server, "sk-" + "0" * 48)
    message = sharex_upload(config, png_bytes())
    assert message == "This API key is not known. Check it for typos."


def test_an_unknown_preset_is_refused_before_anything_is_written(
    server: Server, user_key: str
) -> None:
    done = subprocess.run(
        [*IMGHOST, "integrations", "sharex", "--server", server.url, "--key", user_key,
         "--for", "gpt-9"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert "gpt-9" in done.stderr
    assert done.stdout == ""


def test_the_api_answers_the_callers_own_configuration_as_a_file(
    server: Server, user_key: str
) -> None:
    answer = requests.get(
        server.url + "/api/integrations/sharex",
        params={"for": "claude"},
        headers={"Authorization": f"Bearer {user_key}"},
        timeout=30,
    )
    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == 'attachment; filename="imghost.sxcu"'
    assert answer.json() == written("sharex", server, user_key, "--for", "claude")
    unknown = requests.get(
        server.url + "/api/integrations/picasa",
        headers={"Authorization": f"Bearer {user_key}"},
        timeout=30,
    )
    assert unknown.status_code == 404
    assert requests.get(server.url + "/api/integrations/sharex", timeout=30).status_code == 401
