"""Interval aggregates count every final record exactly once: retried finalizes, lost
answers, concurrent hosts, the catch-up sweep and rebuilds included."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from contactcenter.agent_time import AgentTimeSampler, Leases, agent_state
from contactcenter.aggregates import (
    AggregateKind,
    IntervalAggregate,
    IntervalAggregator,
    queue_doc_id,
)
from contactcenter.clock import EPOCH, VirtualClock
from contactcenter.errors import Unavailable
from contactcenter.finished_calls import FinishedCalls
from contactcenter.kpis import CallTotals, totals_from_aggregates, totals_from_records
from contactcenter.model import (
    Agent,
    AgentActivity,
    AgentStatus,
    Call,
    CallOutcome,
    CallRecord,
    CallState,
    Party,
    PartyKind,
)
from contactcenter.repository import Repository
from contactcenter.simulation import TENANT_ID, SimulationConfig, simulate
from storage.memory import MemoryStore
from storage.sqlite import MEMORY, SqliteStore
from tests.analytics.records import ANA, DAY, RECORDS, SALES, TENANT, at, record
from tests.analytics.stores import InterleavingStore, LosingAnswersStore

DAY_END = DAY + timedelta(days=1)


def clock_at_noon() -> VirtualClock:
    return VirtualClock(DAY + timedelta(hours=12))


async def queue_totals(aggregator: IntervalAggregator, tenant: str = TENANT) -> CallTotals:
    docs = await aggregator.find(tenant, AggregateKind.QUEUE, DAY - timedelta(days=400), DAY_END)
    return totals_from_aggregates(docs)


def assert_same_totals(found: CallTotals, expected: CallTotals) -> None:
    """Compare totals; sums of floats added in another order may differ in the last bits."""
    for name in expected.__dataclass_fields__:
        assert getattr(found, name) == pytest.approx(getattr(expected, name)), name


def many_records(count: int, seed: int = 3) -> list[CallRecord]:
    """Records spread over three intervals and two agents, with every outcome."""
    rng = random.Random(seed)
    outcomes = [o for o in CallOutcome if o not in (CallOutcome.REJECTED,)]
    made = []
    for n in range(count):
        outcome = rng.choice(outcomes)
        agent = rng.choice([ANA, "agent-ben"]) if outcome is CallOutcome.ANSWERED else None
        made.append(
            record(
                f"call-{n:04d}",
                at(9, rng.randrange(45), rng.randrange(60)),
                outcome,
                wait=rng.choice([0, 3.5, 19.9, 20, 20.1, 44, 90]),
                talk=rng.randrange(300) if agent else 0,
                wrap=10 if agent else 0,
                agent=agent,
                missed=("agent-ben",) if rng.random() < 0.2 else (),
            )
        )
    return made


# --------------------------------------------------------------------- once only
async def test_a_record_added_twice_counts_once() -> None:
    aggregator = IntervalAggregator(MemoryStore(), clock_at_noon())
    assert await aggregator.add_record(RECORDS[0]) is True
    assert await aggregator.add_record(RECORDS[0]) is False
    doc = (await aggregator.documents.get(TENANT, queue_doc_id(SALES, at(9, 0)))).value
    assert (doc.answered, doc.call_ids) == (1, ("r01",))


async def test_a_retried_finalize_after_a_lost_answer_counts_once() -> None:
    # The first write reaches the store but its answer is lost: the finalize fails and is
    # retried (by the engine's retry, or by the sweep); the retry finds the call counted.
    store = LosingAnswersStore(MemoryStore(), "intervalAggregates", lose=1)
    aggregator = IntervalAggregator(store, clock_at_noon())
    with pytest.raises(Unavailable):
        await aggregator.add_record(RECORDS[0])
    # The retry finds the queue's document counting the call, and writes the agent's.
    await aggregator.add_record(RECORDS[0])
    assert await aggregator.is_counted(RECORDS[0])
    assert await aggregator.add_record(RECORDS[0]) is False
    # And once more with a lost answer on an existing document (a replace this time).
    store.lose = 1
    with pytest.raises(Unavailable):
        await aggregator.add_record(RECORDS[1])
    await aggregator.add_record(RECORDS[1])
    docs = await aggregator.find(TENANT, AggregateKind.QUEUE, DAY, DAY_END)
    assert sum(d.answered for d in docs) == 2
    agents = await aggregator.find(TENANT, AggregateKind.AGENT, DAY, DAY_END)
    assert sorted((d.agent_id, d.answered) for d in agents) == [(ANA, 1), ("agent-ben", 1)]


async def test_a_fresh_host_with_no_cache_finds_the_record_counted() -> None:
    store = MemoryStore()
    first = IntervalAggregator(store, clock_at_noon())
    await first.add_records(RECORDS)
    second = IntervalAggregator(store, clock_at_noon())
    assert await second.add_records(RECORDS) == 0
    for item in RECORDS:
        assert await second.is_counted(item)


@pytest.mark.parametrize("hosts", [1, 3])
async def test_concurrent_finalizes_on_several_hosts_count_each_record_once(hosts: int) -> None:
    store = InterleavingStore(MemoryStore())
    clock = clock_at_noon()
    aggregators = [IntervalAggregator(store, clock) for _ in range(hosts)]
    records = many_records(120)
    rng = random.Random(11)
    # Every record is finalized twice (a retry), each time by a random host, all at once.
    work = [(rng.choice(aggregators), r) for r in records for _ in range(2)]
    rng.shuffle(work)
    await asyncio.gather(*(aggregator.add_record(r) for aggregator, r in work))
    assert_same_totals(await queue_totals(aggregators[0]), totals_from_records(records))
    docs = await aggregators[0].find(TENANT, AggregateKind.QUEUE, DAY, DAY_END)
    counted = [c for d in docs for c in d.call_ids]
    assert sorted(counted) == sorted(r.id for r in records)  # each exactly once


async def test_concurrent_finalizes_on_sqlite_count_each_record_once(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "store.db")
    try:
        clock = clock_at_noon()
        hosts = [IntervalAggregator(store, clock) for _ in range(2)]
        records = many_records(40, seed=5)
        await asyncio.gather(*(h.add_record(r) for r in records for h in hosts))
        assert_same_totals(await queue_totals(hosts[0]), totals_from_records(records))
    finally:
        await store.close()


# ------------------------------------------------------------- the sweep
async def test_the_sweep_counts_final_records_and_skips_those_still_live() -> None:
    store = MemoryStore()
    clock = clock_at_noon()
    repo = Repository(store)
    aggregator = IntervalAggregator(store, clock)
    feed = FinishedCalls(repo, aggregator, clock)
    for item in RECORDS[:3]:
        await repo.call_records.create(item)
    # r03's live call document is still there: its finalizer may yet take the record back.
    live = Call(
        id="r03",
        tenant_id=TENANT,
        caller=Party(PartyKind.PHONE, "+14255550100"),
        target_id="line",
        state=CallState.CONNECTED,
        queue_id=SALES,
    )
    await repo.calls.create(live)
    assert await feed.catch_up(DAY) == 2
    assert await feed.catch_up(DAY) == 0
    await repo.calls.delete(TENANT, "r03")
    assert await feed.catch_up(DAY) == 1
    assert_same_totals(await queue_totals(aggregator), totals_from_records(RECORDS[:3]))


async def test_the_sweep_finishes_what_a_finalizer_left_undone() -> None:
    store = MemoryStore()
    clock = clock_at_noon()
    repo = Repository(store)
    day = timedelta(days=1)
    host_a = FinishedCalls(repo, IntervalAggregator(store, clock), clock, first_lookback=day)
    host_b = FinishedCalls(repo, IntervalAggregator(store, clock), clock, first_lookback=day)
    for item in RECORDS:
        await repo.call_records.create(item)
    # Host A's hook ran for half the calls before it crashed; B's sweep does the rest.
    for item in RECORDS[::2]:
        await host_a.record_finished(item)
    await host_b.sweep()
    await host_b.sweep()
    await host_a.sweep()
    assert_same_totals(await queue_totals(host_b.aggregator), totals_from_records(RECORDS))


async def test_the_real_engine_s_records_aggregate_to_the_same_kpis() -> None:
    store = await SqliteStore.open(MEMORY, inline=True)
    try:
        config = SimulationConfig(
            agents=3,
            arrival_rate_per_hour=120,
            handle_time_s=60,
            calls=60,
            patience_s=40,
            wrap_up_s=5,
            seed=4,
        )
        await simulate(config, store)
        clock = VirtualClock(EPOCH + timedelta(days=1))
        repo = Repository(store)
        aggregator = IntervalAggregator(store, clock)
        feed = FinishedCalls(repo, aggregator, clock)
        assert await feed.catch_up(EPOCH) == 60
        assert await feed.catch_up(EPOCH) == 0
        records = [r.value for r in await repo.call_records.find(TENANT_ID)]
        docs = await aggregator.find(
            TENANT_ID, AggregateKind.QUEUE, EPOCH - timedelta(days=1), EPOCH + timedelta(days=1)
        )
        for threshold in (10, 20, 45):
            assert_same_totals(
                totals_from_aggregates(docs, threshold), totals_from_records(records, threshold)
            )
    finally:
        await store.close()


# ------------------------------------------------------- rebuild and sealing
async def every_document(aggregator: IntervalAggregator) -> list[IntervalAggregate]:
    found = [
        *await aggregator.documents.find(TENANT),
        *await aggregator.agent_documents.find(TENANT),
    ]
    return sorted((replace(f.value, updated_at=None) for f in found), key=lambda d: d.id)


async def test_a_rebuild_gives_what_counting_one_by_one_gave() -> None:
    store = MemoryStore()
    clock = clock_at_noon()
    repo = Repository(store)
    aggregator = IntervalAggregator(store, clock)
    records = many_records(80)
    for item in records:
        await repo.call_records.create(item)
        await aggregator.add_record(item)
    before = await every_document(aggregator)
    # A stray document (counting a record since deleted) goes away.
    await aggregator.documents.put(
        IntervalAggregate(
            id=queue_doc_id(SALES, at(3, 0)),
            tenant_id=TENANT,
            kind=AggregateKind.QUEUE,
            interval_start=at(3, 0),
            queue_id=SALES,
            answered=7,
        )
    )
    seen: list[tuple[int, int]] = []
    result = await aggregator.rebuild(
        TENANT, progress=lambda done, total: seen.append((done, total))
    )
    assert (result.records, result.removed) == (80, 1)
    assert seen[-1] == (80, 80)
    after = await every_document(aggregator)
    assert any(d.kind is AggregateKind.AGENT for d in after)
    assert after == before


async def test_old_intervals_are_sealed_and_stay_counted() -> None:
    store = MemoryStore()
    clock = VirtualClock(DAY + timedelta(days=3))
    aggregator = IntervalAggregator(store, clock)
    await aggregator.add_records(RECORDS)
    totals = await queue_totals(aggregator)
    assert await aggregator.seal() > 0
    assert await aggregator.seal() == 0
    docs = await aggregator.find(TENANT, AggregateKind.QUEUE, DAY, DAY_END)
    assert all(d.sealed and d.call_ids == () for d in docs)
    # A late duplicate of an old record changes nothing.
    assert await aggregator.add_record(RECORDS[0]) is False
    assert await queue_totals(aggregator) == totals


# ---------------------------------------------------------------- agent time
def agent(activity: AgentActivity, status: AgentStatus = AgentStatus.AVAILABLE) -> Agent:
    return Agent(
        id=ANA,
        tenant_id=TENANT,
        display_name="Ana",
        has_seat=True,
        signed_in_queue_ids=frozenset({SALES}),
        status=status,
        activity=activity,
    )


async def test_sampled_agent_time_is_split_by_state_and_interval() -> None:
    clock = clock_at_noon()
    aggregator = IntervalAggregator(MemoryStore(), clock)
    sampler = AgentTimeSampler(aggregator, max_gap_s=60)
    sampler.observe(TENANT, [agent(AgentActivity.IDLE)], at(9, 14, 30))
    sampler.observe(TENANT, [agent(AgentActivity.ON_CALL)], at(9, 15, 10))  # 30 s + 10 s idle
    sampler.observe(TENANT, [agent(AgentActivity.WRAP_UP)], at(9, 15, 50))  # 40 s on a call
    away = agent(AgentActivity.IDLE, AgentStatus.AWAY)
    sampler.observe(TENANT, [away], at(9, 16, 0))  # 10 s wrap-up
    sampler.observe(TENANT, [away], at(9, 30, 0))  # a gap: only 60 s not ready count
    assert await sampler.flush() == 2
    docs = {
        d.interval_start: d.state_s
        for d in await aggregator.find(TENANT, AggregateKind.AGENT_TIME, DAY, DAY_END)
    }
    assert docs == {
        at(9, 0): {"available": 30.0},
        at(9, 15): {"available": 10.0, "on-call": 40.0, "not-ready": 60.0, "wrap-up": 10.0},
    }
    offline = agent(AgentActivity.IDLE, AgentStatus.OFFLINE)
    assert agent_state(offline) is None


async def test_one_host_at_a_time_holds_a_tenant_s_sampler_lease() -> None:
    store = MemoryStore()
    now = at(9, 0)
    first, second = Leases(store, holder="a"), Leases(store, holder="b")
    ttl = timedelta(seconds=30)
    assert await first.hold(TENANT, "agent-time-sampler", now, ttl)
    assert not await second.hold(TENANT, "agent-time-sampler", now + timedelta(seconds=10), ttl)
    assert await first.hold(TENANT, "agent-time-sampler", now + timedelta(seconds=20), ttl)
    assert await second.hold(TENANT, "agent-time-sampler", now + timedelta(seconds=51), ttl)
    assert not await first.hold(TENANT, "agent-time-sampler", now + timedelta(seconds=60), ttl)


# ------------------------------------------------------------- batches
async def test_a_batched_feed_counts_what_it_holds_at_the_flush() -> None:
    store = MemoryStore()
    clock = clock_at_noon()
    repo = Repository(store)
    feed = FinishedCalls(repo, IntervalAggregator(store, clock), clock, batched=True)
    for item in RECORDS[:4]:
        await repo.call_records.create(item)
        await feed.record_finished(item)
    assert (await queue_totals(feed.aggregator)).offered == 0

    assert await feed.flush() == 4
    assert await feed.flush() == 0

    assert_same_totals(await queue_totals(feed.aggregator), totals_from_records(RECORDS[:4]))


async def test_the_sweep_leaves_a_young_record_to_its_host_s_batch() -> None:
    store = MemoryStore()
    young = record("young", at(11, 59), CallOutcome.ANSWERED, wait=5, talk=50, agent=ANA)
    assert young.ended_at is not None
    clock = VirtualClock(young.ended_at + timedelta(seconds=1))
    repo = Repository(store)
    lag = timedelta(seconds=6)
    host_a = FinishedCalls(repo, IntervalAggregator(store, clock), clock, batched=True)
    host_b = FinishedCalls(
        repo, IntervalAggregator(store, clock), clock, batched=True, sweep_lag=lag
    )
    await repo.call_records.create(young)
    await host_a.record_finished(young)
    assert await host_a.sweep() == 0, "held for the batch"
    assert await host_b.sweep() == 0, "another host's batch may still count it"

    # Host A crashed with the record in its batch: B's sweep counts it once it is old.
    clock.advance(lag.total_seconds())
    assert await host_b.sweep() == 1
    assert (await queue_totals(host_b.aggregator)).answered == 1
