"""What supervisors see of the floor: each agent's state now, and since when.

An agent document holds its state, not its history, but each state's start can be read
from the documents: ringing (the offer's start), on a call (the answer), wrap-up (the end of
the last call). Outside a call the agent's state began at the later of the last change of
their status (``status_since``: what they chose, signed in or not, seated or not) and the
end of their last call (``idle_since``), so every host, and one just restarted, shows the
same time in state. Documents written before ``status_since`` was kept have none: for
those a host counts not ready and signed out from when it first saw the agent so (the
live feed reads the agents every second).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from contactcenter.model import Agent, AgentActivity, AgentStatus, Call


class FloorState(StrEnum):
    """An agent's state as the wallboard and the supervisor's page show it."""

    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on-call"
    WRAP_UP = "wrap-up"
    NOT_READY = "not-ready"
    SIGNED_OUT = "signed-out"


def floor_state(agent: Agent) -> FloorState:
    """Return what the agent is doing: a call's stage first, then their status."""
    if agent.activity is AgentActivity.RINGING:
        return FloorState.RINGING
    if agent.activity is AgentActivity.ON_CALL:
        return FloorState.ON_CALL
    if agent.activity is AgentActivity.WRAP_UP:
        return FloorState.WRAP_UP
    if agent.status is AgentStatus.OFFLINE or not agent.signed_in_queue_ids or not agent.has_seat:
        return FloorState.SIGNED_OUT
    if agent.status is AgentStatus.AVAILABLE:
        return FloorState.AVAILABLE
    return FloorState.NOT_READY


def recorded_start(agent: Agent, state: FloorState, call: Call | None) -> datetime | None:
    """Return when the agent's state began, where the documents say so."""
    if state is FloorState.RINGING and call is not None and call.offer is not None:
        return call.offer.started_at
    if state is FloorState.ON_CALL and call is not None:
        return call.answered_at
    if state is FloorState.WRAP_UP:
        return agent.last_call_ended_at
    if agent.status_since is None:
        return agent.idle_since if state is FloorState.AVAILABLE else None
    if agent.idle_since is None:
        return agent.status_since
    return max(agent.status_since, agent.idle_since)


@dataclass(frozen=True, slots=True)
class AgentOnTheFloor:
    """An agent's state and when it began."""

    agent: Agent
    state: FloorState
    since: datetime


class StateWatch:
    """Remembers, per agent, the state last seen and when it was first seen."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], tuple[FloorState, datetime]] = {}

    def observe(self, agent: Agent, call: Call | None, now: datetime) -> AgentOnTheFloor:
        """Return the agent's state and its start (recorded, else first seen here)."""
        state = floor_state(agent)
        key = (agent.tenant_id, agent.id)
        known = self._seen.get(key)
        first_seen = known[1] if known is not None and known[0] is state else now
        self._seen[key] = (state, first_seen)
        recorded = recorded_start(agent, state, call)
        since = recorded if recorded is not None and recorded <= now else first_seen
        return AgentOnTheFloor(agent, state, since)
