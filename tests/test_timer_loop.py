"""The host's timer loop runs when this host's timers fall due, and sweeps when idle."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.timer_loop import TimerLoop
from contactcenter.clock import VirtualClock

HOUR = 3600.0


class Runs:
    """Stands in for ``fire_due_timers``: counts runs and says how many timers each found."""

    def __init__(self, found: list[int]) -> None:
        self.found = found
        self.count = 0
        self.ran = asyncio.Event()

    async def fire(self) -> int:
        self.count += 1
        self.ran.set()
        return self.found.pop(0) if self.found else 0

    async def next_run(self) -> None:
        self.ran.clear()
        await self.ran.wait()


async def test_a_due_time_this_host_wrote_wakes_the_idle_loop() -> None:
    clock = VirtualClock()
    loop = TimerLoop(clock, interval_s=0, idle_s=HOUR)
    runs = Runs([])
    task = asyncio.create_task(loop.run(runs.fire))
    await runs.next_run()

    loop.due_changed("calls", "t1", "c1", clock.now() + timedelta(seconds=30))
    clock.advance(30)
    loop.due_changed("agents", "t1", "a1", clock.now())
    await runs.next_run()

    assert runs.count == 2
    assert loop.next_due is None, "both due times were handled by that run"
    task.cancel()


async def test_a_run_that_found_timers_due_runs_again_at_once() -> None:
    clock = VirtualClock()
    loop = TimerLoop(clock, interval_s=0, idle_s=HOUR)
    runs = Runs([100, 3])
    task = asyncio.create_task(loop.run(runs.fire))
    for _ in range(3):
        await runs.next_run()

    assert runs.count == 3
    task.cancel()


async def test_a_later_due_time_is_kept_for_its_own_run() -> None:
    clock = VirtualClock()
    loop = TimerLoop(clock, interval_s=0, idle_s=HOUR)
    later = clock.now() + timedelta(minutes=5)
    loop.due_changed("calls", "t1", "c1", later)
    loop.due_changed("calls", "t1", "c2", None)
    runs = Runs([])
    task = asyncio.create_task(loop.run(runs.fire))
    await runs.next_run()

    assert loop.next_due == later
    task.cancel()


async def test_this_hosts_due_times_fire_its_own_timers_and_the_sweep_waits() -> None:
    clock = VirtualClock()
    loop = TimerLoop(clock, interval_s=0, idle_s=HOUR)
    sweeps, own = Runs([]), Runs([])
    task = asyncio.create_task(loop.run(sweeps.fire, own.fire))
    await sweeps.next_run()  # a host sweeps once as it starts

    loop.due_changed("agents", "t1", "a1", clock.now() + timedelta(seconds=30))
    clock.advance(30)
    await own.next_run()

    assert (sweeps.count, own.count) == (1, 1)
    assert loop.next_due is None
    task.cancel()
