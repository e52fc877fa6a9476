"""Calls routed end to end: simulator → webhook → engine → msgraph-sdk → simulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.demo import PEOPLE, queue_id
from contactcenter.model import (
    AgentActivity,
    AgentStatus,
    CallOutcome,
    CallState,
    Queue,
    RoutingMethod,
)
from tests.http.conftest import Stack, invited_user_ids, removed_participants

# Every test here rings agents: each runs where Graph names participants itself, rings one
# invitee at a time, or lists invitees still ringing in rosters, too.
pytestmark = pytest.mark.silent_points

AGENT_IDS = {p.name.split()[0].lower(): p.id for p in PEOPLE}
SALES = queue_id("Sales")
SUPPORT = queue_id("Support")


async def _after(stack: Stack, call_id: str, action: Any, notifications: int) -> dict[str, Any]:
    """Run a simulator action; wait until its ``notifications``, and all they led to, were
    answered (rosters listing invitees still ringing, where Graph sends them, add more).
    """
    before = len((await stack.simulator.call(call_id))["notifications"])
    await action
    await stack.simulator.wait_for_call(call_id, notifications=before + notifications, timeout_s=10)
    await stack.simulator.wait_until_delivered()
    return await stack.simulator.call(call_id)


async def _ringing(stack: Stack, line: str, invites: int = 1) -> tuple[str, dict[str, Any]]:
    """Place a call and wait until the bot has invited ``invites`` agents."""
    placed = await stack.simulator.place_call(
        stack.tenant_id, application_instance_id=line, caller_phone="+14255550123"
    )
    assert placed.webhook_status == 202
    # incoming, establishing, established: the bot rings while handling the last one, and
    # Graph hears back only once it has.
    await stack.simulator.wait_for_call(
        placed.id, state="established", notifications=3, timeout_s=10
    )
    await stack.simulator.wait_until_delivered()
    call = await stack.simulator.call(placed.id)
    assert len(invited_user_ids(call)) >= invites, invited_user_ids(call)
    return placed.id, call


async def _set_queue(stack: Stack, queue: str, **changes: Any) -> None:
    from dataclasses import replace

    def change(q: Queue) -> Queue:
        return replace(q, **changes)

    await stack.repository.queues.update(stack.tenant_id, queue, change)


async def _away(stack: Stack, *names: str) -> None:
    for name in names:
        await stack.engine.set_status(stack.tenant_id, AGENT_IDS[name], AgentStatus.AWAY, "lunch")


async def _record(stack: Stack, call_id: str) -> Any:
    return (await stack.repository.call_records.get(stack.tenant_id, call_id)).value


async def test_longest_idle_rings_the_agent_idle_longest_and_connects(stack: Stack) -> None:
    def earlier(agent: Any) -> Any:
        from dataclasses import replace

        return replace(agent, idle_since=agent.idle_since - timedelta(minutes=10))

    await stack.repository.agents.update(stack.tenant_id, AGENT_IDS["chloe"], earlier)
    call_id, call = await _ringing(stack, stack.sales_line)
    assert invited_user_ids(call) == [AGENT_IDS["chloe"]]

    await _after(stack, call_id, stack.simulator.answer_participant(call_id, AGENT_IDS["chloe"]), 2)
    live = (await stack.repository.calls.get(stack.tenant_id, call_id)).value
    assert live.state is CallState.CONNECTED
    assert live.agent_id == AGENT_IDS["chloe"]
    agent = (await stack.repository.agents.get(stack.tenant_id, AGENT_IDS["chloe"])).value
    assert agent.activity is AgentActivity.ON_CALL

    stack.clock.advance(95)
    await _after(
        stack, call_id, stack.simulator.hang_up_participant(call_id, AGENT_IDS["chloe"]), 2
    )
    record = await _record(stack, call_id)
    assert record.outcome is CallOutcome.ANSWERED
    assert record.agent_id == AGENT_IDS["chloe"]
    assert record.talk_s == 95
    agent = (await stack.repository.agents.get(stack.tenant_id, AGENT_IDS["chloe"])).value
    assert agent.activity is AgentActivity.WRAP_UP


async def test_serial_always_starts_with_the_first_member(stack: Stack) -> None:
    await _set_queue(stack, SALES, routing_method=RoutingMethod.SERIAL)
    first, call = await _ringing(stack, stack.sales_line)
    assert invited_user_ids(call) == [AGENT_IDS["ana"]]
    call = await _after(
        stack, first, stack.simulator.decline_participant(first, AGENT_IDS["ana"]), 1
    )
    assert invited_user_ids(call) == [AGENT_IDS["ana"], AGENT_IDS["ben"]]
    # The next call starts from the first member again.
    _second, call = await _ringing(stack, stack.sales_line)
    assert invited_user_ids(call) == [AGENT_IDS["ana"]]


async def test_round_robin_rotates_between_calls(stack: Stack) -> None:
    _first, call = await _ringing(stack, stack.support_line)
    _second, call2 = await _ringing(stack, stack.support_line)
    assert invited_user_ids(call) != invited_user_ids(call2)


def ringing_user_ids(call: dict[str, Any]) -> list[str]:
    """Return the users the simulator's call rings now (invitees not yet answered)."""
    return [
        p["identity"]["user"]["id"]
        for p in call["participants"]
        if p["role"] == "invitee" and p["status"] == "ringing"
    ]


