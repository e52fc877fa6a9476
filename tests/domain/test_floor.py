"""Agents on the floor: their state, and since when (recorded, else first seen)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from contactcenter.floor import FloorState, StateWatch
from contactcenter.model import (
    Agent,
    AgentActivity,
    AgentStatus,
    Call,
    CallState,
    Offer,
    Party,
    PartyKind,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def agent(**changes: Any) -> Agent:
    base = Agent(
        id="ana",
        tenant_id="t",
        display_name="Ana",
        has_seat=True,
        signed_in_queue_ids=frozenset({"sales"}),
        status=AgentStatus.AVAILABLE,
        idle_since=NOW - timedelta(minutes=3),
        last_call_ended_at=NOW - timedelta(seconds=20),
    )
    return replace(base, **changes)


def call(**changes: Any) -> Call:
    base = Call(id="c", tenant_id="t", caller=Party(PartyKind.PHONE, "+1"), target_id="sales")
    return replace(base, **changes)


def test_each_state_starts_when_its_document_says() -> None:
    watch = StateWatch()
    offer = Offer(("ana",), NOW - timedelta(seconds=5), NOW + timedelta(seconds=15))
    ringing = watch.observe(
        agent(activity=AgentActivity.RINGING), call(state=CallState.RINGING, offer=offer), NOW
    )
    assert (ringing.state, ringing.since) == (FloorState.RINGING, NOW - timedelta(seconds=5))
    talking = watch.observe(
        agent(activity=AgentActivity.ON_CALL),
        call(state=CallState.CONNECTED, answered_at=NOW - timedelta(seconds=40)),
        NOW,
    )
    assert (talking.state, talking.since) == (FloorState.ON_CALL, NOW - timedelta(seconds=40))
    wrapping = watch.observe(agent(activity=AgentActivity.WRAP_UP), None, NOW)
    assert (wrapping.state, wrapping.since) == (FloorState.WRAP_UP, NOW - timedelta(seconds=20))
    idle = watch.observe(agent(), None, NOW)
    assert (idle.state, idle.since) == (FloorState.AVAILABLE, NOW - timedelta(minutes=3))


def test_a_state_without_a_recorded_start_counts_from_when_it_was_first_seen() -> None:
    watch = StateWatch()
    away = agent(status=AgentStatus.AWAY, not_ready_reason="lunch")
    assert watch.observe(away, None, NOW).since == NOW
    later = watch.observe(away, None, NOW + timedelta(minutes=5))
    assert (later.state, later.since) == (FloorState.NOT_READY, NOW)
    # Signed out is another state: it starts anew.
    out = watch.observe(agent(status=AgentStatus.OFFLINE), None, NOW + timedelta(minutes=6))
    assert (out.state, out.since) == (FloorState.SIGNED_OUT, NOW + timedelta(minutes=6))
