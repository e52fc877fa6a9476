"""The host served in tests as in production: aiohttp's test server with the host's runner."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.server import ClientDeadlines, HostRunner


class HostTestServer(TestServer):
    """A loopback test server whose connections the host's request handler serves."""

    def __init__(
        self, app: web.Application, *, deadlines: ClientDeadlines | None = None, **kwargs: Any
    ) -> None:
        super().__init__(app, **kwargs)
        self._deadlines = deadlines

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        return HostRunner(self.app, deadlines=self._deadlines, **kwargs)
