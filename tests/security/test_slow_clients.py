"""Slow and malformed clients, on raw connections to a production host.

aiohttp answers a request it cannot parse before any of our code runs, and has no deadline
for a request's headers or body; the host's own request handler (``bot/server.py``) gives
both a deadline and answers what aiohttp cannot parse with our JSON error. None of this
logs an ERROR (the suite fails any test that does): it is the client's doing.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from bot.app import Services, create_app
from bot.server import ClientDeadlines
from bot.settings import Settings
from storage.memory import MemoryStore
from tests.host_server import HostTestServer
from tests.security.support import refused

DEADLINES = ClientDeadlines(header_timeout_s=0.3, body_timeout_s=0.3, keepalive_timeout_s=30)
WAIT_S = 10.0


@pytest.fixture
async def address(tmp_path: Path, aiohttp_client: AiohttpClient) -> tuple[str, int]:
    """A production host served as in production, with short deadlines."""
    settings = Settings(
        demo=False,
        data_dir=tmp_path / "data",
        microsoft_app_id="9e1e3d2c-1b0a-4f5e-8d7c-6b5a4f3e2d1c",
        microsoft_app_password="not-used-in-these-tests",
        microsoft_app_tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
        public_base_url="https://cc.contoso.example",
    )
    app = create_app(settings, Services(store=MemoryStore(), run_timers=False))
    client: TestClient[web.Request, None] = await aiohttp_client(
        HostTestServer(app, deadlines=DEADLINES, cancel_handlers=False)
    )
    assert client.port is not None
    return client.host, client.port


async def _connect(address: tuple[str, int]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(*address)


async def _closed_after(reader: asyncio.StreamReader) -> tuple[bytes, float]:
    """Read until the host closes the connection; return what it sent and how long it took."""
    started = time.monotonic()
    received = await asyncio.wait_for(reader.read(), WAIT_S)
    return received, time.monotonic() - started


def _response(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, json.loads(body) if body else None


async def test_headers_sent_too_slowly_get_the_connection_closed(address: tuple[str, int]) -> None:
    reader, writer = await _connect(address)
    writer.write(b"POST /api/notifications HTTP/1.1\r\nHost: cc\r\n")
    await writer.drain()

    received, elapsed = await _closed_after(reader)

    assert received == b""
    assert elapsed >= DEADLINES.header_timeout_s * 0.9
    writer.close()
    refused("slow headers")


async def test_a_body_sent_too_slowly_gets_the_connection_closed(address: tuple[str, int]) -> None:
    reader, writer = await _connect(address)
    writer.write(
        b"POST /api/notifications HTTP/1.1\r\nHost: cc\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        b'{"value": ['
    )
    await writer.drain()

    received, elapsed = await _closed_after(reader)

    assert received == b""
    assert elapsed >= DEADLINES.body_timeout_s * 0.9
    writer.close()
    refused("slow body")


async def test_an_idle_keep_alive_connection_is_not_a_slow_client(
    address: tuple[str, int],
) -> None:
    reader, writer = await _connect(address)
    request = b"GET /healthz HTTP/1.1\r\nHost: cc\r\n\r\n"
    for _ in range(2):
        writer.write(request)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), WAIT_S)
        assert status_line.startswith(b"HTTP/1.1 200"), status_line
        length = 0
        while (line := await reader.readline()) != b"\r\n":
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        # Idle for longer than the header deadline: it starts at a request's first byte.
        await asyncio.sleep(DEADLINES.header_timeout_s * 2)
    writer.close()


MALFORMED: dict[str, bytes] = {
    "request-line-over-8-kib": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: cc\r\n\r\n",
    "header-over-8-kib": b"GET / HTTP/1.1\r\nHost: cc\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
    "too-many-headers": b"GET / HTTP/1.1\r\nHost: cc\r\n"
    + b"".join(b"X-H%d: v\r\n" % n for n in range(200))
    + b"\r\n",
    "not-http": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    "bad-method": b"G(T / HTTP/1.1\r\nHost: cc\r\n\r\n",
    "bad-version": b"GET / HTTP/9.9\r\nHost: cc\r\n\r\n",
    "header-without-colon": b"GET / HTTP/1.1\r\nHost: cc\r\nno colon here\r\n\r\n",
    "control-in-header": b"GET / HTTP/1.1\r\nHost: cc\r\nX-A: a\x00b\r\n\r\n",
    "bad-content-length": b"POST /api/notifications HTTP/1.1\r\nHost: cc\r\n"
    b"Content-Length: -5\r\n\r\n",
    "bad-chunk": b"POST /api/notifications HTTP/1.1\r\nHost: cc\r\n"
    b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_a_request_aiohttp_cannot_parse_gets_our_json_error(
    address: tuple[str, int], case: str
) -> None:
    reader, writer = await _connect(address)
    writer.write(MALFORMED[case])
    await writer.drain()

    received, _ = await _closed_after(reader)

    status, headers, body = _response(received)
    assert status == 400, (case, received[:200])
    assert headers["content-type"].startswith("application/json")
    assert headers["x-content-type-options"] == "nosniff"
    assert set(body["error"]) == {"code", "message"}
    writer.close()
    refused("unparsable requests")


async def test_a_body_that_does_not_decompress_gets_our_json_error(
    address: tuple[str, int],
) -> None:
    reader, writer = await _connect(address)
    writer.write(
        b"POST /api/notifications HTTP/1.1\r\nHost: cc\r\nContent-Type: application/json\r\n"
        b"Content-Encoding: gzip\r\nContent-Length: 12\r\n\r\nnot gzipped!"
    )
    await writer.drain()

    received, _ = await _closed_after(reader)

    status, _, body = _response(received)
    assert status == 400, received[:200]
    assert set(body["error"]) == {"code", "message"}
    writer.close()
    refused("unparsable requests")
