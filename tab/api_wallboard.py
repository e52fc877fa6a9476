"""The wallboard API: live queue numbers with today's KPIs and alerts, as JSON or a stream.

``GET /api/tab/wallboard/events`` is a server-sent event stream like ``/api/tab/events``
(bearer token in the Authorization header, read with ``fetch``), fed by the same live
polling of the store: a ``wallboard`` event whenever what the user sees changed, so a
change shows within the poll interval (one second by default). Alert rules are set per
queue by its supervisors and by admins, and audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from aiohttp import web

from contactcenter.errors import NotFound
from contactcenter.queue_alerts import QueueAlertRule, default_rule
from tab.analytics import alert_rules_for, analytics, require_supervisor, supervised_queue_ids
from tab.analytics_schemas import (
    AlertRuleBody,
    AlertRuleListView,
    AlertRuleView,
    WallboardView,
)
from tab.crud import record_change
from tab.endpoints import ApiError, TabRequest
from tab.events import LiveEvent, stream_live
from tab.live import TenantSnapshot, read_snapshot


async def get_wallboard(call: TabRequest) -> WallboardView:
    """Return my queues' live numbers, today's KPIs and the alerts that hold now."""
    caller = call.caller
    state = analytics(call.app)
    snapshot = await read_snapshot(call.deps.repository, caller.tenant_id, call.deps.clock.now())
    frame = await state.frames.frame(caller.tenant, snapshot, call.tab.watch, call.deps.notifier)
    return state.frames.view(frame, caller.tenant_id, caller.user, snapshot)


async def stream_wallboard(call: TabRequest) -> web.StreamResponse:
    """Stream my wallboard as it changes (server-sent events named ``wallboard``)."""
    caller = call.caller
    frames = analytics(call.app).frames

    async def events(snapshot: TenantSnapshot) -> Sequence[LiveEvent]:
        frame = await frames.frame(caller.tenant, snapshot, call.tab.watch, call.deps.notifier)
        data = frames.view(frame, caller.tenant_id, caller.user, snapshot).model_dump(mode="json")
        # The time of the snapshot moves on every poll: not a reason to send an event.
        return (
            LiveEvent("wallboard", data, compared={k: v for k, v in data.items() if k != "at"}),
        )

    return await stream_live(call, events, stream="Wallboard")


# ------------------------------------------------------------------ alert rules
def _rule_view(rule: QueueAlertRule, *, default: bool = False) -> AlertRuleView:
    return AlertRuleView(
        queue_id=rule.id,
        service_level_below=rule.service_level_below,
        longest_wait_above_s=rule.longest_wait_above_s,
        waiting_above=rule.waiting_above,
        updated_at=rule.updated_at,
        updated_by=rule.updated_by,
        default=default,
    )


async def list_alert_rules(call: TabRequest) -> AlertRuleListView:
    """List the alert thresholds of the queues I supervise."""
    user = require_supervisor(call)
    tenant_id = call.caller.tenant_id
    found = [q.value for q in await call.deps.repository.queues.find(tenant_id)]
    queues = sorted(found, key=lambda q: q.name.casefold())
    mine = set(supervised_queue_ids(user, queues))
    rules = {r.value.id: r.value for r in await alert_rules_for(call.app).find(tenant_id)}
    return AlertRuleListView(
        rules=[
            _rule_view(rules[q.id]) if q.id in rules else _rule_view(default_rule(q), default=True)
            for q in queues
            if q.id in mine
        ]
    )


async def set_alert_rule(call: TabRequest) -> AlertRuleView:
    """Set a queue's alert thresholds (null turns one off; the defaults no longer apply)."""
    user = require_supervisor(call)
    caller = call.caller
    queue_id = call.param("queueId")
    repo = call.deps.repository
    try:
        await repo.queues.get(caller.tenant_id, queue_id)
    except NotFound:
        raise ApiError(404, "no such queue") from None
    queues = [q.value for q in await repo.queues.find(caller.tenant_id)]
    if queue_id not in supervised_queue_ids(user, queues):
        raise ApiError(403, "you do not supervise that queue", code="notYourQueue")
    body = call.body(AlertRuleBody)
    rules = alert_rules_for(call.app)
    try:
        before: QueueAlertRule | None = (await rules.get(caller.tenant_id, queue_id)).value
    except NotFound:
        before = None
    rule = QueueAlertRule(
        id=queue_id,
        tenant_id=caller.tenant_id,
        service_level_below=body.service_level_below,
        longest_wait_above_s=body.longest_wait_above_s,
        waiting_above=body.waiting_above,
        updated_at=call.deps.clock.now(),
        updated_by=user.id,
    )
    saved = (await rules.put(rule)).value
    await record_change(
        call,
        "queue.alert-rule",
        target_type="queue",
        target_id=queue_id,
        before=replace(before, updated_at=None) if before else None,
        after=replace(saved, updated_at=None),
    )
    return _rule_view(saved)
