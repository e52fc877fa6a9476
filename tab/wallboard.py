"""The wallboard's numbers: live queue state, today's KPIs and threshold alerts.

Built from the live feed's tenant snapshot (queues, agents, live calls, read every second)
and today's queue aggregates. Today's calls are those offered since the tenant's local
midnight: the finished ones from the aggregates, those still in progress from the
snapshot (an aggregate lists the calls it counts, so a call is never counted in both).
One frame per tenant and snapshot is built on each host and shared by its streams; each
stream then shows its user's queues. An alert raised or cleared is passed on as a change of
its queue, so the queue's channel cards show it too (coalesced there, within Teams' limits).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from contactcenter.aggregates import INTERVAL, AggregateKind, IntervalAggregate, IntervalAggregator
from contactcenter.errors import DomainError
from contactcenter.floor import StateWatch
from contactcenter.hours import check_hours
from contactcenter.kpis import (
    CallTotals,
    kpis,
    longest_wait,
    totals_from_aggregates,
    totals_of_live_calls,
)
from contactcenter.model import CallState, Tenant, User
from contactcenter.ports import Notifier
from contactcenter.queue_alerts import (
    Alert,
    AlertBoard,
    AlertChange,
    QueueAlertRule,
    QueueReading,
    rule_for,
)
from contactcenter.reports import local_midnight, time_zone
from contactcenter.repository import Collection
from tab.analytics_schemas import (
    AlertChangeView,
    AlertView,
    FloorAgentView,
    FloorCallView,
    TodayView,
    WallboardQueueView,
    WallboardView,
)
from tab.derived_shapes import fill
from tab.live import TenantSnapshot, queue_live, visible_queue_ids

_LOGGER = logging.getLogger(__name__)
_RECENT_SHOWN = 10
_WAITING = frozenset({CallState.WAITING, CallState.RINGING})


@dataclass(frozen=True, slots=True)
class WallboardFrame:
    """Every queue's wallboard numbers for one snapshot of a tenant."""

    at: datetime
    time_zone: str
    queues: tuple[WallboardQueueView, ...]
    # Every member of a queue, by name; every call waiting or ringing, longest wait first.
    agents: tuple[FloorAgentView, ...] = ()
    calls: tuple[FloorCallView, ...] = ()


def alert_view(alert: Alert) -> AlertView:
    return AlertView(
        queue_id=alert.queue_id,
        queue_name=alert.queue_name,
        kind=alert.kind.value,
        value=round(alert.value, 4),
        threshold=alert.threshold,
        raised_at=alert.raised_at,
    )


def change_view(change: AlertChange) -> AlertChangeView:
    return AlertChangeView(alert=alert_view(change.alert), change=change.change.value, at=change.at)


