"""What-if runs of the discrete-event simulator, started by a supervisor (from the tab).

A run is CPU-bound for seconds, so it runs in its own process (``spawn``, not ``fork``:
the host has threads), never on the host's event loop. The process reports progress and
its result over a pipe; the host keeps the run's state in a ``whatIfRuns`` document, so a
page polling any host sees it. The child simulates in a store of its own, opened with the
factory the host provides (``open_store``). A host runs at most ``max_running`` at once and
refuses more (:class:`TooManyRuns`); a run taking longer than ``timeout_s`` is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from contactcenter.clock import Clock
from contactcenter.errors import DomainError, InvalidInput
from contactcenter.model import RoutingMethod
from contactcenter.ports import Store
from contactcenter.repository import Collection
from contactcenter.simulation import SimulationConfig
from contactcenter.worker_pool import lower_priority

_LOGGER = logging.getLogger(__name__)

ScratchStoreFactory = Callable[[], Awaitable[Store]]
"""Open an empty store of a what-if run's own (closed by the run).

Called in the run's child process: it must be a module-level function, which a spawned
process can import by name.
"""

WHAT_IF_RUNS = "whatIfRuns"
_PROGRESS_EVERY_S = 0.2
_POLL_S = 0.1


class TooManyRuns(DomainError):
    """This host runs as many what-if simulations as it allows."""


@dataclass(frozen=True, slots=True)
class WhatIfRun:
    """A what-if simulation: what was asked, how far it got, what came out."""

    id: str
    tenant_id: str
    requested_by: str
    config: dict[str, Any]
    created_at: datetime
    state: str = "queued"
    done: int = 0
    total: int = 0
    result: dict[str, Any] | None = None
    error: str = ""
    finished_at: datetime | None = None


MAX_WAITING_HOURS = 20_000.0
"""The most caller-hours of waiting a what-if run may simulate (:func:`waiting_hours`).

