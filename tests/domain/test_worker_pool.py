"""The worker pool: CPU-bound work in processes, time-limited, the event loop left free."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

import pytest

from contactcenter.worker_pool import WORKER_NICENESS, WorkerPool, WorkersBusy, WorkTimedOut


def spin(seconds: float) -> float:
    """Keep a core busy for ``seconds``, as a long computation does."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return seconds


def niceness() -> int:
    return os.nice(0)


def fail(message: str) -> None:
    raise ValueError(message)


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    workers = WorkerPool(timeout_s=1.0, name="test worker")
    try:
        yield workers
    finally:
        await workers.close()


async def test_work_runs_in_another_process_and_is_reused(pool: WorkerPool) -> None:
    assert await pool.run(os.getpid) != os.getpid()
    first = await pool.run(os.getpid)
    assert await pool.run(os.getpid) == first
    assert pool.processes == 1


async def test_a_worker_runs_at_a_lower_priority_than_the_host(pool: WorkerPool) -> None:
    assert await pool.run(niceness) >= os.nice(0) + min(WORKER_NICENESS, 19 - os.nice(0))


async def test_the_work_s_own_error_is_raised_in_the_host(pool: WorkerPool) -> None:
    with pytest.raises(ValueError, match="no such staffing"):
        await pool.run(fail, "no such staffing")
    assert await pool.run(spin, 0.0) == 0.0


async def test_work_past_its_time_limit_is_stopped_and_the_loop_stays_free(
    pool: WorkerPool,
) -> None:
    await pool.run(spin, 0.0)  # started: the time limit is the work's alone
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    with pytest.raises(WorkTimedOut):
        await pool.run(spin, 30.0)
    elapsed = time.monotonic() - started
    ticker.cancel()

    assert 1.0 <= elapsed < 5.0
    assert ticks >= 10  # the loop ran all along
    assert pool.processes == 0
    assert await pool.run(spin, 0.01) == 0.01  # a fresh process takes the next call


async def test_a_call_that_finds_every_process_busy_for_the_limit_is_refused() -> None:
    workers = WorkerPool(size=1, timeout_s=5.0, wait_s=0.2, name="test worker")
    try:
        await workers.run(spin, 0.0)
        busy = asyncio.create_task(workers.run(spin, 1.0))
        await asyncio.sleep(0)  # tasks start in order: the busy call takes the process first
        with pytest.raises(WorkersBusy):
            await asyncio.wait_for(workers.run(spin, 0.0), 5.0)
        assert workers.busy == 1
        assert await busy == 1.0
    finally:
        await workers.close()
