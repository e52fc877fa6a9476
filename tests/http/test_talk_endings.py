"""A talk ended by either side leaves nobody in the call at Graph.

Once the agent joined, the call is a group call: the bot's hanging up would end only its
own leg, so whoever ended the talk, the host removes everyone else and then leaves. The
simulator follows Graph's rules for group calls (docs/ringing.md), so a participant left
talking to nobody would show here.
"""

from __future__ import annotations

from typing import Any

from contactcenter.model import AgentActivity, CallOutcome
from tests.http.conftest import Stack, invited_user_ids
from tests.http.test_routing import _after, _ringing


async def _talking(stack: Stack) -> tuple[str, str]:
    """Return a call whose caller talks with the agent who answered it, and that agent."""
    call_id, call = await _ringing(stack, stack.sales_line)
    agent_id = invited_user_ids(call)[0]
    await _after(stack, call_id, stack.simulator.answer_participant(call_id, agent_id), 2)
    stack.clock.advance(60)
    return call_id, agent_id


def _still_in(call: dict[str, Any]) -> list[str]:
    """Return the roles of whoever is still in (or being rung into) the simulator's call."""
    return [p["role"] for p in call["participants"] if p["status"] in {"ringing", "joined"}]


def _endings(call: dict[str, Any]) -> list[str]:
    """Return the bot's DELETE requests on the call: participants removed, then the call."""
    return [
        "participant" if "/participants/" in r["path"] else "call"
        for r in call["requests"]
        if r["method"] == "DELETE"
    ]


async def _ended(stack: Stack, call_id: str) -> dict[str, Any]:
    await stack.simulator.wait_until_delivered()
    return await stack.simulator.wait_for_call(call_id, state="terminated", timeout_s=10)


async def _assert_talk_recorded(stack: Stack, call_id: str, agent_id: str, reason: str) -> None:
    record = (await stack.repository.call_records.get(stack.tenant_id, call_id)).value
    assert record.outcome is CallOutcome.ANSWERED
    assert record.talk_s == 60
    assert record.leave_reason == reason
    agent = (await stack.repository.agents.get(stack.tenant_id, agent_id)).value
    assert agent.activity is AgentActivity.WRAP_UP
    assert await stack.repository.calls.find(stack.tenant_id) == []


async def test_a_caller_who_hangs_up_leaves_nobody_in_the_call(stack: Stack) -> None:
    call_id, agent_id = await _talking(stack)

    await stack.simulator.hang_up(call_id)

    call = await _ended(stack, call_id)
    assert _still_in(call) == []
    # The host removed the agent, and was then alone in the call (200/5010).
    assert _endings(call) == ["participant", "call"]
    assert call["resultInfo"]["subcode"] == 5010
    await _assert_talk_recorded(stack, call_id, agent_id, "caller hung up")


async def test_an_agent_who_hangs_up_leaves_nobody_in_the_call(stack: Stack) -> None:
    call_id, agent_id = await _talking(stack)

    await stack.simulator.hang_up_participant(call_id, agent_id)

    call = await _ended(stack, call_id)
    assert _still_in(call) == []
    assert _endings(call) == ["participant", "call"]
    await _assert_talk_recorded(stack, call_id, agent_id, "agent hung up")


async def test_a_talk_the_contact_center_ends_leaves_nobody_in_the_call(stack: Stack) -> None:
    call_id, agent_id = await _talking(stack)

    assert await stack.engine.end_talk(stack.tenant_id, call_id)

    call = await _ended(stack, call_id)
    assert _still_in(call) == []
    # The caller and the agent removed, then the call left (Graph had ended it by then).
    assert _endings(call) == ["participant", "participant", "call"]
    await _assert_talk_recorded(stack, call_id, agent_id, "ended by the contact center")


async def test_a_call_that_is_not_a_talk_is_not_ended_as_one(stack: Stack) -> None:
    call_id, _call = await _ringing(stack, stack.sales_line)

    assert not await stack.engine.end_talk(stack.tenant_id, call_id)

    assert (await stack.simulator.call(call_id))["state"] == "established"
