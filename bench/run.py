"""The orchestrator: start the processes, run every phase, collect the numbers.

Processes and cores (two cores: ``H`` runs the host, ``L`` everything else):

====================  ====  ==================================================
process               core  role
====================  ====  ==================================================
``bench.host``        H     the host under test (one at a time)
``bench.floor``       H     the bare aiohttp handler (notification phase only)
``bench.records``     H     the report timings (``load`` of the data runs on L)
``simulator``         L     Graph and Teams: answers, rings agents, notifies
``bench.loadgen``     L     dials calls, sends notifications
Cosmos DB test server L     the store with ``--store cosmos``
this orchestrator     L     mostly waiting
====================  ====  ==================================================

Phases, in order: routing overhead at 20 calls/s; step-up to the highest sustained rate;
notification throughput against the floor; store requests per answered call; memory with
10,000 waiting calls (a fresh host); the 30-day report over 1,000,000 records. The records
are loaded on the load cores while the store-request and memory phases run (neither times
anything on those cores), then timed on the host core once the hosts have stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from bench.children import Child, Children, python_module
from bench.profiles import Profile
from bench.stats import median, summary
from bench.system import (
    available_cores,
    cpu_seconds,
    free_port,
    machine_busy_seconds,
    own_cpu_seconds,
    pin_to_cores,
    rss_bytes,
)
from bench.tenant import (
    HOLD_LINE,
    ROUTING_LINE,
    WAITING_LINE,
    TenantSpec,
    memory_tenant,
    routing_tenant,
)
from bot.settings import DEMO_APP_ID
from simulator import SimulatorClient

MB = 1_000_000
# How long the simulator plays each prompt (greeting, music on hold, comfort messages).
PROMPT_S = 30.0
_POLL_S = 0.1
_DRAIN_TIMEOUT_S = 30.0
# A host's graceful stop waits for background work (alert cards of calls still ringing);
# a benchmark host's data is scratch, so it is killed after this.
_HOST_STOP_S = 3.0
# Other programs' CPU use (cores) below which the machine counts as quiet.
QUIET_CORES = 0.15
_HTTP_TIMEOUT = aiohttp.ClientTimeout(total=120)


class BenchError(RuntimeError):
    """A phase could not run (as opposed to a budget that was missed)."""


class Progress:
    """Progress lines on stderr, with the time since the run started."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def __call__(self, message: str) -> None:
        if self._enabled:
            self._stream.write(f"[{self.elapsed:7.1f} s] {message}\n")
            self._stream.flush()


@dataclass(slots=True)
class Options:
    """What to run and where."""

    profile: Profile
    store: str = "sqlite"
    workdir: Path | None = None
    keep_workdir: bool = False
    records_cache: Path | None = None
    wait_for_quiet_s: float = 0.0
    # Run the hosts under cProfile (slower: for finding where time goes, not for numbers).
    profile_hosts: bool = False
    progress: Progress = field(default_factory=Progress)


@dataclass(slots=True)
class Stack:
    """What the phases share: the processes, the cores and an HTTP session."""

    options: Options
    workdir: Path
    children: Children
    session: aiohttp.ClientSession
    host_cores: set[int]
    load_cores: set[int]
    simulator: Child | None = None
    host: Child | None = None
    cosmos: Any = None
    cosmos_key: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    noise: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def profile(self) -> Profile:
        return self.options.profile

    def log(self, message: str) -> None:
        self.options.progress(message)

    def core_args(self, cores: set[int]) -> list[str]:
        return [arg for core in sorted(cores) for arg in ("--core", str(core))]

    @property
    def simulator_client(self) -> SimulatorClient:
        assert self.simulator is not None
        return SimulatorClient(self.session, self.simulator.url)

    async def host_get(self, path: str, **params: str) -> dict[str, Any]:
        assert self.host is not None
        async with self.session.get(f"{self.host.url}{path}", params=params) as response:
            response.raise_for_status()
            body: dict[str, Any] = await response.json()
            return body

    async def host_post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self.host is not None
        async with self.session.post(f"{self.host.url}{path}", json=body) as response:
            if response.status >= 400:
                raise BenchError(f"host {path} answered {response.status}: {await response.text()}")
            result: dict[str, Any] = await response.json()
            return result


