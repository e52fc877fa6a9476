"""CPU-bound work in processes of its own, with a time limit: never on the host's event loop.

A :class:`WorkerPool` keeps up to ``size`` spawned processes (``spawn``, not ``fork``: the
host has threads), started when first needed and reused; each runs one call at a time. A
call that outlasts the time limit has its process killed (the next call starts a fresh one)
and raises :class:`WorkTimedOut`; a call that finds every process busy for as long (or
for ``wait_s``) raises :class:`WorkersBusy`. Either way the host's event loop only waited. The processes run at a
lower CPU priority than the host, so that on a busy machine the host keeps answering calls,
timers and health probes first.

What a worker runs must be a module-level function of arguments and a result that pickle
(a spawned process imports the function by name).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from contactcenter.errors import DomainError

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

# Added to a worker's niceness (Unix): the host's own work comes first.
WORKER_NICENESS = 10


class WorkFailed(DomainError):
    """The work could not be done in a worker process (the message says why)."""


class WorkTimedOut(WorkFailed):
    """The work took longer than its time limit; its process was stopped."""


class WorkersBusy(WorkFailed):
    """Every worker process stayed busy for the whole time limit."""


def lower_priority() -> None:
    """Run this process at a lower CPU priority than the host (where the OS allows it)."""
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)


def serve(conn: Connection, preload: Sequence[str]) -> None:
    """The worker process: run each function sent, send back its result or its error."""
    lower_priority()
    for module in preload:
        importlib.import_module(module)
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        function, args = message
        try:
            answer: tuple[str, Any] = ("result", function(*args))
        except Exception as err:  # noqa: BLE001 - raised again in the host
            answer = ("error", err)
        try:
            conn.send(answer)
        except (TypeError, AttributeError, ValueError) as err:
            # The result or the error does not pickle: say so rather than hang the host.
            conn.send(("error", RuntimeError(f"{type(err).__name__}: {err}")))


@dataclass(slots=True, eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()


class WorkerPool:
    """Runs CPU-bound functions in up to ``size`` worker processes, each call time-limited."""

    def __init__(
        self,
        *,
        size: int = 1,
        timeout_s: float = 10.0,
        wait_s: float | None = None,
        start_timeout_s: float = 60.0,
        preload: Sequence[str] = (),
        name: str = "worker",
    ) -> None:
        """Allow each call ``timeout_s`` of work after at most ``wait_s`` (default: as long)
        for a free process; a new process ``start_timeout_s`` to start."""
        if size < 1:
            raise ValueError("a worker pool needs at least one process")
        self._size = size
        self._timeout_s = timeout_s
        self._wait_s = timeout_s if wait_s is None else wait_s
        self._start_timeout_s = start_timeout_s
        self._preload = tuple(preload)
        self._name = name
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._free: asyncio.Semaphore | None = None
        self._context = multiprocessing.get_context("spawn")
        self._closed = False

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    @property
    def processes(self) -> int:
        """Worker processes alive now (idle or busy)."""
        return len(self._idle) + len(self._busy)

    @property
    def busy(self) -> int:
        """Worker processes working on a call now."""
        return len(self._busy)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Return ``function(*args)`` computed in a worker process.

        Raises what the function raised, :class:`WorkTimedOut` past the time limit,
        :class:`WorkersBusy` when no process became free within it, or :class:`WorkFailed`
        when the process died.
        """
        if self._closed:
            raise WorkersBusy("the host is shutting down")
        if self._free is None:
            self._free = asyncio.Semaphore(self._size)
        free = self._free
        try:
            await asyncio.wait_for(free.acquire(), self._wait_s)
        except TimeoutError as err:
            raise WorkersBusy(
                f"every {self._name} process stayed busy for {self._wait_s:g} s"
            ) from err
        try:
            worker = self._idle.pop() if self._idle else await self._start()
            self._busy.add(worker)
            finished = False
            try:
                kind, value = await self._call(worker, function, args)
                finished = True
            finally:
                self._busy.discard(worker)
                if finished and not self._closed:
                    self._idle.append(worker)
                else:
                    worker.stop()
        finally:
            free.release()
        if kind == "error":
            raise value
        return value  # type: ignore[no-any-return]

    async def _call(
        self, worker: _Worker, function: Callable[..., Any], args: tuple[Any, ...]
    ) -> tuple[str, Any]:
        worker.conn.send((function, args))
        if not await asyncio.to_thread(worker.conn.poll, self._timeout_s):
            _LOGGER.warning(
                "%s stopped after %g s: %s", self._name, self._timeout_s, function.__name__
            )
            raise WorkTimedOut(f"the {self._name} took longer than {self._timeout_s:g} s")
        try:
            kind, value = worker.conn.recv()
        except (EOFError, OSError) as err:
            raise WorkFailed(f"the {self._name} process stopped") from err
        return str(kind), value

    async def _start(self) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=serve, args=(child, self._preload), name=self._name, daemon=True
        )
        await asyncio.to_thread(process.start)
        child.close()
        worker = _Worker(process, parent)
        started = False
        try:
            if await asyncio.to_thread(parent.poll, self._start_timeout_s):
                started = parent.recv()[0] == "ready"
        except (EOFError, OSError):
            started = False
        finally:
            if not started:
                worker.stop()
        if not started:
            raise WorkFailed(f"a {self._name} process did not start")
        return worker

    async def close(self) -> None:
        """Stop every worker process (the host is shutting down)."""
        self._closed = True
        workers = [*self._idle, *self._busy]
        self._idle.clear()
        for worker in workers:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
        for worker in workers:
            with contextlib.suppress(ValueError, AssertionError):
                await asyncio.to_thread(worker.process.join, 1)
            worker.stop()
