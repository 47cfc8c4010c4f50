"""The pinned connection: HTTP or HTTPS to addresses the guard has already judged.

The socket connects to a judged address itself, never to the name again, so no DNS answer can
change between the check and the connection; TLS still sends the host name (SNI) and verifies
the certificate against it. One deadline bounds the whole fetch: every send and receive gets
only the time that is left, and connecting (the TLS handshake included) no more than the
connect limit.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
from collections.abc import Sequence

from imghost.ingest.fetch.guard import Address, FetchPolicy, Target

CHUNK_BYTES = 64 * 1024


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the fetch deadline passed")
    return left


def _open(addresses: Sequence[Address], connect_timeout: float, deadline: float) -> socket.socket:
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


class PinnedConnection(http.client.HTTPConnection):
    """HTTP or HTTPS to the judged addresses; TLS verifies the certificate against the name."""

    def __init__(
        self, target: Target, addresses: Sequence[Address], policy: FetchPolicy, deadline: float
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
