"""Three hosts on one Cosmos DB take a burst of calls; one of them is killed halfway.

Three ``contact-center serve --demo`` processes share a database on the Cosmos DB test
server and one simulator process, which plays Graph and the load balancer in front of the
hosts: every notification (incoming calls and all that follows) goes to one host picked
per notification. Simulated agents answer after a moment and hang up after a short talk,
one never answers (ring timeouts), one declines; some callers hang up early; the queues
time calls out quickly. Once calls are flowing, one host is killed with SIGKILL; the
others take its notifications and fire every timer. Afterwards the simulator's record of
the outside world and the store are checked against the invariants in
:mod:`tests.scaleout.invariants`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

from bot.demo import LINES, PEOPLE, queue_id, seed_demo_tenant
from bot.settings import DEMO_TENANT_ID
from contactcenter.clock import SystemClock
from contactcenter.model import (
    Agent,
    CallbackSettings,
    CallOutcome,
    CallRecord,
    Queue,
    QueueAction,
    RoutingMethod,
)
from contactcenter.repository import Repository
from simulator import SimulatorClient, SimulatorRequestError
from simulator.people import OnInvite
from storage.cosmos import CosmosStore
from tests.cosmos_server import EMULATOR_KEY, fresh_database_name, shared_server
from tests.scaleout import invariants
from tests.scaleout.cluster import Cluster

pytestmark = [pytest.mark.slow, pytest.mark.cosmos]

_LOGGER = logging.getLogger(__name__)

HOSTS: Final = 3
CALLS: Final = 40
# Every fourth caller hangs up after a while, whatever is happening to their call.
IMPATIENT_EVERY: Final = 4
# Kill a host once this many agents have picked up: calls are then in every state.
KILL_AFTER_JOINS: Final = 6
KILLED: Final = 1
START_DEADLINE_S: Final = 60.0
DRAIN_DEADLINE_S: Final = 120.0
POLL_S: Final = 0.25

AGENTS = {p.name.split()[0].lower(): p.id for p in PEOPLE}
SALES_LINE, SUPPORT_LINE = (line.application_instance_id for line in LINES)


@dataclass(frozen=True)
class Behaviour:
    on_invite: OnInvite
    answer_after_s: float = 0.0
    hang_up_after_s: float | None = None


# How each simulated agent responds to being rung.
BEHAVIOURS: Final = {
    "ana": Behaviour("answer", 0.5, 2.0),
    "ben": Behaviour("ignore"),  # every offer to Ben rings out: ring timeouts, re-rings
    "chloe": Behaviour("answer", 1.0, 2.5),  # in both queues
    "dev": Behaviour("answer", 0.5, 1.5),
    "eva": Behaviour("answer", 1.0, 3.0),
    "femi": Behaviour("decline", 0.5),
}


def _short_times(queue: Queue) -> Queue:
    """Make a demo queue fast and plain.

    Short alert, wrap-up and maximum wait; open around the clock; a call that waited too
    long (or finds the queue full or nobody signed in) is disconnected, so every outcome
    stays within the calls the test placed; no comfort messages; agents never set away.
    """
    sales = queue.name == "Sales"
    return replace(
        queue,
        routing_method=RoutingMethod.LONGEST_IDLE if sales else RoutingMethod.ROUND_ROBIN,
        alert_time_s=3,
        wrap_up_s=1 if sales else 2,
        max_wait_s=25 if sales else 12,
        missed_offers_to_away=0,
        overflow_action=QueueAction(),
        timeout_action=QueueAction(),
        no_agent_action=QueueAction(),
        hours=None,
        comfort_interval_s=0,
        callback=CallbackSettings(),
    )


@pytest.fixture
async def repository() -> AsyncIterator[tuple[Repository, dict[str, str]]]:
    """Seed the demo tenant, with fast queues, in a fresh database; yield it and its settings."""
    server = shared_server()
    database = fresh_database_name()
    store = await CosmosStore.open(
        server.endpoint, key=EMULATOR_KEY, database=database, verify_tls=False
    )
    repo = Repository(store)
    try:
        await seed_demo_tenant(repo, SystemClock())
        for name in ("Sales", "Support"):
            await repo.queues.update(DEMO_TENANT_ID, queue_id(name), _short_times)
        env = {
            "COSMOS_ENDPOINT": server.endpoint,
            "COSMOS_KEY": EMULATOR_KEY,
            "COSMOS_DATABASE": database,
            "COSMOS_VERIFY_TLS": "false",
        }
        yield repo, env
    finally:
        await store.close()


@pytest.fixture(autouse=True)
def _quiet_sdk(caplog: pytest.LogCaptureFixture) -> None:
    """Keep the Cosmos DB SDK's per-request log lines out of a failure report."""
    caplog.set_level(logging.WARNING, logger="azure")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Yield an empty cluster; every process it started is stopped afterwards."""
    running = Cluster(tmp_path)
    try:
        yield running
    finally:
        running.close()


async def _start(cluster: Cluster, session: aiohttp.ClientSession, env: dict[str, str]) -> None:
    ports = [unused_port() for _ in range(HOSTS)]
    await cluster.start_simulator(ports, invite_timeout_s=20)
    host_env = cluster.host_env(env, log_level="INFO")
    hosts = [cluster.start_host(i, port, host_env) for i, port in enumerate(ports)]
    await asyncio.gather(
        *(
            cluster.wait_healthy(session, host, url, deadline_s=START_DEADLINE_S)
            for host, url in zip(hosts, cluster.host_urls, strict=True)
        )
    )


async def _caller(
    simulator: SimulatorClient, index: int, rng: random.Random, placed: list[str]
) -> None:
    """Dial a queue; an impatient caller hangs up a few seconds later, whatever happens."""
    line = SALES_LINE if index % 2 == 0 else SUPPORT_LINE
    call = await simulator.place_call(
        DEMO_TENANT_ID, application_instance_id=line, caller_phone=f"+1206555{index:04d}"
    )
    assert call.webhook_status == 202, (call.webhook_status, call.webhook_error)
    placed.append(call.id)
    if index % IMPATIENT_EVERY == IMPATIENT_EVERY - 1:
        # A caller's patience, not a synchronization: the call may be in any state by then.
        await asyncio.sleep(rng.uniform(0.5, 6.0))
        try:
            await simulator.hang_up(call.id)
        except SimulatorRequestError as err:
            if err.status not in (404, 409):  # ended already
                raise


async def _poll(
    pending: Callable[[], Awaitable[list[str]]],
    *,
    deadline_s: float,
    what: str,
    cluster: Cluster,
    explain: Callable[[], Awaitable[list[str]]] | None = None,
) -> None:
    """Call ``pending`` until it reports nothing left; fail at the deadline saying what is."""
    deadline = time.monotonic() + deadline_s
    while True:
        left = await pending()
        if not left:
            return
        if time.monotonic() > deadline:
            if explain is not None:
                left = await explain()
            pytest.fail(
                f"timed out after {deadline_s:.0f} s waiting for {what}; still:\n"
                + "\n".join(left[:40])
                + f"\n{cluster.logs()}"
            )
        await asyncio.sleep(POLL_S)


def _joins(calls: list[dict[str, Any]]) -> int:
    return sum(1 for p in invariants.participations(calls) if p.joined_at is not None)


async def _records(repo: Repository) -> dict[str, CallRecord]:
    return {r.value.id: r.value for r in await repo.call_records.find(DEMO_TENANT_ID)}


async def _left_in_store(repo: Repository, placed: list[str]) -> list[str]:
    """Describe what the store still holds of calls in progress."""
    left = [
        f"in the store: call {c.value.id} {c.value.state.value} due {c.value.due_at} "
        f"offer {c.value.offer}"
        for c in await repo.calls.find(DEMO_TENANT_ID)
    ]
    records = await _records(repo)
    left += [f"no record of call {i}" for i in placed if i not in records]
    agents = [a.value for a in await repo.agents.find(DEMO_TENANT_ID)]
    return left + invariants.agents_left_busy(agents)


async def test_hosts_share_calls_and_survive_a_killed_host(
    repository: tuple[Repository, dict[str, str]], cluster: Cluster
) -> None:
    repo, env = repository
    rng = random.Random(20260302)
    async with aiohttp.ClientSession() as session:
        await _start(cluster, session, env)
        simulator = SimulatorClient(session, cluster.simulator_url)
        for name, behaviour in BEHAVIOURS.items():
            await simulator.set_user_behaviour(
                DEMO_TENANT_ID,
                AGENTS[name],
                behaviour.on_invite,
                answer_after_s=behaviour.answer_after_s,
                hang_up_after_s=behaviour.hang_up_after_s,
            )

        # The burst: every caller dials at once.
        placed: list[str] = []
        callers = asyncio.gather(*(_caller(simulator, i, rng, placed) for i in range(CALLS)))

        async def too_few_joins() -> list[str]:
            joins = _joins(await simulator.calls())
            return [f"{joins} agents picked up"] if joins < KILL_AFTER_JOINS else []

        try:
            await _poll(too_few_joins, deadline_s=60, what="agents to pick up", cluster=cluster)
            victim = cluster.hosts[KILLED]
            killed_at = datetime.now(UTC)
            victim.kill()
            await callers
        finally:
            callers.cancel()
        assert len(placed) == CALLS
        placed_ids = set(placed)

        async def at_graph() -> list[str]:
            return [
                f"at Graph: call {c['id']} {c['state']}"
                for c in await simulator.calls()
                if c["state"] != "terminated"
            ]

        async def not_drained() -> list[str]:
            # The store is asked only once Graph is done, to leave its capacity to the hosts.
            return await at_graph() or await _left_in_store(repo, placed)

        async def explain() -> list[str]:
            return await at_graph() + await _left_in_store(repo, placed)

        await _poll(
            not_drained,
            deadline_s=DRAIN_DEADLINE_S,
            what="every call to end",
            cluster=cluster,
            explain=explain,
        )
        calls = [c for c in await simulator.calls() if c["id"] in placed_ids]

    records = {i: r for i, r in (await _records(repo)).items() if i in placed_ids}
    agents: list[Agent] = [a.value for a in await repo.agents.find(DEMO_TENANT_ID)]
    found = invariants.participations(calls)
    violations = [
        *invariants.agents_on_two_calls(found),
        *invariants.overlapping_rings(calls),
        *invariants.invitations_repeated(calls),
        *invariants.repeated_hang_ups(calls),
        *invariants.outcomes(calls, records, placed),
        *invariants.wrap_up_respected(found, records),
        *invariants.talks_match_records(found, records.values()),
        *invariants.agents_left_busy(agents),
        *invariants.participants_left_behind(calls),
        *invariants.undelivered_notifications(calls),
    ]
    tally = Counter(r.outcome.value for r in records.values())
    invites = sum(
        1 for call in calls for r in call["requests"] if r["path"].endswith("/participants/invite")
    )
    summary = (
        f"outcomes {dict(tally)}; {invites} invitations, {len(found)} rings, "
        f"{sum(1 for p in found if p.joined_at)} talks; notifications per host "
        f"{dict(invariants.deliveries_per_host(calls))}"
    )
    _LOGGER.info("scale-out run: %s", summary)
    assert not violations, "\n".join([summary, *violations, cluster.logs()])

    # The run exercised what it claims to: every kind of timer, fired by the hosts left
    # after the kill too, and every host.
    rings_cut = [
        invariants.time_of(p["endedAt"])
        for call in calls
        for p in call["participants"]
        if p["status"] == "cancelled" and (p["resultInfo"] or {}).get("code") == 487
    ]
    assert any(at > killed_at for at in rings_cut), f"no ring timed out after the kill: {summary}"
    timed_out = [r for r in records.values() if r.outcome is CallOutcome.TIMED_OUT]
    assert any(r.ended_at > killed_at for r in timed_out), f"no timeout after the kill: {summary}"
    assert tally[CallOutcome.ANSWERED.value] >= 5, summary
    assert tally[CallOutcome.ABANDONED.value] >= 1, summary
    victim_url = f"{cluster.host_urls[KILLED]}/api/calling"
    before = invariants.deliveries_per_host(calls, before=killed_at)
    assert set(before) == {f"{url}/api/calling" for url in cluster.host_urls}, before
    grace = killed_at.timestamp() + 0.5
    after = invariants.deliveries_per_host(calls, after=datetime.fromtimestamp(grace, UTC))
    assert victim_url not in after, after
    assert len(after) == HOSTS - 1, after
