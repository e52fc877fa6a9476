"""The reports API: queue and agent summaries, calls by hour, abandoned calls, call details,
agent timelines; each as JSON or, with ``?format=csv``, as a CSV file of its table.

Who sees what: admins every queue, supervisors their queues, agents only their own calls
(their own row of the agent summary, their call list and timeline; queue-wide reports
answer 403).
Dates are the tenant's days, in its time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from aiohttp import web

from contactcenter.errors import NotFound
from contactcenter.ivr import path_in_words
from contactcenter.kpis import Kpis
from contactcenter.model import AgentActivity, AgentStatus, CallOutcome, CallRecord, Role
from contactcenter.reports import (
    CallFilter,
    ReportPeriod,
    ReportScope,
    agent_report,
    agent_timeline,
    call_page,
    hourly_report,
    queue_report,
    time_zone,
)
from tab.analytics import aggregator_for, report_scope
from tab.analytics_schemas import (
    AbandonedReportQuery,
    AgentReportQuery,
    AgentReportRowView,
    AgentReportView,
    CallReportRowView,
    CallReportView,
    CallsReportQuery,
    DayKpiView,
    HourlyReportView,
    KpiView,
    PeriodQuery,
    QueueReportRowView,
    QueueReportView,
    TimelineIntervalView,
    TimelineQuery,
    TimelineSegmentView,
    TimelineView,
)
from tab.derived_shapes import fill
from tab.endpoints import ApiError, TabRequest
from tab.spreadsheet import csv_response


def _local(value: datetime | None, period: ReportPeriod) -> str:
    return "" if value is None else period.local(value).isoformat(timespec="seconds")


def _period(call: TabRequest, first: date | None, last: date | None) -> ReportPeriod:
    zone_name = call.caller.tenant.time_zone
    today = call.deps.clock.now().astimezone(time_zone(zone_name)).date()
    if first is None:
        first = last or today
    if last is None:
        last = max(first, today)
    return ReportPeriod.of(first, last, zone_name)


def _scope(call: TabRequest, queue_id: str | None) -> ReportScope:
    """Return what the caller may see of a report on ``queue_id`` (None: every queue).

    403 for a queue they do not supervise.
    """
    scope = report_scope(call.caller.user)
    if queue_id is not None and not scope.allows(queue_id):
        raise ApiError(403, "you do not supervise that queue", code="notYourQueue")
    return scope


def _queue_wide(call: TabRequest, queue_id: str | None) -> ReportScope:
    """Return the caller's scope for a queue-wide report (403 for agents)."""
    if not ({Role.ADMIN, Role.SUPERVISOR} & call.caller.user.roles):
        raise ApiError(403, "queue reports need the supervisor or admin role", code="forbidden")
    return _scope(call, queue_id)


async def _queue_names(call: TabRequest) -> dict[str, str]:
    queues = await call.deps.repository.queues.find(call.caller.tenant_id)
    return {q.value.id: q.value.name for q in sorted(queues, key=lambda q: q.value.name.casefold())}


def kpi_view(figures: Kpis) -> KpiView:
    return fill(KpiView, figures)


_KPI_COLUMNS = (
    ("offered", "offered"),
    ("answered", "answered"),
    ("abandoned", "abandoned"),
    ("overflowed", "overflowed"),
    ("timed_out", "timed out"),
    ("no_agent", "no agent"),
    ("voicemail", "voicemail"),
    ("callback_requested", "callback requested"),
    ("abandonment_rate", "abandonment rate"),
    ("asa_s", "ASA (s)"),
    ("service_level_1", "SL1"),
    ("service_level_2", "SL2"),
    ("service_level_3", "SL3"),
    ("service_level_4", "SL4"),
    ("aht_s", "AHT (s)"),
    ("max_wait_s", "max wait (s)"),
)


def _kpi_cells(figures: Kpis) -> list[object]:
    return [getattr(figures, name) for name, _ in _KPI_COLUMNS]


