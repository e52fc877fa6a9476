"""What the cards show, read from the store: queue figures, an agent's status and day.

Figures follow the published KPI definitions: a call's wait runs from offered to answered;
service level is SL1 (answered within the queue's threshold / answered); ASA is the mean
wait of answered calls. "Today" is the tenant's calendar day in its time zone and counts
calls that ended today (call records) plus the calls in the queue now. A queue card also
says which of the queue's threshold alerts hold (the wallboard's rules, or the defaults
from the queue's target).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.cards.agent import AgentStatsView, AgentStatusView, QueueMembership
from bot.cards.call import CallPanelView, EarlierCall
from bot.cards.callbacks import CallbackView
from bot.cards.links import TabLinks
from bot.cards.queue import QueueSnapshot
from bot.cards.units import duration, percent
from bot.cards.voicemail import VoicemailView
from contactcenter.caller_history import recent_calls_of
from contactcenter.codec import format_timestamp
from contactcenter.errors import NotFound
from contactcenter.hours import check_hours
from contactcenter.model import (
    Agent,
    AgentActivity,
    AgentStatus,
    Call,
    CallOutcome,
    CallRecord,
    CallState,
    NotesDraft,
    Party,
    PartyKind,
    Queue,
    Voicemail,
)
from contactcenter.ports import CallAtHand, Condition, Op
from contactcenter.queue_alerts import (
    RULES,
    AlertKind,
    QueueAlertRule,
    QueueReading,
    breaches,
    rule_for,
)
from contactcenter.records import is_record_of
from contactcenter.repository import Collection, Repository

_LOGGER = logging.getLogger(__name__)

UTC_ZONE = ZoneInfo("UTC")
# The caller history on an alert looks this far back, over at most this many records.
HISTORY_DAYS = 30
HISTORY_RECORDS = 500


async def tenant_zone(repository: Repository, tenant_id: str) -> tzinfo:
    """Return the tenant's time zone (UTC if unknown)."""
    try:
        tenant = (await repository.tenants.get(tenant_id, tenant_id)).value
    except NotFound:
        return UTC_ZONE
    return zone_named(tenant.time_zone, tenant_id)


def zone_named(name: str, tenant_id: str) -> tzinfo:
    """Return the tenant's time zone of that IANA name (UTC if unknown)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        _LOGGER.warning("Unknown time zone %r of tenant %s", name, tenant_id)
        return UTC_ZONE


def start_of_day(now: datetime, zone: tzinfo) -> datetime:
    """Return midnight of ``now``'s day in ``zone``."""
    local = now.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


async def _records_since(
    repository: Repository, tenant_id: str, since: datetime, *extra: Condition
) -> list[CallRecord]:
    found = await repository.call_records.find(
        tenant_id, [Condition("endedAt", Op.GE, format_timestamp(since)), *extra]
    )
    return [item.value for item in found]


def _wait(offered: datetime | None, answered: datetime | None) -> float:
    if offered is None or answered is None:
        return 0.0
    return max(0.0, (answered - offered).total_seconds())


def alert_line(kind: AlertKind, value: float, threshold: float) -> str:
    """Say what an alert is, in words that stay the same while it holds."""
    if kind is AlertKind.SERVICE_LEVEL:
        return f"Service level {percent(value)} today, below {percent(threshold)}"
    if kind is AlertKind.LONGEST_WAIT:
        return f"A caller has waited over {duration(threshold)}"
    return f"More than {round(threshold)} callers waiting"


async def _alert_rule(repository: Repository, queue: Queue) -> QueueAlertRule:
    rules = Collection(repository.store, RULES, QueueAlertRule)
    try:
        stored: QueueAlertRule | None = (await rules.get(queue.tenant_id, queue.id)).value
    except NotFound:
        stored = None
    return rule_for(queue, stored)


