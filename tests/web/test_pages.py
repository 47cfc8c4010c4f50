"""The upload page and the admin console in a real browser (Debian's Chromium via Playwright).

Needs /usr/bin/chromium and the `playwright` package (`scripts/install-browser.sh` installs
both); without them these tests skip, unless IMGHOST_TEST_BROWSER=1 (CI) makes that a failure.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from imghost.integrations import TOOLS
from imghost.vision.presets import PRESETS
from tests.conftest import ROOT, Server, auth, unique_png
from tests.heif_files import heif_enc
from tests.http.test_variants import photo_jpeg

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_REQUIRED = os.environ.get("IMGHOST_TEST_BROWSER") == "1"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
WEB_DIR = ROOT / "imghost" / "web"
CSP = (
    "default-src 'self'; img-src 'self' data: blob: https: http:; connect-src 'self'; "
    "script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000
TIMES = "\N{MULTIPLICATION SIGN}"  # the pages write sizes as 1270 TIMES 952
# Chrome logs every 4xx/5xx answer as a console error; tests that provoke one allow it.
HTTP_ERROR = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


def _missing_browser() -> str | None:
    if sync_playwright is None:
        return "the playwright package is not installed (run scripts/install-browser.sh)"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (run scripts/install-browser.sh as root)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if reason := _missing_browser():
        if BROWSER_REQUIRED:
            pytest.fail(f"IMGHOST_TEST_BROWSER=1 but {reason}")
        pytest.skip(reason)
    playwright = sync_playwright().start()
    try:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True
        )
        yield instance
        instance.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[Server]:
    """One server for the tests that change no settings (one worker: no cross-worker lag)."""
    instance = Server(tmp_path_factory.mktemp("web") / "data", workers=1).start()
    yield instance
    instance.stop()


@pytest.fixture
def settings_server(own_server: Server, browser: Browser) -> Server:
    own_server.workers = 1  # settings take effect at once in the only worker
    return own_server.start()


@dataclass
class Tab:
    """A page and every console error and uncaught exception it produced."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def unexpected_errors(self, *allowed_statuses: int) -> list[str]:
        def allowed(text: str) -> bool:
            match = HTTP_ERROR.search(text)
            return match is not None and int(match.group(1)) in allowed_statuses

        return [e for e in self.errors if not allowed(e)]


