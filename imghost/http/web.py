"""The upload page (`/`) and admin console (`/admin`): static files, locked down by CSP.

The pages hold no secrets and render nothing server-side; their scripts call the JSON API with
the key the user typed, sent only as a Bearer header (no cookies, so no CSRF).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob: https: http:; connect-src 'self'; "
        "script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _page(name: str) -> Response:
    return FileResponse(WEB_DIR / name, media_type="text/html", headers=PAGE_HEADERS)


async def upload_page(request: Request) -> Response:
    return _page("upload.html")


async def admin_page(request: Request) -> Response:
    return _page("admin.html")


static_files = StaticFiles(directory=WEB_DIR / "static", check_dir=False)