async def queue_snapshot(repository: Repository, queue: Queue, now: datetime) -> QueueSnapshot:
    """Compute a queue's card figures from agents, live calls and today's call records."""
    tenant_id = queue.tenant_id
    zone = await tenant_zone(repository, tenant_id)
    members = set(queue.members)
    agents = [
        item.value
        for item in await repository.agents.find(tenant_id)
        if item.value.id in members and queue.id in item.value.signed_in_queue_ids
    ]
    working = [a for a in agents if a.status is not AgentStatus.OFFLINE]
    busy = {AgentActivity.RINGING, AgentActivity.ON_CALL}
    available = sum(
        1 for a in working if a.status is AgentStatus.AVAILABLE and a.activity is AgentActivity.IDLE
    )
    on_call = sum(1 for a in working if a.activity in busy)
    wrap_up = sum(1 for a in working if a.activity is AgentActivity.WRAP_UP)
    away = sum(
        1
        for a in working
        if a.status in {AgentStatus.AWAY, AgentStatus.DO_NOT_DISTURB}
        and a.activity is AgentActivity.IDLE
    )

    live = [
        item.value
        for item in await repository.calls.find(tenant_id, [Condition("queueId", Op.EQ, queue.id)])
    ]
    waiting = [c for c in live if c.state in {CallState.WAITING, CallState.RINGING}]
    connected = [c for c in live if c.state is CallState.CONNECTED]
    longest = max(
        ((now - (c.queued_at or c.offered_at or now)).total_seconds() for c in waiting),
        default=0.0,
    )

    day_start = start_of_day(now, zone)
    records = await _records_since(
        repository, tenant_id, day_start, Condition("queueId", Op.EQ, queue.id)
    )
    offered_records = [r for r in records if r.offered_at is not None]
    answered_waits = [r.wait_s for r in records if r.outcome is CallOutcome.ANSWERED]
    answered_waits += [_wait(c.offered_at, c.answered_at) for c in connected]
    threshold = queue.service_level_threshold_s
    answered = len(answered_waits)
    service_level = (
        sum(1 for w in answered_waits if w <= threshold) / answered if answered else None
    )
    rule = await _alert_rule(repository, queue)
    # The zone is a ZoneInfo, whose name is its key.
    is_open = check_hours(queue.hours, now, str(zone)).is_open
    reading = QueueReading(queue.id, queue.name, len(waiting), longest, service_level, is_open)
    holding = breaches(rule, reading)
    limit = rule.longest_wait_above_s
    due = (
        limit - longest + 1.0
        if waiting and is_open and limit is not None and AlertKind.LONGEST_WAIT not in holding
        else None
    )
    return QueueSnapshot(
        queue_id=queue.id,
        queue_name=queue.name,
        waiting=len(waiting),
        longest_wait_s=max(0.0, longest),
        agents_available=available,
        agents_on_call=on_call,
        agents_wrap_up=wrap_up,
        agents_away=away,
        offered=len(offered_records) + len(waiting) + len(connected),
        answered=answered,
        abandoned=sum(1 for r in records if r.outcome is CallOutcome.ABANDONED),
        service_level=service_level,
        service_level_threshold_s=threshold,
        asa_s=sum(answered_waits) / answered if answered else None,
        as_of=now,
        zone=zone,
        alerts=tuple(alert_line(kind, *values) for kind, values in sorted(holding.items())),
        alert_due_in_s=due,
    )


async def member_queues(repository: Repository, agent: Agent) -> list[Queue]:
    """Return the queues the agent is a member of, by name."""
    queues = [q.value for q in await repository.queues.find(agent.tenant_id)]
    return sorted((q for q in queues if agent.id in q.members), key=lambda q: q.name.lower())


async def agent_status_view(repository: Repository, agent: Agent) -> AgentStatusView:
    """Describe the agent's status and their queues."""
    queues = await member_queues(repository, agent)
    return AgentStatusView(
        display_name=agent.display_name,
        status=agent.status,
        reason=agent.not_ready_reason,
        activity=agent.activity,
        queues=tuple(
            QueueMembership(q.id, q.name, signed_in=q.id in agent.signed_in_queue_ids)
            for q in queues
        ),
        has_seat=agent.has_seat,
    )


async def agent_stats_view(repository: Repository, agent: Agent, now: datetime) -> AgentStatsView:
    """Count the agent's calls that ended today."""
    zone = await tenant_zone(repository, agent.tenant_id)
    records = await _records_since(repository, agent.tenant_id, start_of_day(now, zone))
    answered = [r for r in records if r.agent_id == agent.id and r.outcome is CallOutcome.ANSWERED]
    return AgentStatsView(
        display_name=agent.display_name,
        answered=len(answered),
        talk_s=sum(r.talk_s for r in answered),
        missed_offers=sum(r.missed_agent_ids.count(agent.id) for r in records),
        longest_call_s=max((r.talk_s for r in answered), default=None),
    )


def caller_label(caller: Party) -> tuple[str, str]:
    """Return how a card names a caller, and their number (phone callers only)."""
    number = caller.id if caller.kind is PartyKind.PHONE else ""
    if caller.kind is PartyKind.ANONYMOUS:
        return "Anonymous caller", number
    return caller.display_name or caller.id or "Unknown caller", number


