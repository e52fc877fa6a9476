"""Background work the host owns: started with the app, cancelled on shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

_LOGGER = logging.getLogger(__name__)


class Background:
    """A set of named tasks; a task that fails is logged, and periodic ones keep going."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run ``coro`` in the background, owned by this set."""
        if self._closing:
            coro.close()
            raise RuntimeError("the host is shutting down")
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def every(
        self, interval_s: float, work: Callable[[], Awaitable[object]], *, name: str
    ) -> asyncio.Task[Any]:
        """Run ``work`` every ``interval_s`` seconds until shutdown; failures are logged."""

        async def loop() -> None:
            while True:
                try:
                    await work()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    _LOGGER.exception("periodic %s failed; retrying next interval", name)
                await asyncio.sleep(interval_s)

        return self.spawn(loop(), name=name)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            _LOGGER.error("background task %s failed", task.get_name(), exc_info=error)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def close(self, *, grace_s: float = 5.0) -> None:
        """Let in-flight work finish for up to ``grace_s``, then cancel what is left."""
        self._closing = True
        if not self._tasks:
            return
        _, still_running = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in still_running:
            task.cancel()
        if still_running:
            await asyncio.gather(*still_running, return_exceptions=True)
