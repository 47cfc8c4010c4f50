"""URL ingest against real HTTP(S) servers on loopback; the only stand-in is DNS.

Refusals are proven to happen before any connection: every test site counts the connections
it accepts on 127.0.0.1, [::1] and 127.0.0.2 (the same port on each), and a probe request
after the fetch makes sure every earlier connection has been counted before the assertion.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import io
import ipaddress
import itertools
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import TCPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from imghost.errors import Refusal
from imghost.http.errors import status_of
from imghost.ingest.fetch import Fetched, FetchPolicy, fetch_into, is_public
from imghost.ingest.spool import Spool
from imghost.ingest.validate import require_image
from tests.commands import required_command

SPOOL_LIMIT = 256 * 1024
PROBE = "/__probe"
REAL_GETADDRINFO = socket.getaddrinfo


def _png() -> bytes:
    image = Image.linear_gradient("L").resize((64, 48)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


PNG = _png()
HTML = b"<!doctype html><html><body>Not an image, whatever the header says.</body></html>"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server: Listener

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server.site.record(self.path, self.headers.get("Host", ""))
        self.close_connection = True
        route = ROUTES.get("/hops" if parts.path.startswith("/hops/") else parts.path, _missing)
        # The client hanging up is how the endless and dripping bodies end.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, TimeoutError):
            route(self, parse_qs(parts.query))

    def head(self, status: int, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Connection", "close")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()

    def body(self, status: int, content_type: str, data: bytes) -> None:
        self.head(status, content_type, Content_Length=str(len(data)))
        self.wfile.write(data)

    def wait_for_client_to_leave(self) -> None:
        self.rfile.read(1)


Route = Callable[[Handler, dict[str, list[str]]], None]


def _image(handler: Handler, query: dict[str, list[str]]) -> None:
    # The type must come from the bytes: this header would say otherwise.
    handler.body(200, "text/plain", PNG)


def _page(handler: Handler, query: dict[str, list[str]]) -> None:
    handler.body(200, "image/png", HTML)


def _missing(handler: Handler, query: dict[str, list[str]]) -> None:
    handler.body(404, "text/plain", b"no such thing")


def _empty(handler: Handler, query: dict[str, list[str]]) -> None:
    handler.body(200, "image/png", b"")


def _short(handler: Handler, query: dict[str, list[str]]) -> None:
    handler.body(200, "image/png", b"hello")


def _chunked(handler: Handler, query: dict[str, list[str]]) -> None:
    handler.head(200, "image/png", Transfer_Encoding="chunked")
    for start in range(0, len(PNG), 100):
        piece = PNG[start : start + 100]
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
    handler.wfile.write(b"0\r\n\r\n")


def _truncated(handler: Handler, query: dict[str, list[str]]) -> None:
    handler.head(200, "image/png", Content_Length=str(len(PNG) + 1000))
    handler.wfile.write(PNG)


def _huge(handler: Handler, query: dict[str, list[str]]) -> None:
    handler.head(200, "image/png", Content_Length=str(10**12))
    handler.wfile.write(PNG[:16])
    handler.wfile.flush()
    handler.wait_for_client_to_leave()


def _endless(handler: Handler, query: dict[str, list[str]]) -> None:
    handler.head(200, "image/png")
    handler.wfile.write(PNG)
    zeros = bytes(64 * 1024)
    while True:
        handler.wfile.write(zeros)


def _drip(handler: Handler, query: dict[str, list[str]]) -> None:
    handler.head(200, "image/png")
    for byte in itertools.cycle(PNG):
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(0.5)


def _stall(handler: Handler, query: dict[str, list[str]]) -> None:
    handler.wait_for_client_to_leave()


def _hops(handler: Handler, query: dict[str, list[str]]) -> None:
    left = int(handler.path.rsplit("/", 1)[1])
    if left == 0:
        handler.body(200, "image/png", PNG)
        return
    # Relative: resolved against the current URL.
    handler.head(302, "text/plain", Location=str(left - 1), Content_Length="0")


def _redirect(handler: Handler, query: dict[str, list[str]]) -> None:
    time.sleep(float(query.get("delay", ["0"])[0]))
    status = int(query.get("status", ["302"])[0])
    if "to" in query:
        handler.head(status, "text/plain", Location=query["to"][0], Content_Length="0")
    else:
        handler.head(status, "text/plain", Content_Length="0")


def _probe(handler: Handler, query: dict[str, list[str]]) -> None:
    handler.body(200, "text/plain", b"ok")


ROUTES: dict[str, Route] = {
    "/image.png": _image,
    "/page.html": _page,
    "/empty": _empty,
    "/short": _short,
    "/chunked.png": _chunked,
    "/truncated.png": _truncated,
    "/huge.png": _huge,
    "/endless.png": _endless,
    "/drip.png": _drip,
    "/stall": _stall,
    "/hops": _hops,
    "/redirect": _redirect,
    PROBE: _probe,
}


class Listener(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: Site, host: str, port: int, tls: ssl.SSLContext | None) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.site = site
        self.host = host
        self.accepted = 0
        super().__init__((host, port), Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    def server_bind(self) -> None:
        # HTTPServer's own would look the address up in DNS (getfqdn).
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.host, self.server_address[1]

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.accepted += 1
        return True


@dataclass
class Site:
    """One port served on 127.0.0.1, 127.0.0.2 and [::1] (when the host has IPv6)."""

    tls: ssl.SSLContext | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    probes: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        return self.listeners[0].server_port

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def record(self, path: str, host: str) -> None:
        if path != PROBE:
            with self.lock:
                self.requests.append((path, host))

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests]

    def start(self) -> Site:
        for _ in range(10):
            try:
                self._bind()
                break
            except OSError:
                self._close_listeners()
        else:
            raise RuntimeError("no port free on 127.0.0.1, 127.0.0.2 and [::1] at once")
        for listener in self.listeners:
            thread = threading.Thread(target=listener.serve_forever, args=(0.02,), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def _bind(self) -> None:
        self.listeners = [Listener(self, "127.0.0.1", 0, self.tls)]
        self.listeners.append(Listener(self, "127.0.0.2", self.port, self.tls))
        try:
            self.listeners.append(Listener(self, "::1", self.port, self.tls))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise  # another port, then; any other error means no IPv6 here

    def _close_listeners(self) -> None:
        for listener in self.listeners:
            listener.server_close()
        self.listeners = []

    def stop(self) -> None:
        for listener in self.listeners:
            listener.shutdown()
        self._close_listeners()
        for thread in self.threads:
            thread.join()

    def accepted(self) -> dict[str, int]:
        """Connections accepted per address, our probes aside, once all are surely counted."""
        for listener in self.listeners:
            # Accepts are served in order: once the probe is answered, all before it counted.
            self._probe(listener.host)
        return {
            listener.host: listener.accepted - self.probes[listener.host]
            for listener in self.listeners
        }

    def connections(self) -> int:
        return sum(self.accepted().values())

    def _probe(self, host: str) -> None:
        connection: http.client.HTTPConnection
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            connection = http.client.HTTPSConnection(host, self.port, timeout=5, context=context)
        else:
            connection = http.client.HTTPConnection(host, self.port, timeout=5)
        try:
            connection.request("GET", PROBE, headers={"Connection": "close"})
            connection.getresponse().read()
        finally:
            connection.close()
        self.probes[host] = self.probes.get(host, 0) + 1


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site().start()
    yield served
    served.stop()


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    made = Spool(tmp_path, SPOOL_LIMIT, on_head=require_image)
    yield made
    made.discard()


@dataclass
class FakeDns:
    """Answers for made-up names (each call takes the next answer, the last one repeats)."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def __call__(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[tuple[Any, ...]]:
        if host not in self.answers:
            return REAL_GETADDRINFO(host, port, family, type, proto, flags)
        self.calls.append(host)
        answers = self.answers[host]
        answer = answers[min(self.calls.count(host), len(answers)) - 1]
        if not answer:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [_info(ip, int(port)) for ip in answer]