# ==================================================================== processes
def start_simulator(stack: Stack, host_port: int) -> Child:
    """Start the simulator: every agent answers at once and talks briefly.

    Prompts play for 30 s each, about as long as a loop of music on hold: a waiting call
    hears its greeting and music, and asks for the music again when it ends, at a
    realistic pace. (``instant`` media would have the host replay music on hold as fast as
    it can, which measures that loop rather than routing.)
    """
    port = free_port()
    return stack.children.start(
        "simulator",
        python_module(
            "simulator",
            "--port",
            str(port),
            "--data-dir",
            str(stack.workdir / "simulator"),
            "--bot-url",
            f"http://127.0.0.1:{host_port}/api/calling",
            "--app-id",
            DEMO_APP_ID,
            "--media-mode",
            "timed",
            "--prompt-duration-s",
            str(PROMPT_S),
            "--on-invite",
            "answer",
            "--answer-after-s",
            "0",
            "--hang-up-after-s",
            str(stack.profile.talk_s),
            "--log-level",
            "WARNING",
        ),
        cores=stack.load_cores,
    )


def start_host(stack: Stack, name: str, port: int) -> Child:
    """Start an instrumented host with a fresh data directory (and database)."""
    assert stack.simulator is not None
    args = [
        "--port",
        str(port),
        "--data-dir",
        str(stack.workdir / name),
        "--simulator",
        stack.simulator.url,
        *stack.core_args(stack.host_cores),
    ]
    if stack.options.profile_hosts:
        args += ["--profile", str(stack.workdir / f"{name}.prof")]
    if stack.cosmos is not None:
        args += [
            "--cosmos-endpoint",
            stack.cosmos.endpoint,
            "--cosmos-key",
            stack.cosmos_key,
            "--cosmos-database",
            f"bench-{name}-{uuid.uuid4().hex[:8]}",
        ]
    return stack.children.start(
        name, python_module("bench.host", *args), cores=stack.host_cores, timeout_s=120.0
    )


def start_cosmos(stack: Stack) -> None:
    """Start the Cosmos DB test server the way the test suite does (tests/cosmos_server.py)."""
    # Imported here: only --store cosmos needs it, and it lives with the tests.
    from tests.cosmos_server import EMULATOR_KEY, CosmosTestServer, missing_server_reason

    reason = missing_server_reason()
    if reason is not None:
        raise BenchError(f"--store cosmos: {reason}")
    server = CosmosTestServer.start()
    stack.cosmos = server
    stack.cosmos_key = EMULATOR_KEY
    pin_to_cores(server._process.pid, stack.load_cores)


# ==================================================================== noise
@dataclass(frozen=True, slots=True)
class _CpuSnapshot:
    at: float
    machine_busy: float
    bench: float


def _cpu_snapshot(stack: Stack) -> _CpuSnapshot:
    pids = stack.children.running_pids  # reaps children that ended: their time moves to ours
    if stack.cosmos is not None:
        pids.append(stack.cosmos._process.pid)
    bench = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            bench += cpu_seconds(pid)
    return _CpuSnapshot(time.monotonic(), machine_busy_seconds(), bench + own_cpu_seconds())


@contextlib.contextmanager
def watching_noise(stack: Stack, phase: str) -> Iterator[None]:
    """Record how much CPU other programs on the machine used during a phase.

    Busy time of every core (/proc/stat) minus the CPU time of the benchmark's own
    processes: on a quiet machine about zero. Other work running beside the benchmark
    competes with it for the two cores and makes its numbers worse than they are.
    """
    before = _cpu_snapshot(stack)
    try:
        yield
    finally:
        after = _cpu_snapshot(stack)
        elapsed = max(after.at - before.at, 1e-9)
        machine = after.machine_busy - before.machine_busy
        bench = after.bench - before.bench
        stack.noise[phase] = {
            "seconds": round(elapsed, 1),
            "benchCores": round(bench / elapsed, 3),
            "foreignCores": round(max(0.0, machine - bench) / elapsed, 3),
        }


async def wait_for_quiet(options: Options, *, window_s: float = 2.0) -> float:
    """Wait (at most ``wait_for_quiet_s``) until other programs leave the cores alone.

    Returns the CPU (in cores) other programs used in the last window looked at.
    """
    deadline = time.monotonic() + options.wait_for_quiet_s
    while True:
        busy, own = machine_busy_seconds(), own_cpu_seconds()
        await asyncio.sleep(window_s)
        foreign = max(0.0, (machine_busy_seconds() - busy) - (own_cpu_seconds() - own)) / window_s
        if foreign <= QUIET_CORES or time.monotonic() >= deadline:
            return foreign
        options.progress(f"other programs are using {foreign:.2f} cores; waiting for quiet")


