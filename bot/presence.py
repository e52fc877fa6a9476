"""Teams presence, polled from Graph in batches and fed to the routing engine.

Presence subscriptions need delegated permissions, and the bot has an app-only token, so
the host polls ``getPresencesByUserId`` (at most 650 ids a request). The interval adapts:
it grows with the number of batches so polling stays well inside Graph's presence budget,
and backs off when Graph throttles.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from contactcenter.engine import RoutingEngine
from contactcenter.errors import DomainError, NotFound, Throttled
from contactcenter.model import Agent, TenantStatus
from contactcenter.ports import Condition, Op, Presence
from contactcenter.repository import Repository

_LOGGER = logging.getLogger(__name__)

PRESENCE_BATCH = 650


@dataclass(frozen=True, slots=True)
class PollingBudget:
    """How often presence may be read: a share of Graph's per-tenant presence limit."""

    # Graph allows 1,500 presence requests per 30 s per app and tenant (older documents;
    # newer ones say 10,000). We use a tenth of the older figure, leaving the rest to others.
    requests_per_window: int = 150
    window_s: float = 30.0
    min_interval_s: float = 5.0
    max_interval_s: float = 120.0

    def interval_for(self, batches: int) -> float:
        """Return the pause between polls for this many requests per poll."""
        needed = batches * self.window_s / self.requests_per_window
        return min(self.max_interval_s, max(self.min_interval_s, needed))


class PresencePoller:
    """Read the presence of every seated, signed-in agent and record what changed."""

    def __init__(
        self,
        repository: Repository,
        presence: Presence,
        engine: RoutingEngine,
        *,
        budget: PollingBudget | None = None,
    ) -> None:
        self._repo = repository
        self._presence = presence
        self._engine = engine
        self._budget = budget or PollingBudget()
        self.interval_s = self._budget.min_interval_s

    async def poll_once(self) -> int:
        """Poll every active tenant once; return how many agents' presence changed."""
        changed = 0
        batches = 0
        for tenant in await self._repo.tenants.find(None):
            if tenant.value.status is not TenantStatus.ACTIVE:
                continue
            agents = [
                a.value
                for a in await self._repo.agents.find(
                    tenant.value.id, [Condition("hasSeat", Op.EQ, True)]
                )
                if a.value.signed_in_queue_ids
            ]
            for start in range(0, len(agents), PRESENCE_BATCH):
                batch = agents[start : start + PRESENCE_BATCH]
                batches += 1
                changed += await self._poll_batch(tenant.value.id, batch)
        self.interval_s = self._budget.interval_for(batches)
        return changed

    async def _poll_batch(self, tenant_id: str, agents: Sequence[Agent]) -> int:
        by_id = {a.id: a for a in agents}
        readings = await self._presence.get_presences(tenant_id, list(by_id))
        changed = 0
        for reading in readings:
            agent = by_id.get(reading.user_id)
            if agent is None or agent.presence in (reading.availability, reading.activity):
                continue
            try:
                await self._engine.update_presence(
                    tenant_id, agent.id, reading.availability, activity=reading.activity
                )
            except NotFound:
                continue  # the agent was removed meanwhile
            changed += 1
        return changed

    async def run(self) -> None:
        """Poll until cancelled; a throttled or failed poll waits longer before the next."""
        while True:
            try:
                await self.poll_once()
            except Throttled as err:
                self.interval_s = min(
                    self._budget.max_interval_s,
                    max(err.retry_after or 0.0, self.interval_s * 2),
                )
                _LOGGER.warning("presence polling throttled; next poll in %.0f s", self.interval_s)
            except DomainError as err:
                self.interval_s = min(self._budget.max_interval_s, self.interval_s * 2)
                _LOGGER.warning(
                    "presence polling failed (%s); next poll in %.0f s", err, self.interval_s
                )
            await asyncio.sleep(self.interval_s)