def _info(ip: str, port: int) -> tuple[Any, ...]:
    if ":" in ip:
        return (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port))


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    fake = FakeDns()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


def local(site: Site, **overrides: Any) -> FetchPolicy:
    """The policy for fetching from the loopback test site."""
    return FetchPolicy(
        **{"allow_private": True, "ports": (site.port,), "timeout_seconds": 5, **overrides}
    )


def refusal(url: str, policy: FetchPolicy, spool: Spool) -> Refusal:
    with pytest.raises(Refusal) as caught:
        fetch_into(url, policy, spool)
    return caught.value


# Success


def test_fetches_an_image_whatever_its_content_type(site: Site, spool: Spool) -> None:
    fetched = fetch_into(site.url("/image.png"), local(site), spool)

    assert fetched == Fetched(site.url("/image.png"), 200, "image.png")
    assert spool.path.read_bytes() == PNG
    assert spool.size == len(PNG)
    assert site.requests == [("/image.png", f"127.0.0.1:{site.port}")]


def test_reads_a_chunked_body(site: Site, spool: Spool) -> None:
    fetch_into(site.url("/chunked.png"), local(site), spool)

    assert spool.path.read_bytes() == PNG


def test_follows_relative_redirects_up_to_the_limit(site: Site, spool: Spool) -> None:
    fetched = fetch_into(site.url("/hops/3"), local(site, max_redirects=3), spool)

    assert fetched == Fetched(site.url("/hops/0"), 200, "0")
    assert site.paths() == ["/hops/3", "/hops/2", "/hops/1", "/hops/0"]
    assert spool.path.read_bytes() == PNG


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_follows_every_redirect_status(site: Site, spool: Spool, status: int) -> None:
    url = site.url(f"/redirect?status={status}&to={site.url('/image.png')}")

    fetched = fetch_into(url, local(site), spool)

    assert fetched.final_url == site.url("/image.png")
    assert fetched.filename == "image.png"


