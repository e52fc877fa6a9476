"""Serve the simulator: in its own thread with its own event loop, or as the main program.

The bot must not share an event loop with the simulator: botbuilder fetches signing keys
with blocking I/O, which would deadlock against a key server on the same loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable
from types import TracebackType

from aiohttp import web

from contactcenter.clock import Clock
from simulator.app import create_simulator_app
from simulator.config import SimulatorConfig

_LOGGER = logging.getLogger(__name__)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(
    config: SimulatorConfig,
    stop: asyncio.Event,
    *,
    clock: Clock | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until ``stop`` is set; ``on_ready`` gets the base URL once listening."""
    runner = web.AppRunner(create_simulator_app(config, clock=clock), access_log=None)
    await runner.setup()
    try:
        sock = _bind(config.host, config.port)
        site = web.SockSite(runner, sock)
        await site.start()
        base_url = _base_url(sock)
        _LOGGER.info("Teams simulator listening on %s", base_url)
        if on_ready is not None:
            on_ready(base_url)
        await stop.wait()
    finally:
        await runner.cleanup()


class SimulatorThread:
    """Run the simulator in a daemon thread with its own event loop.

    ``start()`` returns once it listens (``base_url`` then says where); ``stop()`` shuts it
    down cleanly. Also a context manager.
    """

    def __init__(
        self, config: SimulatorConfig, *, clock: Clock | None = None, start_timeout_s: float = 30.0
    ) -> None:
        self._config = config
        self._clock = clock
        self._start_timeout_s = start_timeout_s
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._base_url: str | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        """Return the simulator's origin, e.g. ``http://127.0.0.1:49152``."""
        if self._base_url is None:
            raise RuntimeError("the simulator is not running")
        return self._base_url

    def start(self) -> str:
        """Start serving and return the base URL; raise if it could not start."""
        if self._thread is not None:
            raise RuntimeError("the simulator thread was already started")
        self._thread = threading.Thread(target=self._run, name="teams-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._start_timeout_s):
            raise TimeoutError(f"the simulator did not start within {self._start_timeout_s}s")
        if self._error is not None:
            self._thread.join()
            raise RuntimeError("the simulator failed to start") from self._error
        return self.base_url

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop serving and wait for the thread to end."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            # The loop may close between the check and the call when the thread ends alone.
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                _LOGGER.debug("Simulator loop already closed")
        thread.join(timeout_s)
        if thread.is_alive():
            raise TimeoutError(f"the simulator did not stop within {timeout_s}s")
        self._base_url = None

    def __enter__(self) -> SimulatorThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as err:  # reported to start(), or logged: never lost
            if self._ready.is_set():
                _LOGGER.exception("The simulator stopped with an error")
            else:
                self._error = err
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()

        def ready(base_url: str) -> None:
            self._base_url = base_url
            self._ready.set()

        await serve(self._config, self._stop, clock=self._clock, on_ready=ready)