# ==================================================================== helpers
async def wait_until_drained(stack: Stack, spec: TenantSpec, line_name: str) -> dict[str, Any]:
    """Wait until the line's queue has no live call and its agents are all idle again."""
    line = spec.line(line_name)
    deadline = time.monotonic() + _DRAIN_TIMEOUT_S
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = await stack.host_get("/bench/state", tenantId=spec.tenant_id, queueId=line.queue_id)
        if state["liveCalls"] == 0 and state["idleAgents"] >= line.agents:
            return state
        await asyncio.sleep(_POLL_S)
    stack.log(f"  not drained after {_DRAIN_TIMEOUT_S:.0f} s: {state}")
    return state


async def run_loadgen(
    stack: Stack, kind: str, spec: dict[str, Any], timeout_s: float
) -> dict[str, Any]:
    """Run the load generator once on the load cores."""
    name = f"loadgen-{kind}-{uuid.uuid4().hex[:6]}"
    spec_path = stack.workdir / f"{name}.json"
    spec_path.write_text(json.dumps(spec))
    return await stack.children.run_json(
        name,
        python_module(
            "bench.loadgen", kind, "--spec", str(spec_path), *stack.core_args(stack.load_cores)
        ),
        cores=stack.load_cores,
        timeout_s=timeout_s,
    )


# ==================================================================== routing
@dataclass(slots=True)
class Step:
    """One run of calls at a fixed offered rate."""

    rate: float
    seconds: float
    load: dict[str, Any]
    overhead_ms: list[float]
    call_control_ms: list[float]
    wall_ms: list[float]
    graph_wait_ms: list[float]
    missing: int
    host_cpu_s: float
    drained: bool
    p99_limit_ms: float

    @property
    def accepted(self) -> int:
        return int(self.load["accepted"])

    @property
    def p99(self) -> float:
        return summary(self.overhead_ms)["p99"] or float("inf")

    @property
    def failure(self) -> str | None:
        """Why this rate was not sustained (None: it was)."""
        arrivals = int(self.load["arrivals"])
        if arrivals == 0:
            return "no calls"
        if self.accepted < 0.99 * arrivals:
            return f"{arrivals - self.accepted} of {arrivals} calls not accepted by the webhook"
        if self.missing > 0.01 * self.accepted:
            return f"{self.missing} accepted calls never rang an agent"
        if self.load["skipped"]:
            return "the generator could not keep up"
        if not self.drained:
            return "calls still live after the drain timeout"
        if self.p99 > self.p99_limit_ms:
            return f"routing p99 {self.p99:.1f} ms > {self.p99_limit_ms:.0f} ms"
        return None

    def to_json(self) -> dict[str, Any]:
        accepted = max(1, self.accepted)
        return {
            "offeredRate": self.rate,
            "seconds": self.seconds,
            "arrivals": self.load["arrivals"],
            "accepted": self.accepted,
            "achievedRate": self.load["achievedRate"],
            "routed": len(self.overhead_ms),
            "unrouted": self.missing,
            "webhookStatuses": self.load["statuses"],
            "generatorMaxLagMs": self.load["maxLagMs"],
            "overheadMs": summary(self.overhead_ms),
            "overheadCallControlMs": summary(self.call_control_ms),
            "incomingToInviteWallMs": summary(self.wall_ms),
            "graphWaitMs": summary(self.graph_wait_ms),
            "hostCpuMsPerCall": round(self.host_cpu_s * 1000.0 / accepted, 3),
            "hostCpuUtilisation": round(self.host_cpu_s / max(self.seconds, 1e-9), 3),
            "sustained": self.failure is None,
            "failure": self.failure,
        }


