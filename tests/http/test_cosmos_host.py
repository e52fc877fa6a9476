"""The same host on Cosmos DB: a call is answered, routed, connected and recorded."""

from __future__ import annotations

import pytest

from contactcenter.model import AgentActivity, CallOutcome, CallState
from tests.http.conftest import Stack, invited_user_ids
from tests.http.test_routing import _after, _ringing

pytestmark = pytest.mark.cosmos


async def test_a_call_is_routed_and_recorded_on_cosmos(cosmos_stack: Stack) -> None:
    stack = cosmos_stack
    call_id, call = await _ringing(stack, stack.sales_line)
    agent_id = invited_user_ids(call)[0]
    await _after(stack, call_id, stack.simulator.answer_participant(call_id, agent_id), 2)
    live = (await stack.repository.calls.get(stack.tenant_id, call_id)).value
    assert live.state is CallState.CONNECTED
    stack.clock.advance(42)
    await _after(stack, call_id, stack.simulator.hang_up_participant(call_id, agent_id), 2)
    record = (await stack.repository.call_records.get(stack.tenant_id, call_id)).value
    assert record.outcome is CallOutcome.ANSWERED
    assert record.talk_s == 42
    agent = (await stack.repository.agents.get(stack.tenant_id, agent_id)).value
    assert agent.activity is AgentActivity.WRAP_UP
