"""A CDN stand-in for the S3 `public` GET mode: serves `/{object key}` from a bucket."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from imghost.store.s3 import S3Settings, S3Store


@contextmanager
def cdn_in_front_of(settings: S3Settings) -> Iterator[str]:
    """Serve the bucket read-only with its own credentials, as a CDN pulling from it would."""
    origin = S3Store(settings)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            key = self.path.lstrip("/").removeprefix(settings.prefix)
            try:
                body = b"".join(origin.open_range(key, 0, 1 << 30))
            except Exception:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
