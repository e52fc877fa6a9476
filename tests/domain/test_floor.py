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
from tests.domain.harness import TENANT, Harness, make_agent, make_queue

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


async def test_after_a_restart_not_ready_and_signed_out_count_from_the_real_change() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1", "a2"]), [make_agent("a1"), make_agent("a2")])
    went_away = h.now
    await h.engine.set_status(TENANT, "a1", AgentStatus.AWAY, "lunch")
    h.clock.advance(600)
    signed_out = h.now
    await h.engine.sign_out(TENANT, "a2")
    h.clock.advance(3 * 3600)

    restarted = StateWatch()
    away = restarted.observe(await h.agent("a1"), None, h.now)
    out = restarted.observe(await h.agent("a2"), None, h.now)

    assert (away.state, away.since) == (FloorState.NOT_READY, went_away)
    assert (out.state, out.since) == (FloorState.SIGNED_OUT, signed_out)


async def test_not_ready_during_a_call_counts_from_the_end_of_its_wrap_up() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=30), [make_agent("a1")])
    await h.arrive("c1")
    await h.answers("c1", "a1")
    await h.engine.set_status(TENANT, "a1", AgentStatus.AWAY, "break")
    h.clock.advance(60)
    await h.terminated("c1")
    ended = h.now
    await h.advance(30)  # the wrap-up ends
    h.clock.advance(600)

    seen = StateWatch().observe(await h.agent("a1"), None, h.now)

    assert (seen.state, seen.since) == (FloorState.NOT_READY, ended + timedelta(seconds=30))


async def test_only_a_change_of_status_moves_the_status_time() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.engine.set_status(TENANT, "a1", AgentStatus.AWAY, "lunch")
    changed = h.now
    h.clock.advance(60)
    await h.engine.set_status(TENANT, "a1", AgentStatus.AWAY, "lunch")
    await h.engine.update_presence(TENANT, "a1", "Away")
    assert (await h.agent("a1")).status_since == changed
    await h.engine.set_status(TENANT, "a1", AgentStatus.AWAY, "meeting")
    assert (await h.agent("a1")).status_since == h.now


def test_a_restart_without_a_status_time_counts_from_first_seen() -> None:
    # An agent document written before the status time was kept.
    away = agent(status=AgentStatus.AWAY, status_since=None)
    assert StateWatch().observe(away, None, NOW).since == NOW


def test_available_counts_from_the_later_of_the_status_change_and_the_last_call() -> None:
    signed_in = agent(status_since=NOW - timedelta(minutes=1))
    assert StateWatch().observe(signed_in, None, NOW).since == NOW - timedelta(minutes=1)
    after_call = agent(status_since=NOW - timedelta(hours=1))
    assert StateWatch().observe(after_call, None, NOW).since == NOW - timedelta(minutes=3)