@pytest.fixture
def open_tab(browser: Browser) -> Iterator[Any]:
    contexts = []

    def open_(
        server: Server,
        path: str,
        viewport: dict[str, int] = DESKTOP,
        permissions: list[str] | None = None,
    ) -> Tab:
        context = browser.new_context(
            viewport=viewport, base_url=server.url, permissions=permissions or []
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        tab = Tab(page)
        page.on(
            "console",
            lambda message: tab.errors.append(message.text) if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: tab.errors.append(f"uncaught: {error}"))
        page.goto(path)
        return tab

    yield open_
    for context in contexts:
        context.close()


def screenshot(page: Page, name: str) -> None:
    """A full-page screenshot taken with a viewport as tall as the page, so sticky bars sit
    where a reader scrolled to the end would see them (not over the middle of the page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    viewport = page.viewport_size
    assert viewport is not None
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": max(height, viewport["height"])})
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    finally:
        page.set_viewport_size(viewport)


def upload_through_page(page: Page, name: str, data: bytes, mime: str = "image/png") -> Any:
    """Pick one file; answer the locator of its (new, first) result once it has finished."""
    before = page.locator(".result").count()
    page.set_input_files("#file-input", files=[{"name": name, "mimeType": mime, "buffer": data}])
    expect(page.locator(".result")).to_have_count(before + 1)
    result = page.locator(".result").first
    expect(result).to_have_attribute("data-state", re.compile("done|error"))
    return result


def api_error_message(server: Server, key: str, name: str, data: bytes, mime: str) -> str:
    """What the API itself says about this file (the page must show exactly this)."""
    response = requests.post(
        server.url + "/v1/files/uploads",
        headers=auth(key),
        files={"file": (name, data, mime)},
        timeout=30,
    )
    assert response.status_code >= 400, response.text
    return response.json()["error"]["message"]


def upload_with(server: Server, key: str) -> requests.Response:
    return requests.post(
        server.url + "/v1/files/uploads",
        headers=auth(key),
        files={"file": ("k.png", unique_png(), "image/png")},
        timeout=30,
    )


def open_console(
    open_tab: Any, server: Server, tab_name: str = "keys", viewport: dict[str, int] = DESKTOP
) -> Tab:
    tab = open_tab(server, "/admin", viewport)
    tab.page.fill("#key-input", server.admin_key)
    expect(tab.page.locator("tr[data-key-id]").first).to_be_visible()
    if tab_name != "keys":
        tab.page.click(f"#tab-{tab_name}")
    return tab


# ---- upload page ------------------------------------------------------------------------------


def test_upload_page_file_picker_gives_a_working_url(web_server: Server, open_tab: Any) -> None:
    key, _ = web_server.new_key()
    tab = open_tab(web_server, "/")
    page = tab.page
    page.fill("#key-input", key)
    assert page.evaluate("localStorage.getItem('imghost.key')") == key

    png = unique_png(80, 60)
    result = upload_through_page(page, "red.png", png)
    url = result.locator(".result-url").input_value()
    assert url.startswith(web_server.url + "/uploads/")

    image = requests.get(url, timeout=10)
    assert image.status_code == 200
    assert image.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (80, 60)

    block = json.loads(result.locator(".result-openai").text_content() or "")
    assert block == {"type": "image_url", "image_url": {"url": url}}
    expect(result.locator(".result-preview img")).to_be_visible()
    expect(result.locator("progress")).to_have_count(0)
    # "Expires in: Never" is the default choice and the server keeps the image forever.
    expect(page.locator("#expires option:checked")).to_have_text("Never")
    expect(result).to_contain_text("never expires")
    screenshot(page, "upload")
    page.select_option("#expires", label="1 day")
    day = upload_through_page(page, "day.png", unique_png(80, 61))
    expect(day).to_contain_text("expires in")

    # The key survives a reload and "Forget key" removes it.
    page.reload()
    expect(page.locator("#key-input")).to_have_value(key)
    page.click("#forget-key")
    expect(page.locator("#key-input")).to_have_value("")
    assert page.evaluate("localStorage.getItem('imghost.key')") is None
    assert tab.unexpected_errors() == []


def test_a_heic_from_the_picker_shows_as_the_hosted_jpeg(
    web_server: Server, open_tab: Any, tmp_path: Path
) -> None:
    """Chromium cannot show HEIC: the page previews the hosted JPEG once it is stored."""
    key, _ = web_server.new_key()
    tab = open_tab(web_server, "/")
    tab.page.fill("#key-input", key)
    heic = heif_enc(tmp_path, Image.new("RGB", (72, 40), (30, 90, 200)))
    result = upload_through_page(tab.page, "IMG_0001.HEIC", heic, mime="image/heic")
    expect(result).to_have_attribute("data-state", "done")
    expect(result).to_contain_text("image/jpeg")
    url = result.locator(".result-url").input_value()
    assert url.endswith(".jpg")
    # The preview is the hosted JPEG's small variant, which the browser can show.
    preview = url.removesuffix(".jpg") + ".openai-low.jpg"
    expect(result.locator(f'.result-preview img[src="{preview}"]')).to_be_visible()


def test_upload_page_shows_variants_tokens_and_content_blocks(
    web_server: Server, open_tab: Any
) -> None:
    key, _ = web_server.new_key()
    tab = open_tab(web_server, "/", permissions=["clipboard-read", "clipboard-write"])
    page = tab.page
    page.fill("#key-input", key)
    result = upload_through_page(page, "photo.jpg", photo_jpeg(2400, 1600, seed=7), "image/jpeg")
    expect(result).to_have_attribute("data-state", "done")
    file_id = result.get_attribute("data-file-id")
    described = requests.get(f"{web_server.url}/v1/files/{file_id}", headers=auth(key), timeout=30)
    assert described.status_code == 200
    file = described.json()

    # Every preset, with the pixel size the server plans for it.
    rows = result.locator(".result-variants tbody tr")
    expect(rows).to_have_count(len(PRESETS))
    assert [row.get_attribute("data-preset") for row in rows.all()] == list(PRESETS)
    for preset, variant in file["variants"].items():
        row = result.locator(f'.result-variants tr[data-preset="{preset}"]')
        expect(row.locator(".variant-size")).to_have_text(
            f"{variant['width']}{TIMES}{variant['height']}"
        )
        assert row.locator("a").get_attribute("href") == variant["url"]
    assert file["variants"]["claude"]["width"] < 2400  # the sizes really differ from the original

    # What each model sees and pays, and the server's warnings, word for word.
    vision = file["vision"]
    gpt4o = result.locator('.result-estimates tr[data-model="gpt-4o"]')
    expect(gpt4o.locator(".estimate-tokens")).to_have_text(
        f"{vision['estimates']['gpt-4o']['tokens']:,}"
    )
    seen = vision["estimates"]["gpt-4o"]["seen"]
    expect(gpt4o.locator(".estimate-seen")).to_have_text(f"{seen[0]}{TIMES}{seen[1]}")
    expect(result.locator(".result-estimates tbody tr")).to_have_count(len(vision["estimates"]))
    expect(result.locator(".result-warnings li")).to_have_text(vision["warnings"])

    # The preview loads the small variant, which makes it: its bytes show once it exists.
    low = result.locator('.result-variants tr[data-preset="openai-low"] .variant-bytes')
    expect(low).not_to_have_attribute("data-bytes", "")
    expect(result.locator(".result-preview img")).to_have_attribute(
        "src", file["variants"]["openai-low"]["url"]
    )
    made = requests.get(file["variants"]["openai-low"]["url"], timeout=30)
    assert low.get_attribute("data-bytes") == str(len(made.content))

    def copied(block: str) -> Any:
        button = result.locator(f'[data-copy="{block}"]')
        button.click()
        expect(button).to_have_text("Copied")
        text = page.evaluate("navigator.clipboard.readText()")
        shown = result.locator(f'pre[data-block="{block}"]').text_content() or ""
        assert json.loads(shown) == json.loads(text)
        return json.loads(text)

    original = file["url"]
    assert copied("openai-chat") == {"type": "image_url", "image_url": {"url": original}}

    # Choosing a variant: the URL field and every block take its URL (and Gemini its type).
    claude = file["variants"]["claude"]
    page.select_option(f"#{result.locator('.result-use').get_attribute('id')}", "claude")
    expect(result.locator(".result-url")).to_have_value(claude["url"])
    assert copied("openai-chat") == {"type": "image_url", "image_url": {"url": claude["url"]}}
    assert copied("openai-responses") == {"type": "input_image", "image_url": claude["url"]}
    assert copied("anthropic") == {
        "type": "image",
        "source": {"type": "url", "url": claude["url"]},
    }
    assert copied("gemini") == {"file_data": {"mime_type": "image/jpeg", "file_uri": claude["url"]}}
    expect(result.locator('.result-variants tr[data-preset="claude"]')).to_have_class(
        re.compile(r"\bchosen\b")
    )
    # The page fetched the chosen variant, so it is made and its bytes are known.
    claude_bytes = result.locator('.result-variants tr[data-preset="claude"] .variant-bytes')
    expect(claude_bytes).not_to_have_attribute("data-bytes", "")
    fetched = requests.get(claude["url"], timeout=30)
    assert fetched.status_code == 200
    with Image.open(io.BytesIO(fetched.content)) as image:
        assert image.size == (claude["width"], claude["height"])
    assert claude_bytes.get_attribute("data-bytes") == str(len(fetched.content))
    result.locator(".result-openai-wrap summary").click()
    screenshot(page, "upload-variants")
    assert tab.unexpected_errors() == []


def test_pasted_image_is_uploaded(web_server: Server, open_tab: Any) -> None:
    key, _ = web_server.new_key()
    tab = open_tab(web_server, "/")
    page = tab.page
    page.fill("#key-input", key)
    png = unique_png(30, 20)
    page.evaluate(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], "pasted.png", { type: "image/png" }));
            document.dispatchEvent(
                new ClipboardEvent(
                    "paste", { clipboardData: data, bubbles: true, cancelable: true }
                )
            );
        }""",
        base64.b64encode(png).decode(),
    )
    result = page.locator(".result").first
    expect(result).to_have_attribute("data-state", "done")
    url = result.locator(".result-url").input_value()
    image = requests.get(url, timeout=10)
    assert image.status_code == 200
    assert image.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (30, 20)

    # Dropping files on the zone goes the same way (two at once here).
    page.evaluate(
        """(images) => {
            const data = new DataTransfer();
            images.forEach((b64, i) => {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                data.items.add(new File([bytes], `dropped-${i}.png`, { type: "image/png" }));
            });
            const zone = document.getElementById("drop-zone");
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true }));
        }""",
        [base64.b64encode(unique_png(12 + i, 10)).decode() for i in range(2)],
    )
    expect(page.locator('.result[data-state="done"]')).to_have_count(3)
    for item in page.locator(".result").all()[:2]:
        dropped = requests.get(item.locator(".result-url").input_value(), timeout=10)
        assert dropped.status_code == 200
    assert tab.unexpected_errors() == []


