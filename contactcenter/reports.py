"""Reports: queue and agent summaries, calls by hour, call lists and agent timelines.

Summaries read interval aggregates (a 30-day report reads a few thousand small documents,
never the records); call lists page through the records themselves. Days are the
tenant's days (its IANA time zone, via ``zoneinfo``): a day runs from local midnight to
local midnight, which always falls on a 15-minute interval boundary in UTC.

A report's :class:`ReportScope` says what its reader may see: every queue (admins), some
queues (supervisors), or only their own calls (agents).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contactcenter.aggregates import AggregateKind, IntervalAggregate, IntervalAggregator
from contactcenter.codec import format_timestamp, parse_timestamp
from contactcenter.errors import InvalidInput
from contactcenter.kpis import (
    DEFAULT_THRESHOLD_S,
    CallTotals,
    Kpis,
    kpis,
    occupancy,
    totals_from_aggregates,
)
from contactcenter.model import CallOutcome, CallRecord
from contactcenter.ports import Condition, Op
from contactcenter.repository import Repository

MAX_REPORT_DAYS = 92
# Reports cover days in this range: before it no record was made, after it none will be
# (and a day near the calendar's end would overflow when its end is computed).
FIRST_REPORT_DAY = date(2000, 1, 1)
LAST_REPORT_DAY = date(2099, 12, 31)


def check_report_day(day: date, field: str) -> date:
    """Return ``day``, or raise InvalidInput when it is outside the days reports cover."""
    if not FIRST_REPORT_DAY <= day <= LAST_REPORT_DAY:
        raise InvalidInput(
            f"a report day is between {FIRST_REPORT_DAY} and {LAST_REPORT_DAY}", field=field
        )
    return day


_ORDER_NEWEST = (("endedAt", True),)


def time_zone(name: str) -> ZoneInfo:
    """Return the IANA time zone ``name`` (UTC when unknown)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """Return the UTC instant of local midnight starting ``day``."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    """Whole local days, ``first_day`` to ``last_day`` inclusive, in a time zone."""

    first_day: date
    last_day: date
    zone: ZoneInfo

    @classmethod
    def of(cls, first_day: date, last_day: date, zone_name: str) -> ReportPeriod:
        check_report_day(first_day, "from")
        check_report_day(last_day, "to")
        if last_day < first_day:
            raise InvalidInput("the period ends before it starts", field="to")
        if (last_day - first_day).days + 1 > MAX_REPORT_DAYS:
            raise InvalidInput(f"a report covers at most {MAX_REPORT_DAYS} days", field="to")
        return cls(first_day, last_day, time_zone(zone_name))

    @property
    def start(self) -> datetime:
        return local_midnight(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        return local_midnight(self.last_day + timedelta(days=1), self.zone)

    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=n) for n in range(count)]

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)


@dataclass(frozen=True, slots=True)
class ReportScope:
    """What a reader may see: all queues (None), some queues, or only one agent's calls."""

    queue_ids: frozenset[str] | None = None
    agent_id: str | None = None

    def allows(self, queue_id: str | None) -> bool:
        if self.queue_ids is None:
            return True
        return queue_id is not None and queue_id in self.queue_ids

    def queues(self, wanted: str | None) -> frozenset[str] | None:
        """Return the queues a report with queue filter ``wanted`` covers (None: all)."""
        if wanted is not None:
            return frozenset({wanted}) if self.allows(wanted) else frozenset()
        return self.queue_ids


def _in_scope(
    docs: Iterable[IntervalAggregate], queues: frozenset[str] | None, agent_id: str | None
) -> list[IntervalAggregate]:
    return [
        d
        for d in docs
        if (queues is None or d.queue_id in queues) and (agent_id is None or d.agent_id == agent_id)
    ]


# ------------------------------------------------------------------ queue report
@dataclass(frozen=True, slots=True)
class QueueRow:
    queue_id: str
    queue_name: str
    kpis: Kpis
    failed: int
    transferred_in: int
    met_service_level: int


@dataclass(frozen=True, slots=True)
class DayPoint:
    day: date
    kpis: Kpis


@dataclass(frozen=True, slots=True)
class QueueReport:
    rows: list[QueueRow]
    total: Kpis
    days: list[DayPoint]