async def run_calls(stack: Stack, spec: TenantSpec, rate: float, seconds: float, seed: int) -> Step:
    """Dial the routing line at ``rate`` for ``seconds``; collect each call's overhead."""
    assert stack.simulator is not None
    assert stack.host is not None
    line = spec.line(ROUTING_LINE)
    cpu_before = cpu_seconds(stack.host.pid)
    load = await run_loadgen(
        stack,
        "calls",
        {
            "simulator": stack.simulator.url,
            "tenantId": spec.tenant_id,
            "lineId": line.line_id,
            "rate": rate,
            "seconds": seconds,
            "seed": seed,
        },
        timeout_s=seconds + 120.0,
    )
    state = await wait_until_drained(stack, spec, ROUTING_LINE)
    host_cpu = cpu_seconds(stack.host.pid) - cpu_before
    taken = await stack.host_post("/bench/probe/take", {"callIds": load["callIds"]})
    samples = list(taken["samples"].values())
    return Step(
        rate=rate,
        seconds=seconds,
        load={k: v for k, v in load.items() if k != "callIds"},
        overhead_ms=[s["overheadMs"] for s in samples],
        call_control_ms=[s["overheadCallControlMs"] for s in samples],
        wall_ms=[s["wallMs"] for s in samples],
        graph_wait_ms=[s["graphWaitMs"] for s in samples],
        missing=len(taken["missing"]),
        host_cpu_s=host_cpu,
        drained=state.get("liveCalls") == 0,
        p99_limit_ms=stack.profile.step_p99_limit_ms,
    )


async def routing_phases(stack: Stack, spec: TenantSpec) -> dict[str, Any]:
    """Routing overhead at 20 calls/s, then step the rate up until it is not sustained."""
    profile = stack.profile
    await stack.host_post("/bench/probe", {"enabled": True, "reset": True})
    stack.log(f"warm-up: {profile.warmup_rate:g} calls/s for {profile.warmup_s:g} s")
    warmup = await run_calls(stack, spec, profile.warmup_rate, profile.warmup_s, seed=1)
    if warmup.accepted and not warmup.overhead_ms:
        assert stack.host is not None
        raise BenchError(f"the host rang no agent for any warm-up call: {stack.host.tail()}")
    stack.log(f"routing overhead: {profile.routing_rate:g} calls/s for {profile.routing_s:g} s")
    base = await run_calls(stack, spec, profile.routing_rate, profile.routing_s, seed=2)
    stack.log(
        f"  {len(base.overhead_ms)} calls: p50 {summary(base.overhead_ms)['p50']} ms, "
        f"p99 {summary(base.overhead_ms)['p99']} ms"
    )
    stack.raw["routingOverheadMs"] = base.overhead_ms
    steps = [base]
    started = time.monotonic()
    for index, rate in enumerate(profile.step_rates):
        if steps[-1].failure is not None or time.monotonic() - started > profile.step_budget_s:
            break
        stack.log(f"step-up: {rate:g} calls/s for {profile.step_s:g} s")
        step = await run_calls(stack, spec, rate, profile.step_s, seed=10 + index)
        stack.log(f"  p99 {step.p99:.1f} ms; {step.failure or 'sustained'}")
        steps.append(step)
    if base.failure is not None:
        for index, rate in enumerate(profile.fallback_rates):
            stack.log(f"step-down: {rate:g} calls/s for {profile.step_s:g} s")
            step = await run_calls(stack, spec, rate, profile.step_s, seed=50 + index)
            steps.append(step)
            if step.failure is None:
                break
    sustained = [s.rate for s in steps if s.failure is None]
    stack.raw["steps"] = [s.to_json() for s in steps]
    return {
        "base": base.to_json() | {"samplesMs": [round(x, 3) for x in base.overhead_ms]},
        "steps": [s.to_json() for s in steps],
        "maxCallsPerS": max(sustained) if sustained else 0.0,
        "stepLimitedBy": next((s.failure for s in steps if s.failure is not None), None),
    }


