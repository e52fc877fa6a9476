"""The host served in tests as in production: aiohttp's test server with the host's runner."""

from __future__ import annotations

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


async def host_client(
    aiohttp_client: AiohttpClient, app: web.Application, *, port: int | None = None
) -> TestClient[web.Request, web.Application]:
    """Serve ``app`` on loopback as production does; return a client of it."""
    client: TestClient[web.Request, None] = await aiohttp_client(HostTestServer(app, port=port))
    # pytest-aiohttp types the client of a server as app-less; this server has the app.
    return cast("TestClient[web.Request, web.Application]", client)
