"""Timers on the simulator's clock: ring timeouts, prompt durations, invitees who answer later.

Every delay in the simulated cloud goes through :class:`Timers`, never through a bare
``asyncio.sleep``, so that a simulator running on a :class:`~contactcenter.clock.VirtualClock`
moves only when the clock is advanced (``POST /sim/clock/advance``), and one on the system
clock behaves in real time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable

from contactcenter.clock import Clock

_LOGGER = logging.getLogger(__name__)


class TimerHandle:
    """A scheduled callback; ``cancel()`` stops it from running if it has not yet."""

    __slots__ = ("callback", "cancelled", "due", "name")

    def __init__(self, due: float, callback: Callable[[], None], name: str) -> None:
        self.due = due
        self.callback = callback
        self.name = name
        self.cancelled = False

    def cancel(self) -> None:
        """Stop the callback from running."""
        self.cancelled = True

    def __repr__(self) -> str:
        return f"TimerHandle({self.name!r}, due={self.due}, cancelled={self.cancelled})"


class Timers:
    """Run callbacks once the clock reaches their due time, in due-time order.

    Callbacks are plain functions run on the event loop; one that raises is logged and the
    others still run. With the system clock a background task wakes at each due time; with a
    virtual clock, :meth:`run_due` runs what the advanced clock has made due.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def call_later(
        self, delay_s: float, callback: Callable[[], None], *, name: str = ""
    ) -> TimerHandle:
        """Run ``callback`` once ``delay_s`` seconds have passed on the clock."""
        handle = TimerHandle(self._clock.monotonic() + max(0.0, delay_s), callback, name)
        if self._closed:
            # Shutting down: nothing runs any more.
            handle.cancel()
            return handle
        heapq.heappush(self._heap, (handle.due, next(self._order), handle))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="simulator-timers")
        self._wake.set()
        return handle

    def run_due(self, *, upto: float | None = None) -> int:
        """Run every callback that is due now (or by ``upto``); return how many ran."""
        ran = 0
        while self._heap and self._heap[0][0] <= max(self._clock.monotonic(), upto or 0.0):
            _, _, handle = heapq.heappop(self._heap)
            if handle.cancelled:
                continue
            # Spent: a cancel() from here on is a no-op, not a surprise.
            handle.cancelled = True
            try:
                handle.callback()
            except Exception:  # one broken timer must not stop the others
                _LOGGER.exception("Simulator timer %s failed", handle.name)
            ran += 1
        return ran

    def advance(self, seconds: float, move: Callable[[float], None]) -> int:
        """Move the clock on by ``seconds`` with ``move``, stopping at each due time on the way.

        Each timer runs with the clock at its own due time, so what it schedules in turn
        is due when it would have been in real time. Return how many ran.
        """
        target = self._clock.monotonic() + seconds
        ran = 0
        while True:
            while self._heap and self._heap[0][2].cancelled:
                heapq.heappop(self._heap)
            if not self._heap or self._heap[0][0] > target:
                break
            due = self._heap[0][0]
            step = due - self._clock.monotonic()
            if step > 0:
                move(step)
            # Float steps may land a hair short of the due time: it is due all the same.
            ran += self.run_due(upto=due)
        rest = target - self._clock.monotonic()
        if rest > 0:
            move(rest)
        self._wake.set()
        return ran

    def wake(self) -> None:
        """Re-check due times, e.g. after a virtual clock was advanced."""
        self._wake.set()

    def pending(self) -> int:
        """Return how many timers are still to run."""
        return sum(1 for _, _, handle in self._heap if not handle.cancelled)

    async def close(self) -> None:
        """Stop running timers; the ones not yet due never run."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for _, _, handle in self._heap:
            handle.cancel()
        self._heap.clear()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self.run_due()
            while self._heap and self._heap[0][2].cancelled:
                heapq.heappop(self._heap)
            if not self._heap:
                await self._wake.wait()
                continue
            delay = self._heap[0][0] - self._clock.monotonic()
            if delay <= 0:
                continue
            # On a virtual clock this real-time wait only means a re-check: nothing is due
            # until the clock is advanced, which wakes this loop.
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass
