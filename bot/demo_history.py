"""Demo mode's history: the 30 days before the first start, so every report has data.

Past calls are made up day by day, with a weekly pattern (busy Mondays, quiet weekends) and
a daily one (morning and afternoon peaks), for both queues and all their agents, in every
outcome the queues can reach, many with a disposition. Each is a finished :class:`Call`
turned into its record by the product's own ``build_call_record`` and counted by the
product's own aggregator, exactly as a live call is; agents' sampled time by state is added
for the last week, so occupancy and the timeline have something to show.

It runs in the background once the host is ready, newest day first and a day at a time:
the aggregates of a day first (one compare-and-set per document), then its records,
pausing between batches so a shared store (the Cosmos DB test server) is never flooded.
A mark in the store lists the days done: a restart resumes after the last one, and once
all are done the demo never seeds again. Everything is drawn from a generator seeded by
the day, so the history is the same on every run.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.demo import IVR_NAME, MAIN_MENU, ivr_id
from bot.settings import DEMO_TENANT_ID
from contactcenter.aggregates import INTERVAL, IntervalAggregator, interval_start
from contactcenter.clock import Clock
from contactcenter.errors import NotFound
from contactcenter.model import (
    Agent,
    Call,
    CallOutcome,
    CallRecord,
    CallState,
    Party,
    PartyKind,
    Queue,
)
from contactcenter.records import build_call_record
from contactcenter.repository import Collection, Repository

_LOGGER = logging.getLogger(__name__)

HISTORY_DAYS = 30
# Sampled time by state is made up for this many of the latest days (one write per agent
# and interval: the most writes of all).
STATE_DAYS = 7
MARKS = "demoHistory"
_MARK_ID = "history"
_NAMESPACE = uuid.UUID("5b0c2f5e-7a43-4c1e-9e0e-d3a0c0ffee30")
# Records are written this many at a time, with a pause after each batch.
_BATCH = 100
_PAUSE_S = 0.05

# Calls a queue gets on a Monday; other days are a share of it (Sunday: the weekend's hours).
_DAILY_CALLS = {"Sales": 56, "Support": 44}
_WEEKDAY_SHARE = (1.0, 0.9, 0.85, 0.85, 0.75, 0.3, 0.2)
# Open hours (local) and how busy each hour is: peaks mid-morning and mid-afternoon.
_HOURS_WEEKDAY = {8: 0.6, 9: 1.0, 10: 1.4, 11: 1.3, 12: 0.8, 13: 0.9, 14: 1.3, 15: 1.2, 16: 1.0}
_HOURS_WEEKDAY |= {17: 0.7, 18: 0.5, 19: 0.3}
_HOURS_WEEKEND = {9: 0.6, 10: 1.0, 11: 1.0, 12: 0.8, 13: 0.8, 14: 0.9, 15: 0.7, 16: 0.4}
# What the agents recorded, per queue.
_DISPOSITIONS = {
    "Sales": ("Order placed", "Quote sent", "Question answered", "Not interested"),
    "Support": ("Fixed", "Escalated", "Follow-up needed", "Known issue"),
}
_NOTES = ("", "", "", "Called back later", "Asked for an email", "Second call this week")


@dataclass(frozen=True, slots=True)
class HistoryMark:
    """Which days of made-up history the demo holds (ISO dates, newest first)."""

    id: str
    tenant_id: str
    days_done: tuple[str, ...] = ()
    done: bool = False
    updated_at: datetime | None = None


@dataclass(slots=True)
class _Day:
    """One made-up day: its records, and each agent's busy seconds by interval worked."""

    records: list[CallRecord] = field(default_factory=list)
    busy: dict[tuple[str, datetime], dict[str, float]] = field(default_factory=dict)


def _outcome(rng: random.Random, queue: Queue, busy: float) -> CallOutcome:
    """Draw how a call ends; a busier hour loses more callers."""
    roll = rng.random()
    abandon = 0.05 + 0.05 * busy
    if roll < abandon:
        return CallOutcome.ABANDONED
    roll -= abandon
    if queue.name == "Sales":
        if roll < 0.01:
            return CallOutcome.OVERFLOWED
        if roll < 0.02:
            return CallOutcome.TIMED_OUT
        return CallOutcome.NO_AGENT if roll < 0.025 else CallOutcome.ANSWERED
    if roll < 0.03:
        return CallOutcome.CALLBACK_REQUESTED
    if roll < 0.045:
        return CallOutcome.VOICEMAIL
    return CallOutcome.ANSWERED


