"""The fetch loop: one request per hop, redirects followed by hand, the body spooled.

Each URL a redirect leads to goes through the guard again, and one redirect count and one
deadline hold for all the hops. Every failure, from a refused address to a TLS error or a
timeout, becomes a domain Refusal with a `url_*` code and a message that names the URL and says
what the user can do about it.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

from imghost.errors import (
    InvalidRequest,
    Refusal,
    TooLarge,
    UnsupportedType,
    UpstreamFailed,
    UpstreamTimeout,
)
from imghost.ingest.fetch.connection import CHUNK_BYTES, PinnedConnection
from imghost.ingest.fetch.guard import FetchPolicy, Guard, Refused, Target, resolve
from imghost.ingest.spool import Spool

REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "imghost-url-ingest/1"
SHOWN_URL_CHARS = 200


@dataclass(frozen=True, slots=True)
class Fetched:
    final_url: str
    status: int
    filename: str


def fetch_into(url: str, policy: FetchPolicy, spool: Spool) -> Fetched:
    """Download `url` into `spool`, following redirects, and finish the spool.

    Every failure is a Refusal with a `url_*` code. The spool is finished here so that
    even a body shorter than the sniff window is judged as an image; calling `finish()`
    again returns the same digest.
    """
    guard = Guard(policy)
    deadline = time.monotonic() + policy.timeout_seconds
    hop = _Hop(url.strip(), redirects=0)
    while True:
        try:
            target = guard.target(hop.url)
        except Refused as exc:
            raise _refused(hop, exc) from None
        status, location = _exchange(hop, target, guard, spool, deadline)
        if location is None:
            return Fetched(target.url, status, _filename(target.url))
        if hop.redirects == policy.max_redirects:
            raise InvalidRequest(
                "url_forbidden",
                f"The URL {_show(url)} redirected more than {policy.max_redirects} times; "
                "link to the image itself.",
            )
        hop = _Hop(urljoin(target.url, location), hop.redirects + 1)


@dataclass(frozen=True, slots=True)
class _Hop:
    url: str
    redirects: int

    @property
    def subject(self) -> str:
        """How messages name this URL: the user's own, or where a redirect led."""
        if self.redirects:
            return f"The URL redirected to {_show(self.url)}, which"
        return f"The URL {_show(self.url)}"


def _exchange(
    hop: _Hop, target: Target, guard: Guard, spool: Spool, deadline: float
) -> tuple[int, str | None]:
    """One request: its status and a redirect's Location, or None once the body is spooled."""
    try:
        addresses = resolve(target)
        guard.check(target, addresses)
        connection = PinnedConnection(target, addresses, guard.policy, deadline)
        try:
            response = _request(connection, target)
            if response.status in REDIRECTS:
                return response.status, _location(response, hop)
            _require_success(response, hop)
            _check_length(response, spool, target)
            _stream(response, spool, target, hop)
        finally:
            connection.discard()
        _finish(spool, target, hop, response.status)
    except Refused as exc:
        raise _refused(hop, exc) from None
    except Refusal:
        raise
    except (OSError, http.client.HTTPException) as exc:
        raise _failure(exc, hop, target, guard.policy, deadline) from exc
    return response.status, None


def _request(connection: PinnedConnection, target: Target) -> http.client.HTTPResponse:
    headers = {
        "Host": target.host_header,
        "User-Agent": USER_AGENT,
        "Accept": "image/*",
        "Connection": "close",
    }
    connection.request("GET", target.path, headers=headers)
    return connection.getresponse()


def _location(response: http.client.HTTPResponse, hop: _Hop) -> str:
    location = response.getheader("Location")
    if not location:
        raise UpstreamFailed(
            "url_unreachable",
            f"{hop.subject} answered {_status(response)} without saying where to; "
            "link to the image itself.",
        )
    return location.strip()


def _require_success(response: http.client.HTTPResponse, hop: _Hop) -> None:
    if not 200 <= response.status < 300:
        raise UpstreamFailed(
            "url_unreachable",
            f"{hop.subject} answered {_status(response)}; check that the link opens in a browser.",
        )


