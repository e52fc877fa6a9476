"""Agent selection: who may take a call, in which order, and which call an agent takes next.

Pure functions over snapshots of agents, queues and calls; the engine reads the snapshots
and claims the chosen agents with compare-and-set.

Order of agents for a call, most significant first:

1. agents who have not yet been offered this call, then those who missed it longest ago
   (so serial routing starts over from the first member once everybody was rung);
2. best-skilled first: the sum of the agent's levels in the call's required skills;
3. the queue's method: serial and attendant by member order; round robin by the oldest
   offer from this queue (``Agent.last_offered_at``), which rotates through the members;
   longest idle by ``idle_since``, oldest first;
4. member order, to break ties deterministically.

Order of calls for an agent: higher priority first, then the earliest ``offered_at``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from contactcenter.model import (
    Agent,
    AgentActivity,
    AgentStatus,
    Call,
    Queue,
    RoutingMethod,
)

# Stands in for "never": sorts before every real time.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)

# Teams availabilities that let an agent take a call.
READY_PRESENCES = frozenset({"Available", "AvailableIdle", "PresenceUnknown", ""})
# Teams availabilities (and activities) that mean "in a call or meeting": allowed only when
# the queue routes to busy agents.
BUSY_PRESENCES = frozenset(
    {"Busy", "BusyIdle", "InACall", "InAConferenceCall", "InAMeeting", "Presenting"}
)


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """Engine-wide routing knobs that are not per-queue configuration."""

    # Teams presence lags (up to a minute): "Busy" seen this soon after our own call ended
    # is that call echoing, so it does not keep the agent from the next call.
    presence_echo_s: float = 60.0


DEFAULT_POLICY = RoutingPolicy()


def presence_allows(
    agent: Agent, *, route_when_busy: bool, policy: RoutingPolicy = DEFAULT_POLICY
) -> bool:
    """Return whether the agent's Teams presence lets the queue ring them."""
    presence = agent.presence
    if presence in READY_PRESENCES:
        return True
    if presence not in BUSY_PRESENCES:
        return False
    if route_when_busy:
        return True
    ended = agent.last_call_ended_at
    if ended is None:
        return False
    seen = agent.presence_at
    # Our own knowledge wins over stale presence: the reading predates (or barely follows)
    # the end of a call we placed with this agent.
    return seen is None or seen <= ended + timedelta(seconds=policy.presence_echo_s)


def requirements_now(call: Call, queue: Queue, now: datetime) -> Mapping[str, int]:
    """Return the skills the call still requires (none once widened)."""
    if not call.required_skills:
        return {}
    widen = queue.skill_widen_after_s
    start = call.queued_at or call.offered_at
    if widen is not None and start is not None and now >= start + timedelta(seconds=widen):
        return {}
    return call.required_skills


def widening_at(call: Call, queue: Queue) -> datetime | None:
    """Return when the call's skill requirements will be dropped, if they ever are."""
    widen = queue.skill_widen_after_s
    start = call.queued_at or call.offered_at
    if not call.required_skills or widen is None or start is None:
        return None
    return start + timedelta(seconds=widen)


def meets_skills(agent: Agent, required: Mapping[str, int]) -> bool:
    """Return whether the agent has every required skill at the minimum level."""
    skills = agent.skills
    return all(skills.get(name, 0) >= level for name, level in required.items())


def skill_score(agent: Agent, skills: Iterable[str]) -> int:
    """Return the sum of the agent's levels in ``skills`` (higher is better)."""
    return sum(agent.skills.get(name, 0) for name in skills)


def can_take_calls_from(
    agent: Agent,
    queue: Queue,
    members: Mapping[str, int],
    now: datetime,
    policy: RoutingPolicy = DEFAULT_POLICY,
) -> bool:
    """Return whether the agent may be rung for this queue now, whatever the call."""
    return (
        agent.activity is AgentActivity.IDLE
        and agent.current_call_id is None
        and agent.status is AgentStatus.AVAILABLE
        and agent.has_seat
        and agent.id in members
        and queue.id in agent.signed_in_queue_ids
        and (agent.wrap_up_until is None or agent.wrap_up_until <= now)
        and presence_allows(agent, route_when_busy=queue.route_when_busy, policy=policy)
    )


def is_eligible(
    agent: Agent,
    queue: Queue,
    call: Call,
    now: datetime,
    policy: RoutingPolicy = DEFAULT_POLICY,
    members: Mapping[str, int] | None = None,
) -> bool:
    """Return whether the agent may be rung for this call now."""
    ranks = members if members is not None else member_ranks(queue)
    return can_take_calls_from(agent, queue, ranks, now, policy) and meets_skills(
        agent, requirements_now(call, queue, now)
    )


def member_ranks(queue: Queue) -> dict[str, int]:
    """Return each member's position in the queue's fixed order."""
    return {agent_id: index for index, agent_id in enumerate(queue.members)}


def miss_ranks(call: Call) -> dict[str, int]:
    """Return, per agent who missed the call, the position of their latest miss."""
    return {agent_id: index for index, agent_id in enumerate(call.missed_agent_ids)}


def _method_key(agent: Agent, queue: Queue, method: RoutingMethod) -> tuple[datetime, ...]:
    if method is RoutingMethod.LONGEST_IDLE:
        return (agent.idle_since or NEVER,)
    if method is RoutingMethod.ROUND_ROBIN:
        return (agent.last_offered_at.get(queue.id, NEVER),)
    return ()


def agent_order_key(
    agent: Agent,
    queue: Queue,
    call: Call,
    members: Mapping[str, int],
    misses: Mapping[str, int],
) -> tuple[object, ...]:
    """Return the sort key that puts the agent to ring first at the front."""
    return (
        misses.get(agent.id, -1),
        -skill_score(agent, call.required_skills),
        _method_key(agent, queue, queue.routing_method),
        members.get(agent.id, len(members)),
        agent.id,
    )


def rank_agents(
    queue: Queue,
    call: Call,
    agents: Iterable[Agent],
    now: datetime,
    policy: RoutingPolicy = DEFAULT_POLICY,
) -> list[Agent]:
    """Return the agents eligible for the call, in the order to ring them."""
    members = member_ranks(queue)
    misses = miss_ranks(call)
    eligible = [a for a in agents if is_eligible(a, queue, call, now, policy, members)]
    eligible.sort(key=lambda a: agent_order_key(a, queue, call, members, misses))
    return eligible


def call_order_key(call: Call) -> tuple[int, datetime, str]:
    """Return the sort key that puts the call to serve first at the front."""
    return (-call.priority, call.offered_at or NEVER, call.id)


def first_call_for(
    agent: Agent,
    queue: Queue,
    calls: Sequence[Call],
    now: datetime,
    policy: RoutingPolicy = DEFAULT_POLICY,
    members: Mapping[str, int] | None = None,
) -> Call | None:
    """Return the first call of ``calls`` (already in serving order) the agent may take."""
    ranks = members if members is not None else member_ranks(queue)
    if not can_take_calls_from(agent, queue, ranks, now, policy):
        return None
    for call in calls:
        if meets_skills(agent, requirements_now(call, queue, now)):
            return call
    return None