def _reason(outcome: CallOutcome, rng: random.Random) -> str:
    if outcome is CallOutcome.ANSWERED:
        return "caller hung up" if rng.random() < 0.7 else "agent hung up"
    return {
        CallOutcome.ABANDONED: "caller hung up",
        CallOutcome.OVERFLOWED: "overflow: transferred to Support",
        CallOutcome.CALLBACK_REQUESTED: "callback requested",
        CallOutcome.VOICEMAIL: "no-agent: voicemail: message left",
        CallOutcome.NO_AGENT: "no-agent: disconnected",
        CallOutcome.TIMED_OUT: "timeout: disconnected",
    }.get(outcome, "")


def _call(
    rng: random.Random,
    call_id: str,
    queue: Queue,
    agents: Sequence[Agent],
    offered: datetime,
    busy: float,
) -> tuple[CallRecord, Agent | None]:
    """Make up one finished call offered at ``offered``; return its record and its agent."""
    outcome = _outcome(rng, queue, busy)
    via_ivr = rng.random() < 0.4
    key = "1" if queue.name == "Sales" else "2"
    path = (f"menu:{MAIN_MENU}", f"key:{key}", f"queue:{queue.id}") if via_ivr else ()
    caller = Party(PartyKind.PHONE, f"+1425555{rng.randrange(10000):04d}")
    call = Call(
        id=call_id,
        tenant_id=queue.tenant_id,
        caller=caller,
        target_id=queue.id,
        state=CallState.ENDED,
        chain_id=call_id,
        queue_id=queue.id,
        queue_name=queue.name,
        received_at=offered - timedelta(seconds=8 if via_ivr else 1),
        offered_at=offered,
        queued_at=offered,
        outcome=outcome,
        service_level_threshold_s=queue.service_level_threshold_s,
        wrap_up_s=queue.wrap_up_s,
        ivr_id=ivr_id(IVR_NAME) if via_ivr else None,
        ivr_path=path,
        leave_reason=_reason(outcome, rng),
    )
    members = [a for a in agents if a.id in queue.members]
    if outcome is CallOutcome.ANSWERED and members:
        wait = min(240.0, rng.expovariate(1 / (6 + 14 * busy)))
        ring = min(wait, rng.uniform(2, 9))
        agent = rng.choice(members)
        others = [a for a in members if a.id != agent.id]
        roll = rng.random() if others else 1.0
        missed = (rng.choice(others).id,) if roll < 0.12 else ()
        # Some agents press Decline (a few seconds); the others let it ring out.
        declined = missed if roll < 0.05 else ()
        talk = rng.lognormvariate(5.1 if queue.name == "Sales" else 5.5, 0.5)
        answered = offered + timedelta(seconds=wait)
        call = replace(
            call,
            answered_at=answered,
            ended_at=answered + timedelta(seconds=min(talk, 3600)),
            agent_id=agent.id,
            agent_name=agent.display_name,
            ring_s=ring + (4 if declined else 20 if missed else 0),
            missed_agent_ids=missed,
            declined_agent_ids=declined,
        )
        record = build_call_record(call)
        if rng.random() < 0.8:
            record = replace(
                record,
                disposition_code=rng.choice(_DISPOSITIONS[queue.name]),
                disposition_note=rng.choice(_NOTES),
                disposed_by=agent.id,
                disposed_at=record.ended_at + timedelta(seconds=queue.wrap_up_s / 2),
            )
        return record, agent
    waited = rng.uniform(4, 45) if outcome is CallOutcome.ABANDONED else rng.uniform(30, 300)
    if outcome in {CallOutcome.OVERFLOWED, CallOutcome.NO_AGENT}:
        waited = 0.5
    call = replace(call, ended_at=offered + timedelta(seconds=waited))
    return build_call_record(call), None


def _busy_seconds(day: _Day, record: CallRecord, agent: Agent) -> None:
    """Count an answered call's ringing, talk and wrap-up in its agent's interval."""
    assert record.answered_at is not None
    key = (agent.id, interval_start(record.answered_at))
    if key not in day.busy:
        return  # answered after the hours worked (a long wait at closing time)
    slot = day.busy[key]
    for state, seconds in (
        ("ringing", record.ring_s),
        ("on-call", record.talk_s),
        ("wrap-up", record.wrap_up_s),
    ):
        slot[state] = slot.get(state, 0.0) + seconds


