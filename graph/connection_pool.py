"""The connection pool under our Graph client: httpx's, with a cheaper idle-connection check.

For every request httpcore's pool asks each idle connection whether its socket is
readable (a server that closed a kept-alive connection makes it readable). Its default
network backend answers through anyio's typed attributes, which build a dictionary of
every socket attribute, ``getpeername`` included, on each question. Over HTTP/1.1 to the
local simulator the pool holds dozens of connections, so that check was about a tenth of
the host's CPU. :class:`GraphNetworkBackend` opens connections with httpcore's own anyio
backend and answers only that one question itself, from the socket kept when the
connection was opened and one ``poll`` registration per connection. On plain TCP it also
sends each HTTP/1.1 request in one system call (:class:`GraphNetworkStream`).

The timeouts are parameters because httpcore's network-stream interface has them so.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

__all__ = ["GraphNetworkBackend", "GraphNetworkStream", "graph_transport"]

# httpx's default limits (httpx.AsyncHTTPTransport without ``limits``).
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class GraphNetworkStream(httpcore.AsyncNetworkStream):
    """One connection of httpcore's anyio backend, asked whether it is readable cheaply.

    With ``coalesce_writes`` a request's writes (HTTP/1.1: its headers, then its body) are
    held until the response is read and then sent in one system call instead of one each:
    on loopback every send also runs the receiving side's network stack. Only for plain
    TCP, where httpcore speaks HTTP/1.1 and always reads after writing a whole request;
    over TLS (HTTP/2, whose reads and writes interleave) every write goes out at once.
    """

    def __init__(
        self, inner: httpcore.AsyncNetworkStream, *, coalesce_writes: bool = False
    ) -> None:
        self._inner = inner
        self._coalesce_writes = coalesce_writes
        self._pending: list[bytes] = []
        self._pending_timeout: float | None = None
        self._socket: socket.socket | None = inner.get_extra_info("socket")
        # select.poll is missing on Windows (and under some event-loop patches): select.select.
        self._readable = select.poll() if hasattr(select, "poll") else None
        if self._readable is not None and self._socket is not None:
            self._readable.register(self._socket, select.POLLIN)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        """Send the writes held back, then read up to ``max_bytes``."""
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            # As httpcore does when writing a request fails: read what the server may have
            # answered before closing, or meet the error reading it.
            with contextlib.suppress(httpcore.WriteError):
                await self._inner.write(data, self._pending_timeout)
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Write ``buffer``, or hold it until the next read."""
        if self._coalesce_writes:
            self._pending.append(buffer)
            self._pending_timeout = timeout
            return
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        """Close the connection, dropping writes held back."""
        self._pending.clear()
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        """Upgrade to TLS; the TLS stream runs over the same socket."""
        return GraphNetworkStream(
            await self._inner.start_tls(ssl_context, server_hostname, timeout)
        )

    def get_extra_info(self, info: str) -> Any:
        """Answer ``is_readable`` from the kept socket, anything else from the inner stream."""
        if info == "is_readable":
            # No socket is read as a connection about to end, as httpcore itself does; a
            # closed descriptor polls as POLLNVAL, which is truthy too.
            if self._socket is None:
                return True
            if self._readable is not None:
                return bool(self._readable.poll(0))
            readable, _, _ = select.select([self._socket], [], [], 0)
            return bool(readable)
        return self._inner.get_extra_info(info)


class GraphNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, its streams wrapped in :class:`GraphNetworkStream`."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Open a TCP connection."""
        return GraphNetworkStream(
            await self._inner.connect_tcp(host, port, timeout, local_address, socket_options),
            coalesce_writes=True,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Open a Unix socket connection."""
        return GraphNetworkStream(
            await self._inner.connect_unix_socket(path, timeout, socket_options)
        )

    async def sleep(self, seconds: float) -> None:
        """Sleep as the inner backend does."""
        await self._inner.sleep(seconds)


def graph_transport(
    network_backend: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncHTTPTransport:
    """Return httpx's transport (HTTP/1.1 and HTTP/2) over a pool with our network backend.

    httpx has no parameter for httpcore's network backend, so the transport's pool is
    replaced by one built with the transport's own defaults and ours; the replaced pool
    has never opened a connection. ``tests/graph/test_connection_pool.py`` fails if
    httpx stops sending through it.
    """
    transport = httpx.AsyncHTTPTransport(http2=True)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=_LIMITS.max_connections,
        max_keepalive_connections=_LIMITS.max_keepalive_connections,
        keepalive_expiry=_LIMITS.keepalive_expiry,
        http1=True,
        http2=True,
        network_backend=network_backend or GraphNetworkBackend(),
    )
    return transport