def test_ignores_proxies_from_the_environment(
    site: Site, spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = f"http://127.0.0.2:{site.port}"
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)

    fetch_into(site.url("/image.png"), local(site), spool)

    assert site.accepted()["127.0.0.2"] == 0


def test_an_allowed_cidr_lets_a_private_address_through(site: Site, spool: Spool) -> None:
    policy = FetchPolicy(allow_hosts=("127.0.0.0/8",), ports=(site.port,))

    assert fetch_into(site.url("/image.png"), policy, spool).status == 200


# Form of the URL


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/image.png",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_",
        "javascript:alert(1)",
        "not a url",
        "",
        "http://",
        "http:///image.png",
        "http://user:pass@127.0.0.1/image.png",
        "http://user@127.0.0.1/image.png",
        "http://@127.0.0.1/image.png",
        "http://[::1/image.png",
        "http://127.0.0.1:99999/image.png",
        "http://exa mple.com/image.png",
        "http://%31%32%37.0.0.1/image.png",
    ],
)
def test_refuses_what_is_not_an_http_url(url: str, site: Site, spool: Spool) -> None:
    error = refusal(url, local(site, ports=(80, 70, site.port)), spool)

    assert (status_of(error), error.code) == (400, "url_invalid")
    assert site.connections() == 0


def test_refuses_credentials_even_to_an_allowed_host(site: Site, spool: Spool) -> None:
    url = f"http://user:pass@127.0.0.1:{site.port}/image.png"

    error = refusal(url, local(site), spool)

    assert error.code == "url_invalid"
    assert "user:pass@" in error.message
    assert site.connections() == 0


def test_refuses_a_port_outside_the_default_ports(dns: FakeDns, spool: Spool) -> None:
    dns.answers["img.test"] = [["93.184.216.34"]]

    error = refusal("http://img.test:22/image.png", FetchPolicy(), spool)

    assert (status_of(error), error.code) == (400, "url_forbidden")
    assert "port 22" in error.message
    assert dns.calls == []