# ================================================================== store ops
async def _wait_for_call_end(stack: Stack, spec: TenantSpec, call_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + _DRAIN_TIMEOUT_S
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = await stack.host_get(f"/bench/calls/{spec.tenant_id}/{call_id}")
        agent = status.get("agent") or {}
        if status["recorded"] and status["live"] is None and agent.get("activity") == "idle":
            return status
        await asyncio.sleep(_POLL_S)
    raise BenchError(f"call {call_id} did not end within {_DRAIN_TIMEOUT_S:.0f} s: {status}")


# Where one call's store requests are counted: its notifications, the timer runs that
# fired, and the background batch that adds it to the interval aggregates.
_PER_CALL_BUCKETS = ("notifications", "timersFired", "aggregates")
# Longer than the host's batch interval (AnalyticsOptions.aggregate_flush_interval_s).
_AGGREGATE_BATCH_WAIT_S = 2.5


async def store_ops_phase(stack: Stack, spec: TenantSpec) -> dict[str, Any]:
    """Count the store requests of answered calls, one call at a time.

    A first call is placed and not counted: it lets the host finish what earlier phases
    left in its background (records and aggregates of calls that just ended) and fills
    the caches a host keeps warm in service.
    """
    profile = stack.profile
    line = spec.line(ROUTING_LINE)
    stack.log(f"store requests: {profile.ops_calls} answered calls, one at a time")
    await stack.host_post("/bench/probe", {"enabled": False})
    calls: list[dict[str, Any]] = []
    for index in range(profile.ops_calls + 1):
        await wait_until_drained(stack, spec, ROUTING_LINE)
        before = await stack.host_get("/bench/ops", reset="1")
        placed = await stack.simulator_client.place_call(
            spec.tenant_id,
            application_instance_id=line.line_id,
            caller_phone=f"+1206555{index:04d}",
        )
        status = await _wait_for_call_end(stack, spec, placed.id)
        # One more timer run, so that a timer due at the end is counted too, and the
        # background batch that adds the call to the interval aggregates (so that it is
        # this call's window that counts it, not the next one's).
        await asyncio.sleep(_AGGREGATE_BATCH_WAIT_S)
        ops = await stack.host_get("/bench/ops")
        if index == 0:
            continue
        per_call = sum(ops[bucket]["total"] for bucket in _PER_CALL_BUCKETS)
        calls.append(
            {
                "callId": placed.id,
                "outcome": status["outcome"],
                "total": per_call,
                "notifications": ops["notifications"],
                "timersFired": ops["timersFired"],
                "aggregates": ops["aggregates"],
                "timersIdle": ops["timersIdle"],
                "timerRuns": ops["timerRuns"],
                # Cosmos DB request units of everything the host did meanwhile (presence
                # polling and idle timer runs included).
                "requestUnits": (
                    round(ops["requestCharge"] - before["requestCharge"], 2)
                    if "requestCharge" in ops
                    else None
                ),
            }
        )
    totals = [c["total"] for c in calls]
    answered = [c for c in calls if c["outcome"] == "answered"]
    if len(answered) != len(calls):
        raise BenchError(f"not every call was answered: {[c['outcome'] for c in calls]}")
    stack.log(f"  {median(totals):g} store requests per answered call")
    first = calls[0]
    for bucket in _PER_CALL_BUCKETS:
        stack.log(f"    {bucket}: {first[bucket]['methods']}")
    return {"perCall": median(totals), "calls": calls}


# ============================================================ notifications
async def _place_hold_calls(stack: Stack, spec: TenantSpec) -> list[str]:
    line = spec.line(HOLD_LINE)
    semaphore = asyncio.Semaphore(8)

    async def place(index: int) -> str:
        async with semaphore:
            placed = await stack.simulator_client.place_call(
                spec.tenant_id,
                application_instance_id=line.line_id,
                caller_phone=f"+1312555{index:04d}",
            )
            if placed.webhook_status != 202:
                raise BenchError(f"hold call refused: {placed.webhook_status}")
            return placed.id

    ids = await asyncio.gather(*(place(i) for i in range(stack.profile.hold_calls)))
    deadline = time.monotonic() + _DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        state = await stack.host_get("/bench/state", tenantId=spec.tenant_id, queueId=line.queue_id)
        if state["liveCalls"] >= len(ids):
            return list(ids)
        await asyncio.sleep(_POLL_S)
    assert stack.host is not None
    raise BenchError(f"the hold calls did not all queue: {state}; {stack.host.tail()}")


async def notifications_phase(stack: Stack, spec: TenantSpec) -> dict[str, Any]:
    """Notification throughput of the host against the floor, same generator, same run."""
    assert stack.host is not None
    assert stack.simulator is not None
    profile = stack.profile
    stack.log(
        f"notification throughput: {profile.hold_calls} queued calls, connections {list(profile.connections)}"
    )
    await stack.host_post("/bench/probe", {"enabled": False})
    call_ids = await _place_hold_calls(stack, spec)
    floor = stack.children.start(
        "floor",
        python_module("bench.floor", *stack.core_args(stack.host_cores)),
        cores=stack.host_cores,
    )
    try:
        seconds_total = (
            len(profile.connections) * profile.blast_rounds * 2 * (profile.blast_s + 0.5)
            + 2 * profile.blast_warmup_s
        )
        result = await run_loadgen(
            stack,
            "notifications",
            {
                "targets": [
                    {"name": "floor", "url": floor.url, "pid": floor.pid},
                    {"name": "host", "url": stack.host.url, "pid": stack.host.pid},
                ],
                "connections": list(profile.connections),
                "seconds": profile.blast_s,
                "warmupS": profile.blast_warmup_s,
                "rounds": profile.blast_rounds,
                "simulator": stack.simulator.url,
                "signingKey": str(stack.workdir / "simulator" / "simulator" / "signing-key.pem"),
                "appId": DEMO_APP_ID,
                "tenantId": spec.tenant_id,
                "callIds": call_ids,
            },
            timeout_s=seconds_total + 120.0,
        )
    finally:
        stack.children.stop(floor)
    # The queued callers hang up: the next phases start with an empty tenant.
    for call_id in call_ids:
        await stack.simulator_client.hang_up(call_id)
    await wait_until_drained(stack, spec, HOLD_LINE)
    runs: list[dict[str, Any]] = result["runs"]
    levels: dict[int, dict[str, Any]] = {}
    for connections in profile.connections:
        row: dict[str, Any] = {"connections": connections}
        for target in ("floor", "host"):
            mine = [r for r in runs if r["target"] == target and r["connections"] == connections]
            row[target] = {
                "perSecond": round(median([r["perSecond"] for r in mine]), 1),
                "latencyP50Ms": median([r["latencyMs"]["p50"] or 0.0 for r in mine]),
                "latencyP99Ms": median([r["latencyMs"]["p99"] or 0.0 for r in mine]),
                "serverCpu": median([r["serverCpu"] for r in mine]),
                "generatorCpu": median([r["generatorCpu"] for r in mine]),
                "non2xx": sum(
                    n for r in mine for s, n in r["statuses"].items() if not s.startswith("2")
                ),
            }
        floor_rate = row["floor"]["perSecond"]
        row["ratio"] = round(row["host"]["perSecond"] / floor_rate, 4) if floor_rate else None
        levels[connections] = row
    headline = levels[profile.headline_connections]
    stack.raw["throughput"] = list(levels.values())
    stack.log(
        f"  at {profile.headline_connections} connections: host {headline['host']['perSecond']}/s, "
        f"floor {headline['floor']['perSecond']}/s"
    )
    return {
        "connections": profile.headline_connections,
        "notificationsPerS": headline["host"]["perSecond"],
        "floorRequestsPerS": headline["floor"]["perSecond"],
        "levels": list(levels.values()),
        "mix": result["mix"],
        "distinctRequests": result["distinctRequests"],
        "runs": runs,
    }


# =================================================================== memory
async def memory_phase(stack: Stack) -> dict[str, Any]:
    """Host memory and routing-decision cost as a queue fills up to 10,000 waiting calls."""
    profile = stack.profile
    spec = memory_tenant(agents=profile.memory_agents)
    line = spec.line(WAITING_LINE)
    assert stack.host is not None
    pid = stack.host.pid
    points: list[dict[str, Any]] = [
        {"waiting": 0, "rssMb": round(rss_bytes(pid) / MB, 1), "stage": "started"}
    ]
    stack.log(f"memory: seeding {profile.memory_agents} agents (signed in, away)")
    await stack.host_post("/bench/seed", spec.to_json())
    points.append({"waiting": 0, "rssMb": round(rss_bytes(pid) / MB, 1), "stage": "agents seeded"})
    agents = iter(line.agent_ids)
    waiting = 0
    for target in profile.waiting_points:
        filled = await stack.host_post(
            "/bench/queue/fill",
            {
                "tenant": spec.to_json(),
                "line": WAITING_LINE,
                "count": target - waiting,
                "startIndex": waiting,
            },
        )
        waiting = target
        agent_ids = [next(agents) for _ in range(profile.decision_samples)]
        measured = await stack.host_post(
            "/bench/decisions",
            {
                "tenant": spec.to_json(),
                "line": WAITING_LINE,
                "samples": profile.decision_samples,
                "agentIds": agent_ids,
            },
        )
        rss = rss_bytes(pid)
        point = {
            "waiting": target,
            "waitingInStore": filled["waiting"],
            "rssMb": round(rss / MB, 1),
            "incomingMs": round(median(measured["incomingMs"]), 3),
            "enqueueDecisionMs": round(median(measured["enqueueMs"]), 3),
            "dequeueDecisionMs": round(median(measured["dequeueMs"]), 3),
            "outcomes": measured["outcomes"],
            "stage": "queue filled",
        }
        points.append(point)
        stack.log(
            f"  {target} waiting: RSS {point['rssMb']} MB, enqueue {point['enqueueDecisionMs']} ms, "
            f"dequeue {point['dequeueDecisionMs']} ms"
        )
    stack.raw["memory"] = points
    final = points[-1]
    filled_points = [p for p in points if p["stage"] == "queue filled"]
    return {
        "agents": profile.memory_agents,
        "waiting": final["waiting"],
        "rssMb": final["rssMb"],
        "points": points,
        "decisionGrowth": _growth(filled_points),
    }


def _growth(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Say how decision cost grows from the smallest to the largest queue measured."""
    if len(points) < 2:
        return {}
    first, last = points[0], points[-1]
    size_ratio = last["waiting"] / first["waiting"]

    def ratio(key: str) -> float | None:
        return round(last[key] / first[key], 2) if first[key] else None

    return {
        "queueSizeRatio": round(size_ratio, 2),
        "enqueueCostRatio": ratio("enqueueDecisionMs"),
        "dequeueCostRatio": ratio("dequeueDecisionMs"),
    }


# ================================================================== records
def records_path(stack: Stack) -> tuple[Path, bool]:
    """Where the records database goes, and whether it may be reused from an earlier run."""
    cache = stack.options.records_cache
    if cache is not None:
        return cache / f"records-{stack.profile.records}.db", True
    return stack.workdir / "records" / "records.db", False


def start_records_load(stack: Stack) -> Child:
    """Start loading the call records on the load cores (it runs beside later phases)."""
    path, reuse = records_path(stack)
    stack.log(
        f"records: loading {stack.profile.records:,} call records into {path} (in the background)"
    )
    # Niced: it shares the load cores with the simulator during the store-request phase.
    args = ["load", "--path", str(path), "--records", str(stack.profile.records), "--nice", "10"]
    if reuse:
        args.append("--reuse")
    return stack.children.start(
        "records-load",
        python_module("bench.records", *args, *stack.core_args(stack.load_cores)),
        cores=stack.load_cores,
        ready=None,
    )


async def records_phase(stack: Stack, loader: Child) -> dict[str, Any]:
    """Wait for the load, then time both reports on the host core."""
    deadline = time.monotonic() + 1800.0
    while loader.process.poll() is None:
        if time.monotonic() > deadline:
            raise BenchError("loading the call records took more than 30 minutes")
        await asyncio.sleep(_POLL_S)
    stack.children.stop(loader)
    if loader.process.returncode != 0:
        raise BenchError(f"loading the call records failed: {loader.tail()}")
    loaded = json.loads(loader.stdout_path.read_text().strip().splitlines()[-1])
    path, _ = records_path(stack)
    profile = stack.profile
    stack.log(
        f"records: report from aggregates x{profile.report_runs}, scan of raw records x{profile.scan_runs}"
    )
    with watching_noise(stack, "records"):
        measured = await _measure_records(stack, path)
    stack.log(f"  report {measured['reportMs']} ms, scan {measured['scanMs']} ms")
    return {"load": loaded, **measured, "store": "sqlite"}


async def cosmos_ceiling_phase(stack: Stack) -> dict[str, Any]:
    """Time the Cosmos DB test server alone: a bare SDK loop of one call's requests."""
    assert stack.cosmos is not None
    stack.log("Cosmos DB ceiling: the host's request mix from a bare SDK client")
    with watching_noise(stack, "cosmosCeiling"):
        measured = await stack.children.run_json(
            "cosmos-ceiling",
            python_module(
                "bench.cosmos_ceiling",
                "--endpoint",
                stack.cosmos.endpoint,
                "--key",
                stack.cosmos_key,
                "--database",
                f"bench-ceiling-{uuid.uuid4().hex[:8]}",
                "--seconds",
                str(stack.profile.ceiling_s),
            ),
            cores=stack.host_cores,
            timeout_s=stack.profile.ceiling_s + 300.0,
        )
    stack.log(
        f"  {measured['requestsPerS']} requests/s = {measured['callsPerS']} calls/s; client "
        f"{measured['clientCpuMsPerRequest']} ms CPU per request"
    )
    return measured


async def _measure_records(stack: Stack, path: Path) -> dict[str, Any]:
    profile = stack.profile
    return await stack.children.run_json(
        "records-measure",
        python_module(
            "bench.records",
            "measure",
            "--path",
            str(path),
            "--report-runs",
            str(profile.report_runs),
            "--scan-runs",
            str(profile.scan_runs),
            *stack.core_args(stack.host_cores),
        ),
        cores=stack.host_cores,
        timeout_s=3600.0,
    )


# ==================================================================== the run
@contextlib.contextmanager
def workdir(options: Options) -> Iterator[Path]:
    """The run's scratch directory: removed afterwards unless asked to keep it."""
    if options.workdir is not None:
        options.workdir.mkdir(parents=True, exist_ok=True)
        yield options.workdir
        return
    path = Path(tempfile.mkdtemp(prefix="contact-center-bench-"))
    try:
        yield path
    finally:
        if options.keep_workdir:
            options.progress(f"work directory kept: {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.asynccontextmanager
async def stack_for(options: Options, path: Path) -> AsyncIterator[Stack]:
    cores = available_cores()
    host_cores = {cores[0]}
    load_cores = {cores[1]} if len(cores) > 1 else {cores[0]}
    # This process only waits; keep it off the host's core.
    pin_to_cores(0, load_cores)
    with Children(path) as children:
        async with aiohttp.ClientSession(timeout=_HTTP_TIMEOUT) as session:
            stack = Stack(options, path, children, session, host_cores, load_cores)
            try:
                yield stack
            finally:
                if stack.cosmos is not None:
                    stack.cosmos.stop()


async def run(options: Options) -> dict[str, Any]:
    """Run every phase; return the measurements (not yet judged against budgets)."""
    profile = options.profile
    if options.wait_for_quiet_s > 0:
        foreign = await wait_for_quiet(options)
        options.progress(f"other programs use {foreign:.2f} cores; starting")
    started = time.monotonic()
    with workdir(options) as path:
        async with stack_for(options, path) as stack:
            stack.log(
                f"profile {profile.name}, store {options.store}; host on core(s) "
                f"{sorted(stack.host_cores)}, load on core(s) {sorted(stack.load_cores)}; work dir {path}"
            )
            if options.store == "cosmos":
                stack.log("starting the Cosmos DB test server")
                start_cosmos(stack)
            host_port = free_port()
            stack.simulator = start_simulator(stack, host_port)
            stack.host = start_host(stack, "host", host_port)
            spec = routing_tenant(
                agents=profile.routing_agents,
                hold_agents=profile.hold_agents,
                wrap_up_s=profile.wrap_up_s,
            )
            stack.log(f"seeding {profile.routing_agents} free agents, {profile.hold_agents} away")
            await stack.host_post("/bench/seed", spec.to_json())
            await stack.simulator_client.put_tenant(spec.simulator_entry())
            with watching_noise(stack, "routing"):
                routing = await routing_phases(stack, spec)
            with watching_noise(stack, "throughput"):
                throughput = await notifications_phase(stack, spec)
            # From here on nothing timed runs on the load cores until the records phase.
            loader = start_records_load(stack)
            ops = await store_ops_phase(stack, spec)
            if profile.fresh_memory_host:
                stack.children.stop(stack.host, timeout_s=_HOST_STOP_S)
                stack.host = start_host(stack, "host-memory", free_port())
            with watching_noise(stack, "memory"):
                memory = await memory_phase(stack)
            stack.children.stop(stack.host, timeout_s=_HOST_STOP_S)
            stack.host = None
            records = await records_phase(stack, loader)
            ceiling = await cosmos_ceiling_phase(stack) if stack.cosmos is not None else None
            raw = dict(stack.raw)
            noise = dict(stack.noise)
    return {
        "profile": profile.name,
        "store": options.store,
        "durationS": round(time.monotonic() - started, 1),
        "routing": routing,
        "storeOps": ops,
        "cosmosCeiling": ceiling,
        "throughput": throughput,
        "memory": memory,
        "records": records,
        "noise": noise,
        "raw": raw,
    }
