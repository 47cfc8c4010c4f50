"""Fetch a user-supplied URL into a Spool without letting it reach where it must not.

Server-side request forgery is the classic hole in "re-host this URL": the host is resolved
once, every address it resolves to is judged, and the socket connects to a judged address
itself, never to the name again, so no DNS answer can change between the check and the
connection. Redirects are followed by hand and every new URL goes through the same checks.
One deadline bounds the whole fetch: every send and receive gets only the time that is left.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote, urljoin, urlsplit

from imghost.errors import (
    InvalidRequest,
    Refusal,
    TooLarge,
    UnsupportedType,
    UpstreamFailed,
    UpstreamTimeout,
)
from imghost.ingest.spool import Spool

CHUNK_BYTES = 64 * 1024
REDIRECTS = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
USER_AGENT = "imghost-url-ingest/1"
SHOWN_URL_CHARS = 200

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")
# Every entry that is not globally reachable in IANA's IPv4 Special-Purpose Address Registry
# (last updated 2020-09-04) and IPv6 Special-Purpose Address Registry (last updated 2024-10-22,
# plus RFC 9780's 100:0:0:1::/64 of 2025), and the multicast and deprecated blocks those
# registries leave out. More specific entries inside a blocked one stay listed so the table can
# be checked line by line against the registries. 192.0.0.0/24 and 2001::/23 are blocked whole,
# their few anycast exceptions (PCP, TURN, AMT, AS112, ORCHIDv2, DETs) included: no image is
# served from them. The table is explicit rather than `ip.is_global`, whose lists differ
# between Python releases. 2002::/16 (6to4, "N/A") and the IPv4-in-IPv6 forms are judged by
# the IPv4 address inside them, see _embedded_ipv4.
_NOT_PUBLIC: tuple[Network, ...] = tuple(
    ipaddress.ip_network(network)
    for network in (
        # IPv4 Special-Purpose Address Registry
        "0.0.0.0/8",  # "This network"
        "0.0.0.0/32",  # "This host on this network"
        "10.0.0.0/8",  # Private-Use
        "100.64.0.0/10",  # Shared Address Space
        "127.0.0.0/8",  # Loopback
        "169.254.0.0/16",  # Link Local
        "172.16.0.0/12",  # Private-Use
        "192.0.0.0/24",  # IETF Protocol Assignments
        "192.0.0.0/29",  # IPv4 Service Continuity Prefix
        "192.0.0.8/32",  # IPv4 dummy address
        "192.0.0.170/32",  # NAT64/DNS64 Discovery
        "192.0.0.171/32",  # NAT64/DNS64 Discovery
        "192.0.2.0/24",  # Documentation (TEST-NET-1)
        "192.88.99.0/24",  # Deprecated (6to4 Relay Anycast)
        "192.168.0.0/16",  # Private-Use
        "198.18.0.0/15",  # Benchmarking
        "198.51.100.0/24",  # Documentation (TEST-NET-2)
        "203.0.113.0/24",  # Documentation (TEST-NET-3)
        "240.0.0.0/4",  # Reserved
        "255.255.255.255/32",  # Limited Broadcast
        # IPv4 multicast (its own registry)
        "224.0.0.0/4",
        # IPv6 Special-Purpose Address Registry
        "::1/128",  # Loopback Address
        "::/128",  # Unspecified Address
        "::ffff:0:0/96",  # IPv4-mapped Address (only its embedded IPv4 reaches here)
        "64:ff9b:1::/48",  # IPv4-IPv6 Translat. (local-use)
        "100::/64",  # Discard-Only Address Block
        "100:0:0:1::/64",  # Dummy IPv6 Prefix (RFC 9780)
        "2001::/23",  # IETF Protocol Assignments
        "2001::/32",  # TEREDO
        "2001:2::/48",  # Benchmarking
        "2001:10::/28",  # Deprecated (previously ORCHID)
        "2001:db8::/32",  # Documentation
        "3fff::/20",  # Documentation
        "5f00::/16",  # Segment Routing (SRv6) SIDs
        "fc00::/7",  # Unique-Local
        "fe80::/10",  # Link-Local Unicast
        # Deprecated site-local (RFC 3879) and IPv6 multicast, outside that registry
        "fec0::/10",
        "ff00::/8",
    )
)
# IPv6 forms that carry an IPv4 address in their low 32 bits: mapped, translated, compatible,
# NAT64. 6to4 (2002::/16) carries it in bits 16-48 and `ipaddress` extracts that one.
_IPV4_IN_LOW_BITS: tuple[ipaddress.IPv6Network, ...] = tuple(
    ipaddress.IPv6Network(network)
    for network in ("::ffff:0:0/96", "::ffff:0:0:0/96", "::/96", "64:ff9b::/96")
)


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    allow_private: bool = False
    ports: tuple[int, ...] = (80, 443)
    allow_hosts: tuple[str, ...] = ()
    deny_hosts: tuple[str, ...] = ()
    max_redirects: int = 3
    timeout_seconds: float = 15
    connect_timeout_seconds: float = 5


@dataclass(frozen=True, slots=True)
class Fetched:
    final_url: str
    status: int
    filename: str


@dataclass(frozen=True, slots=True)
class _Target:
    """One URL to request, checked for form: scheme, no credentials, a host, an allowed port."""

    url: str
    scheme: str
    host: str
    port: int
    path: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class _Address:
    family: socket.AddressFamily
    sockaddr: tuple[str, int] | tuple[str, int, int, int]
    ip: IPAddress


class _Refused(Exception):
    """A URL the policy does not fetch; `invalid` when it is not a fetchable URL at all."""

    def __init__(self, reason: str, invalid: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.invalid = invalid


@dataclass(frozen=True, slots=True)
class _HostRules:
    """Host names (exact, or `*.example.com` for any name under it) and networks."""

    names: tuple[str, ...]
    networks: tuple[Network, ...]

    @classmethod
    def parse(cls, entries: Sequence[str]) -> _HostRules:
        names: list[str] = []
        networks: list[Network] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                names.append(_plain_name(entry.strip()))
        return cls(tuple(names), tuple(networks))

    def match_name(self, host: str) -> bool:
        name = _plain_name(host)
        return any(
            name.endswith(rule[1:]) if rule.startswith("*.") else name == rule
            for rule in self.names
        )

    def match_address(self, ip: IPAddress) -> bool:
        embedded = _embedded_ipv4(ip)
        return any(
            ip in network or (embedded is not None and embedded in network)
            for network in self.networks
        )


class _Guard:
    """The policy's judgement on URLs, host names and the addresses they resolve to."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self.allow = _HostRules.parse(policy.allow_hosts)
        self.deny = _HostRules.parse(policy.deny_hosts)

    def target(self, url: str) -> _Target:
        target = _parse(url)
        if target.port not in self.policy.ports:
            allowed = ", ".join(str(port) for port in self.policy.ports) or "none"
            raise _Refused(f"port {target.port} is not allowed (allowed: {allowed})")
        if self.deny.match_name(target.host):
            raise _Refused(f"{target.host} is on the fetch deny list")
        return target

    def check(self, target: _Target, addresses: Sequence[_Address]) -> None:
        """Refuse unless EVERY address may be fetched: the socket may use any of them."""
        for address in addresses:
            reason = self._refusal(target.host, address.ip)
            if reason is None:
                continue
            if _literal(target.host) == address.ip:
                raise _Refused(f"{address.ip} is {reason}")
            raise _Refused(f"{target.host} resolves to {address.ip}, which is {reason}")

    def _refusal(self, host: str, ip: IPAddress) -> str | None:
        if self.deny.match_address(ip):
            return "on the fetch deny list"
        if self.policy.allow_private or self.allow.match_name(host) or self.allow.match_address(ip):
            return None
        return None if is_public(ip) else "not a public internet address"


