"""What-if runs: a host runs only so many simulations at once."""

from __future__ import annotations

import pytest

from contactcenter.clock import VirtualClock
from contactcenter.errors import InvalidInput
from contactcenter.simulation import SimulationConfig
from contactcenter.what_if import (
    MAX_WAITING_HOURS,
    TooManyRuns,
    WhatIfRunner,
    check_run_size,
    waiting_hours,
)
from storage.memory import MemoryStore
from storage.scratch import open_scratch_store


async def test_a_busy_host_refuses_another_run() -> None:
    runner = WhatIfRunner(
        MemoryStore(), VirtualClock(), open_store=open_scratch_store, max_running=1
    )
    config = SimulationConfig(agents=50, arrival_rate_per_hour=5000, handle_time_s=30, calls=20_000)
    await runner.start("tenant", "user", config)
    with pytest.raises(TooManyRuns):
        await runner.start("tenant", "user", config)
    await runner.close()
    assert runner.running == 0


def test_agents_who_keep_up_leave_little_waiting_to_simulate() -> None:
    config = SimulationConfig(
        agents=200, arrival_rate_per_hour=20_000, handle_time_s=34, calls=20_000
    )
    assert waiting_hours(config) == 0
    check_run_size(config)


def test_an_overloaded_queue_waits_the_area_of_its_backlog() -> None:
    # 100 calls an hour for 10 hours, one agent serving 10 an hour: 900 left waiting at the
    # end of the arrivals, 90 hours to serve them; (900 x (10 + 90) h) / 2.
    config = SimulationConfig(agents=1, arrival_rate_per_hour=100, handle_time_s=360, calls=1000)
    assert waiting_hours(config) == pytest.approx(900 * (10 + 90) / 2)


def test_patient_callers_wait_at_most_their_patience() -> None:
    config = SimulationConfig(
        agents=1, arrival_rate_per_hour=100, handle_time_s=360, calls=1000, patience_s=60
    )
    assert waiting_hours(config) == pytest.approx(1000 * 60 / 3600)


def test_a_run_that_would_simulate_days_of_everyone_waiting_is_refused() -> None:
    config = SimulationConfig(
        agents=200,
        arrival_rate_per_hour=20_000,
        handle_time_s=7200,
        calls=20_000,
        ring_time_s=60,
        wrap_up_s=600,
    )
    assert waiting_hours(config) > MAX_WAITING_HOURS
    with pytest.raises(InvalidInput, match="cannot keep up") as raised:
        check_run_size(config)
    assert raised.value.field == "agents"
