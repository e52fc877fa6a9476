"""Supervisor actions, on the queues the supervisor supervises (admins: every queue).

Set an agent's status, sign an agent in to or out of a queue (through the routing engine,
as the agent's own actions do), move a waiting call to another queue, or change its
priority (``contactcenter/supervision.py``: one compare-and-set on the call while it
waits, then the engine offers the queue's waiting calls to its idle agents). Every action
leaves an audit entry with the document before and after.
"""

from __future__ import annotations

import logging

from contactcenter.errors import NotFound
from contactcenter.model import Agent, AgentStatus, Call, CallState, Queue
from contactcenter.supervision import CallNotWaiting, move_waiting_call, set_call_priority
from tab.analytics import require_supervisor, supervised_queue_ids
from tab.analytics_schemas import (
    AgentStatusBody,
    CallChangedView,
    MoveCallBody,
    PriorityBody,
    SupervisedAgentView,
    SupervisedQueueView,
    SupervisionView,
    WaitingCallView,
)
from tab.api_agent import tenant_reason
from tab.crud import record_change
from tab.derived_shapes import fill
from tab.endpoints import ApiError, TabRequest
from tab.live import party_view

_LOGGER = logging.getLogger(__name__)
_WAITING = frozenset({CallState.WAITING, CallState.RINGING})


async def _my_queues(call: TabRequest) -> list[Queue]:
    """Return the queues the caller supervises, by name (403 if they supervise none)."""
    user = require_supervisor(call)
    found = await call.deps.repository.queues.find(call.caller.tenant_id)
    queues = sorted((q.value for q in found), key=lambda q: q.name.casefold())
    mine = set(supervised_queue_ids(user, queues))
    return [q for q in queues if q.id in mine]


def _agent_view(
    call: TabRequest, agent: Agent, queues: list[Queue], current: Call | None
) -> SupervisedAgentView:
    seen = call.tab.watch.observe(agent, current, call.deps.clock.now())
    return fill(
        SupervisedAgentView,
        agent,
        signed_in_queue_ids=sorted(agent.signed_in_queue_ids),
        member_of=[q.id for q in queues if agent.id in q.members],
        state=seen.state,
        state_since=seen.since,
    )


async def _current_call(call: TabRequest, agent: Agent) -> Call | None:
    if agent.current_call_id is None:
        return None
    try:
        return (await call.deps.repository.calls.get(agent.tenant_id, agent.current_call_id)).value
    except NotFound:
        return None


def _call_view(call_doc: Call, now_s: float) -> WaitingCallView:
    offered = call_doc.offered_at
    return WaitingCallView(
        id=call_doc.id,
        queue_id=call_doc.queue_id or "",
        queue_name=call_doc.queue_name,
        caller=party_view(call_doc.caller),
        state=call_doc.state,
        priority=call_doc.priority,
        offered_at=offered,
        waited_s=round(max(0.0, now_s - offered.timestamp()), 1) if offered else 0.0,
    )


async def get_supervision(call: TabRequest) -> SupervisionView:
    """Return my queues, their agents and their waiting calls."""
    queues = await _my_queues(call)
    repo = call.deps.repository
    tenant_id = call.caller.tenant_id
    now = call.deps.clock.now()
    members = {m for q in queues for m in q.members}
    ids = {q.id for q in queues}
    agents = sorted(
        (a.value for a in await repo.agents.find(tenant_id) if a.value.id in members),
        key=lambda a: a.display_name.casefold(),
    )
    live = {c.value.id: c.value for c in await repo.calls.find(tenant_id)}
    calls = [c for c in live.values() if c.queue_id in ids and c.state in _WAITING]
    calls.sort(key=lambda c: (-c.priority, c.offered_at or now))
    return SupervisionView(
        at=now,
        queues=[SupervisedQueueView(id=q.id, name=q.name) for q in queues],
        agents=[_agent_view(call, a, queues, live.get(a.current_call_id or "")) for a in agents],
        calls=[_call_view(c, now.timestamp()) for c in calls],
    )


async def _supervised_agent(call: TabRequest, queues: list[Queue]) -> Agent:
    agent_id = call.param("agentId")
    try:
        agent = (await call.deps.repository.agents.get(call.caller.tenant_id, agent_id)).value
    except NotFound:
        raise ApiError(404, "no such agent") from None
    if not any(agent.id in q.members for q in queues):
        raise ApiError(403, "that agent is not in a queue you supervise", code="notYourAgent")
    return agent