def made_up_day(
    day: date, zone: ZoneInfo, queues: Sequence[Queue], agents: Sequence[Agent]
) -> _Day:
    """Make up one day of calls for every queue (the same day always gives the same calls)."""
    rng = random.Random(f"{DEMO_TENANT_ID}:{day.isoformat()}")  # noqa: S311 - made-up data
    made = _Day()
    hours = _HOURS_WEEKDAY if day.weekday() < 5 else _HOURS_WEEKEND
    total_weight = sum(hours.values())
    # Every member of a queue works its open hours.
    members = {m for q in queues for m in q.members}
    for hour in hours:
        for quarter in range(4):
            start = datetime.combine(day, time(hour, 15 * quarter), zone)
            for agent_id in members:
                made.busy[(agent_id, interval_start(start))] = {}
    for queue in queues:
        daily = _DAILY_CALLS.get(queue.name, 30) * _WEEKDAY_SHARE[day.weekday()]
        daily *= rng.uniform(0.85, 1.15)
        for hour, weight in hours.items():
            expected = daily * weight / total_weight
            count = int(expected) + (1 if rng.random() < expected % 1 else 0)
            start = datetime.combine(day, time(hour), zone)
            for n in range(count):
                offered = start + timedelta(seconds=rng.uniform(0, 3600))
                call_id = str(uuid.uuid5(_NAMESPACE, f"{day}:{queue.id}:{hour}:{n}"))
                record, agent = _call(rng, call_id, queue, agents, offered, weight / 1.4)
                made.records.append(record)
                if agent is not None:
                    _busy_seconds(made, record, agent)
    made.records.sort(key=lambda r: r.ended_at)
    return made


def _state_time(rng: random.Random, busy: dict[str, float], interval_s: float) -> dict[str, float]:
    """Split an interval an agent worked between their calls, idle time and not ready."""
    on_calls = {k: min(v, interval_s) for k, v in busy.items()}
    used = min(interval_s, sum(on_calls.values()))
    rest = interval_s - used
    not_ready = rest * rng.uniform(0.05, 0.3)
    return {**on_calls, "available": rest - not_ready, "not-ready": not_ready}


async def _paused(count: int, pause_s: float) -> None:
    if count % _BATCH == 0:
        await asyncio.sleep(pause_s)


async def seed_demo_history(
    repo: Repository,
    aggregator: IntervalAggregator,
    clock: Clock,
    *,
    days: int = HISTORY_DAYS,
    pause_s: float = _PAUSE_S,
) -> int:
    """Make up the demo's past days that are not there yet; return the calls added."""
    marks = Collection(repo.store, MARKS, HistoryMark)
    try:
        mark = (await marks.get(DEMO_TENANT_ID, _MARK_ID)).value
    except NotFound:
        mark = HistoryMark(id=_MARK_ID, tenant_id=DEMO_TENANT_ID)
    if mark.done:
        return 0
    tenant = (await repo.tenants.get(DEMO_TENANT_ID, DEMO_TENANT_ID)).value
    zone = ZoneInfo(tenant.time_zone)
    queues = [q.value for q in await repo.queues.find(DEMO_TENANT_ID)]
    agents = [a.value for a in await repo.agents.find(DEMO_TENANT_ID)]
    today = clock.now().astimezone(zone).date()
    added = 0
    for back in range(1, days + 1):
        day = today - timedelta(days=back)
        if day.isoformat() in mark.days_done:
            continue
        made = made_up_day(day, zone, queues, agents)
        # Aggregates first: the reports' charts fill before the call lists do.
        await aggregator.add_records(made.records)
        await asyncio.sleep(pause_s)
        if back <= STATE_DAYS:
            rng = random.Random(f"{DEMO_TENANT_ID}:{day.isoformat()}:states")  # noqa: S311
            for n, (agent_id, start) in enumerate(sorted(made.busy), start=1):
                seconds = _state_time(rng, made.busy[(agent_id, start)], INTERVAL.total_seconds())
                await aggregator.add_agent_time(DEMO_TENANT_ID, agent_id, start, seconds)
                await _paused(n, pause_s)
        for n, record in enumerate(made.records, start=1):
            await repo.call_records.put(record)
            await _paused(n, pause_s)
        added += len(made.records)
        mark = replace(mark, days_done=(*mark.days_done, day.isoformat()), updated_at=clock.now())
        mark = (await marks.put(mark)).value
    await marks.put(replace(mark, done=True, updated_at=clock.now()))
    _LOGGER.info(
        "demo history: %d past calls over %d days",
        added,
        days,
        extra={"tenant_id": DEMO_TENANT_ID},
    )
    return added
