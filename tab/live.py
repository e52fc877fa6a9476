"""What the tab shows live: an agent's own state and offer, and their queues' numbers.

Everything here is computed from one :class:`TenantSnapshot` (the tenant's queues, agents
and live calls, read together), so the requests of a page and the live feed of many
pages share the same few store queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from contactcenter.model import (
    Agent,
    AgentActivity,
    AgentStatus,
    Call,
    CallState,
    Party,
    Queue,
    Role,
    Tenant,
    User,
)
from contactcenter.repository import Repository
from tab.derived_shapes import fill
from tab.schemas import (
    AgentCounts,
    AgentView,
    CurrentCallView,
    MeView,
    MyQueueView,
    OfferView,
    PartyView,
    QueueLiveView,
    TenantView,
    TransferView,
    UserView,
    WrapUpView,
)

_ROLE_ORDER = {Role.ADMIN: 0, Role.SUPERVISOR: 1, Role.AGENT: 2}


@dataclass(frozen=True, slots=True)
class TenantSnapshot:
    """A tenant's queues, agents and live calls as read at ``at``."""

    at: datetime
    queues: tuple[Queue, ...]
    agents: tuple[Agent, ...]
    calls: tuple[Call, ...]

    def agent(self, agent_id: str) -> Agent | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def call(self, call_id: str | None) -> Call | None:
        if call_id is None:
            return None
        return next((c for c in self.calls if c.id == call_id), None)


async def read_snapshot(repository: Repository, tenant_id: str, now: datetime) -> TenantSnapshot:
    """Read the tenant's queues, agents and live calls (three queries)."""
    queues = await repository.queues.find(tenant_id)
    agents = await repository.agents.find(tenant_id)
    calls = await repository.calls.find(tenant_id)
    return TenantSnapshot(
        at=now,
        queues=tuple(sorted((q.value for q in queues), key=lambda q: q.name.casefold())),
        agents=tuple(a.value for a in agents),
        calls=tuple(c.value for c in calls),
    )


def user_view(user: User) -> UserView:
    return UserView(
        id=user.id,
        display_name=user.display_name,
        upn=user.upn,
        roles=sorted(user.roles, key=_ROLE_ORDER.__getitem__),
    )


def party_view(party: Party) -> PartyView:
    return fill(PartyView, party)


def agent_view(agent: Agent) -> AgentView:
    return fill(AgentView, agent, signed_in_queue_ids=sorted(agent.signed_in_queue_ids))


def offer_view(agent: Agent, call: Call | None) -> OfferView | None:
    """Return the offer the agent is being rung with, if any."""
    if call is None or agent.activity is not AgentActivity.RINGING:
        return None
    offer = call.offer
    if call.state is not CallState.RINGING or offer is None or agent.id not in offer.agent_ids:
        return None
    return OfferView(
        call_id=call.id,
        queue_id=call.queue_id or "",
        queue_name=call.queue_name,
        caller=party_view(call.caller),
        offered_at=call.offered_at,
        expires_at=offer.expires_at,
        card_first=offer.card_first,
        accepted=offer.card_first and agent.id in offer.participant_ids,
    )


def current_call_view(agent: Agent, call: Call | None) -> CurrentCallView | None:
    """Return the call the agent is talking on, if any."""
    if call is None or agent.activity is not AgentActivity.ON_CALL:
        return None
    if call.state is not CallState.CONNECTED or call.agent_id != agent.id:
        return None
    offered_at = call.transferred_at or call.offered_at
    wait_s = 0.0
    if offered_at is not None and call.answered_at is not None:
        wait_s = max(0.0, (call.answered_at - offered_at).total_seconds())
    transfer = call.transfer
    return CurrentCallView(
        call_id=call.id,
        queue_id=call.queue_id or "",
        queue_name=call.queue_name,
        caller=party_view(call.caller),
        offered_at=offered_at,
        answered_at=call.answered_at,
        wait_s=wait_s,
        transfer=(
            TransferView(
                agent_id=transfer.agent_id,
                agent_name=transfer.agent_name,
                started_at=transfer.started_at,
                expires_at=transfer.expires_at,
            )
            if transfer is not None
            else None
        ),
    )


