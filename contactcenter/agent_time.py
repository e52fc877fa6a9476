"""Agents' time by state, sampled from agent documents into interval aggregates.

Agent documents hold an agent's state now, not its history, and every host may change
them. So one host per tenant (the holder of the tenant's ``agent-time-sampler`` lease)
reads the tenant's agents every few seconds and attributes the time since its previous
reading to the state it saw then, split at interval boundaries, into the agents'
``agent-time`` aggregates. The error is at most one sampling period per state change;
a gap longer than ``max_gap_s`` (a paused host, a lease changing hands) is not counted.

Available idle time, the denominator's second term in occupancy, comes from here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from contactcenter.aggregates import INTERVAL, IntervalAggregator, interval_start
from contactcenter.errors import Conflict, DomainError
from contactcenter.model import Agent, AgentActivity, AgentStatus
from contactcenter.ports import Store
from contactcenter.repository import KEEP, Collection, Decision

_LOGGER = logging.getLogger(__name__)

LEASES = "leases"
SAMPLER_LEASE = "agent-time-sampler"


class AgentState(StrEnum):
    """What an agent signed in to at least one queue is doing, for time accounting."""

    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on-call"
    WRAP_UP = "wrap-up"
    NOT_READY = "not-ready"


def agent_state(agent: Agent) -> AgentState | None:
    """Return the agent's state for time accounting; None while signed out (not counted)."""
    if agent.activity is AgentActivity.RINGING:
        return AgentState.RINGING
    if agent.activity is AgentActivity.ON_CALL:
        return AgentState.ON_CALL
    if agent.activity is AgentActivity.WRAP_UP:
        return AgentState.WRAP_UP
    if agent.status is AgentStatus.OFFLINE or not agent.signed_in_queue_ids:
        return None
    if agent.status is AgentStatus.AVAILABLE:
        return AgentState.AVAILABLE
    return AgentState.NOT_READY


@dataclass(frozen=True, slots=True)
class Lease:
    """Who may do a tenant's singleton background work, until when."""

    id: str
    tenant_id: str
    holder: str
    expires_at: datetime


class Leases:
    """Leases in the store: taken and renewed by compare-and-set on one document each."""

    def __init__(self, store: Store, *, holder: str | None = None) -> None:
        self._leases = Collection(store, LEASES, Lease)
        self.holder = holder or uuid.uuid4().hex

    async def hold(self, tenant_id: str, name: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the lease; False while another holder's lease runs."""
        ours = Lease(name, tenant_id, self.holder, now + ttl)

        def take(lease: Lease) -> Decision[Lease]:
            if lease.holder != self.holder and lease.expires_at > now:
                return KEEP
            return replace(lease, holder=self.holder, expires_at=ours.expires_at)

        try:
            # One try: a lost race means another holder took or renewed it just now.
            updated = await self._leases.apply(
                tenant_id, name, take, attempts=1, missing=lambda: ours
            )
        except Conflict:
            return False
        return updated.changed


class AgentTimeSampler:
    """Turns successive readings of agent documents into time by state."""

    def __init__(self, aggregator: IntervalAggregator, *, max_gap_s: float = 30.0) -> None:
        self._aggregator = aggregator
        self._max_gap = timedelta(seconds=max_gap_s)
        self._last: dict[tuple[str, str], tuple[datetime, AgentState | None]] = {}
        self._pending: dict[tuple[str, str, datetime], dict[str, float]] = {}

    def forget(self, tenant_id: str) -> None:
        """Drop the last readings of a tenant (its lease went to another host)."""
        for key in [k for k in self._last if k[0] == tenant_id]:
            del self._last[key]

    def observe(self, tenant_id: str, agents: Iterable[Agent], now: datetime) -> None:
        """Attribute the time since the last reading of each agent to the state seen then."""
        seen: set[str] = set()
        for agent in agents:
            seen.add(agent.id)
            key = (tenant_id, agent.id)
            previous = self._last.get(key)
            self._last[key] = (now, agent_state(agent))
            if previous is None:
                continue
            since, state = previous
            if state is None or now <= since:
                continue
            self._attribute(tenant_id, agent.id, state, since, min(now, since + self._max_gap))
        for key in [k for k in self._last if k[0] == tenant_id and k[1] not in seen]:
            del self._last[key]

    def _attribute(
        self, tenant_id: str, agent_id: str, state: AgentState, start: datetime, end: datetime
    ) -> None:
        at = start
        while at < end:
            interval = interval_start(at)
            upto = min(end, interval + INTERVAL)
            bucket = self._pending.setdefault((tenant_id, agent_id, interval), {})
            bucket[state.value] = bucket.get(state.value, 0.0) + (upto - at).total_seconds()
            at = upto

    @property
    def pending(self) -> dict[tuple[str, str, datetime], dict[str, float]]:
        """Seconds by state not yet written, per (tenant, agent, interval)."""
        return self._pending

    async def flush(self) -> int:
        """Write the time gathered so far; return how many documents were written."""
        written = 0
        for key in list(self._pending):
            tenant_id, agent_id, interval = key
            seconds = self._pending.pop(key)
            try:
                await self._aggregator.add_agent_time(tenant_id, agent_id, interval, seconds)
            except DomainError as err:
                # Kept for the next flush: nothing is lost while the store is unavailable.
                _LOGGER.warning(
                    "Agent time not written yet: %s", err, extra={"tenant_id": tenant_id}
                )
                merged = self._pending.setdefault(key, {})
                for name, value in seconds.items():
                    merged[name] = merged.get(name, 0.0) + value
                continue
            written += 1
        return written
