"""Seats: never more agents holding one than the tenant has, whatever the order of requests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contactcenter.clock import VirtualClock
from contactcenter.model import Agent, Tenant
from contactcenter.repository import Repository
from contactcenter.seats import Seats, SeatsExhausted, TooFewSeats
from storage.memory import MemoryStore

TENANT = Tenant(id="tenant-1", name="Contoso", seat_count=2)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _seats(*agents: Agent) -> tuple[Seats, Repository]:
    repository = Repository(MemoryStore())
    await repository.tenants.create(TENANT)
    for agent in agents:
        await repository.agents.create(agent)
    return Seats(repository.store, repository, VirtualClock(NOW)), repository


def _agent(agent_id: str, *, has_seat: bool = False) -> Agent:
    return Agent(id=agent_id, tenant_id=TENANT.id, display_name=agent_id, has_seat=has_seat)


async def test_the_ledger_starts_from_the_agents_who_hold_a_seat() -> None:
    seats, _ = await _seats(*(_agent(f"a{n}", has_seat=True) for n in range(3)), _agent("b"))
    ledger = await seats.ledger(TENANT)
    # Seeded with more seated agents than seats: they keep their seats.
    assert (ledger.seat_count, ledger.assigned) == (3, ("a0", "a1", "a2"))


async def test_a_seat_beyond_the_count_is_refused_and_changes_nothing() -> None:
    seats, repository = await _seats(_agent("a"), _agent("b"), _agent("c"))
    await seats.assign(TENANT, "a")
    before, after = await seats.assign(TENANT, "b")
    assert (before.has_seat, after.has_seat) == (False, True)
    with pytest.raises(SeatsExhausted):
        await seats.assign(TENANT, "c")
    assert not (await repository.agents.get(TENANT.id, "c")).value.has_seat
    assert (await seats.ledger(TENANT)).assigned == ("a", "b")


async def test_a_released_seat_can_be_given_to_someone_else() -> None:
    seats, _ = await _seats(_agent("a", has_seat=True), _agent("b", has_seat=True), _agent("c"))
    await seats.release(TENANT, "a")
    await seats.assign(TENANT, "c")
    assert (await seats.ledger(TENANT)).assigned == ("b", "c")


async def test_assigning_a_seat_twice_holds_one_seat() -> None:
    seats, _ = await _seats(_agent("a"))
    await seats.assign(TENANT, "a")
    before, after = await seats.assign(TENANT, "a")
    assert before == after
    assert (await seats.ledger(TENANT)).assigned == ("a",)


async def test_the_count_cannot_drop_below_the_seats_assigned() -> None:
    seats, repository = await _seats(_agent("a", has_seat=True), _agent("b", has_seat=True))
    with pytest.raises(TooFewSeats) as refused:
        await seats.set_count(TENANT, 1)
    assert refused.value.assigned == 2
    before, after = await seats.set_count(TENANT, 5)
    assert (before.seat_count, after.seat_count) == (2, 5)
    assert (await repository.tenants.get(TENANT.id, TENANT.id)).value.seat_count == 5


async def test_a_seat_given_or_taken_back_changes_the_agent_s_status_time() -> None:
    seats, _ = await _seats(_agent("a"), _agent("b", has_seat=True))
    _, given = await seats.assign(TENANT, "a")
    _, taken = await seats.release(TENANT, "b")
    assert (given.status_since, taken.status_since) == (NOW, NOW)