def _check_length(response: http.client.HTTPResponse, spool: Spool, target: Target) -> None:
    if response.length is not None and response.length > spool.limit - spool.size:
        raise _too_large(target, spool)


def _stream(response: http.client.HTTPResponse, spool: Spool, target: Target, hop: _Hop) -> None:
    while chunk := response.read1(CHUNK_BYTES):
        _write(spool, chunk, target)
    if response.length:
        raise UpstreamFailed(
            "url_unreachable",
            f"{hop.subject} closed the connection {response.length} bytes before the end of "
            "the image; try again later.",
        )


def _write(spool: Spool, chunk: bytes, target: Target) -> None:
    try:
        spool.write(chunk)
    except Refusal as exc:
        raise _spool_error(exc, target, spool) from None


def _finish(spool: Spool, target: Target, hop: _Hop, status: int) -> None:
    try:
        spool.finish()
    except Refusal as exc:
        raise _spool_error(exc, target, spool) from None
    if spool.size == 0:
        raise UnsupportedType(
            "url_not_image",
            f"{hop.subject} answered {status} with an empty body, not an image; link to the "
            "image itself.",
        )


def _spool_error(exc: Refusal, target: Target, spool: Spool) -> Refusal:
    if exc.code == "file_too_large":
        return _too_large(target, spool)
    if exc.code == "unsupported_type":
        what = exc.message.removesuffix(".")
        return UnsupportedType("url_not_image", f"{what} (fetched from {_show(target.url)}).")
    return exc


def _too_large(target: Target, spool: Spool) -> Refusal:
    return TooLarge(
        "url_too_large",
        f"The image at {_show(target.url)} is larger than the {_human(spool.limit)} limit; "
        "compress or resize it and try again.",
    )


def _failure(
    exc: OSError | http.client.HTTPException,
    hop: _Hop,
    target: Target,
    policy: FetchPolicy,
    deadline: float,
) -> Refusal:
    if isinstance(exc, TimeoutError):
        if time.monotonic() >= deadline:
            return UpstreamTimeout(
                "url_timeout",
                f"{hop.subject} did not finish within the {policy.timeout_seconds:g}-second "
                "limit for a fetch; try again later or upload the file directly.",
            )
        return UpstreamTimeout(
            "url_timeout",
            f"{hop.subject} did not accept a connection within "
            f"{policy.connect_timeout_seconds:g} seconds; try again later.",
        )
    return UpstreamFailed(
        "url_unreachable", f"{hop.subject} could not be fetched: {_why(exc, target)}."
    )


def _why(exc: OSError | http.client.HTTPException, target: Target) -> str:
    if isinstance(exc, socket.gaierror):
        return f"the host name {target.host} could not be resolved ({exc.strerror})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the TLS certificate of {target.host} is not valid ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"the secure (TLS) connection to {target.host} failed ({exc.reason or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return f"{target.host} refused the connection on port {target.port}"
    if isinstance(exc, http.client.HTTPException):
        return f"the server's answer was not valid HTTP ({type(exc).__name__})"
    return f"the connection failed ({exc.strerror or exc})"


def _refused(hop: _Hop, exc: Refused) -> Refusal:
    code = "url_invalid" if exc.invalid and not hop.redirects else "url_forbidden"
    return InvalidRequest(code, f"{hop.subject} cannot be fetched: {exc.reason}.")


def _status(response: http.client.HTTPResponse) -> str:
    return f"{response.status} {response.reason}".strip()


def _show(url: str) -> str:
    return url if len(url) <= SHOWN_URL_CHARS else url[: SHOWN_URL_CHARS - 1] + "…"


def _human(size: int) -> str:
    mib = size / (1024 * 1024)
    return f"{mib:g} MiB" if mib >= 1 else f"{size} bytes"


def _filename(url: str) -> str:
    segment = urlsplit(url).path.rsplit("/", 1)[-1]
    return unquote(segment).replace("\\", "/").rsplit("/", 1)[-1]
