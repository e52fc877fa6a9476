"""The host served in tests as in production: aiohttp's test server with the host's runner."""

from __future__ import annotations

import socket
from typing import Any, cast

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pytest_aiohttp import AiohttpClient

from bot.server import ClientDeadlines, HostRunner


class HostTestServer(TestServer):
    """A loopback test server whose connections the host's request handler serves."""

    def __init__(
        self,
        app: web.Application,
        *,
        deadlines: ClientDeadlines | None = None,
        cancel_handlers: bool = True,
        **kwargs: Any,
    ) -> None:
        """Serve ``app``; ``cancel_handlers=False`` keeps a handler whose client went away
        running, as production does (aiohttp's test server cancels it)."""
        super().__init__(app, **kwargs)
        self._deadlines = deadlines
        self._cancel_handlers = cancel_handlers

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        kwargs["handler_cancellation"] = self._cancel_handlers
        return HostRunner(self.app, deadlines=self._deadlines, **kwargs)


class ReservedPort:
    """A loopback port bound now and served later, so nothing else can take it meanwhile.

    A port found free and bound only later (``unused_port()``) can be taken in between as
    the local port of an outgoing connection; the simulator needs the host's URL before
    the host starts, so the port is held by its listening socket from the start.
    """

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port: int = self.socket.getsockname()[1]

    def factory(self, host: str, port: int, family: socket.AddressFamily) -> socket.socket:
        """Hand the bound socket to aiohttp's test server (its ``socket_factory``)."""
        return self.socket


async def host_client(
    aiohttp_client: AiohttpClient,
    app: web.Application,
    *,
    reserved: ReservedPort | None = None,
) -> TestClient[web.Request, web.Application]:
    """Serve ``app`` on loopback as production does (on ``reserved``); return a client of it."""
    server = (
        HostTestServer(app, port=reserved.port, socket_factory=reserved.factory)
        if reserved is not None
        else HostTestServer(app)
    )
    client: TestClient[web.Request, None] = await aiohttp_client(server)
    # pytest-aiohttp types the client of a server as app-less; this server has the app.
    return cast("TestClient[web.Request, web.Application]", client)
