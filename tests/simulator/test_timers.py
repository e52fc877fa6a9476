"""Timers run on the simulator's clock, in due order, and a virtual clock moves only when told."""

from __future__ import annotations

import asyncio
import logging

import pytest

from contactcenter.clock import SystemClock, VirtualClock
from simulator.timers import Timers


async def test_advancing_runs_due_timers_in_order_at_their_own_due_time() -> None:
    clock = VirtualClock()
    timers = Timers(clock)
    ran: list[tuple[str, float]] = []

    def note(name: str) -> None:
        ran.append((name, clock.monotonic()))

    timers.call_later(5, lambda: note("five"))
    timers.call_later(1, lambda: note("one"))

    def schedule_three() -> None:
        # Due 2 s after the timer that schedules it, not 2 s after the advance.
        timers.call_later(2, lambda: note("three"))

    timers.call_later(1, schedule_three)
    timers.call_later(60, lambda: note("sixty"))

    count = timers.advance(10, clock.advance)

    assert ran == [("one", 1.0), ("three", 3.0), ("five", 5.0)]
    assert count == 4
    assert clock.monotonic() == pytest.approx(10.0)
    assert timers.pending() == 1
    await timers.close()


async def test_a_cancelled_timer_never_runs() -> None:
    clock = VirtualClock()
    timers = Timers(clock)
    ran: list[str] = []
    handle = timers.call_later(1, lambda: ran.append("cancelled"))

    handle.cancel()
    timers.advance(2, clock.advance)

    assert ran == []
    await timers.close()


@pytest.mark.expect_error_logs(r"^Simulator timer broken-timer failed \(RuntimeError: broken\)$")
async def test_a_failing_timer_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    timers = Timers(clock)
    ran: list[str] = []

    def fail() -> None:
        raise RuntimeError("broken")

    timers.call_later(1, fail, name="broken-timer")
    timers.call_later(2, lambda: ran.append("after"))

    with caplog.at_level(logging.ERROR):
        timers.advance(3, clock.advance)

    assert ran == ["after"]
    assert "broken-timer" in caplog.text
    await timers.close()


async def test_on_the_system_clock_a_timer_fires_by_itself() -> None:
    timers = Timers(SystemClock())
    fired = asyncio.Event()

    timers.call_later(0.01, fired.set)

    async with asyncio.timeout(5):
        await fired.wait()
    await timers.close()


async def test_after_close_nothing_is_scheduled() -> None:
    clock = VirtualClock()
    timers = Timers(clock)
    await timers.close()

    handle = timers.call_later(0, lambda: None)

    assert handle.cancelled
    assert timers.pending() == 0