async def person_name(repository: Repository, tenant_id: str, user_id: str) -> str:
    """Return a user's display name: their agent profile's, their user document's, or the id."""
    try:
        return (await repository.agents.get(tenant_id, user_id)).value.display_name
    except NotFound:
        pass
    try:
        return (await repository.users.get(tenant_id, user_id)).value.display_name
    except NotFound:
        return user_id


async def voicemail_view(
    repository: Repository,
    voicemail: Voicemail,
    *,
    links: TabLinks | None,
    agent_mri: str = "",
    zone: tzinfo | None = None,
) -> VoicemailView:
    """Describe a voicemail for its card, as it is now."""
    name, number = caller_label(voicemail.caller)
    handled_by = voicemail.handled_by
    return VoicemailView(
        voicemail_id=voicemail.id,
        queue_name=voicemail.queue_name or "Voicemail",
        caller_name=name,
        caller_number=number,
        recorded_at=voicemail.recorded_at,
        zone=zone or await tenant_zone(repository, voicemail.tenant_id),
        duration_s=voicemail.duration_s,
        ivr_path=voicemail.ivr_path,
        has_recording=bool(voicemail.media_id),
        listen_url=links.voicemail(voicemail.id) if links is not None else None,
        handled_by_name=(
            await person_name(repository, voicemail.tenant_id, handled_by)
            if handled_by is not None
            else None
        ),
        handled_at=voicemail.handled_at,
        agent_mri=agent_mri,
    )


def callback_view(line: Call, zone: tzinfo, links: TabLinks | None) -> CallbackView:
    """Describe a waiting callback (its call document in the line) for its card."""
    state = line.callback
    if state is None:
        raise ValueError(f"{line.id} is not a callback")
    name, number = caller_label(line.caller)
    return CallbackView(
        request_id=state.request_id,
        queue_name=line.queue_name,
        caller_name=name,
        caller_number=number,
        requested_at=state.requested_at,
        zone=zone,
        ivr_path=line.ivr_path,
        max_attempts=state.settings.max_attempts,
        open_url=links.workspace() if links is not None else None,
    )


@dataclass(slots=True)
class CallerHistory:
    """Count a caller's earlier calls, remembering answers for a minute.

    Call records have no top-level caller field to query on, so this reads the tenant's
    latest records of the last :data:`HISTORY_DAYS` days (at most :data:`HISTORY_RECORDS`).
    The cache keeps an attendant queue that rings many agents at once to one read.
    """

    repository: Repository
    kept_s: float = 60.0
    _cache: dict[tuple[str, str], tuple[datetime, int]] | None = None

    async def previous_calls(self, tenant_id: str, caller_id: str, now: datetime) -> int:
        if not caller_id:
            return 0
        cache = self._cache if self._cache is not None else {}
        self._cache = cache
        known = cache.get((tenant_id, caller_id))
        if known is not None and (now - known[0]).total_seconds() < self.kept_s:
            return known[1]
        found = await self.repository.call_records.find(
            tenant_id,
            [Condition("endedAt", Op.GE, format_timestamp(now - timedelta(days=HISTORY_DAYS)))],
            order_by=[("endedAt", True)],
            limit=HISTORY_RECORDS,
        )
        count = sum(1 for item in found if item.value.caller.id == caller_id)
        if len(cache) > 1024:
            cache.clear()
        cache[(tenant_id, caller_id)] = (now, count)
        return count