def wrap_up_view(agent: Agent) -> WrapUpView | None:
    """Return the agent's wrap-up, if they are in one."""
    wrap_up = agent.wrap_up
    if agent.activity is not AgentActivity.WRAP_UP or wrap_up is None:
        return None
    return WrapUpView(
        record_id=wrap_up.record_id,
        queue_id=wrap_up.queue_id,
        started_at=wrap_up.started_at,
        until=agent.wrap_up_until,
        extension_s=0 if wrap_up.extended else wrap_up.extension_s,
        extended=wrap_up.extended,
    )


def my_queues(agent: Agent | None, queues: Iterable[Queue]) -> list[MyQueueView]:
    """Return the queues the agent is a member of, and whether they are signed in."""
    if agent is None:
        return []
    return [
        MyQueueView(id=q.id, name=q.name, signed_in=q.id in agent.signed_in_queue_ids)
        for q in queues
        if agent.id in q.members
    ]


def me_view(user: User, tenant: Tenant, snapshot: TenantSnapshot, *, demo: bool) -> MeView:
    """Return what the signed-in user sees about themselves."""
    agent = snapshot.agent(user.id) if Role.AGENT in user.roles else None
    call = snapshot.call(agent.current_call_id) if agent is not None else None
    return MeView(
        user=user_view(user),
        tenant=TenantView(
            id=tenant.id,
            name=tenant.name,
            seat_count=tenant.seat_count,
            time_zone=tenant.time_zone,
        ),
        agent=agent_view(agent) if agent is not None else None,
        queues=my_queues(agent, snapshot.queues),
        offer=offer_view(agent, call) if agent else None,
        call=current_call_view(agent, call) if agent else None,
        wrap_up=wrap_up_view(agent) if agent else None,
        demo=demo,
        server_time=snapshot.at,
    )


def visible_queue_ids(user: User, queues: Sequence[Queue]) -> list[str]:
    """Return the queues whose live numbers the user may see.

    Admins see every queue; supervisors the queues they supervise; agents the queues they
    are a member of.
    """
    if Role.ADMIN in user.roles:
        return [q.id for q in queues]
    visible: set[str] = {q.id for q in queues if user.supervises(q.id)}
    if Role.AGENT in user.roles:
        visible |= {q.id for q in queues if user.id in q.members}
    return [q.id for q in queues if q.id in visible]


def _agent_bucket(agent: Agent, queue_id: str) -> str:
    if agent.activity is AgentActivity.RINGING:
        return "ringing"
    if agent.activity is AgentActivity.ON_CALL:
        return "on_call"
    if agent.activity is AgentActivity.WRAP_UP:
        return "wrap_up"
    if (
        agent.status is AgentStatus.OFFLINE
        or queue_id not in agent.signed_in_queue_ids
        or not agent.has_seat
    ):
        return "signed_out"
    if agent.status is AgentStatus.AVAILABLE:
        return "available"
    return "not_ready"


def queue_live(snapshot: TenantSnapshot, queue_ids: Sequence[str]) -> list[QueueLiveView]:
    """Return the live numbers of these queues: callers waiting, longest wait, agents."""
    wanted = set(queue_ids)
    agents = {a.id: a for a in snapshot.agents}
    views: list[QueueLiveView] = []
    for queue in snapshot.queues:
        if queue.id not in wanted:
            continue
        waiting = ringing = 0
        longest = 0.0
        for call in snapshot.calls:
            if call.queue_id != queue.id or call.state not in {
                CallState.WAITING,
                CallState.RINGING,
            }:
                continue
            if call.state is CallState.WAITING:
                waiting += 1
            else:
                ringing += 1
            since = call.queued_at or call.offered_at
            if since is not None:
                longest = max(longest, (snapshot.at - since).total_seconds())
        counts: dict[str, int] = {}
        for member in queue.members:
            agent = agents.get(member)
            if agent is None:
                continue
            bucket = _agent_bucket(agent, queue.id)
            counts[bucket] = counts.get(bucket, 0) + 1
        views.append(
            QueueLiveView(
                id=queue.id,
                name=queue.name,
                waiting=waiting,
                ringing=ringing,
                longest_wait_s=round(longest, 1),
                service_level_threshold_s=queue.service_level_threshold_s,
                agents=AgentCounts(**counts),
            )
        )
    return views
