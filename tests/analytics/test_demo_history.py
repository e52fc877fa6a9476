"""The demo's made-up past month: plausible, complete, counted by the product's own code, once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bot.demo import seed_demo_tenant
from bot.demo_history import HISTORY_DAYS, seed_demo_history
from bot.settings import DEMO_TENANT_ID
from contactcenter.aggregates import AggregateKind, IntervalAggregator
from contactcenter.clock import VirtualClock
from contactcenter.kpis import kpis, totals_from_records
from contactcenter.model import CallOutcome
from contactcenter.reports import ReportPeriod, ReportScope, queue_report
from contactcenter.repository import Repository
from storage.memory import MemoryStore

NOW = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
ZONE = "America/New_York"


@pytest.fixture
async def seeded() -> tuple[Repository, IntervalAggregator, VirtualClock, int]:
    clock = VirtualClock(NOW)
    store = MemoryStore()
    repo = Repository(store)
    await seed_demo_tenant(repo, clock)
    aggregator = IntervalAggregator(store, clock)
    added = await seed_demo_history(repo, aggregator, clock, pause_s=0)
    return repo, aggregator, clock, added


async def test_every_day_of_the_past_month_has_calls_in_every_queue(
    seeded: tuple[Repository, IntervalAggregator, VirtualClock, int],
) -> None:
    repo, aggregator, _, added = seeded
    today = NOW.astimezone(ReportPeriod.of(NOW.date(), NOW.date(), ZONE).zone).date()
    period = ReportPeriod.of(today - timedelta(days=HISTORY_DAYS), today - timedelta(days=1), ZONE)
    names = {q.value.id: q.value.name for q in await repo.queues.find(DEMO_TENANT_ID)}
    report = await queue_report(aggregator, DEMO_TENANT_ID, period, ReportScope(), names)
    assert len(report.days) == HISTORY_DAYS
    assert all(point.kpis.offered > 0 for point in report.days)
    assert all(row.kpis.offered > 100 for row in report.rows)
    # Weekly pattern: Mondays are busier than Sundays.
    by_weekday = Counter[int]()
    for point in report.days:
        by_weekday[point.day.weekday()] += point.kpis.offered
    assert by_weekday[0] > 2 * by_weekday[6]
    # The four service levels tell different stories.
    total = report.total
    levels = {
        total.service_level_1,
        total.service_level_2,
        total.service_level_3,
        total.service_level_4,
    }
    assert len(levels) == 4
    assert report.total.offered == added


async def test_records_cover_every_outcome_with_dispositions_and_agree_with_the_aggregates(
    seeded: tuple[Repository, IntervalAggregator, VirtualClock, int],
) -> None:
    repo, aggregator, _, added = seeded
    records = [r.value for r in await repo.call_records.find(DEMO_TENANT_ID)]
    assert len(records) == added
    outcomes = {r.outcome for r in records}
    assert outcomes >= {
        CallOutcome.ANSWERED,
        CallOutcome.ABANDONED,
        CallOutcome.OVERFLOWED,
        CallOutcome.TIMED_OUT,
        CallOutcome.NO_AGENT,
        CallOutcome.VOICEMAIL,
        CallOutcome.CALLBACK_REQUESTED,
    }
    answered = [r for r in records if r.outcome is CallOutcome.ANSWERED]
    assert sum(1 for r in answered if r.disposition_code) > len(answered) / 2
    assert any(r.unanswered_agent_ids for r in answered)
    assert any(r.declined_agent_ids for r in answered)
    assert any(r.ivr_path for r in records)
    assert len({r.agent_id for r in answered}) == 6
    # The aggregates count exactly what the records say.
    docs = await aggregator.find(DEMO_TENANT_ID, AggregateKind.QUEUE, NOW - timedelta(days=40), NOW)
    from_records = kpis(totals_from_records(records, 20))
    assert sum(d.offered for d in docs) == from_records.offered


async def test_the_history_is_made_once(
    seeded: tuple[Repository, IntervalAggregator, VirtualClock, int],
) -> None:
    repo, _, clock, added = seeded
    # A restart (a new aggregator, the same store) adds nothing.
    again = await seed_demo_history(repo, IntervalAggregator(repo.store, clock), clock, pause_s=0)
    assert again == 0
    assert len(await repo.call_records.find(DEMO_TENANT_ID)) == added
