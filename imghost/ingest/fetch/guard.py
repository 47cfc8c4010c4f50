"""Which URLs and addresses a fetch may reach: the guard against server-side request forgery.

A URL becomes a target only with an http or https scheme, no credentials, a valid host and an
allowed port. Its host is resolved once per request and EVERY address it resolves to is judged
against the policy's deny and allow lists and the IANA special-purpose address table, because
the connection (connection.py) may use any of them and never looks the name up again.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}

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
class Target:
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
class Address:
    family: socket.AddressFamily
    sockaddr: tuple[str, int] | tuple[str, int, int, int]
    ip: IPAddress


class Refused(Exception):
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


class Guard:
    """The policy's judgement on URLs, host names and the addresses they resolve to."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self.allow = _HostRules.parse(policy.allow_hosts)
        self.deny = _HostRules.parse(policy.deny_hosts)

    def target(self, url: str) -> Target:
        target = _parse(url)
        if target.port not in self.policy.ports:
            allowed = ", ".join(str(port) for port in self.policy.ports) or "none"
            raise Refused(f"port {target.port} is not allowed (allowed: {allowed})")
        if self.deny.match_name(target.host):
            raise Refused(f"{target.host} is on the fetch deny list")
        return target

    def check(self, target: Target, addresses: Sequence[Address]) -> None:
        """Refuse unless EVERY address may be fetched: the socket may use any of them."""
        for address in addresses:
            reason = self._refusal(target.host, address.ip)
            if reason is None:
                continue
            if _literal(target.host) == address.ip:
                raise Refused(f"{address.ip} is {reason}")
            raise Refused(f"{target.host} resolves to {address.ip}, which is {reason}")

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


def _parse(url: str) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"it is not a valid URL ({exc})", invalid=True) from exc
    if parts.scheme not in DEFAULT_PORTS:
        shown = f"{parts.scheme}:" if parts.scheme else "no scheme"
        raise Refused(f"only http:// and https:// URLs are fetched, not {shown}", invalid=True)
    if "@" in parts.netloc:
        raise Refused("it carries a user name or password (user:pass@)", invalid=True)
    if not parts.hostname:
        raise Refused("it has no host name", invalid=True)
    host = _ascii_host(parts.hostname)
    request_path = quote(parts.path or "/", safe="/%!$&'()*+,;=:@-._~")
    if parts.query:
        request_path += "?" + quote(parts.query, safe="/?%!$&'()*+,;=:@-._~")
    port = DEFAULT_PORTS[parts.scheme] if port is None else port
    return Target(url, parts.scheme, host, port, request_path)


def _ascii_host(hostname: str) -> str:
    if ":" in hostname:
        if "%" in hostname:
            # A zone picks one of this server's interfaces: never the user's to choose.
            raise Refused(f"{hostname} names an IPv6 zone (%)", invalid=True)
        try:
            ipaddress.IPv6Address(hostname)
        except ValueError as exc:
            raise Refused(f"{hostname} is not a valid IPv6 address", invalid=True) from exc
        return hostname
    try:
        host = hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise Refused(f"{hostname} is not a valid host name", invalid=True) from exc
    if not _HOST_NAME.fullmatch(host):
        raise Refused(f"{hostname} is not a valid host name", invalid=True)
    return host


def resolve(target: Target) -> list[Address]:
    """The host's addresses, looked up exactly once per request."""
    infos = socket.getaddrinfo(
        target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    addresses: list[Address] = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            ip = ipaddress.ip_address(sockaddr[0])
            if all(address.ip != ip for address in addresses):
                addresses.append(Address(family, sockaddr, ip))  # type: ignore[arg-type]
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "no IPv4 or IPv6 address")
    return addresses