# ----------------------------------------------------------------- queue report
async def queues_report(call: TabRequest) -> QueueReportView | web.Response:
    """Each queue's KPIs over a period, their total, and the total per day."""
    query = call.query(PeriodQuery)
    scope = _queue_wide(call, query.queue_id)
    period = _period(call, query.date_from, query.date_to)
    report = await queue_report(
        aggregator_for(call.app),
        call.caller.tenant_id,
        period,
        scope,
        await _queue_names(call),
        queue_id=query.queue_id,
        threshold_s=query.threshold_s,
    )
    if query.format == "csv":
        header = ["queue id", "queue", *(label for _, label in _KPI_COLUMNS), "T (s)"]
        rows = [
            [r.queue_id, r.queue_name, *_kpi_cells(r.kpis), query.threshold_s] for r in report.rows
        ]
        rows.append(["", "Total", *_kpi_cells(report.total), query.threshold_s])
        return csv_response(f"queues-{period.first_day}-{period.last_day}", header, rows)
    return QueueReportView(
        time_zone=str(period.zone),
        date_from=period.first_day,
        date_to=period.last_day,
        threshold_s=query.threshold_s,
        queues=[
            QueueReportRowView(
                queue_id=r.queue_id,
                queue_name=r.queue_name,
                kpis=kpi_view(r.kpis),
                failed=r.failed,
                transferred_in=r.transferred_in,
                met_service_level=r.met_service_level,
            )
            for r in report.rows
        ],
        total=kpi_view(report.total),
        days=[DayKpiView(day=d.day, kpis=kpi_view(d.kpis)) for d in report.days],
    )


# ----------------------------------------------------------------- agent report
async def _agent_names(call: TabRequest, scope: ReportScope) -> dict[str, str]:
    """Return the agents the report lists: those of the queues in scope (agents: themselves)."""
    repo = call.deps.repository
    tenant_id = call.caller.tenant_id
    agents = {a.value.id: a.value.display_name for a in await repo.agents.find(tenant_id)}
    if scope.agent_id is not None:
        return {scope.agent_id: agents.get(scope.agent_id, call.caller.user.display_name)}
    if scope.queue_ids is None:
        return dict(sorted(agents.items(), key=lambda a: a[1].casefold()))
    members: set[str] = set()
    for queue in await repo.queues.find(tenant_id):
        if queue.value.id in scope.queue_ids:
            members.update(queue.value.members)
    return {a: n for a, n in sorted(agents.items(), key=lambda a: a[1].casefold()) if a in members}


async def agents_report(call: TabRequest) -> AgentReportView | web.Response:
    """Each agent's calls handled, talk, hold and wrap-up, AHT, time by state, occupancy.

    Supervisors see the agents of their queues; an agent sees their own row only.
    """
    query = call.query(AgentReportQuery)
    scope = _scope(call, query.queue_id)
    period = _period(call, query.date_from, query.date_to)
    rows = await agent_report(
        aggregator_for(call.app),
        call.caller.tenant_id,
        period,
        scope,
        await _agent_names(call, scope),
        queue_id=query.queue_id,
    )
    if query.format == "csv":
        header = [
            "agent id",
            "agent",
            "handled",
            "missed offers",
            "talk (s)",
            "hold (s)",
            "wrap-up (s)",
            "AHT (s)",
            "ASA (s)",
            "available idle (s)",
            "not ready (s)",
            "occupancy",
        ]
        return csv_response(
            f"agents-{period.first_day}-{period.last_day}",
            header,
            (
                [
                    r.agent_id,
                    r.agent_name,
                    r.handled,
                    r.missed_offers,
                    r.talk_s,
                    r.hold_s,
                    r.wrap_up_s,
                    r.aht_s,
                    r.asa_s,
                    r.available_idle_s,
                    r.state_s.get("not-ready", 0.0),
                    r.occupancy,
                ]
                for r in rows
            ),
        )
    return AgentReportView(
        time_zone=str(period.zone),
        date_from=period.first_day,
        date_to=period.last_day,
        agents=[fill(AgentReportRowView, r) for r in rows],
    )


