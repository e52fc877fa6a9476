"""The host's HTTP server: aiohttp's, with our answer to what it cannot parse, and deadlines.

aiohttp answers a request it cannot parse (a request line or header over 8 KiB, a
malformed header, a bad method) before any middleware runs, in plain text, and logs it at
ERROR with a traceback; and it waits for a slow client's headers and body for as long as
the connection lives. :class:`HostRequestHandler` answers such a request with our JSON
error and logs it at INFO (it is the client's mistake, not ours), closes a connection
whose request headers take longer than ``header_timeout_s`` or whose body takes longer
than ``body_timeout_s``, and keeps everything else as aiohttp does it.
:class:`HostRunner` serves an app with it: :func:`serve` in production, the tests'
``HostTestServer`` on loopback (docs/decisions/0019-hostile-clients.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_exceptions import LineTooLong
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader

from bot.http import add_security_headers, error_response

_LOGGER = logging.getLogger(__name__)

RequestFactory = Callable[
    [
        RawRequestMessage,
        StreamReader,
        web.RequestHandler,
        AbstractStreamWriter,
        "asyncio.Task[None]",
    ],
    web.BaseRequest,
]


@dataclass(frozen=True, slots=True)
class ClientDeadlines:
    """How long a client may take to send a request; the defaults are a deployment's."""

    # From the first byte of a request to the end of its headers: browsers, Graph and the
    # Bot Framework send them in one packet.
    header_timeout_s: float = 20.0
    # From the end of the headers to the end of the body: a 5 MiB prompt upload at
    # 1 Mbit/s takes about 45 s.
    body_timeout_s: float = 60.0
    # An idle keep-alive connection is closed after this (as aiohttp's run_app does).
    keepalive_timeout_s: float = 75.0


class HostRequestHandler(web.RequestHandler):
    """aiohttp's connection handler with deadlines for a request's headers and body."""

    def __init__(self, manager: web.Server, *, deadlines: ClientDeadlines, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._deadlines = deadlines
        self._awaiting_headers = True
        self._deadline: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        """Start the header deadline at the first byte of a request."""
        if data and self._awaiting_headers and self._deadline is None:
            self._deadline = asyncio.get_running_loop().call_later(
                self._deadlines.header_timeout_s, self._headers_too_slow
            )
        super().data_received(data)

    def request_started(self, payload: StreamReader) -> None:
        """Stop the header deadline; start the body's, unless the body has all arrived."""
        self._awaiting_headers = False
        self._cancel_deadline()
        if not payload.is_eof():
            self._deadline = asyncio.get_running_loop().call_later(
                self._deadlines.body_timeout_s, self._body_too_slow, payload
            )

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        """Send the response; the next request's headers get a deadline of their own."""
        self._cancel_deadline()
        try:
            return await super().finish_response(request, resp, start_time)
        finally:
            self._awaiting_headers = True

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """Log at INFO what a client caused (a body that does not decode); ERROR otherwise."""
        exc = kw.get("exc_info")
        if isinstance(exc, web.RequestPayloadError | ConnectionError):
            _LOGGER.info("Dropped the rest of a request that could not be read: %s", exc)
            return
        super().log_exception(*args, **kw)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """Answer with our JSON error; a request aiohttp could not parse is logged at INFO."""
        if request.writer.output_size > 0:
            raise ConnectionError("a response was already sent: cannot send the error")
        if status >= 500:
            self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
            response = error_response(status, "internal error")
        else:
            _LOGGER.info(
                "Refused a malformed request from %s: %s",
                request.remote,
                type(exc).__name__ if exc is not None else message,
            )
            text = (
                "the request line or a header is too long"
                if isinstance(exc, LineTooLong)
                else "the request is not valid HTTP"
            )
            response = error_response(status, text, code="malformedRequest")
        add_security_headers(response)
        response.force_close()
        return response

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_too_slow(self) -> None:
        self._deadline = None
        if self._awaiting_headers:
            _LOGGER.info(
                "Closed a connection whose request headers took over %g s",
                self._deadlines.header_timeout_s,
            )
            self.force_close()

    def _body_too_slow(self, payload: StreamReader) -> None:
        self._deadline = None
        if not payload.is_eof():
            _LOGGER.info(
                "Closed a connection whose request body took over %g s",
                self._deadlines.body_timeout_s,
            )
            self.force_close()


class HostServer(web.Server):
    """aiohttp's server, making a :class:`HostRequestHandler` for each connection."""

    def __init__(
        self,
        handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
        *,
        request_factory: RequestFactory,
        deadlines: ClientDeadlines,
        **kwargs: Any,
    ) -> None:
        handler_kwargs = dict(kwargs)
        handler_cancellation = bool(handler_kwargs.pop("handler_cancellation", False))
        super().__init__(
            handler,
            request_factory=self._started(request_factory),
            handler_cancellation=handler_cancellation,
            **handler_kwargs,
        )
        self._deadlines = deadlines
        self._handler_kwargs = handler_kwargs

    @staticmethod
    def _started(make_request: RequestFactory) -> RequestFactory:
        def started(
            message: RawRequestMessage,
            payload: StreamReader,
            protocol: web.RequestHandler,
            writer: AbstractStreamWriter,
            task: asyncio.Task[None],
        ) -> web.BaseRequest:
            # The request's headers are all in: the handler's body deadline starts.
            if isinstance(protocol, HostRequestHandler):
                protocol.request_started(payload)
            return make_request(message, payload, protocol, writer, task)

        return started

    def __call__(self) -> HostRequestHandler:
        return HostRequestHandler(
            self,
            loop=asyncio.get_running_loop(),
            deadlines=self._deadlines,
            **self._handler_kwargs,
        )


class HostRunner(web.AppRunner):
    """aiohttp's application runner, serving the app with a :class:`HostServer`."""

    def __init__(
        self,
        app: web.Application,
        *,
        deadlines: ClientDeadlines | None = None,
        handle_signals: bool = False,
        shutdown_timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        self._deadlines = deadlines or ClientDeadlines()
        kwargs.setdefault("keepalive_timeout", self._deadlines.keepalive_timeout_s)
        self._server_kwargs = kwargs
        super().__init__(
            app, handle_signals=handle_signals, shutdown_timeout=shutdown_timeout, **kwargs
        )

    async def _make_server(self) -> web.Server:
        # aiohttp's own runner starts the app and makes its handler and request factory.
        made = await super()._make_server()
        return HostServer(
            made.request_handler,
            request_factory=made.request_factory,
            deadlines=self._deadlines,
            **self._server_kwargs,
        )


async def _serve(app: web.Application, *, host: str, port: int, deadlines: ClientDeadlines) -> None:
    runner = HostRunner(app, deadlines=deadlines, access_log=None, shutdown_timeout=10.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    deadlines: ClientDeadlines | None = None,
) -> None:
    """Serve ``app`` on ``host:port`` until SIGINT or SIGTERM, then shut it down cleanly."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(app, host=host, port=port, deadlines=deadlines or ClientDeadlines()))