def test_console_refuses_a_user_key_with_the_servers_message(
    web_server: Server, open_tab: Any
) -> None:
    key, _ = web_server.new_key()
    refused = requests.get(web_server.url + "/api/keys", headers=auth(key), timeout=10)
    assert refused.status_code == 403
    tab = open_tab(web_server, "/admin")
    expect(tab.page.locator("#console-message")).to_contain_text("admin API key")
    tab.page.fill("#key-input", key)
    expect(tab.page.locator("#console-message")).to_have_text(refused.json()["message"])
    expect(tab.page.locator("#console-message")).to_have_class(re.compile(r"\berror\b"))
    expect(tab.page.locator("tr[data-key-id]")).to_have_count(0)
    assert tab.unexpected_errors(403) == []


def test_refused_upload_shows_the_servers_message(web_server: Server, open_tab: Any) -> None:
    key, _ = web_server.new_key()
    tab = open_tab(web_server, "/")
    page = tab.page

    # No key yet: the page asks for one and sends nothing.
    page.set_input_files(
        "#file-input", files=[{"name": "a.png", "mimeType": "image/png", "buffer": unique_png()}]
    )
    expect(page.locator("#key-notice")).to_have_text("Enter your API key first.")
    expect(page.locator(".result")).to_have_count(0)

    page.fill("#key-input", key)
    text = b"just some words, not an image\n"
    expected = api_error_message(web_server, key, "notes.txt", text, "text/plain")
    result = upload_through_page(page, "notes.txt", text, "text/plain")
    expect(result).to_have_attribute("data-state", "error")
    expect(result.locator(".result-error")).to_have_text(expected)
    expect(result.locator(".result-url")).to_have_count(0)
    assert tab.unexpected_errors(415) == []


