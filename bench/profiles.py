"""How long each phase runs and how much data it uses: full, quick and smoke.

``quick`` shortens the timed phases only: every size a result key names (20 calls/s,
10,000 waiting calls with 2,000 agents, 1,000,000 call records) is the same as in
``full``. ``smoke`` shrinks everything, to check that the harness works end to end (in the
test suite); its numbers mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Profile:
    """The phases' durations and sizes."""

    name: str
    # Routing: agents free on the routing line; agents away on the hold line.
    routing_agents: int = 400
    hold_agents: int = 10
    wrap_up_s: int = 1
    talk_s: float = 0.5
    warmup_rate: float = 10.0
    warmup_s: float = 3.0
    routing_rate: float = 20.0
    routing_s: float = 60.0
    # Step-up to the highest sustained rate.
    step_rates: tuple[float, ...] = (30.0, 40.0, 50.0, 60.0, 80.0, 100.0, 120.0, 150.0, 200.0)
    fallback_rates: tuple[float, ...] = (15.0, 10.0, 5.0)
    step_s: float = 15.0
    step_p99_limit_ms: float = 100.0
    step_budget_s: float = 600.0
    # Store requests per answered call.
    ops_calls: int = 10
    # Notification throughput vs. the floor.
    hold_calls: int = 100
    connections: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    headline_connections: int = 32
    blast_s: float = 5.0
    blast_warmup_s: float = 2.0
    blast_rounds: int = 2
    # Memory with waiting calls.
    memory_agents: int = 2_000
    waiting_points: tuple[int, ...] = (1_000, 2_500, 5_000, 7_500, 10_000)
    decision_samples: int = 7
    fresh_memory_host: bool = True
    # Reports over call records.
    records: int = 1_000_000
    report_runs: int = 7
    scan_runs: int = 3
    # The Cosmos DB test server's own ceiling (--store cosmos).
    ceiling_s: float = 20.0

    @property
    def waiting_target(self) -> int:
        """The number of waiting calls the memory key is measured at."""
        return self.waiting_points[-1]


FULL = Profile(name="full")

QUICK = Profile(
    name="quick",
    warmup_s=2.0,
    routing_s=12.0,
    step_rates=(30.0, 40.0, 60.0, 80.0, 100.0, 150.0, 200.0),
    step_s=4.0,
    step_budget_s=35.0,
    ops_calls=3,
    hold_calls=40,
    connections=(1, 8, 32),
    blast_s=1.5,
    blast_warmup_s=0.5,
    blast_rounds=1,
    waiting_points=(1_000, 5_000, 10_000),
    decision_samples=3,
    report_runs=3,
    scan_runs=1,
)

SMOKE = Profile(
    name="smoke",
    routing_agents=20,
    hold_agents=2,
    warmup_s=0.5,
    routing_s=1.0,
    step_rates=(40.0,),
    fallback_rates=(),
    step_s=0.5,
    step_budget_s=10.0,
    ops_calls=1,
    hold_calls=4,
    connections=(2,),
    headline_connections=2,
    blast_s=0.3,
    blast_warmup_s=0.1,
    blast_rounds=1,
    memory_agents=50,
    waiting_points=(100, 200),
    decision_samples=1,
    fresh_memory_host=False,
    records=5_000,
    report_runs=1,
    scan_runs=1,
)

PROFILES = {profile.name: profile for profile in (FULL, QUICK, SMOKE)}
