"""The routing rules, written again from their documentation, as the property test's oracle.

Sources: design.md section 4 step 6 (who is eligible), docs/ringing.md, docs/decisions/
0004-routing-engine.md ("Which agent, which call") and the rules stated at the top of
contactcenter/routing.py. Nothing here calls the product's routing functions: a property
test that asked them what is correct could not catch a bug in them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contactcenter.model import Agent, AgentActivity, AgentStatus, Call, Queue

# Teams availabilities in which an agent can take a call.
READY = frozenset({"Available", "AvailableIdle", "PresenceUnknown", ""})
# Busy, in a call or in a meeting: rung only by a queue that routes to busy agents.
BUSY = frozenset({"Busy", "BusyIdle", "InACall", "InAConferenceCall", "InAMeeting", "Presenting"})
# "Busy" read this soon after the agent's own contact-center call ended is that call echoing.
PRESENCE_ECHO = timedelta(seconds=60)
# Never idle counts as idle longest.
NEVER_IDLE = datetime.min.replace(tzinfo=UTC)


def presence_allows(agent: Agent, queue: Queue) -> bool:
    """Tell whether the agent's Teams presence lets the queue ring them."""
    if agent.presence in READY:
        return True
    if agent.presence not in BUSY:
        return False
    if queue.route_when_busy:
        return True
    # Our own knowledge wins over stale presence.
    ended = agent.last_call_ended_at
    if ended is None:
        return False
    return agent.presence_at is None or agent.presence_at <= ended + PRESENCE_ECHO


def skills_required(call: Call, queue: Queue, at: datetime) -> dict[str, int]:
    """Return the skills the call requires at ``at``: none once the queue's widening is due."""
    widen_after = queue.skill_widen_after_s
    in_queue_since = call.queued_at or call.offered_at
    if (
        widen_after is not None
        and in_queue_since is not None
        and at >= in_queue_since + timedelta(seconds=widen_after)
    ):
        return {}
    return dict(call.required_skills)


def may_ring(agent: Agent, queue: Queue, call: Call, at: datetime) -> bool:
    """Tell whether the agent is eligible for the call at ``at``.

    Member of the queue, signed in to it, holds a seat, available, not ringing or on a
    call, not in wrap-up, presence allows, and every required skill at its level.
    """
    member = agent.id in queue.members
    signed_in = queue.id in agent.signed_in_queue_ids
    free = agent.activity is AgentActivity.IDLE and agent.current_call_id is None
    wrapping_up = agent.wrap_up_until is not None and agent.wrap_up_until > at
    skilled = all(
        agent.skills.get(skill, 0) >= level
        for skill, level in skills_required(call, queue, at).items()
    )
    return (
        member
        and signed_in
        and agent.has_seat
        and agent.status is AgentStatus.AVAILABLE
        and free
        and not wrapping_up
        and presence_allows(agent, queue)
        and skilled
    )


def served_before(one: Call, other: Call) -> bool:
    """Tell whether ``one`` must be served before ``other``: FIFO within priority.

    A higher priority first; within a priority, the call offered earlier. Calls offered
    at the same moment have no order the rules fix.
    """
    if one.priority != other.priority:
        return one.priority > other.priority
    assert one.offered_at is not None
    assert other.offered_at is not None
    return one.offered_at < other.offered_at


def longest_idle_rank(agent: Agent, call: Call) -> tuple[int, int, datetime]:
    """Return where longest-idle routing puts the agent for the call (lowest rings first).

    Agents not yet offered the call first, then those who missed it longest ago; then the
    best skilled (sum of levels in the call's required skills, widened or not); then the
    longest idle.
    """
    misses = [index for index, missed in enumerate(call.missed_agent_ids) if missed == agent.id]
    last_miss = misses[-1] if misses else -1
    skill = sum(agent.skills.get(name, 0) for name in call.required_skills)
    return (last_miss, -skill, agent.idle_since or NEVER_IDLE)