SUPPORT_AGENTS = sorted(AGENT_IDS[n] for n in ("chloe", "dev", "eva", "femi"))


async def test_attendant_rings_everyone_and_the_first_to_answer_wins(stack: Stack) -> None:
    await _set_queue(stack, SUPPORT, routing_method=RoutingMethod.ATTENDANT)
    call_id, call = await _ringing(stack, stack.support_line)
    rung = ringing_user_ids(call)
    if stack.silent_points.parallel_invites:
        assert sorted(rung) == SUPPORT_AGENTS
    else:
        # Graph rings one invitee at a time on a peer-to-peer call: so does the host.
        assert len(rung) == 1
    winner = rung[-1]
    call = await _after(stack, call_id, stack.simulator.answer_participant(call_id, winner), 2)
    # Every other invitation cancelled (a roster listing one still ringing removes it again).
    others = set(rung) - {winner}
    removed = set(removed_participants(call))
    assert {
        p["id"] for p in call["participants"] if p["identity"].get("user", {}).get("id") in others
    } <= removed
    assert ringing_user_ids(call) == []
    live = (await stack.repository.calls.get(stack.tenant_id, call_id)).value
    assert live.agent_id == winner
    for other in set(SUPPORT_AGENTS) - {winner}:
        agent = (await stack.repository.agents.get(stack.tenant_id, other)).value
        assert (agent.activity, agent.missed_in_a_row) == (AgentActivity.IDLE, 0), other


async def test_attendant_rings_again_when_nobody_answers_one_by_one_where_graph_says_so(
    stack: Stack,
) -> None:
    await _set_queue(stack, SUPPORT, routing_method=RoutingMethod.ATTENDANT, alert_time_s=20)
    call_id, call = await _ringing(stack, stack.support_line)
    first = ringing_user_ids(call)

    stack.clock.advance(21)
    await stack.engine.fire_due_timers()
    await stack.simulator.wait_until_delivered()

    call = await stack.simulator.call(call_id)
    again = ringing_user_ids(call)
    refused = [r for r in call["requests"] if r["path"].endswith("/invite") and r["status"] == 409]
    if stack.silent_points.parallel_invites:
        assert sorted(first) == sorted(again) == SUPPORT_AGENTS
        assert refused == []
    else:
        # One at a time, each for the whole alert time; Graph refused once, to teach it.
        assert len(first) == len(again) == 1
        assert first != again
        assert len(refused) == 1
    for agent_id in first:
        missed = (await stack.repository.agents.get(stack.tenant_id, agent_id)).value
        assert missed.missed_in_a_row == 1


async def test_ring_timeout_rings_the_next_agent(stack: Stack) -> None:
    await _set_queue(stack, SALES, routing_method=RoutingMethod.SERIAL, alert_time_s=20)
    call_id, call = await _ringing(stack, stack.sales_line)
    assert invited_user_ids(call) == [AGENT_IDS["ana"]]
    stack.clock.advance(21)
    await stack.engine.fire_due_timers()
    call = await stack.simulator.call(call_id)
    assert invited_user_ids(call) == [AGENT_IDS["ana"], AGENT_IDS["ben"]]
    assert len(removed_participants(call)) == 1
    ana = (await stack.repository.agents.get(stack.tenant_id, AGENT_IDS["ana"])).value
    assert ana.missed_in_a_row == 1
    assert ana.activity is AgentActivity.IDLE


async def test_caller_who_hangs_up_while_waiting_is_abandoned(stack: Stack) -> None:
    await _away(stack, "ana", "ben", "chloe")
    placed = await stack.simulator.place_call(
        stack.tenant_id, application_instance_id=stack.sales_line, caller_phone="+14255550111"
    )
    await stack.simulator.wait_for_call(
        placed.id, state="established", notifications=3, timeout_s=10
    )
    live = (await stack.repository.calls.get(stack.tenant_id, placed.id)).value
    assert live.state is CallState.WAITING
    stack.clock.advance(30)
    await _after(stack, placed.id, stack.simulator.hang_up(placed.id), 1)
    record = await _record(stack, placed.id)
    assert record.outcome is CallOutcome.ABANDONED
    assert record.wait_s == 30


async def test_caller_who_hangs_up_while_ringing_is_abandoned_and_the_agent_freed(
    stack: Stack,
) -> None:
    call_id, call = await _ringing(stack, stack.sales_line)
    agent_id = invited_user_ids(call)[0]
    await _after(stack, call_id, stack.simulator.hang_up(call_id), 1)
    record = await _record(stack, call_id)
    assert record.outcome is CallOutcome.ABANDONED
    agent = (await stack.repository.agents.get(stack.tenant_id, agent_id)).value
    assert agent.activity is AgentActivity.IDLE
    assert agent.current_call_id is None


async def test_an_agent_who_declines_is_released_and_the_next_is_rung(stack: Stack) -> None:
    call_id, call = await _ringing(stack, stack.sales_line)
    first = invited_user_ids(call)[0]
    call = await _after(stack, call_id, stack.simulator.decline_participant(call_id, first), 1)
    rung = invited_user_ids(call)
    assert len(rung) == 2
    assert rung[0] == first
    assert rung[1] != first
    agent = (await stack.repository.agents.get(stack.tenant_id, first)).value
    assert agent.activity is AgentActivity.IDLE