# ---------------------------------------------------------------- calls by hour
async def hourly_calls_report(call: TabRequest) -> HourlyReportView | web.Response:
    """Calls offered, answered and abandoned per local day and hour (a heat map)."""
    query = call.query(PeriodQuery)
    scope = _queue_wide(call, query.queue_id)
    period = _period(call, query.date_from, query.date_to)
    report = await hourly_report(
        aggregator_for(call.app),
        call.caller.tenant_id,
        period,
        scope,
        queue_id=query.queue_id,
    )
    if query.format == "csv":
        header = ["day", "hour", "offered", "answered", "abandoned"]
        rows = [
            [
                day.isoformat(),
                hour,
                report.offered[n][hour],
                report.answered[n][hour],
                report.abandoned[n][hour],
            ]
            for n, day in enumerate(report.days)
            for hour in range(24)
        ]
        return csv_response(f"calls-by-hour-{period.first_day}-{period.last_day}", header, rows)
    return HourlyReportView(
        time_zone=str(period.zone),
        days=report.days,
        offered=report.offered,
        answered=report.answered,
        abandoned=report.abandoned,
    )


# --------------------------------------------------------------------- call lists
@dataclass(frozen=True, slots=True)
class _Names:
    """The names a call's details show in place of ids."""

    agents: dict[str, str]
    queues: dict[str, str]
    menus: dict[str, str]


async def _names(call: TabRequest) -> _Names:
    repo = call.deps.repository
    tenant_id = call.caller.tenant_id
    agents = {a.value.id: a.value.display_name for a in await repo.agents.find(tenant_id)}
    queues = {q.value.id: q.value.name for q in await repo.queues.find(tenant_id)}
    menus = {
        m.id: m.name or m.id for ivr in await repo.ivrs.find(tenant_id) for m in ivr.value.menus
    }
    return _Names(agents, queues, menus)


def _call_row(record: CallRecord, names: _Names) -> CallReportRowView:
    return fill(
        CallReportRowView,
        record,
        menu_path=path_in_words(record.ivr_path, names.queues, names.menus),
        missed_agent_names=[names.agents.get(a, a) for a in record.missed_agent_ids],
        declined_agent_names=[names.agents.get(a, a) for a in record.declined_agent_ids],
        unanswered_agent_names=[names.agents.get(a, a) for a in record.unanswered_agent_ids],
    )


_CALL_HEADER = [
    "call id",
    "queue",
    "caller",
    "offered at",
    "answered at",
    "ended at",
    "outcome",
    "wait (s)",
    "ring (s)",
    "talk (s)",
    "hold (s)",
    "wrap-up (s)",
    "met service level",
    "agent",
    "missed by",
    "declined by",
    "leave reason",
    "result code",
    "result subcode",
    "result message",
    "disposition",
    "disposition note",
]


def _call_cells(record: CallRecord, period: ReportPeriod) -> list[object]:
    caller = record.caller.display_name or record.caller.id
    return [
        record.id,
        record.queue_name,
        caller,
        _local(record.offered_at, period),
        _local(record.answered_at, period),
        _local(record.ended_at, period),
        record.outcome.value,
        round(record.wait_s, 3),
        round(record.ring_s, 3),
        round(record.talk_s, 3),
        round(record.hold_s, 3),
        round(record.wrap_up_s, 3),
        record.met_service_level,
        record.agent_name,
        " ".join(record.missed_agent_ids),
        " ".join(record.declined_agent_ids),
        record.leave_reason,
        "" if record.result_code is None else record.result_code,
        "" if record.result_subcode is None else record.result_subcode,
        record.result_message,
        record.disposition_code or "",
        record.disposition_note,
    ]


async def _calls(
    call: TabRequest,
    scope: ReportScope,
    period: ReportPeriod,
    filters: CallFilter,
    limit: int,
    cursor: str | None,
    csv_name: str | None,
) -> CallReportView | web.Response:
    repo = call.deps.repository
    tenant_id = call.caller.tenant_id
    if csv_name is not None:
        # The CSV holds every call of the period, page after page.
        rows: list[list[object]] = []
        following: str | None = None
        while True:
            page = await call_page(
                repo, tenant_id, period, scope, filters, limit=500, cursor=following
            )
            rows.extend(_call_cells(r, period) for r in page.records)
            following = page.next_cursor
            if following is None:
                break
        return csv_response(csv_name, _CALL_HEADER, rows)
    page = await call_page(repo, tenant_id, period, scope, filters, limit=limit, cursor=cursor)
    names = await _names(call)
    return CallReportView(
        time_zone=str(period.zone),
        date_from=period.first_day,
        date_to=period.last_day,
        calls=[_call_row(r, names) for r in page.records],
        next_cursor=page.next_cursor,
    )