def is_public(ip: IPAddress) -> bool:
    """May the internet at large reach `ip`? IPv6 forms with an IPv4 inside are judged by it."""
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return is_public(embedded)
    return not any(ip in network for network in _NOT_PUBLIC)


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in network for network in _IPV4_IN_LOW_BITS):
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _plain_name(host: str) -> str:
    return host.lower().rstrip(".")


def _parse(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _Refused(f"it is not a valid URL ({exc})", invalid=True) from exc
    if parts.scheme not in DEFAULT_PORTS:
        shown = f"{parts.scheme}:" if parts.scheme else "no scheme"
        raise _Refused(f"only http:// and https:// URLs are fetched, not {shown}", invalid=True)
    if "@" in parts.netloc:
        raise _Refused("it carries a user name or password (user:pass@)", invalid=True)
    if not parts.hostname:
        raise _Refused("it has no host name", invalid=True)
    host = _ascii_host(parts.hostname)
    request_path = quote(parts.path or "/", safe="/%!$&'()*+,;=:@-._~")
    if parts.query:
        request_path += "?" + quote(parts.query, safe="/?%!$&'()*+,;=:@-._~")
    port = DEFAULT_PORTS[parts.scheme] if port is None else port
    return _Target(url, parts.scheme, host, port, request_path)


def _ascii_host(hostname: str) -> str:
    if ":" in hostname:
        if "%" in hostname:
            # A zone picks one of this server's interfaces: never the user's to choose.
            raise _Refused(f"{hostname} names an IPv6 zone (%)", invalid=True)
        try:
            ipaddress.IPv6Address(hostname)
        except ValueError as exc:
            raise _Refused(f"{hostname} is not a valid IPv6 address", invalid=True) from exc
        return hostname
    try:
        host = hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise _Refused(f"{hostname} is not a valid host name", invalid=True) from exc
    if not _HOST_NAME.fullmatch(host):
        raise _Refused(f"{hostname} is not a valid host name", invalid=True)
    return host


def _resolve(target: _Target) -> list[_Address]:
    """The host's addresses, looked up exactly once per request."""
    infos = socket.getaddrinfo(
        target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    addresses: list[_Address] = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            ip = ipaddress.ip_address(sockaddr[0])
            if all(address.ip != ip for address in addresses):
                addresses.append(_Address(family, sockaddr, ip))  # type: ignore[arg-type]
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "no IPv4 or IPv6 address")
    return addresses


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the fetch deadline passed")
    return left


def _open(addresses: Sequence[_Address], connect_timeout: float, deadline: float) -> socket.socket:
    """A TCP connection to the first judged address that answers: never a fresh lookup."""
    error: OSError = ConnectionError("no address to connect to")
    for address in addresses:
        sock = socket.socket(address.family, socket.SOCK_STREAM)
        try:
            sock.settimeout(min(connect_timeout, _remaining(deadline)))
            sock.connect(address.sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        # Per receive, so a server that drips a byte at a time still stops at the deadline.
        self._sock.settimeout(_remaining(self._deadline))
        return self._sock.recv_into(buffer)


class _DeadlineSocket:
    """What http.client uses of a socket, with every send and receive bounded by the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(_remaining(self._deadline))
        self._sock.sendall(data)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline), CHUNK_BYTES)

    def close(self) -> None:
        # http.client closes its socket as soon as a `Connection: close` response begins,
        # while the body is still to be read: the fetch closes the real socket when done.
        pass


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP or HTTPS to the judged addresses; TLS verifies the certificate against the name."""

    def __init__(
        self, target: _Target, addresses: Sequence[_Address], policy: FetchPolicy, deadline: float
    ) -> None:
        super().__init__(target.host, target.port)
        self._target = target
        self._addresses = addresses
        self._connect_timeout = policy.connect_timeout_seconds
        self._deadline = deadline
        self._raw: socket.socket | None = None

    def connect(self) -> None:
        self._raw = sock = _open(self._addresses, self._connect_timeout, self._deadline)
        if self._target.scheme == "https":
            sock.settimeout(min(self._connect_timeout, _remaining(self._deadline)))
            context = ssl.create_default_context()
            self._raw = sock = context.wrap_socket(sock, server_hostname=self._target.host)
        self.sock = _DeadlineSocket(sock, self._deadline)  # type: ignore[assignment]

    def discard(self) -> None:
        self.close()
        if self._raw is not None:
            self._raw.close()


def fetch_into(url: str, policy: FetchPolicy, spool: Spool) -> Fetched:
    """Download `url` into `spool`, following redirects, and finish the spool.

    Every failure is a Refusal with a `url_*` code. The spool is finished here so that
    even a body shorter than the sniff window is judged as an image; calling `finish()`
    again returns the same digest.
    """
    guard = _Guard(policy)
    deadline = time.monotonic() + policy.timeout_seconds
    hop = _Hop(url.strip(), redirects=0)
    while True:
        try:
            target = guard.target(hop.url)
        except _Refused as exc:
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
    hop: _Hop, target: _Target, guard: _Guard, spool: Spool, deadline: float
) -> tuple[int, str | None]:
    """One request: its status and a redirect's Location, or None once the body is spooled."""
    try:
        addresses = _resolve(target)
        guard.check(target, addresses)
        connection = _PinnedConnection(target, addresses, guard.policy, deadline)
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
    except _Refused as exc:
        raise _refused(hop, exc) from None
    except Refusal:
        raise
    except (OSError, http.client.HTTPException) as exc:
        raise _failure(exc, hop, target, guard.policy, deadline) from exc
    return response.status, None


def _request(connection: _PinnedConnection, target: _Target) -> http.client.HTTPResponse:
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


def _check_length(response: http.client.HTTPResponse, spool: Spool, target: _Target) -> None:
    if response.length is not None and response.length > spool.limit - spool.size:
        raise _too_large(target, spool)


def _stream(response: http.client.HTTPResponse, spool: Spool, target: _Target, hop: _Hop) -> None:
    while chunk := response.read1(CHUNK_BYTES):
        _write(spool, chunk, target)
    if response.length:
        raise UpstreamFailed(
            "url_unreachable",
            f"{hop.subject} closed the connection {response.length} bytes before the end of "
            "the image; try again later.",
        )


def _write(spool: Spool, chunk: bytes, target: _Target) -> None:
    try:
        spool.write(chunk)
    except Refusal as exc:
        raise _spool_error(exc, target, spool) from None


def _finish(spool: Spool, target: _Target, hop: _Hop, status: int) -> None:
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


def _spool_error(exc: Refusal, target: _Target, spool: Spool) -> Refusal:
    if exc.code == "file_too_large":
        return _too_large(target, spool)
    if exc.code == "unsupported_type":
        what = exc.message.removesuffix(".")
        return UnsupportedType("url_not_image", f"{what} (fetched from {_show(target.url)}).")
    return exc


def _too_large(target: _Target, spool: Spool) -> Refusal:
    return TooLarge(
        "url_too_large",
        f"The image at {_show(target.url)} is larger than the {_human(spool.limit)} limit; "
        "compress or resize it and try again.",
    )


def _failure(
    exc: OSError | http.client.HTTPException,
    hop: _Hop,
    target: _Target,
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


def _why(exc: OSError | http.client.HTTPException, target: _Target) -> str:
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


def _refused(hop: _Hop, exc: _Refused) -> Refusal:
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
