"""Small local HTTP servers that answer like other image hosts' upload APIs."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# What each host answers for a stored file, given the absolute and the path-only URL.
SHAPES: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "imgbed": ("0.src", lambda url, path: [{"src": path}]),
    "lsky": ("data.links.url", lambda url, path: {"status": True, "data": {"links": {"url": url}}}),
    "chevereto": ("image.url", lambda url, path: {"status_code": 200, "image": {"url": url}}),
}


@dataclass
class FakeHost:
    """Stores every upload in memory and serves it back at the URL it answered."""

    shape: str = "lsky"
    fail_with: tuple[int, Any] | None = None
    uploads: list[dict[str, str]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    url: str = ""

    def answer(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        self.uploads.append(headers)
        if self.fail_with is not None:
            return self.fail_with
        path = f"/file/{secrets.token_hex(8)}.png"
        self.files[path] = _file_part(body, headers.get("content-type", ""))
        return 200, SHAPES[self.shape][1](self.url + path, path)


def _file_part(body: bytes, content_type: str) -> bytes:
    boundary = content_type.split("boundary=", 1)[1].encode()
    for part in body.split(b"--" + boundary):
        head, _, data = part.partition(b"\r\n\r\n")
        if b"filename=" in head:
            return data.removesuffix(b"\r\n")
    return b""


@contextmanager
def running(host: FakeHost) -> Iterator[FakeHost]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            status, payload = host.answer(body, {k.lower(): v for k, v in self.headers.items()})
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_PUT = do_POST

        def do_GET(self) -> None:
            data = host.files.get(self.path)
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")

        def do_HEAD(self) -> None:
            self.send_response(200 if self.path in host.files else 404)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()