def test_the_default_port_of_the_scheme_must_be_allowed(site: Site, spool: Spool) -> None:
    error = refusal("https://127.0.0.1/image.png", local(site, ports=(80,)), spool)

    assert error.code == "url_forbidden"
    assert "port 443" in error.message


# Addresses


REFUSED_HOSTS = [
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0x7f.0.0.1",
    "0177.0.0.1",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "224.0.0.1",
    "255.255.255.255",
    "240.0.0.1",
    "192.0.2.1",
    "[::1]",
    "[::]",
    "[::ffff:127.0.0.1]",
    "[::ffff:169.254.169.254]",
    "[::ffff:0:a00:1]",
    "[::127.0.0.1]",
    "[64:ff9b::a9fe:a9fe]",
    "[64:ff9b:1::a00:1]",
    "[2002:7f00:1::]",
    "[2002:a9fe:a9fe::1]",
    "[fe80::1]",
    "[fc00::1]",
    "[fd00::1]",
    "[fec0::1]",
    "[ff02::1]",
    "[2001:db8::1]",
    # One address in every IANA special-purpose entry that is not globally reachable
    "0.1.2.3",
    "100.127.255.254",
    "192.0.0.1",
    "192.0.0.8",
    "192.0.0.9",
    "192.0.0.170",
    "192.0.0.171",
    "192.0.0.255",
    "192.0.2.255",
    "192.88.99.1",
    "198.18.0.1",
    "198.19.255.254",
    "198.51.100.7",
    "203.0.113.9",
    "239.255.255.250",
    "[3fff::1]",
    "[3fff:fff:ffff::1]",
    "[5f00::1]",
    "[5f00:ffff::1]",
    "[100::1]",
    "[100:0:0:1::1]",
    "[2001::1]",
    "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
    "[2001:1::1]",
    "[2001:2::1]",
    "[2001:3::1]",
    "[2001:10::1]",
    "[2001:1ff:ffff::1]",
    "[2001:db8:ffff::1]",
    "[64:ff9b:1:ffff::1]",
    "[fdff:ffff::1]",
    "[febf::1]",
    "[ff0e::1]",
    # IPv4 inside IPv6: mapped, translated, compatible, NAT64 and 6to4 forms of non-public v4
    "[::ffff:100.64.0.1]",
    "[::ffff:192.0.2.1]",
    "[::ffff:198.18.0.1]",
    "[::ffff:203.0.113.1]",
    "[::ffff:240.0.0.1]",
    "[::ffff:0:192.168.0.1]",
    "[::10.0.0.1]",
    "[::2]",
    "[64:ff9b::192.0.0.1]",
    "[64:ff9b::100.64.0.1]",
    "[2002:c000:0201::1]",
    "[2002:c633:6401::1]",
    "[2002:0a00:0001:ffff::1]",
    "[2002::1]",
]


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_refuses_non_public_addresses_before_connecting(
    host: str, site: Site, spool: Spool
) -> None:
    error = refusal(site.url("/image.png", host), FetchPolicy(ports=(site.port,)), spool)

    assert (status_of(error), error.code) == (400, "url_forbidden")
    assert "not a public internet address" in error.message
    assert site.connections() == 0


@pytest.mark.parametrize("host", ["[5f00::1%25lo]", "[fe80::1%251]", "[2606:4700::1111%25eth0]"])
def test_refuses_an_ipv6_zone(host: str, site: Site, spool: Spool) -> None:
    error = refusal(site.url("/image.png", host), FetchPolicy(ports=(site.port,)), spool)

    assert (status_of(error), error.code) == (400, "url_invalid")
    assert "IPv6 zone" in error.message
    assert site.connections() == 0


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "1.1.1.1",
        "100.63.255.255",
        "100.128.0.0",
        "192.0.1.1",
        "198.20.0.1",
        "223.255.255.254",
        "2606:4700::1111",
        "2001:200::1",
        "2001:db7:ffff::1",
        "2001:db9::1",
        "3ffe:ffff::1",
        "3fff:1000::1",
        "5eff:ffff::1",
        "5f01::1",
        "::ffff:93.184.216.34",
        "64:ff9b::5db8:d822",
        "2002:5db8:d822::1",
    ],
)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_refuses_a_name_resolving_to_a_private_address(
    dns: FakeDns, site: Site, spool: Spool
) -> None:
    dns.answers["intranet.test"] = [["10.0.0.1"]]

    error = refusal(site.url("/image.png", "intranet.test"), FetchPolicy(ports=(site.port,)), spool)

    assert error.code == "url_forbidden"
    assert "intranet.test resolves to 10.0.0.1" in error.message