async def queue_report(
    aggregator: IntervalAggregator,
    tenant_id: str,
    period: ReportPeriod,
    scope: ReportScope,
    queue_names: Mapping[str, str],
    *,
    queue_id: str | None = None,
    threshold_s: int = DEFAULT_THRESHOLD_S,
) -> QueueReport:
    """Return each queue's KPIs over the period, their total, and the total per day."""
    queues = scope.queues(queue_id)
    docs = await aggregator.find(
        tenant_id, AggregateKind.QUEUE, period.start, period.end, queue_id=queue_id
    )
    empty = CallTotals(threshold_s=threshold_s)
    by_queue: dict[str, CallTotals] = {}
    by_day: dict[date, CallTotals] = {}
    extras: dict[str, tuple[int, int, int]] = {}
    total = empty
    # Each document's totals once; queues, days and the whole period add them up.
    for doc in _in_scope(docs, queues, None):
        totals = totals_from_aggregates((doc,), threshold_s)
        total = total + totals
        by_queue[doc.queue_id] = by_queue.get(doc.queue_id, empty) + totals
        day = period.local(doc.interval_start).date()
        by_day[day] = by_day.get(day, empty) + totals
        failed, moved_in, met = extras.get(doc.queue_id, (0, 0, 0))
        extras[doc.queue_id] = (
            failed + doc.failed,
            moved_in + doc.transferred_in,
            met + doc.met_service_level,
        )
    shown = [
        q
        for q in queue_names
        if (queues is None or q in queues) and (queue_id is None or q == queue_id)
    ]
    shown.extend(q for q in by_queue if q not in shown)
    rows = [
        QueueRow(
            queue_id=q,
            queue_name=queue_names.get(q, q),
            kpis=kpis(by_queue.get(q, empty)),
            failed=extras.get(q, (0, 0, 0))[0],
            transferred_in=extras.get(q, (0, 0, 0))[1],
            met_service_level=extras.get(q, (0, 0, 0))[2],
        )
        for q in shown
    ]
    rows.sort(key=lambda r: r.queue_name.casefold())
    return QueueReport(
        rows=rows,
        total=kpis(total),
        days=[DayPoint(day, kpis(by_day.get(day, empty))) for day in period.days()],
    )


# ------------------------------------------------------------------ agent report
@dataclass(frozen=True, slots=True)
class AgentRow:
    agent_id: str
    agent_name: str
    handled: int
    missed_offers: int
    talk_s: float
    hold_s: float
    wrap_up_s: float
    aht_s: float | None
    asa_s: float | None
    state_s: dict[str, float]
    available_idle_s: float
    occupancy: float | None


async def agent_report(
    aggregator: IntervalAggregator,
    tenant_id: str,
    period: ReportPeriod,
    scope: ReportScope,
    agent_names: Mapping[str, str],
    *,
    queue_id: str | None = None,
) -> list[AgentRow]:
    """Return each agent's calls and time over the period.

    Call columns count the calls of the queues in scope; time by state and occupancy are
    the agent's own, across every queue (time is not kept per queue).
    """
    queues = scope.queues(queue_id)
    call_docs = await aggregator.find(
        tenant_id,
        AggregateKind.AGENT,
        period.start,
        period.end,
        queue_id=queue_id,
        agent_id=scope.agent_id,
    )
    time_docs = await aggregator.find(
        tenant_id, AggregateKind.AGENT_TIME, period.start, period.end, agent_id=scope.agent_id
    )
    handle_all: dict[str, float] = {}
    for doc in call_docs:
        handle_all[doc.agent_id] = handle_all.get(doc.agent_id, 0.0) + doc.handle_s
    if queue_id is not None:
        # Occupancy counts the agent's work in every queue, not only the filtered one.
        for doc in await aggregator.find(
            tenant_id, AggregateKind.AGENT, period.start, period.end, agent_id=scope.agent_id
        ):
            if doc.queue_id != queue_id:
                handle_all[doc.agent_id] = handle_all.get(doc.agent_id, 0.0) + doc.handle_s
    scoped = _in_scope(call_docs, queues, scope.agent_id)
    by_agent: dict[str, list[IntervalAggregate]] = {}
    for doc in scoped:
        by_agent.setdefault(doc.agent_id, []).append(doc)
    state: dict[str, dict[str, float]] = {}
    for doc in time_docs:
        spent = state.setdefault(doc.agent_id, {})
        for name, seconds in doc.state_s.items():
            spent[name] = spent.get(name, 0.0) + seconds
    agent_ids = [a for a in agent_names if scope.agent_id is None or a == scope.agent_id]
    agent_ids.extend(a for a in by_agent if a not in agent_ids)
    rows: list[AgentRow] = []
    for agent_id in agent_ids:
        mine = by_agent.get(agent_id, [])
        totals = totals_from_aggregates(mine)
        by_state = {k: round(v, 3) for k, v in sorted(state.get(agent_id, {}).items())}
        idle = by_state.get("available", 0.0)
        figures = kpis(totals)
        rows.append(
            AgentRow(
                agent_id=agent_id,
                agent_name=agent_names.get(agent_id, agent_id),
                handled=totals.answered,
                missed_offers=sum(d.missed_offers for d in mine),
                talk_s=totals.talk_s,
                hold_s=totals.hold_s,
                wrap_up_s=totals.wrap_up_s,
                aht_s=figures.aht_s,
                asa_s=figures.asa_s,
                state_s=by_state,
                available_idle_s=idle,
                occupancy=(
                    occupancy(handle_all.get(agent_id, 0.0), idle) if agent_id in state else None
                ),
            )
        )
    rows.sort(key=lambda r: r.agent_name.casefold())
    return rows


