"""The agent workspace's API: my state, my queues, my offer, my calls, my queues' numbers.

Agent actions go through the routing engine (``sign_in``, ``set_status``...), which keeps
the agent document consistent with routing and offers a newly free agent a waiting call.
Every action answers with the caller's fresh ``MeView``.
"""

from __future__ import annotations

import contextlib
import logging

from contactcenter.errors import NotFound
from contactcenter.model import Agent, AgentActivity, AgentStatus, Call, Queue, Role
from contactcenter.reasons import match_reason
from tab.api_work import recent_calls_view
from tab.endpoints import ApiError, TabRequest, validation_failed
from tab.live import (
    TenantSnapshot,
    me_view,
    queue_live,
    read_snapshot,
    visible_queue_ids,
)
from tab.schemas import (
    CallsQuery,
    CallsView,
    MeView,
    QueuesLiveView,
    StatusBody,
)

_LOGGER = logging.getLogger(__name__)


async def me_answer(call: TabRequest) -> MeView:
    """Build my view (what every agent action answers) from point reads: my agent, my call."""
    caller = call.caller
    repo = call.deps.repository
    now = call.deps.clock.now()
    agents: tuple[Agent, ...] = ()
    calls: tuple[Call, ...] = ()
    if Role.AGENT in caller.user.roles:
        with contextlib.suppress(NotFound):
            agent = (await repo.agents.get(caller.tenant_id, caller.user_id)).value
            agents = (agent,)
            if agent.current_call_id is not None:
                calls = ((await repo.calls.get(caller.tenant_id, agent.current_call_id)).value,)
    queues = sorted((q.value for q in await repo.queues.find(caller.tenant_id)), key=_by_name)
    snapshot = TenantSnapshot(at=now, queues=tuple(queues), agents=agents, calls=calls)
    view = me_view(caller.user, caller.tenant, snapshot, demo=call.deps.settings.demo)
    return view.model_copy(update={"not_ready_reasons": list(caller.tenant.not_ready_reasons)})


def _by_name(queue: Queue) -> str:
    return queue.name.casefold()


async def get_me(call: TabRequest) -> MeView:
    """Return the signed-in user, their roles, and (for agents) their state and offer."""
    return await me_answer(call)


async def my_agent(call: TabRequest) -> Agent:
    """Return the signed-in user's agent document (403 when they have none)."""
    caller = call.caller
    try:
        return (await call.deps.repository.agents.get(caller.tenant_id, caller.user_id)).value
    except NotFound:
        raise ApiError(
            403, "you have no agent profile: ask an admin to make you an agent", code="notAnAgent"
        ) from None


async def set_my_status(call: TabRequest) -> MeView:
    """Set my status (available, away, do not disturb, offline) and why I am not ready."""
    body = call.body(StatusBody)
    await my_agent(call)
    reason = None if body.status is AgentStatus.AVAILABLE else (body.reason or None)
    if reason is not None:
        reason = tenant_reason(call, reason)
    await call.deps.engine.set_status(
        call.caller.tenant_id, call.caller.user_id, body.status, reason
    )
    return await me_answer(call)


def tenant_reason(call: TabRequest, reason: str) -> str:
    """Return the organization's spelling of a not-ready reason; 422 if it is not one of them."""
    reasons = call.caller.tenant.not_ready_reasons
    found = match_reason(reasons, reason)
    if found is None:
        raise validation_failed(
            [{"field": "reason", "message": f"choose one of: {', '.join(reasons)}"}],
            f"{reason!r} is not one of your organization's not-ready reasons",
        )
    return found


async def _my_queue(call: TabRequest, agent: Agent) -> str:
    queue_id = call.param("queueId")
    try:
        queue = (await call.deps.repository.queues.get(agent.tenant_id, queue_id)).value
    except NotFound:
        raise ApiError(404, "no such queue") from None
    if agent.id not in queue.members:
        raise ApiError(403, "you are not a member of this queue", code="notAMember")
    return queue.id


async def sign_in_to_queue(call: TabRequest) -> MeView:
    """Sign in to one of my queues (and become available if I was offline)."""
    agent = await my_agent(call)
    queue_id = await _my_queue(call, agent)
    if not agent.has_seat:
        raise ApiError(409, "you have no seat: ask an admin for one", code="noSeat")
    await call.deps.engine.sign_in(agent.tenant_id, agent.id, queue_id)
    return await me_answer(call)


async def sign_out_of_queue(call: TabRequest) -> MeView:
    """Sign out of one of my queues."""
    agent = await my_agent(call)
    queue_id = await _my_queue(call, agent)
    await call.deps.engine.sign_out(agent.tenant_id, agent.id, queue_id)
    return await me_answer(call)


async def end_my_wrap_up(call: TabRequest) -> MeView:
    """End my wrap-up now: I am ready for the next call."""
    agent = await my_agent(call)
    if agent.activity is not AgentActivity.WRAP_UP:
        raise ApiError(409, "you are not in wrap-up", code="notInWrapUp")
    await call.deps.engine.end_wrap_up(agent.tenant_id, agent.id)
    return await me_answer(call)


async def accept_offer(call: TabRequest) -> MeView:
    """Accept a card-first offer: my Teams client rings and I answer there."""
    agent = await my_agent(call)
    accepted = await call.deps.engine.accept_offer(agent.tenant_id, call.param("callId"), agent.id)
    if not accepted:
        raise ApiError(409, "this offer is no longer open", code="offerGone")
    return await me_answer(call)


async def decline_offer(call: TabRequest) -> MeView:
    """Decline the offer: the call goes to the next agent."""
    agent = await my_agent(call)
    declined = await call.deps.engine.decline_offer(agent.tenant_id, call.param("callId"), agent.id)
    if not declined:
        raise ApiError(409, "this offer is no longer open", code="offerGone")
    return await me_answer(call)


async def my_calls(call: TabRequest) -> CallsView:
    """List my most recent calls, newest first: those I took and those I missed."""
    return await recent_calls_view(call, call.query(CallsQuery).limit)


async def live_queues(call: TabRequest) -> QueuesLiveView:
    """Return my queues' live numbers: callers waiting, longest wait, agents by state."""
    caller = call.caller
    snapshot = await read_snapshot(call.deps.repository, caller.tenant_id, call.deps.clock.now())
    return QueuesLiveView(
        queues=queue_live(snapshot, visible_queue_ids(caller.user, snapshot.queues)),
        at=snapshot.at,
    )
