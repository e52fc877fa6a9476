"""Agents hand talks on, end to end against the simulator's group-call rules.

A transfer to another agent invites the target into the group call and removes the first
agent once the target joined; a transfer to a queue removes the agent at once and offers
the caller to the target queue's agents. Whoever is left in the simulator's call shows it.
"""

from __future__ import annotations

from typing import Any

from contactcenter.model import AgentActivity, CallOutcome, CallState
from contactcenter.records import leg_record_id
from tests.http.conftest import Stack, invited_user_ids
from tests.http.test_routing import AGENT_IDS, SUPPORT, _after, _away, _ringing


def _people_in(call: dict[str, Any]) -> dict[str, str]:
    """Return who is in (or being rung into) the simulator's call: role by user id or number."""
    found: dict[str, str] = {}
    for participant in call["participants"]:
        if participant["status"] not in {"ringing", "joined"} or participant["role"] == "bot":
            continue
        identity = participant["identity"]
        person = (identity.get("user") or identity.get("phone") or {}).get("id", "")
        found[person] = participant["status"]
    return found


async def _talking_with_chloe(stack: Stack) -> str:
    await _away(stack, "ana", "ben")
    call_id, call = await _ringing(stack, stack.sales_line)
    assert invited_user_ids(call) == [AGENT_IDS["chloe"]]
    await _after(stack, call_id, stack.simulator.answer_participant(call_id, AGENT_IDS["chloe"]), 2)
    stack.clock.advance(45)
    return call_id


async def test_a_transfer_to_an_agent_leaves_exactly_the_caller_and_the_new_agent(
    stack: Stack,
) -> None:
    call_id = await _talking_with_chloe(stack)
    dev = AGENT_IDS["dev"]

    await stack.engine.transfer_to_agent(stack.tenant_id, call_id, AGENT_IDS["chloe"], dev)
    await stack.simulator.wait_until_delivered()
    assert invited_user_ids(await stack.simulator.call(call_id))[-1] == dev
    await _after(stack, call_id, stack.simulator.answer_participant(call_id, dev), 2)
    await stack.simulator.wait_until_delivered()

    call = await stack.simulator.call(call_id)
    assert call["state"] == "established"
    assert _people_in(call) == {"+14255550123": "joined", dev: "joined"}
    live = (await stack.repository.calls.get(stack.tenant_id, call_id)).value
    assert (live.state, live.agent_id) == (CallState.CONNECTED, dev)
    chloe = (await stack.repository.agents.get(stack.tenant_id, AGENT_IDS["chloe"])).value
    assert chloe.activity is AgentActivity.WRAP_UP
    leg = (
        await stack.repository.call_records.get(stack.tenant_id, leg_record_id(call_id, 1))
    ).value
    assert (leg.agent_id, leg.outcome, leg.talk_s) == (
        AGENT_IDS["chloe"],
        CallOutcome.ANSWERED,
        45,
    )


async def test_a_call_transferred_to_a_queue_reaches_an_agent_there(stack: Stack) -> None:
    call_id = await _talking_with_chloe(stack)
    await _away(stack, "dev", "femi")

    await stack.engine.transfer_to_queue(stack.tenant_id, call_id, AGENT_IDS["chloe"], SUPPORT)
    await stack.simulator.wait_until_delivered()

    call = await stack.simulator.call(call_id)
    eva = AGENT_IDS["eva"]
    assert invited_user_ids(call)[-1] == eva
    assert _people_in(call) == {"+14255550123": "joined", eva: "ringing"}
    await _after(stack, call_id, stack.simulator.answer_participant(call_id, eva), 2)
    await stack.simulator.wait_until_delivered()

    assert _people_in(await stack.simulator.call(call_id)) == {
        "+14255550123": "joined",
        eva: "joined",
    }
    live = (await stack.repository.calls.get(stack.tenant_id, call_id)).value
    assert (live.state, live.queue_id, live.agent_id) == (CallState.CONNECTED, SUPPORT, eva)
