"""Where the bot may not invite agents, it transfers the caller to them instead.

The simulator refuses ``participants/invite`` (403) once ``Calls.InitiateGroupCall.All`` is
no longer granted; the host then transfers the call, and learns the talk's end from the
agent's presence, since the bot is out of the call.
"""

from __future__ import annotations

from typing import Any

from bot import keys
from bot.presence import PresencePoller
from contactcenter.model import AgentActivity, CallOutcome, CallState, RoutingMethod
from tests.http.conftest import Stack
from tests.http.test_routing import SALES, _set_queue

INVITE_PERMISSION = "Calls.InitiateGroupCall.All"


def _poller(stack: Stack) -> PresencePoller:
    app = stack.host.app
    return PresencePoller(app[keys.REPOSITORY], app[keys.PRESENCE], app[keys.ENGINE])


async def _without_invite_permission(stack: Stack) -> None:
    granted = await stack.simulator.granted_app_roles()
    await stack.simulator.set_granted_app_roles([r for r in granted if r != INVITE_PERMISSION])


async def _transferring(stack: Stack) -> tuple[str, str, dict[str, Any]]:
    """Place a sales call; return it, the agent it is transferred to, and the simulator's call."""
    placed = await stack.simulator.place_call(
        stack.tenant_id, application_instance_id=stack.sales_line, caller_phone="+14255550123"
    )
    await stack.simulator.wait_for_call(
        placed.id, state="transferring", notifications=3, timeout_s=10
    )
    await stack.simulator.wait_until_delivered()
    call = await stack.simulator.call(placed.id)
    [target] = [p for p in call["participants"] if p["role"] == "transferTarget"]
    return placed.id, target["identity"]["user"]["id"], call


async def test_an_agent_the_bot_may_not_invite_takes_the_call_by_transfer(stack: Stack) -> None:
    await _set_queue(stack, SALES, routing_method=RoutingMethod.SERIAL)
    await _without_invite_permission(stack)
    poller = _poller(stack)
    await poller.poll_once()

    call_id, agent_id, call = await _transferring(stack)

    assert [r["status"] for r in call["requests"] if r["path"].endswith("/invite")] == [403]
    await stack.simulator.answer_participant(call_id, agent_id)
    await stack.simulator.wait_for_call(call_id, state="terminated", timeout_s=10)
    await stack.simulator.wait_until_delivered()
    live = (await stack.repository.calls.get(stack.tenant_id, call_id)).value
    assert (live.state, live.agent_id, live.handed_over) == (CallState.CONNECTED, agent_id, True)

    # Teams shows the agent in a call while they talk, and no longer once they hang up.
    assert await poller.poll_once() == 1
    assert (await stack.repository.agents.get(stack.tenant_id, agent_id)).value.presence == (
        "InACall"
    )
    await stack.simulator.hang_up_participant(call_id, agent_id)
    assert await poller.poll_once() == 1

    record = (await stack.repository.call_records.get(stack.tenant_id, call_id)).value
    assert (record.outcome, record.leave_reason, record.agent_id) == (
        CallOutcome.ANSWERED,
        "transferred",
        agent_id,
    )
    assert (record.result_code, record.result_subcode) == (0, 7015)
    agent = (await stack.repository.agents.get(stack.tenant_id, agent_id)).value
    assert (agent.activity, agent.current_call_id) == (AgentActivity.WRAP_UP, None)


async def test_a_declined_transfer_rings_the_next_agent_by_transfer(stack: Stack) -> None:
    await _set_queue(stack, SALES, routing_method=RoutingMethod.SERIAL)
    await _without_invite_permission(stack)

    call_id, first, _ = await _transferring(stack)
    await stack.simulator.decline_participant(call_id, first)
    await stack.simulator.wait_until_delivered()

    call = await stack.simulator.call(call_id)
    targets = [
        p["identity"]["user"]["id"] for p in call["participants"] if p["role"] == "transferTarget"
    ]
    assert len(targets) == 2
    assert targets[0] == first
    assert targets[1] != first
    agent = (await stack.repository.agents.get(stack.tenant_id, first)).value
    assert agent.activity is AgentActivity.IDLE