# --------------------------------------------------------------- calls by hour
@dataclass(frozen=True, slots=True)
class HourlyReport:
    """Offered, answered and abandoned calls per local day and hour of day."""

    days: list[date]
    offered: list[list[int]]
    answered: list[list[int]]
    abandoned: list[list[int]]


async def hourly_report(
    aggregator: IntervalAggregator,
    tenant_id: str,
    period: ReportPeriod,
    scope: ReportScope,
    *,
    queue_id: str | None = None,
) -> HourlyReport:
    """Return the period's calls per local day (rows) and hour of day (columns)."""
    queues = scope.queues(queue_id)
    docs = await aggregator.find(
        tenant_id, AggregateKind.QUEUE, period.start, period.end, queue_id=queue_id
    )
    days = period.days()
    row_of = {day: n for n, day in enumerate(days)}
    offered = [[0] * 24 for _ in days]
    answered = [[0] * 24 for _ in days]
    abandoned = [[0] * 24 for _ in days]
    for doc in _in_scope(docs, queues, None):
        local = period.local(doc.interval_start)
        row = row_of.get(local.date())
        if row is None:
            continue
        offered[row][local.hour] += doc.offered
        answered[row][local.hour] += doc.answered
        abandoned[row][local.hour] += doc.abandoned
    return HourlyReport(days=days, offered=offered, answered=answered, abandoned=abandoned)