# ---- admin console ----------------------------------------------------------------------------


def test_console_creates_disables_and_revokes_a_key(web_server: Server, open_tab: Any) -> None:
    tab = open_console(open_tab, web_server)
    page = tab.page
    name = f"web-{time.monotonic_ns()}"
    page.fill("#new-key-name", name)
    page.fill("#new-key-rpm", "30")
    page.click("#new-key-submit")
    secret_box = page.locator("#new-key-secret")
    expect(secret_box).to_have_text(re.compile(r"^sk-[A-Za-z0-9_-]{48}$"))
    secret = secret_box.inner_text().strip()
    row = page.locator("tr[data-key-id]", has=page.get_by_text(name, exact=True))
    expect(row).to_have_attribute("data-state", "enabled")
    key_id = row.get_attribute("data-key-id")
    assert key_id is not None
    assert key_id.startswith("key_")
    expect(row).to_contain_text("30")
    screenshot(page, "keys")

    assert upload_with(web_server, secret).status_code == 200

    # Shown once: "Done" forgets it, and a reload does not bring it back.
    page.click("#new-key-dismiss")
    expect(page.locator("#new-key-box")).to_be_hidden()
    assert secret not in page.content()

    row.locator(".key-toggle").click()
    expect(row).to_have_attribute("data-state", "disabled")
    refused = upload_with(web_server, secret)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "api_key_disabled"

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator(".key-revoke").click()
    expect(page.locator(f'tr[data-key-id="{key_id}"]')).to_have_count(0)
    assert upload_with(web_server, secret).status_code == 401
    assert tab.unexpected_errors() == []


