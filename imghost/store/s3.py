"""`s3`: any S3-compatible object store (AWS S3, R2, MinIO, SeaweedFS…) through obstore.

obstore wraps Rust's `object_store`: large uploads stream from the finished file in 8 MiB
multipart parts, reads stream in chunks, presigning is built in, and its calls release the GIL
while they wait on the network, which suits our worker threads. (aiobotocore, the alternative,
is async-only, pure Python on the data path, and would need its own event-loop plumbing.)
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import obstore
from obstore.exceptions import AlreadyExistsError, BaseError, PreconditionError
from obstore.store import S3Store as ObstoreS3

from imghost.options import choice, integer, option, text, url
from imghost.store import keys
from imghost.store.base import ObjectExists, ObjectMissing, StoreUnavailable

PART_BYTES = 8 * 1024 * 1024
# Each part in flight is held in memory: two bound an upload to 16 MiB and still overlap.
PARTS_IN_FLIGHT = 2
# obstore holds about a file's size while it uploads it; this many at a time per process
# bound a worker's memory whatever the number of uploads in flight.
_PUT_SLOTS = threading.BoundedSemaphore(4)
_READ_CHUNK = 256 * 1024
_IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class S3Settings:
    """The run-time settings `storage.s3.*`, one field each."""

    endpoint_url: str = option(
        "",
        "S3 API endpoint, e.g. https://s3.us-east-1.amazonaws.com or http://127.0.0.1:8333.",
        url,
    )
    region: str = option("us-east-1", "S3 region.", text(64))
    bucket: str = option("", "Bucket that holds the images.", text(63))
    prefix: str = option("", "Key prefix inside the bucket, e.g. `imghost/`.", text(200))
    access_key_id: str = option("", "S3 access key id.", text(200), secret=True)
    secret_access_key: str = option("", "S3 secret access key.", text(200), secret=True)
    addressing: str = option(
        "path",
        "`path` (endpoint/bucket/key: MinIO, SeaweedFS) or `virtual` (bucket.endpoint/key).",
        choice("path", "virtual"),
    )
    get_mode: str = option(
        "proxy",
        "How image URLs are answered: `proxy` (imghost streams from S3), `redirect` (302 to a "
        "presigned URL) or `public` (returned URLs point at `public_base_url`).",
        choice("proxy", "redirect", "public"),
    )
    public_base_url: str = option(
        "",
        "For `public`: the public address of the bucket or of a CDN in front of it; an "
        "image's URL is this plus its object key.",
        url,
    )
    presign_seconds: int = option(
        3600,
        "For `redirect`: how long a presigned URL stays valid.",
        # S3's own limit for a signature (SigV4).
        integer(1, 7 * 86400),
    )


def _failure(exc: Exception) -> StoreUnavailable:
    text = str(exc).strip()
    first_line = text.splitlines()[0] if text else type(exc).__name__
    # obstore's message ends its first line with the start of the response body, the XML
    # prolog; the reason is in the <Error> document that follows.
    first_line = first_line.removesuffix('<?xml version="1.0" encoding="UTF-8"?>').rstrip(": ")
    reason = _s3_error(text)
    return StoreUnavailable(f"S3 failed: {first_line}" + (f": {reason}" if reason else ""))


def _s3_error(text: str) -> str | None:
    """The S3 error document in `text` as "Code: Message", if there is one."""
    found = _ERROR_DOCUMENT.search(text)
    if found is None:
        return None
    try:
        error = ElementTree.fromstring(found[0])
    except ElementTree.ParseError:
        return None
    code, message = error.findtext("Code"), error.findtext("Message")
    return ": ".join(part for part in (code, message) if part) or None


# S3's error body (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html); a
# few hundred bytes from a server the admin configured, bounded by the search.
_ERROR_DOCUMENT = re.compile(r"<Error>.{0,4000}?</Error>", re.DOTALL)


class S3Store:
    name = "s3"

    def __init__(self, settings: S3Settings) -> None:
        if not settings.bucket:
            raise StoreUnavailable("storage.s3.bucket is not set")
        if settings.get_mode == "public" and not settings.public_base_url:
            raise StoreUnavailable("storage.s3.get_mode is public but public_base_url is not set")
        self.settings = settings
        config: dict[str, Any] = {
            "region": settings.region,
            "virtual_hosted_style_request": settings.addressing == "virtual",
        }
        if settings.endpoint_url:
            config["endpoint"] = settings.endpoint_url
        if settings.access_key_id:
            config["access_key_id"] = settings.access_key_id
            config["secret_access_key"] = settings.secret_access_key
        try:
            self._store = ObstoreS3(
                settings.bucket,
                prefix=settings.prefix or None,
                client_options={
                    "allow_http": settings.endpoint_url.startswith("http://"),
                    "connect_timeout": "5s",
                    "timeout": "60s",
                },
                retry_config={
                    "max_retries": 2,
                    "retry_timeout": timedelta(seconds=10),
                    "backoff": {
                        "init_backoff": timedelta(milliseconds=100),
                        "max_backoff": timedelta(seconds=1),
                        "base": 2,
                    },
                },
                **config,
            )
        except BaseError as exc:
            raise _failure(exc) from exc

    def put_file(self, key: str, path: Path, content_type: str) -> str:
        """A conditional create (If-None-Match: *) for files up to one part; larger ones
        stream as a multipart upload, which S3 cannot make conditional (obstore then sends
        the whole file in one PUT, held in memory), so they are guarded by a HEAD first.
        A race between two writers of one key would need a collision of 128 random bits."""
        keys.check(key)
        attributes = {"Content-Type": content_type, "Cache-Control": _IMMUTABLE}
        try:
            with _PUT_SLOTS:
                self._put(key, path, attributes)
        except (AlreadyExistsError, PreconditionError) as exc:
            raise ObjectExists(f"{key} exists already") from exc
        except (BaseError, OSError) as exc:
            raise _failure(exc) from exc
        path.unlink()
        return key

    def _put(self, key: str, path: Path, attributes: dict[str, str]) -> None:
        if path.stat().st_size <= PART_BYTES:
            obstore.put(self._store, key, path, mode="create", attributes=attributes)
        elif self.exists(key):
            raise ObjectExists(f"{key} exists already")
        else:
            obstore.put(
                self._store,
                key,
                path,
                attributes=attributes,
                chunk_size=PART_BYTES,
                max_concurrency=PARTS_IN_FLIGHT,
            )

    def copy(self, location: str, key: str) -> str:
        """A server-side copy: the bytes do not pass through this machine."""
        keys.check(key)
        try:
            # Not conditional (S3 has no create-only copy); the new key holds 128 random bits.
            obstore.copy(self._store, keys.check(location), key)
        except FileNotFoundError as exc:
            raise ObjectMissing(f"no object at {location}") from exc
        except BaseError as exc:
            raise _failure(exc) from exc
        return key

    def local_path(self, location: str) -> Path | None:
        return None

    def open_range(self, location: str, start: int, end: int) -> Iterator[bytes]:
        try:
            result = obstore.get(self._store, keys.check(location), options={"range": (start, end)})
            for chunk in result.stream(min_chunk_size=_READ_CHUNK):
                yield bytes(chunk)
        except FileNotFoundError as exc:
            raise ObjectMissing(f"no object at {location}") from exc
        except BaseError as exc:
            raise _failure(exc) from exc

    def exists(self, location: str) -> bool:
        try:
            obstore.head(self._store, keys.check(location))
        except FileNotFoundError:
            return False
        except BaseError as exc:
            raise _failure(exc) from exc
        return True

    def delete(self, location: str) -> None:
        try:
            obstore.delete(self._store, keys.check(location))
        except FileNotFoundError:
            return
        except BaseError as exc:
            raise _failure(exc) from exc

    def public_url(self, location: str) -> str | None:
        if self.settings.get_mode != "public":
            return None
        return f"{self.settings.public_base_url}/{self.settings.prefix}{keys.check(location)}"

    def redirect_url(self, location: str) -> str | None:
        if self.settings.get_mode == "public":
            return self.public_url(location)
        if self.settings.get_mode != "redirect":
            return None
        lifetime = timedelta(seconds=self.settings.presign_seconds)
        try:
            return obstore.sign(self._store, "GET", keys.check(location), lifetime)
        except BaseError as exc:
            raise _failure(exc) from exc

    def check(self) -> None:
        """Write, read back and delete a probe object."""
        probe = f".imghost-probe-{secrets.token_hex(8)}"
        try:
            obstore.put(self._store, probe, b"ok")
            if bytes(obstore.get(self._store, probe).bytes()) != b"ok":
                raise StoreUnavailable("S3 did not read back what was written")
            obstore.delete(self._store, probe)
        except BaseError as exc:
            raise _failure(exc) from exc

    def ping(self) -> None:
        """A HEAD of a key that does not exist: any answer but an error proves access."""
        try:
            obstore.head(self._store, ".imghost-ping")
        except FileNotFoundError:
            return
        except BaseError as exc:
            raise _failure(exc) from exc

    def close(self) -> None:
        return None