class WallboardFrames:
    """Builds (and shares) each tenant's wallboard frame per live snapshot."""

    def __init__(
        self,
        aggregator: IntervalAggregator,
        alerts: AlertBoard,
        rules: Collection[QueueAlertRule],
    ) -> None:
        self._aggregator = aggregator
        self._alerts = alerts
        self._rules = rules
        self._frames: dict[str, tuple[TenantSnapshot, WallboardFrame]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def frame(
        self, tenant: Tenant, snapshot: TenantSnapshot, watch: StateWatch, notifier: Notifier
    ) -> WallboardFrame:
        """Return the tenant's frame for this snapshot, building it once per host."""
        lock = self._locks.setdefault(tenant.id, asyncio.Lock())
        async with lock:
            known = self._frames.get(tenant.id)
            if known is not None and known[0] is snapshot:
                return known[1]
            frame = await self._build(tenant, snapshot, watch, notifier)
            self._frames[tenant.id] = (snapshot, frame)
            return frame

    async def _build(
        self, tenant: Tenant, snapshot: TenantSnapshot, watch: StateWatch, notifier: Notifier
    ) -> WallboardFrame:
        zone = time_zone(tenant.time_zone)
        now = snapshot.at
        today = local_midnight(now.astimezone(zone).date(), zone)
        docs = await self._aggregator.find(tenant.id, AggregateKind.QUEUE, today, now + INTERVAL)
        rules = {r.value.id: r.value for r in await self._rules.find(tenant.id)}
        counted = frozenset(c for d in docs for c in d.call_ids)
        by_queue: dict[str, list[IntervalAggregate]] = {}
        for doc in docs:
            by_queue.setdefault(doc.queue_id, []).append(doc)
        live = {q.id: q for q in queue_live(snapshot, [q.id for q in snapshot.queues])}
        readings: list[QueueReading] = []
        todays: dict[str, TodayView] = {}
        waits: dict[str, float] = {}
        hours = {q.id: check_hours(q.hours, now, tenant.time_zone) for q in snapshot.queues}
        for queue in snapshot.queues:
            threshold = queue.service_level_threshold_s
            queue_calls = [c for c in snapshot.calls if c.queue_id == queue.id]
            # A call whose agent wraps up is counted once its record has the wrap-up time.
            wrapping_up = [
                a.wrap_up
                for a in snapshot.agents
                if a.wrap_up is not None and a.wrap_up.queue_id == queue.id
            ]
            totals: CallTotals = totals_from_aggregates(
                by_queue.get(queue.id, []), threshold
            ) + totals_of_live_calls(
                queue_calls,
                since=today,
                threshold_s=threshold,
                exclude=counted,
                wrapping_up=wrapping_up,
            )
            figures = kpis(totals)
            todays[queue.id] = TodayView(
                offered=figures.offered,
                answered=figures.answered,
                abandoned=figures.abandoned,
                service_level=figures.service_level_1,
                asa_s=None if figures.asa_s is None else round(figures.asa_s, 1),
                abandonment_rate=figures.abandonment_rate,
            )
            waits[queue.id] = round(longest_wait(queue_calls, now), 1)
            counts = live[queue.id]
            readings.append(
                QueueReading(
                    queue_id=queue.id,
                    queue_name=queue.name,
                    waiting=counts.waiting + counts.ringing,
                    longest_wait_s=waits[queue.id],
                    service_level=figures.service_level_1,
                    is_open=hours[queue.id].is_open,
                )
            )
        alerts = self._alerts
        in_force = {q.id: rule_for(q, rules.get(q.id)) for q in snapshot.queues}
        changes = alerts.update(tenant.id, readings, in_force, now)
        for change in changes:
            _LOGGER.info(
                "Alert %s: %s %s (%.2f vs %.2f)",
                change.change.value,
                change.alert.queue_name,
                change.alert.kind.value,
                change.alert.value,
                change.alert.threshold,
                extra={"tenant_id": tenant.id},
            )
        for queue_id in dict.fromkeys(c.alert.queue_id for c in changes):
            try:
                await notifier.queue_changed(tenant.id, queue_id)
            except DomainError as err:
                _LOGGER.warning(
                    "Queue %s not told of its alerts: %s",
                    queue_id,
                    err,
                    extra={"tenant_id": tenant.id},
                )
        active = alerts.active(tenant.id)
        queues = tuple(
            fill(
                WallboardQueueView,
                live[queue.id],
                longest_wait_s=waits[queue.id],
                today=todays[queue.id],
                alerts=[alert_view(a) for a in active if a.queue_id == queue.id],
                open_state=hours[queue.id].state.value,
                holiday=hours[queue.id].holiday,
            )
            for queue in snapshot.queues
        )
        return WallboardFrame(
            at=now,
            time_zone=str(zone),
            queues=queues,
            agents=_floor_agents(snapshot, watch),
            calls=_floor_calls(snapshot),
        )

    def view(
        self, frame: WallboardFrame, tenant_id: str, user: User, snapshot: TenantSnapshot
    ) -> WallboardView:
        """Return the part of a frame the user may see."""
        visible = visible_queue_ids(user, snapshot.queues)
        shown = set(visible)
        queues = [q for q in frame.queues if q.id in shown]
        agents = [
            a.model_copy(update={"queue_ids": [q for q in a.queue_ids if q in shown]})
            for a in frame.agents
            if shown.intersection(a.queue_ids)
        ]
        return WallboardView(
            at=frame.at,
            time_zone=frame.time_zone,
            queues=queues,
            alerts=[a for q in queues for a in q.alerts],
            recent_alerts=[
                change_view(c) for c in self._alerts.recent(tenant_id, visible)[:_RECENT_SHOWN]
            ],
            agents=agents,
            calls=[c for c in frame.calls if c.queue_id in shown],
        )


def _floor_agents(snapshot: TenantSnapshot, watch: StateWatch) -> tuple[FloorAgentView, ...]:
    """Return every queue member's state and since when, by name."""
    members = {m for q in snapshot.queues for m in q.members}
    shown: list[FloorAgentView] = []
    for agent in sorted(snapshot.agents, key=lambda a: a.display_name.casefold()):
        if agent.id not in members:
            continue
        seen = watch.observe(agent, snapshot.call(agent.current_call_id), snapshot.at)
        shown.append(
            FloorAgentView(
                id=agent.id,
                display_name=agent.display_name,
                state=seen.state,
                state_since=seen.since,
                not_ready_reason=agent.not_ready_reason,
                queue_ids=[q.id for q in snapshot.queues if agent.id in q.members],
            )
        )
    return tuple(shown)


def _floor_calls(snapshot: TenantSnapshot) -> tuple[FloorCallView, ...]:
    """Return the calls waiting or ringing an agent, the longest waiting first."""
    names = {q.id: q.name for q in snapshot.queues}
    calls: list[FloorCallView] = []
    for call in snapshot.calls:
        since = call.offered_at
        if call.state not in _WAITING or call.queue_id not in names or since is None:
            continue
        calls.append(
            FloorCallView(
                id=call.id,
                queue_id=call.queue_id,
                queue_name=names[call.queue_id],
                state=call.state,
                priority=call.priority,
                waited_s=round(max(0.0, (snapshot.at - since).total_seconds()), 1),
            )
        )
    return tuple(sorted(calls, key=lambda c: (-c.waited_s, c.id)))