def test_console_settings_change_limits_uploads(settings_server: Server, open_tab: Any) -> None:
    server = settings_server
    tab = open_console(open_tab, server, "settings")
    page = tab.page
    field_ = page.locator('[name="limits.max_side"]')
    expect(field_).to_have_value("16384")
    expect(page.locator('[name="images.strip_metadata"]')).to_be_checked()
    expect(page.locator('[name="fetch.ports"]')).to_have_value("[80,443]")
    assert page.locator('[name="storage.s3.secret_access_key"]').get_attribute("type") == "password"

    # A refused value shows the server's own message and saves nothing.
    field_.fill("0")
    page.click("#settings-save")
    message = page.locator("#settings-message")
    expect(message).to_have_class(re.compile(r"\berror\b"))
    expect(message).to_contain_text("limits.max_side")

    field_.fill("100")
    page.click("#settings-save")
    expect(message).to_have_class(re.compile(r"\bsuccess\b"))
    expect(message).to_have_text("Saved limits.max_side.")
    expect(field_).to_have_value("100")  # the form was reloaded from the server
    stored = requests.get(server.url + "/api/settings", headers=auth(server.admin_key), timeout=10)
    assert stored.json()["settings"]["limits.max_side"]["value"] == 100
    screenshot(page, "settings")
    assert tab.unexpected_errors(400) == []

    key, _ = server.new_key()
    big = unique_png(200, 200)
    expected = api_error_message(server, key, "big.png", big, "image/png")
    upload = open_tab(server, "/")
    upload.page.fill("#key-input", key)
    deadline = time.monotonic() + 10
    while True:  # another worker would pick the setting up within 2 s; with one it is at once
        result = upload_through_page(upload.page, "big.png", unique_png(200, 200))
        if result.get_attribute("data-state") == "error" or time.monotonic() > deadline:
            break
    expect(result.locator(".result-error")).to_have_text(expected)
    assert "100" in expected
    assert upload.unexpected_errors(422) == []


def test_console_uploads_and_stats(web_server: Server, open_tab: Any) -> None:
    key, key_id = web_server.new_key()
    uploaded = requests.post(
        web_server.url + "/v1/files/uploads",
        headers=auth(key),
        files={"file": ("big.png", unique_png(1800, 1200), "image/png")},
        timeout=30,
    )
    assert uploaded.status_code == 200
    file = uploaded.json()

    tab = open_console(open_tab, web_server, "uploads")
    page = tab.page
    card = page.locator(f'.upload-card[data-file-id="{file["id"]}"]')
    expect(card).to_be_visible()
    expect(card).to_contain_text("image/png")
    thumb = card.locator("img")
    assert thumb.get_attribute("loading") == "lazy"
    assert card.locator("a.thumb").get_attribute("rel") == "noopener"
    # The thumbnail is the 512 px variant; the link still opens the original.
    small = file["variants"]["openai-low"]
    assert thumb.get_attribute("src") == small["url"]
    assert card.locator("a.thumb").get_attribute("href") == file["url"]
    expect(thumb).to_have_js_property("complete", True)
    expect(thumb).to_have_js_property("naturalWidth", small["width"])
    served = requests.get(small["url"], timeout=30)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.size == (small["width"], small["height"]) == (512, 341)
    screenshot(page, "uploads")

    # Filters: by this key the card stays; a date range in the past leaves nothing.
    page.select_option("#uploads-key", key_id)
    expect(page.locator(".upload-card")).to_have_count(1)
    expect(card).to_be_visible()
    page.fill("#uploads-to", "2001-01-01")
    page.click("#uploads-apply")
    expect(page.locator(".upload-card")).to_have_count(0)
    expect(page.locator("#uploads-empty")).to_be_visible()

    page.click("#tab-stats")
    expect(page.locator("#stats-chart rect.bar").first).to_be_attached()
    assert page.locator("#stats-chart rect.bar-uploads").count() >= 1
    assert page.locator("#stats-chart rect.bar-bytes").count() >= 1
    expect(page.locator("#stats-top-keys")).to_contain_text(key_id)
    expect(page.locator("#stats-stores")).to_contain_text("local")
    screenshot(page, "stats")

    # Delete from the grid: the card goes and the URL answers 404.
    page.click("#tab-uploads")
    page.click("#uploads-reset")
    expect(card).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    card.locator(".upload-delete").click()
    expect(card).to_have_count(0)
    assert requests.get(file["url"], timeout=10).status_code == 404
    assert tab.unexpected_errors() == []