A run's work grows with the calls and with the time callers spend waiting (each waiting
caller hears a comfort message a minute). Within this budget the largest run the tab API
allows takes about a minute of one core, well within the runner's time limit; an
overloaded queue whose callers never give up would otherwise keep a process busy for
hours to report that everyone waited.
"""


def waiting_hours(config: SimulationConfig) -> float:
    """Return the caller-hours of waiting a run should simulate, from a fluid estimate.

    Agents serve ``agents / (handle + wrap-up + ring)`` calls a second. When calls arrive
    faster, the queue grows through the arrivals and then drains: the waiting is the area
    of that triangle. A queue the agents keep up with waits little; patient callers wait at
    most their patience on average.
    """
    arrival_per_s = config.arrival_rate_per_hour / 3600
    if not arrival_per_s > 0:
        return 0.0
    busy_s = config.handle_time_s + config.wrap_up_s + config.ring_time_s
    served_per_s = config.agents / busy_s if busy_s > 0 else float("inf")
    arrivals_s = config.calls / arrival_per_s
    backlog = max(0.0, (arrival_per_s - served_per_s) * arrivals_s)
    if backlog == 0:
        return 0.0
    drain_s = backlog / served_per_s if served_per_s > 0 else float("inf")
    waiting_s = backlog * (arrivals_s + drain_s) / 2
    if config.patience_s is not None:
        waiting_s = min(waiting_s, config.calls * config.patience_s)
    return waiting_s / 3600


def check_run_size(config: SimulationConfig) -> None:
    """Raise InvalidInput when a run would simulate more waiting than a run may."""
    hours = waiting_hours(config)
    if hours > MAX_WAITING_HOURS:
        raise InvalidInput(
            f"these agents cannot keep up: callers would wait about {hours:,.0f} hours in all "
            f"(a run simulates at most {MAX_WAITING_HOURS:,.0f}); add agents, lower the "
            "arrival rate, simulate fewer calls or give callers a patience",
            field="agents",
        )


def config_document(config: SimulationConfig) -> dict[str, Any]:
    document = asdict(config)
    document["routing"] = config.routing.value
    return document


def config_from_document(document: dict[str, Any]) -> SimulationConfig:
    values = dict(document)
    values["routing"] = RoutingMethod(values["routing"])
    return SimulationConfig(**values)


def run_in_child(
    document: dict[str, Any], conn: Connection, open_store: ScratchStoreFactory
) -> None:
    """The child process: run the simulation, sending progress and then the result."""
    from contactcenter.simulation import simulate

    lower_priority()
    config = config_from_document(document)
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= _PROGRESS_EVERY_S or done == total:
            last = now
            conn.send(("progress", done, total))

    async def run() -> dict[str, Any]:
        store = await open_store()
        try:
            result = await simulate(config, store, progress=progress)
        finally:
            await store.close()
        return dict(result.as_json())

    try:
        conn.send(("result", asyncio.run(run())))
    except Exception as err:  # noqa: BLE001 - reported to the parent, which logs it
        conn.send(("error", f"{type(err).__name__}: {err}"))
    finally:
        conn.close()


@dataclass(slots=True)
class _Running:
    task: asyncio.Task[None]
    process: Any = None
    cancelled: bool = field(default=False)


class WhatIfRunner:
    """Starts what-if runs in child processes and keeps their documents up to date."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        open_store: ScratchStoreFactory,
        max_running: int = 2,
        timeout_s: float = 300.0,
    ) -> None:
        self.runs: Collection[WhatIfRun] = Collection(store, WHAT_IF_RUNS, WhatIfRun)
        self._clock = clock
        self._open_store = open_store
        self._max_running = max_running
        self._timeout_s = timeout_s
        self._running: dict[str, _Running] = {}
        self._context = multiprocessing.get_context("spawn")

    async def start(self, tenant_id: str, user_id: str, config: SimulationConfig) -> WhatIfRun:
        """Record a new run and start it; raise TooManyRuns when this host is busy."""
        if len(self._running) >= self._max_running:
            raise TooManyRuns("this host is already running its share of simulations")
        run = WhatIfRun(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            requested_by=user_id,
            config=config_document(config),
            created_at=self._clock.now(),
            total=config.calls,
        )
        await self.runs.create(run)
        task = asyncio.get_running_loop().create_task(self._run(run), name=f"what-if-{run.id}")
        self._running[run.id] = _Running(task)
        task.add_done_callback(lambda _: self._running.pop(run.id, None))
        return run

    async def get(self, tenant_id: str, run_id: str) -> WhatIfRun:
        return (await self.runs.get(tenant_id, run_id)).value

    async def _update(self, run: WhatIfRun, **changes: Any) -> WhatIfRun:
        updated = replace(run, **changes)
        try:
            await self.runs.put(updated)
        except DomainError as err:
            _LOGGER.warning("What-if run %s not saved: %s", run.id, err)
        return updated

    async def _run(self, run: WhatIfRun) -> None:
        parent, child = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=run_in_child,
            args=(run.config, child, self._open_store),
            name=f"what-if-{run.id}",
            daemon=True,
        )
        running = self._running.get(run.id)
        try:
            await asyncio.to_thread(process.start)
            if running is not None:
                running.process = process
            child.close()
            run = await self._update(run, state="running")
            run = await self._follow(run, parent, process)
        except asyncio.CancelledError:
            await self._update(run, state="failed", error="the host shut down")
            raise
        except (OSError, EOFError) as err:
            await self._update(
                run,
                state="failed",
                error=f"the simulation stopped: {err}",
                finished_at=self._clock.now(),
            )
        finally:
            parent.close()
            if process.is_alive():
                process.terminate()
            with contextlib.suppress(ValueError, AssertionError):
                await asyncio.to_thread(process.join, 5)

    async def _follow(self, run: WhatIfRun, conn: Connection, process: Any) -> WhatIfRun:
        started = time.monotonic()
        saved_done = -1
        while True:
            while conn.poll():
                message = conn.recv()
                kind = message[0]
                if kind == "progress":
                    run = replace(run, done=int(message[1]), total=int(message[2]))
                elif kind == "result":
                    return await self._update(
                        run,
                        state="done",
                        done=run.total,
                        result=message[1],
                        finished_at=self._clock.now(),
                    )
                else:
                    _LOGGER.warning("What-if run %s failed: %s", run.id, message[1])
                    return await self._update(
                        run, state="failed", error=str(message[1]), finished_at=self._clock.now()
                    )
            if run.done != saved_done:
                saved_done = run.done
                run = await self._update(run)
            if not process.is_alive() and not conn.poll():
                return await self._update(
                    run,
                    state="failed",
                    error=f"the simulation ended without a result (exit {process.exitcode})",
                    finished_at=self._clock.now(),
                )
            if time.monotonic() - started > self._timeout_s:
                process.terminate()
                return await self._update(
                    run,
                    state="failed",
                    error=f"stopped after {self._timeout_s:.0f} s",
                    finished_at=self._clock.now(),
                )
            await asyncio.sleep(_POLL_S)

    @property
    def running(self) -> int:
        return len(self._running)

    async def wait_idle(self) -> None:
        """Return once no run is in progress on this host (tests)."""
        tasks = [r.task for r in self._running.values()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Stop every run (the host is shutting down)."""
        for running in list(self._running.values()):
            running.task.cancel()
        await self.wait_idle()