def test_any_bad_address_refuses_the_name(dns: FakeDns, site: Site, spool: Spool) -> None:
    dns.answers["mixed.test"] = [["93.184.216.34", "127.0.0.1"]]

    error = refusal(site.url("/image.png", "mixed.test"), FetchPolicy(ports=(site.port,)), spool)

    assert error.code == "url_forbidden"
    assert "127.0.0.1" in error.message
    assert site.connections() == 0


def test_connects_to_the_checked_address_not_a_second_answer(
    dns: FakeDns, site: Site, spool: Spool
) -> None:
    # The first answer passes the policy; a rebinding resolver then points the name at
    # 127.0.0.2 (the same port listens there too). A second lookup would reach it.
    dns.answers["rebind.test"] = [["127.0.0.1"], ["127.0.0.2"]]
    policy = FetchPolicy(allow_hosts=("127.0.0.1/32",), ports=(site.port,))

    fetch_into(site.url("/image.png", "rebind.test"), policy, spool)

    assert dns.calls == ["rebind.test"]
    accepted = site.accepted()
    assert (accepted["127.0.0.1"], accepted["127.0.0.2"]) == (1, 0)


def test_resolves_once_per_hop_and_keeps_the_host_header(
    dns: FakeDns, site: Site, spool: Spool
) -> None:
    dns.answers["img.test"] = [["127.0.0.1"]]
    policy = FetchPolicy(allow_hosts=("img.test",), ports=(site.port,))

    fetch_into(site.url("/hops/2", "img.test"), policy, spool)

    assert dns.calls == ["img.test"] * 3
    assert site.requests == [
        (path, f"img.test:{site.port}") for path in ("/hops/2", "/hops/1", "/hops/0")
    ]


def test_a_wildcard_allows_names_under_it(dns: FakeDns, site: Site, spool: Spool) -> None:
    dns.answers["cdn.img.test"] = [["127.0.0.1"]]
    policy = FetchPolicy(allow_hosts=("*.img.test",), ports=(site.port,))

    assert fetch_into(site.url("/image.png", "cdn.img.test"), policy, spool).status == 200


def test_deny_hosts_blocks_a_name_without_resolving_it(
    dns: FakeDns, site: Site, spool: Spool
) -> None:
    dns.answers["img.blocked.test"] = [["127.0.0.1"]]
    policy = local(site, allow_hosts=("*.blocked.test",), deny_hosts=("*.blocked.test",))

    error = refusal(site.url("/image.png", "img.blocked.test"), policy, spool)

    assert error.code == "url_forbidden"
    assert "deny list" in error.message
    assert dns.calls == []
    assert site.connections() == 0


def test_deny_hosts_cidr_wins_over_allow(dns: FakeDns, site: Site, spool: Spool) -> None:
    dns.answers["img.test"] = [["127.0.0.1"]]
    policy = local(site, allow_hosts=("img.test",), deny_hosts=("127.0.0.0/8",))

    error = refusal(site.url("/image.png", "img.test"), policy, spool)

    assert error.code == "url_forbidden"
    assert "deny list" in error.message
    assert site.connections() == 0


def test_deny_hosts_cidr_sees_through_ipv4_mapped_forms(site: Site, spool: Spool) -> None:
    policy = local(site, deny_hosts=("127.0.0.0/8",))

    error = refusal(site.url("/image.png", "[::ffff:127.0.0.1]"), policy, spool)

    assert error.code == "url_forbidden"
    assert site.connections() == 0


# Redirects