def _supervised_queue(call: TabRequest, queues: list[Queue], queue_id: str) -> Queue:
    queue = next((q for q in queues if q.id == queue_id), None)
    if queue is None:
        raise ApiError(403, "you do not supervise that queue", code="notYourQueue")
    return queue


async def _agent_after(call: TabRequest, agent_id: str, queues: list[Queue]) -> SupervisedAgentView:
    agent = (await call.deps.repository.agents.get(call.caller.tenant_id, agent_id)).value
    return _agent_view(call, agent, queues, await _current_call(call, agent))


async def set_agent_status(call: TabRequest) -> SupervisedAgentView:
    """Set an agent's status (available, away, do not disturb, offline)."""
    queues = await _my_queues(call)
    agent = await _supervised_agent(call, queues)
    body = call.body(AgentStatusBody)
    reason = None if body.status is AgentStatus.AVAILABLE else (body.reason or None)
    if reason is not None:
        reason = tenant_reason(call, reason)
    after = await call.deps.engine.set_status(agent.tenant_id, agent.id, body.status, reason)
    await record_change(
        call, "agent.status", target_type="agent", target_id=agent.id, before=agent, after=after
    )
    return await _agent_after(call, agent.id, queues)


async def sign_agent_in(call: TabRequest) -> SupervisedAgentView:
    """Sign an agent in to a queue they are a member of."""
    queues = await _my_queues(call)
    agent = await _supervised_agent(call, queues)
    queue = _supervised_queue(call, queues, call.param("queueId"))
    if agent.id not in queue.members:
        raise ApiError(409, "the agent is not a member of that queue", code="notAMember")
    if not agent.has_seat:
        raise ApiError(409, "the agent has no seat", code="noSeat")
    after = await call.deps.engine.sign_in(agent.tenant_id, agent.id, queue.id)
    await record_change(
        call, "agent.sign-in", target_type="agent", target_id=agent.id, before=agent, after=after
    )
    return await _agent_after(call, agent.id, queues)


async def sign_agent_out(call: TabRequest) -> SupervisedAgentView:
    """Sign an agent out of a queue."""
    queues = await _my_queues(call)
    agent = await _supervised_agent(call, queues)
    queue = _supervised_queue(call, queues, call.param("queueId"))
    after = await call.deps.engine.sign_out(agent.tenant_id, agent.id, queue.id)
    await record_change(
        call, "agent.sign-out", target_type="agent", target_id=agent.id, before=agent, after=after
    )
    return await _agent_after(call, agent.id, queues)


async def _waiting_call(call: TabRequest, queues: list[Queue]) -> Call:
    call_id = call.param("callId")
    try:
        found = (await call.deps.repository.calls.get(call.caller.tenant_id, call_id)).value
    except NotFound:
        raise ApiError(404, "no such call: it may have ended") from None
    _supervised_queue(call, queues, found.queue_id or "")
    return found


async def move_call(call: TabRequest) -> CallChangedView:
    """Move a waiting call to another queue I supervise (the caller keeps their place)."""
    queues = await _my_queues(call)
    waiting = await _waiting_call(call, queues)
    target = _supervised_queue(call, queues, call.body(MoveCallBody).queue_id)
    now = call.deps.clock.now()
    try:
        change = await move_waiting_call(
            call.deps.repository, waiting.tenant_id, waiting.id, target, now
        )
    except CallNotWaiting as err:
        raise ApiError(409, f"{err}: try again when it waits", code="notWaiting") from err
    await record_change(
        call,
        "call.move",
        target_type="call",
        target_id=change.before.id,
        before=change.before,
        after=change.after,
    )
    await call.deps.engine.route_waiting_calls(waiting.tenant_id, target.id)
    return CallChangedView(call=_call_view(change.after, now.timestamp()))


async def set_priority(call: TabRequest) -> CallChangedView:
    """Change a waiting call's priority (higher is served first)."""
    queues = await _my_queues(call)
    waiting = await _waiting_call(call, queues)
    priority = call.body(PriorityBody).priority
    try:
        change = await set_call_priority(
            call.deps.repository, waiting.tenant_id, waiting.id, priority
        )
    except CallNotWaiting as err:
        raise ApiError(409, f"{err}: try again when it waits", code="notWaiting") from err
    if change.before != change.after:
        await record_change(
            call,
            "call.priority",
            target_type="call",
            target_id=change.before.id,
            before=change.before,
            after=change.after,
        )
        await call.deps.engine.route_waiting_calls(waiting.tenant_id, waiting.queue_id or "")
    now = call.deps.clock.now()
    return CallChangedView(call=_call_view(change.after, now.timestamp()))
