"""The Graph client's connection pool and its idle-connection check, on loopback."""

from __future__ import annotations

import asyncio
import select
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path

import httpcore
import httpx
import pytest

from graph.calling import GraphHttpClient
from graph.connection_pool import GraphNetworkBackend, GraphNetworkStream, graph_transport
from tests.loopback_tls import self_signed_certificate

_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class CountingBackend(httpcore.AsyncNetworkBackend):
    """Count the connections our backend opens."""

    def __init__(self) -> None:
        self.inner = GraphNetworkBackend()
        self.opened = 0

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.opened += 1
        return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)


class OneResponseServer:
    """Answer every request on a connection with 200; close after ``per_connection``."""

    def __init__(self, per_connection: int) -> None:
        self.per_connection = per_connection
        self._closed = asyncio.Semaphore(0)
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(self.per_connection):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(_RESPONSE)
            await writer.drain()
        writer.close()
        await writer.wait_closed()
        self._closed.release()

    async def connection_closed(self) -> None:
        """Wait until the server has closed one more connection."""
        await self._closed.acquire()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/"


Serving = Callable[..., Awaitable[OneResponseServer]]


@pytest.fixture
async def serving() -> AsyncIterator[Serving]:
    started: list[asyncio.Server] = []

    async def start(per_connection: int, tls: ssl.SSLContext | None = None) -> OneResponseServer:
        server = OneResponseServer(per_connection)
        server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
        started.append(server.server)
        return server

    yield start
    for server in started:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def backend() -> CountingBackend:
    return CountingBackend()


@pytest.fixture
async def http(backend: CountingBackend) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=graph_transport(backend), timeout=5) as client:
        yield client


async def test_requests_go_through_our_network_backend(
    backend: CountingBackend, http: httpx.AsyncClient, serving: Serving
) -> None:
    server = await serving(2)

    first = await http.get(server.url)
    second = await http.get(server.url)

    assert (first.text, second.text) == ("ok", "ok")
    assert backend.opened == 1


async def test_a_connection_the_server_closed_is_not_used_again(
    backend: CountingBackend, http: httpx.AsyncClient, serving: Serving
) -> None:
    server = await serving(1)

    first = await http.get(server.url)
    await server.connection_closed()
    second = await http.get(server.url)

    assert (first.text, second.text) == ("ok", "ok")
    assert backend.opened == 2


async def test_without_poll_the_check_uses_select(
    backend: CountingBackend,
    http: httpx.AsyncClient,
    serving: Serving,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(select, "poll")
    server = await serving(2)

    kept = [await http.get(server.url), await http.get(server.url)]
    await server.connection_closed()
    after_close = [await http.get(server.url), await http.get(server.url)]
    await server.connection_closed()

    assert [r.text for r in [*kept, *after_close]] == ["ok"] * 4
    assert backend.opened == 2


async def test_a_tls_connection_is_kept_alive_and_used_again(
    serving: Serving, tmp_path: Path
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    server = await serving(2, server_tls)
    backend = CountingBackend()

    async with httpcore.AsyncConnectionPool(
        ssl_context=ssl.create_default_context(cafile=str(cert)),
        http2=True,
        network_backend=backend,
    ) as pool:
        https = server.url.replace("http://", "https://")
        first = await pool.request("GET", https)
        second = await pool.request("GET", https)
    await server.connection_closed()

    assert (first.content, second.content) == (b"ok", b"ok")
    assert backend.opened == 1


async def test_the_product_client_uses_our_network_backend(serving: Serving) -> None:
    server = await serving(1)
    async with GraphHttpClient(timeout_s=5) as http:
        await http.get(server.url)
        await server.connection_closed()

        # Kept alive, then closed by the server: sending on it again would fail.
        response = await http.get(server.url)

    assert response.text == "ok"


class RecordingStream(httpcore.AsyncNetworkStream):
    """An inner stream that records what happens to it, in order."""

    def __init__(self, *, fail_writes: bool = False) -> None:
        self.events: list[tuple[str, bytes]] = []
        self.fail_writes = fail_writes

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        self.events.append(("read", b""))
        return b"HTTP/1.1 200 OK\r\n"

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if self.fail_writes:
            raise httpcore.WriteError("connection reset")
        self.events.append(("write", buffer))

    async def aclose(self) -> None:
        self.events.append(("close", b""))


async def test_a_requests_writes_go_out_together_before_its_response_is_read() -> None:
    inner = RecordingStream()
    stream = GraphNetworkStream(inner, coalesce_writes=True)

    await stream.write(b"POST /x HTTP/1.1\r\n\r\n")
    await stream.write(b"{}")
    assert inner.events == []
    await stream.read(4096)

    assert inner.events == [("write", b"POST /x HTTP/1.1\r\n\r\n{}"), ("read", b"")]


async def test_without_coalescing_every_write_goes_out_at_once() -> None:
    inner = RecordingStream()
    stream = GraphNetworkStream(inner)

    await stream.write(b"frame 1")
    await stream.write(b"frame 2")

    assert inner.events == [("write", b"frame 1"), ("write", b"frame 2")]


async def test_a_failed_write_still_reads_what_the_server_answered() -> None:
    inner = RecordingStream(fail_writes=True)
    stream = GraphNetworkStream(inner, coalesce_writes=True)

    await stream.write(b"POST /x HTTP/1.1\r\n\r\n")

    assert await stream.read(4096) == b"HTTP/1.1 200 OK\r\n"


async def test_closing_drops_writes_held_back() -> None:
    inner = RecordingStream()
    stream = GraphNetworkStream(inner, coalesce_writes=True)

    await stream.write(b"POST /x HTTP/1.1\r\n\r\n")
    await stream.aclose()

    assert inner.events == [("close", b"")]
