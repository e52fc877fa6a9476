"""What-if runs: a host runs only so many simulations at once."""

from __future__ import annotations

import pytest

from contactcenter.clock import VirtualClock
from contactcenter.simulation import SimulationConfig
from contactcenter.what_if import TooManyRuns, WhatIfRunner
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