# ---- security headers and hygiene -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/admin"])
def test_pages_carry_the_csp(web_server: Server, path: str) -> None:
    response = requests.get(web_server.url + path, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Content-Security-Policy"] == CSP


def test_sources_have_no_inline_code_or_styles() -> None:
    html = [WEB_DIR / "upload.html", WEB_DIR / "admin.html"]
    for page in html:
        text = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), page
        assert not re.search(r"\sstyle\s*=|<style", text, re.IGNORECASE), page
        assert not re.search(r"\son[a-z]+\s*=", text, re.IGNORECASE), page
    for script in (WEB_DIR / "static").glob("*.js"):
        text = script.read_text()
        for sink in (
            r"\.(inner|outer)HTML\b",
            r"\beval\(",
            r"\bnew Function\(",
            r"insertAdjacentHTML",
            r"document\.write",
            r"\.style\b",
            r"setAttribute\(\s*[\"']style",
        ):
            assert not re.search(sink, text), f"{script.name}: {sink}"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_every_page_and_tab_renders_without_console_errors(
    web_server: Server, open_tab: Any, viewport: dict[str, int]
) -> None:
    key, _ = web_server.new_key()
    upload = open_tab(web_server, "/", viewport)
    upload.page.fill("#key-input", key)
    upload_through_page(upload.page, "ok.png", unique_png())
    assert _horizontal_overflow(upload.page) == 0

    console = open_console(open_tab, web_server, viewport=viewport)
    page = console.page
    for name, ready in [
        ("uploads", ".upload-card"),
        ("settings", '[name="limits.max_side"]'),
        ("stats", "#stats-chart rect.bar"),
        ("keys", "tr[data-key-id]"),
    ]:
        page.click(f"#tab-{name}")
        expect(page.locator(f"#panel-{name}")).to_be_visible()
        expect(page.locator(ready).first).to_be_attached()
        assert _horizontal_overflow(page) == 0, name
    if viewport == PHONE:
        screenshot(upload.page, "upload-390px")
    assert upload.unexpected_errors() == []
    assert console.unexpected_errors() == []


def _horizontal_overflow(page: Page) -> int:
    """Pixels the document is wider than the viewport (wide tables scroll inside their box)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


@pytest.mark.parametrize(
    ("tool", "filename"),
    [("sharex", "imghost.sxcu"), ("upic", "imghost-upic.json"), ("picgo", "imghost-picgo.json")],
)
def test_the_upload_page_downloads_a_screenshot_tools_configuration_for_its_key(
    web_server: Server, open_tab: Any, tool: str, filename: str
) -> None:
    key, _ = web_server.new_key()
    tab = open_tab(web_server, "/")
    tab.page.fill("#key-input", key)
    with tab.page.expect_download() as caught:
        tab.page.click(f'[data-integration="{tool}"]')
    download = caught.value
    assert download.suggested_filename == filename
    config = json.loads(Path(download.path()).read_text())
    assert config == TOOLS[tool](web_server.url, key, None)