def _allow_only_the_site(site: Site) -> FetchPolicy:
    return FetchPolicy(allow_hosts=("127.0.0.1/32",), ports=(site.port,))


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "port 80 is not allowed"),
        ("http://169.254.169.254:{port}/latest/meta-data/", "not a public internet address"),
        ("http://10.0.0.1:{port}/", "not a public internet address"),
        ("http://[::ffff:10.0.0.1]:{port}/", "not a public internet address"),
        ("http://127.0.0.1:22/", "port 22 is not allowed"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("gopher://127.0.0.1:{port}/", "only http:// and https://"),
    ],
)
def test_refuses_a_redirect_to_a_forbidden_place(
    site: Site, spool: Spool, target: str, reason: str
) -> None:
    url = site.url("/redirect?to=" + target.format(port=site.port))

    error = refusal(url, _allow_only_the_site(site), spool)

    assert (status_of(error), error.code) == (400, "url_forbidden")
    assert "redirected to" in error.message
    assert reason in error.message
    assert len(site.paths()) == 1


def test_refuses_more_redirects_than_allowed(site: Site, spool: Spool) -> None:
    error = refusal(site.url("/hops/4"), local(site, max_redirects=3), spool)

    assert (status_of(error), error.code) == (400, "url_forbidden")
    assert "more than 3" in error.message
    assert site.paths() == ["/hops/4", "/hops/3", "/hops/2", "/hops/1"]


def test_no_redirects_when_the_limit_is_zero(site: Site, spool: Spool) -> None:
    error = refusal(site.url("/hops/1"), local(site, max_redirects=0), spool)

    assert error.code == "url_forbidden"


def test_a_redirect_without_location_is_unreachable(site: Site, spool: Spool) -> None:
    error = refusal(site.url("/redirect"), local(site), spool)

    assert (status_of(error), error.code) == (502, "url_unreachable")
    assert "302" in error.message


# What the remote answers


def test_non_2xx_is_unreachable_with_the_status(site: Site, spool: Spool) -> None:
    error = refusal(site.url("/missing"), local(site), spool)

    assert (status_of(error), error.code) == (502, "url_unreachable")
    assert "answered 404 Not Found" in error.message


def test_html_is_not_an_image_whatever_its_content_type(site: Site, spool: Spool) -> None:
    error = refusal(site.url("/page.html"), local(site), spool)

    assert (status_of(error), error.code) == (415, "url_not_image")
    assert "looks like an HTML page" in error.message
    assert site.url("/page.html") in error.message


@pytest.mark.parametrize("path", ["/short", "/empty"])
def test_a_body_too_short_to_sniff_is_not_an_image(path: str, site: Site, spool: Spool) -> None:
    error = refusal(site.url(path), local(site), spool)

    assert (status_of(error), error.code) == (415, "url_not_image")


def test_content_length_over_the_limit_is_refused_before_reading(site: Site, spool: Spool) -> None:
    error = refusal(site.url("/huge.png"), local(site, timeout_seconds=10), spool)

    assert (status_of(error), error.code) == (413, "url_too_large")
    assert site.url("/huge.png") in error.message
    assert spool.size == 0


def test_an_endless_body_stops_at_the_byte_cap(site: Site, spool: Spool) -> None:
    error = refusal(site.url("/endless.png"), local(site), spool)

    assert (status_of(error), error.code) == (413, "url_too_large")
    assert "262144 bytes" in error.message
    assert spool.size <= SPOOL_LIMIT


def test_a_truncated_body_is_unreachable(site: Site, spool: Spool) -> None:
    error = refusal(site.url("/truncated.png"), local(site), spool)

    assert (status_of(error), error.code) == (502, "url_unreachable")


def test_a_slow_drip_stops_at_the_deadline(site: Site, spool: Spool) -> None:
    started = time.monotonic()

    error = refusal(site.url("/drip.png"), local(site, timeout_seconds=1.2), spool)

    assert (status_of(error), error.code) == (504, "url_timeout")
    assert 1.2 <= time.monotonic() - started < 3
    assert 0 < spool.size < 10