# ------------------------------------------------------------------- call lists
@dataclass(frozen=True, slots=True)
class CallFilter:
    queue_id: str | None = None
    agent_id: str | None = None
    outcome: CallOutcome | None = None


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page of calls ended: newest first by end time, then by id."""

    ended_at: datetime
    call_id: str

    def encode(self) -> str:
        raw = json.dumps({"t": format_timestamp(self.ended_at), "id": self.call_id})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            padded = text + "=" * (-len(text) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode()))
            return cls(parse_timestamp(str(data["t"])), str(data["id"]))
        except (ValueError, KeyError, TypeError, binascii.Error) as err:
            raise InvalidInput("not a cursor this API gave out", field="cursor") from err


@dataclass(frozen=True, slots=True)
class CallPage:
    records: list[CallRecord]
    next_cursor: str | None
    # The queues the page could show (for a reader scoped to queues).
    queue_ids: list[str] = field(default_factory=list)


def _newest_first(record: CallRecord) -> tuple[float, str]:
    return (-record.ended_at.timestamp(), record.id)


async def call_page(
    repository: Repository,
    tenant_id: str,
    period: ReportPeriod,
    scope: ReportScope,
    filters: CallFilter,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> CallPage:
    """Return one page of call records that ended in the period, newest first.

    Pages are cut by (end time, id) rather than by the store's continuation, so that a
    reader scoped to several queues gets one list merged from a query per queue.
    """
    after = Cursor.decode(cursor) if cursor else None
    base = [
        Condition("endedAt", Op.GE, format_timestamp(period.start)),
        Condition("endedAt", Op.LT, format_timestamp(period.end)),
    ]
    agent_id = scope.agent_id or filters.agent_id
    if scope.agent_id is not None and filters.agent_id not in (None, scope.agent_id):
        return CallPage([], None)
    if agent_id is not None:
        base.append(Condition("agentId", Op.EQ, agent_id))
    if filters.outcome is not None:
        base.append(Condition("outcome", Op.EQ, filters.outcome.value))
    queues = scope.queues(filters.queue_id)
    per_queue: list[list[Condition]] = (
        [base]
        if queues is None
        else [[*base, Condition("queueId", Op.EQ, q)] for q in sorted(queues)]
    )
    found: list[CallRecord] = []
    for where in per_queue:
        if after is not None:
            ties = await repository.call_records.find(
                tenant_id, [*where, Condition("endedAt", Op.EQ, format_timestamp(after.ended_at))]
            )
            found.extend(t.value for t in ties if t.value.id > after.call_id)
            where = [*where, Condition("endedAt", Op.LT, format_timestamp(after.ended_at))]
        older, _ = await repository.call_records.page(
            tenant_id, where, order_by=_ORDER_NEWEST, limit=limit + 1
        )
        found.extend(o.value for o in older)
    found.sort(key=_newest_first)
    page = found[:limit]
    following = None
    if len(found) > limit:
        last = page[-1]
        following = Cursor(last.ended_at, last.id).encode()
    return CallPage(page, following, sorted(queues) if queues is not None else [])


# ---------------------------------------------------------------- agent timeline
@dataclass(frozen=True, slots=True)
class TimelineSegment:
    """A stretch of an agent's day: on a call or in wrap-up (from the call records)."""

    state: str
    start: datetime
    end: datetime
    call_id: str
    queue_name: str


@dataclass(frozen=True, slots=True)
class TimelineInterval:
    """The agent's sampled time by state in one 15-minute interval."""

    start: datetime
    state_s: dict[str, float]


@dataclass(frozen=True, slots=True)
class AgentTimeline:
    agent_id: str
    day: date
    start: datetime
    end: datetime
    segments: list[TimelineSegment]
    intervals: list[TimelineInterval]


async def agent_timeline(
    repository: Repository,
    aggregator: IntervalAggregator,
    tenant_id: str,
    agent_id: str,
    day: date,
    zone: ZoneInfo,
    *,
    scope: ReportScope,
) -> AgentTimeline:
    """Return an agent's day: calls and wrap-ups from the records, states from sampling.

    State history is not stored as such: talk and wrap-up come from the agent's call
    records (exact), the rest of the day from the sampled time by state per interval.
    """
    check_report_day(day, "day")
    start = local_midnight(day, zone)
    end = local_midnight(day + timedelta(days=1), zone)
    where: list[Condition] = [
        Condition("agentId", Op.EQ, agent_id),
        Condition("endedAt", Op.GE, format_timestamp(start)),
        # A call ended just after midnight may have started the day before: its record
        # ended in the next day's first minutes is still this day's talk.
        Condition("endedAt", Op.LT, format_timestamp(end + timedelta(hours=2))),
    ]
    records = [r.value for r in await repository.call_records.find(tenant_id, where)]
    segments: list[TimelineSegment] = []
    for record in sorted(records, key=lambda r: r.ended_at):
        if record.answered_at is None or not scope.allows(record.queue_id):
            continue
        talk = (max(record.answered_at, start), min(record.ended_at, end))
        if talk[0] < talk[1]:
            segments.append(
                TimelineSegment("on-call", talk[0], talk[1], record.id, record.queue_name)
            )
        wrap_end = record.ended_at + timedelta(seconds=record.wrap_up_s)
        wrap = (max(record.ended_at, start), min(wrap_end, end))
        if wrap[0] < wrap[1]:
            segments.append(
                TimelineSegment("wrap-up", wrap[0], wrap[1], record.id, record.queue_name)
            )
    docs = await aggregator.find(tenant_id, AggregateKind.AGENT_TIME, start, end, agent_id=agent_id)
    intervals = [
        TimelineInterval(d.interval_start, dict(d.state_s))
        for d in sorted(docs, key=lambda d: d.interval_start)
    ]
    return AgentTimeline(agent_id, day, start, end, segments, intervals)