async def call_panel_view(
    repository: Repository,
    tenant_id: str,
    agent_id: str,
    call_id: str,
    now: datetime,
    *,
    agent_mri: str = "",
    at_hand: CallAtHand | None = None,
) -> CallPanelView | None:
    """Describe an agent's call at hand for their card: on it, wrapping it up, or past.

    What ``at_hand`` holds (the engine's agent, call, record, the tenant's time zone and the
    queue's codes, as just written) is not read again. None when the call is not the
    agent's (any more) and has no record of theirs.
    """
    if at_hand is not None and at_hand.agent.id == agent_id and at_hand.call.id == call_id:
        agent = at_hand.agent
        zone = zone_named(at_hand.time_zone, tenant_id)
    else:
        at_hand = None
        try:
            agent = (await repository.agents.get(tenant_id, agent_id)).value
        except NotFound:
            return None
        zone = await tenant_zone(repository, tenant_id)
    draft = agent.notes_draft
    if agent.activity is AgentActivity.ON_CALL and agent.current_call_id == call_id:
        if at_hand is not None:
            call = at_hand.call
        else:
            try:
                call = (await repository.calls.get(tenant_id, call_id)).value
            except NotFound:
                return None
        if call.state is CallState.CONNECTED and call.agent_id == agent_id:
            return await _on_call_view(repository, call, agent_id, draft, zone, now, agent_mri)
    wrap_up = agent.wrap_up
    record_id = call_id
    if wrap_up is not None and is_record_of(call_id, wrap_up.record_id):
        record_id = wrap_up.record_id
    known = at_hand.record if at_hand is not None else None
    if known is not None and known.id == record_id:
        record = known
    else:
        try:
            record = (await repository.call_records.get(tenant_id, record_id)).value
        except NotFound:
            return None
    if record.agent_id != agent_id:
        return None
    wrapping = agent.activity is AgentActivity.WRAP_UP and wrap_up is not None
    wrapping = wrapping and wrap_up is not None and wrap_up.record_id == record.id
    note, code, saved_at = record.disposition_note, record.disposition_code, record.disposed_at
    if wrapping and draft is not None and draft.call_id == record.id:
        note, code, saved_at = draft.note, draft.code, draft.saved_at
    name, number = caller_label(record.caller)
    codes = at_hand.disposition_codes if at_hand is not None else None
    if codes is None or at_hand is None or record.queue_id != at_hand.call.queue_id:
        codes = await _codes(repository, tenant_id, record.queue_id)
    return CallPanelView(
        call_id=call_id,
        record_id=record.id,
        queue_name=record.queue_name,
        caller_name=name,
        caller_number=number,
        waited_s=record.wait_s,
        answered_at=record.answered_at,
        zone=zone,
        ended_at=record.ended_at,
        talk_s=record.talk_s,
        note=note,
        code=code,
        codes=codes,
        wrap_up_until=agent.wrap_up_until if wrapping else None,
        extension_s=(
            wrap_up.extension_s if wrapping and wrap_up is not None and not wrap_up.extended else 0
        ),
        agent_mri=agent_mri,
        saved_at=saved_at,
    )


async def _codes(repository: Repository, tenant_id: str, queue_id: str | None) -> tuple[str, ...]:
    if queue_id is None:
        return ()
    try:
        return (await repository.queues.get(tenant_id, queue_id)).value.disposition_codes
    except NotFound:
        return ()


async def _on_call_view(
    repository: Repository,
    call: Call,
    agent_id: str,
    draft: NotesDraft | None,
    zone: tzinfo,
    now: datetime,
    agent_mri: str,
) -> CallPanelView:
    tenant_id = call.tenant_id
    queues = [q.value for q in await repository.queues.find(tenant_id)]
    free = [
        a.value
        for a in await repository.agents.find(
            tenant_id,
            (
                Condition("status", Op.EQ, AgentStatus.AVAILABLE.value),
                Condition("activity", Op.EQ, AgentActivity.IDLE.value),
            ),
        )
        if a.value.id != agent_id and a.value.has_seat
    ]
    earlier = await recent_calls_of(
        repository, tenant_id, call.caller, now, limit=3, leaving_out=call.id
    )
    name, number = caller_label(call.caller)
    offered = call.transferred_at or call.offered_at
    mine = draft if draft is not None and draft.call_id == call.id else None
    codes = next((q.disposition_codes for q in queues if q.id == call.queue_id), ())
    transfer = call.transfer
    return CallPanelView(
        call_id=call.id,
        record_id=call.id,
        queue_name=call.queue_name,
        caller_name=name,
        caller_number=number,
        waited_s=_wait(offered, call.answered_at),
        answered_at=call.answered_at,
        zone=zone,
        note=mine.note if mine is not None else "",
        code=mine.code if mine is not None else None,
        codes=codes,
        earlier=tuple(
            EarlierCall(r.ended_at, r.queue_name, r.agent_name, r.disposition_code) for r in earlier
        ),
        queues=tuple(
            (q.id, q.name)
            for q in sorted(queues, key=lambda q: q.name.casefold())
            if q.id != call.queue_id
        ),
        agents=tuple(
            (a.id, a.display_name) for a in sorted(free, key=lambda a: a.display_name.casefold())
        ),
        transfer_to=(transfer.agent_name or transfer.agent_id) if transfer is not None else "",
        agent_mri=agent_mri,
        saved_at=mine.saved_at if mine is not None else None,
    )