async def calls_report(call: TabRequest) -> CallReportView | web.Response:
    """Call details, newest first, filtered by period, queue, agent and outcome; paged."""
    query = call.query(CallsReportQuery)
    scope = _scope(call, query.queue_id)
    if scope.agent_id is not None and query.agent_id not in (None, scope.agent_id):
        raise ApiError(403, "agents see only their own calls", code="notYourCalls")
    period = _period(call, query.date_from, query.date_to)
    filters = CallFilter(queue_id=query.queue_id, agent_id=query.agent_id, outcome=query.outcome)
    name = f"calls-{period.first_day}-{period.last_day}" if query.format == "csv" else None
    return await _calls(call, scope, period, filters, query.limit, query.cursor, name)


async def abandoned_report(call: TabRequest) -> CallReportView | web.Response:
    """The calls whose callers hung up while waiting or ringing, newest first; paged."""
    query = call.query(AbandonedReportQuery)
    scope = _queue_wide(call, query.queue_id)
    period = _period(call, query.date_from, query.date_to)
    filters = CallFilter(queue_id=query.queue_id, outcome=CallOutcome.ABANDONED)
    name = f"abandoned-{period.first_day}-{period.last_day}" if query.format == "csv" else None
    return await _calls(call, scope, period, filters, query.limit, query.cursor, name)


# ---------------------------------------------------------------- agent timeline
async def agent_timeline_report(call: TabRequest) -> TimelineView | web.Response:
    """An agent's day: calls and wrap-ups from the records, sampled time by state."""
    query = call.query(TimelineQuery)
    agent_id = call.param("agentId")
    caller = call.caller
    scope = report_scope(caller.user)
    repo = call.deps.repository
    try:
        agent = (await repo.agents.get(caller.tenant_id, agent_id)).value
    except NotFound:
        raise ApiError(404, "no such agent") from None
    if scope.agent_id is not None and agent_id != scope.agent_id:
        raise ApiError(403, "agents see only their own timeline", code="notYourCalls")
    if scope.queue_ids is not None:
        queues = await repo.queues.find(caller.tenant_id)
        if not any(agent_id in q.value.members for q in queues if q.value.id in scope.queue_ids):
            raise ApiError(403, "that agent is not in a queue you supervise", code="notYourAgent")
    zone = time_zone(caller.tenant.time_zone)
    day = query.day or call.deps.clock.now().astimezone(zone).date()
    timeline = await agent_timeline(
        repo, aggregator_for(call.app), caller.tenant_id, agent_id, day, zone, scope=scope
    )
    if query.format == "csv":
        period = ReportPeriod.of(day, day, caller.tenant.time_zone)
        return csv_response(
            f"timeline-{agent.display_name}-{day}",
            ["state", "start", "end", "seconds", "call id", "queue"],
            (
                [
                    s.state,
                    _local(s.start, period),
                    _local(s.end, period),
                    round((s.end - s.start).total_seconds(), 3),
                    s.call_id,
                    s.queue_name,
                ]
                for s in timeline.segments
            ),
        )
    current_status: AgentStatus | None = agent.status
    current_activity: AgentActivity | None = agent.activity
    return TimelineView(
        time_zone=str(zone),
        agent_id=agent_id,
        agent_name=agent.display_name,
        day=day,
        start=timeline.start,
        end=timeline.end,
        segments=[
            TimelineSegmentView(
                state=s.state, start=s.start, end=s.end, call_id=s.call_id, queue_name=s.queue_name
            )
            for s in timeline.segments
        ],
        intervals=[
            TimelineIntervalView(start=i.start, state_s=i.state_s) for i in timeline.intervals
        ],
        current_status=current_status,
        current_activity=current_activity,
    )
