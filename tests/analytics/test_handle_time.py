"""Handle time from what agents actually did: wrap-up ended early or extended, hold not seen.

The routing engine feeds its records to the interval aggregates (as the host wires it), and
the queue report reads those: AHT = (talk + hold + wrap-up) / answered, with the wrap-up
each agent actually took.
"""

from __future__ import annotations

from contactcenter.aggregates import IntervalAggregator
from contactcenter.engine import RoutingEngine
from contactcenter.finished_calls import FinishedCalls
from contactcenter.kpis import totals_of_live_calls
from contactcenter.reports import ReportPeriod, ReportScope, queue_report
from tests.domain.harness import TENANT, Harness, make_agent, make_queue

TALK_S = 100
WRAP_UP_S = 60


async def _host(*, extension_s: int = 0) -> tuple[Harness, IntervalAggregator]:
    h = Harness()
    aggregator = IntervalAggregator(h.store, h.clock)
    feed = FinishedCalls(h.repo, aggregator, h.clock)
    h.engine = RoutingEngine(
        h.repo, h.calls, h.notifier, h.clock, h.settings, on_record=feed.record_finished
    )
    queue = make_queue("q1", ["a1"], wrap_up_s=WRAP_UP_S, wrap_up_extension_s=extension_s)
    await h.seed(queue, [make_agent("a1")])
    return h, aggregator


async def _answered_call(h: Harness, call_id: str) -> None:
    await h.arrive(call_id)
    await h.answers(call_id, "a1")
    h.clock.advance(TALK_S)
    await h.terminated(call_id)


async def _aht(h: Harness, aggregator: IntervalAggregator) -> float | None:
    day = h.now.date()
    report = await queue_report(
        aggregator, TENANT, ReportPeriod.of(day, day, "UTC"), ReportScope(), {"q1": "Q1"}
    )
    return report.total.aht_s


async def test_handle_time_in_the_report_drops_when_an_agent_ends_wrap_up_early() -> None:
    full, full_aggregates = await _host()
    await _answered_call(full, "c1")
    await full.advance(WRAP_UP_S)

    early, early_aggregates = await _host()
    await _answered_call(early, "c1")
    early.clock.advance(12)
    await early.engine.end_wrap_up(TENANT, "a1")

    assert await _aht(full, full_aggregates) == TALK_S + WRAP_UP_S
    assert await _aht(early, early_aggregates) == TALK_S + 12


async def test_an_extended_wrap_up_counts_in_full() -> None:
    h, aggregator = await _host(extension_s=30)
    await _answered_call(h, "c1")
    await h.engine.extend_wrap_up(TENANT, "a1")

    await h.advance(WRAP_UP_S + 30)

    assert await _aht(h, aggregator) == TALK_S + WRAP_UP_S + 30


async def test_a_call_in_wrap_up_is_counted_once_its_wrap_up_ends() -> None:
    h, aggregator = await _host()
    await _answered_call(h, "c1")

    # Not in the aggregates yet: the wallboard counts it from the agent's wrap-up.
    assert await _aht(h, aggregator) is None
    agent = await h.agent("a1")
    assert agent.wrap_up is not None
    live = totals_of_live_calls([], since=h.now.replace(hour=0), wrapping_up=[agent.wrap_up])
    assert (live.offered, live.answered) == (1, 1)

    await h.advance(WRAP_UP_S)

    assert await _aht(h, aggregator) == TALK_S + WRAP_UP_S
    docs = await aggregator.documents.find(TENANT)
    assert [doc.value.call_ids for doc in docs] == [("c1",)]


async def test_hold_is_in_the_formula_and_never_measured() -> None:
    h, aggregator = await _host()
    await _answered_call(h, "c1")
    await h.advance(WRAP_UP_S)

    record = await h.record("c1")
    assert record is not None
    assert record.hold_s == 0
    docs = await aggregator.documents.find(TENANT)
    assert [d.value.hold_s for d in docs] == [0]
