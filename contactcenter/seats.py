"""Agent seats: a tenant has a number of them, and never more agents holding one.

"At most ``seat_count`` agents hold a seat" spans many agent documents, and the store has
no multi-document transactions. So the seats of a tenant are kept in one ledger document
(the tenant's seat count and the ids of the agents holding a seat), changed only by
compare-and-set; the agents' ``has_seat`` flags, which routing reads, follow the ledger.

Assigning writes the ledger first, then the agent; unassigning the agent first, then the
ledger. A crash between the two leaves a seat counted but not used, never an agent with a
seat the ledger does not count: the limit holds whatever happens, and repeating the
request completes it. The tenant document's ``seat_count`` mirrors the ledger's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from contactcenter.clock import Clock
from contactcenter.errors import NotFound
from contactcenter.model import Agent, Tenant
from contactcenter.ports import Store
from contactcenter.repository import Collection, Repository

_LOGGER = logging.getLogger(__name__)

SEATS_COLLECTION = "seats"
LEDGER_ID = "seats"


@dataclass(frozen=True, slots=True)
class SeatLedger:
    """The seats of one tenant: how many there are, and who holds one."""

    id: str
    tenant_id: str
    seat_count: int
    assigned: tuple[str, ...] = ()


class SeatsExhausted(Exception):
    """Every seat is taken."""


class TooFewSeats(Exception):
    """The new seat count is below the number of seats assigned."""

    def __init__(self, assigned: int) -> None:
        super().__init__(f"{assigned} seats are assigned")
        self.assigned = assigned


class Seats:
    """Assign and release the seats of a tenant's agents."""

    def __init__(self, store: Store, repository: Repository, clock: Clock) -> None:
        self._ledgers = Collection(store, SEATS_COLLECTION, SeatLedger)
        self._repo = repository
        self._clock = clock

    async def ledger(self, tenant: Tenant) -> SeatLedger:
        """Return the tenant's ledger, creating it from the agents' flags on first use."""
        try:
            return (await self._ledgers.get(tenant.id, LEDGER_ID)).value
        except NotFound:
            pass
        holders = [
            found.value.id
            for found in await self._repo.agents.find(tenant.id)
            if found.value.has_seat
        ]
        first = SeatLedger(
            id=LEDGER_ID,
            tenant_id=tenant.id,
            # A tenant seeded with more seated agents than seats keeps them seated.
            seat_count=max(tenant.seat_count, len(holders)),
            assigned=tuple(sorted(holders)),
        )
        # A ledger created meanwhile by a concurrent request stands as it is.
        stored, _ = await self._ledgers.ensure(first)
        return stored.value

    async def assign(self, tenant: Tenant, agent_id: str) -> tuple[Agent, Agent]:
        """Give the agent a seat; return the agent before and after. Raise SeatsExhausted."""
        await self.ledger(tenant)

        def take(ledger: SeatLedger) -> SeatLedger | None:
            if agent_id in ledger.assigned:
                return None
            if len(ledger.assigned) >= ledger.seat_count:
                raise SeatsExhausted(f"all {ledger.seat_count} seats are assigned")
            return replace(ledger, assigned=(*ledger.assigned, agent_id))

        await self._ledgers.update(tenant.id, LEDGER_ID, take)
        return await self._set_flag(tenant.id, agent_id, has_seat=True)

    async def release(self, tenant: Tenant, agent_id: str) -> tuple[Agent, Agent]:
        """Take the agent's seat back; return the agent before and after."""
        await self.ledger(tenant)
        changed = await self._set_flag(tenant.id, agent_id, has_seat=False)

        def give_back(ledger: SeatLedger) -> SeatLedger | None:
            if agent_id not in ledger.assigned:
                return None
            return replace(ledger, assigned=tuple(a for a in ledger.assigned if a != agent_id))

        await self._ledgers.update(tenant.id, LEDGER_ID, give_back)
        return changed

    async def set_count(self, tenant: Tenant, seat_count: int) -> tuple[Tenant, Tenant]:
        """Change how many seats the tenant has; raise TooFewSeats below those assigned."""
        await self.ledger(tenant)

        def resize(ledger: SeatLedger) -> SeatLedger | None:
            if seat_count < len(ledger.assigned):
                raise TooFewSeats(len(ledger.assigned))
            if seat_count == ledger.seat_count:
                return None
            return replace(ledger, seat_count=seat_count)

        await self._ledgers.update(tenant.id, LEDGER_ID, resize)
        before: Tenant | None = None

        def mirror(current: Tenant) -> Tenant | None:
            nonlocal before
            before = current
            return (
                None
                if current.seat_count == seat_count
                else replace(current, seat_count=seat_count)
            )

        saved = await self._repo.tenants.update(tenant.id, tenant.id, mirror)
        assert saved is not None
        return before or tenant, saved.value

    async def _set_flag(
        self, tenant_id: str, agent_id: str, *, has_seat: bool
    ) -> tuple[Agent, Agent]:
        before: Agent | None = None
        now = self._clock.now()

        def flag(agent: Agent) -> Agent | None:
            nonlocal before
            before = agent
            if agent.has_seat is has_seat:
                return None
            return replace(agent, has_seat=has_seat).with_status_since(agent, now)

        saved = await self._repo.agents.update(tenant_id, agent_id, flag)
        assert saved is not None
        assert before is not None
        return before, saved.value