def test_a_server_that_never_answers_times_out(site: Site, spool: Spool) -> None:
    error = refusal(site.url("/stall"), local(site, timeout_seconds=0.5), spool)

    assert (status_of(error), error.code) == (504, "url_timeout")


def test_the_whole_redirect_chain_shares_one_deadline(site: Site, spool: Spool) -> None:
    url = site.url("/redirect?delay=0.8&to=" + site.url("/drip.png"))
    started = time.monotonic()

    error = refusal(url, local(site, timeout_seconds=1.2), spool)

    assert error.code == "url_timeout"
    assert "redirected to" in error.message
    assert 1.2 <= time.monotonic() - started < 1.9  # not 0.8 + 1.2


def test_connect_timeout(spool: Spool) -> None:
    # A listener whose accept queue is full drops new SYNs: connect() hangs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
            policy = FetchPolicy(
                allow_private=True, ports=(port,), timeout_seconds=5, connect_timeout_seconds=0.3
            )
            started = time.monotonic()
            error = refusal(f"http://127.0.0.1:{port}/image.png", policy, spool)
        finally:
            for filler in fillers:
                filler.close()

    assert (status_of(error), error.code) == (504, "url_timeout")
    assert "did not accept a connection within 0.3 seconds" in error.message
    assert time.monotonic() - started < 2


def test_connection_refused_is_unreachable(spool: Spool) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    policy = FetchPolicy(allow_private=True, ports=(port,), timeout_seconds=5)

    error = refusal(f"http://127.0.0.1:{port}/image.png", policy, spool)

    assert (status_of(error), error.code) == (502, "url_unreachable")
    assert "refused" in error.message


def test_dns_failure_is_unreachable(dns: FakeDns, spool: Spool) -> None:
    dns.answers["nowhere.test"] = [[]]

    error = refusal("http://nowhere.test/image.png", FetchPolicy(), spool)

    assert (status_of(error), error.code) == (502, "url_unreachable")
    assert "nowhere.test could not be resolved" in error.message


# TLS


@dataclass(frozen=True)
class Certificates:
    authority: Path
    chain: Path
    key: Path


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    # To make the test certificates.
    openssl = required_command("openssl", "IMGHOST_TEST_OPENSSL", "apt-get install openssl")
    folder = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=CA")
    run("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=img.test")
    (folder / "leaf.ext").write_text(
        "subjectAltName=DNS:img.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    run(
        "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "leaf.ext", "-out", "leaf.pem",
    )  # fmt: skip
    return Certificates(folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key")


@dataclass
class TlsSite:
    site: Site
    server_names: list[str | None]


@pytest.fixture
def tls_site(certificates: Certificates, monkeypatch: pytest.MonkeyPatch) -> Iterator[TlsSite]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.chain, certificates.key)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _context: names.append(name)
    # The default context of the fetch trusts the system store; this adds the test authority.
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.authority))
    served = Site(tls=context).start()
    yield TlsSite(served, names)
    served.stop()


def test_https_verifies_the_name_and_sends_it_as_sni(
    dns: FakeDns, tls_site: TlsSite, spool: Spool
) -> None:
    site = tls_site.site
    dns.answers["img.test"] = [["127.0.0.1"]]
    policy = FetchPolicy(allow_hosts=("img.test",), ports=(site.port,))

    fetched = fetch_into(site.url("/image.png", "img.test"), policy, spool)

    assert fetched.status == 200
    assert spool.path.read_bytes() == PNG
    assert tls_site.server_names[0] == "img.test"
    assert site.requests == [("/image.png", f"img.test:{site.port}")]


def test_https_refuses_a_certificate_for_another_name(
    dns: FakeDns, tls_site: TlsSite, spool: Spool
) -> None:
    site = tls_site.site
    dns.answers["other.test"] = [["127.0.0.1"]]
    policy = FetchPolicy(allow_hosts=("other.test",), ports=(site.port,))

    error = refusal(site.url("/image.png", "other.test"), policy, spool)

    assert (status_of(error), error.code) == (502, "url_unreachable")
    assert "TLS" in error.message
    assert tls_site.server_names[0] == "other.test"
    assert site.requests == []
