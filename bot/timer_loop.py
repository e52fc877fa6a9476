"""The host's timer loop: due timers fired when they fall due, not polled for four times a second.

Due times live on the call and agent documents, and any host fires any of them
(``RoutingEngine.fire_due_timers``: two queries across every tenant, then the due
documents). Polling for them every 0.25 s costs those two queries eight times a second
whatever the traffic; on Cosmos DB each is a cross-partition query.

:class:`TimerLoop` is the engine's :class:`~contactcenter.ports.TimerSchedule`: the engine
tells it each due time it writes, so the loop runs when one of this host's timers falls
due (at most every ``interval_s``, as before) and fires those by their ids
(``RoutingEngine.fire_own_timers``, no query), and sweeps every ``idle_s`` (again at once
while a sweep finds timers due) for timers other hosts wrote or a host that stopped left
behind. Those are fired up to ``idle_s`` late; this host's own are as prompt as before.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from contactcenter.clock import Clock

_LOGGER = logging.getLogger(__name__)

# Due times remembered; beyond this the latest are forgotten (the idle runs find them).
_KEPT = 4096


class TimerLoop:
    """Runs the engine's due timers when this host's fall due, and every ``idle_s`` anyway."""

    def __init__(self, clock: Clock, *, interval_s: float = 0.25, idle_s: float = 2.0) -> None:
        self._clock = clock
        self.interval_s = interval_s
        self.idle_s = idle_s
        self._due: list[datetime] = []
        self._sooner = asyncio.Event()

    # ------------------------------------------------------- TimerSchedule
    def due_changed(
        self, collection: str, tenant_id: str, doc_id: str, due_at: datetime | None
    ) -> None:
        """Remember a due time this host wrote; wake the loop if it is the earliest."""
        if due_at is None:
            return
        if not self._due or due_at < self._due[0]:
            self._sooner.set()
        heapq.heappush(self._due, due_at)
        if len(self._due) > _KEPT:
            self._due = heapq.nsmallest(_KEPT // 2, self._due)

    @property
    def next_due(self) -> datetime | None:
        """The earliest due time this host wrote and has not run yet."""
        return self._due[0] if self._due else None

    def _ran(self, at: datetime) -> None:
        while self._due and self._due[0] <= at:
            heapq.heappop(self._due)

    # ---------------------------------------------------------------- loop
    async def run(
        self,
        fire: Callable[[], Awaitable[int]],
        own: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        """Sweep with ``fire`` (``fire_due_timers``) and run ``own`` (``fire_own_timers``).

        Without ``own``, ``fire`` runs for this host's due times too. Runs until cancelled.
        """
        loop = asyncio.get_running_loop()
        sweep_at = loop.time()
        while True:
            started = self._clock.now()
            sweeping = own is None or loop.time() >= sweep_at
            try:
                fired = await (fire() if sweeping or own is None else own())
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("timer run failed; retrying next interval")
                fired = 0
            self._ran(started)
            await asyncio.sleep(self.interval_s)
            if sweeping:
                if fired:
                    continue  # more may be due than one sweep takes
                sweep_at = loop.time() + self.idle_s - self.interval_s
            await self._until_due(sweep_at - loop.time())

    async def _until_due(self, idle_s: float) -> None:
        """Wait until this host's earliest due time, at most ``idle_s``."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + idle_s
        while True:
            wait = give_up - loop.time()
            due = self.next_due
            if due is not None:
                wait = min(wait, (due - self._clock.now()).total_seconds())
            if wait <= 0:
                return
            self._sooner.clear()
            try:
                await asyncio.wait_for(self._sooner.wait(), wait)
            except TimeoutError:
                continue
