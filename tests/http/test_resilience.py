"""Duplicate and reordered notifications, and a host restart in the middle of a call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from bot.app import Services, create_app
from bot.settings import DEMO_APP_ID
from contactcenter.clock import SystemClock
from contactcenter.model import AgentActivity, CallOutcome, CallState
from simulator import TokenMinter, load_or_create_signing_key
from tests.graph.corpus import documented_fixture, seeded_values
from tests.http.conftest import Stack, invited_user_ids
from tests.http.test_routing import _after, _away, _ringing


def _graph_token(simulator_data_dir: Path, tenant_id: str) -> str:
    """Sign a token exactly as the simulator (standing in for Graph) does."""
    key = load_or_create_signing_key(simulator_data_dir / "simulator" / "signing-key.pem")
    minter = TokenMinter(key, issuer="https://graph.microsoft.com", clock=SystemClock())
    return minter.token_for(DEMO_APP_ID, tenant_id)


def _state_notification(tenant_id: str, call_id: str, state: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.commsNotifications",
        "value": [
            {
                "@odata.type": "#microsoft.graph.commsNotification",
                "changeType": "updated",
                "resourceUrl": f"/communications/calls/{call_id}",
                "resourceData": {
                    "@odata.type": "#microsoft.graph.call",
                    "state": state,
                    "tenantId": tenant_id,
                },
            }
        ],
    }


def _incoming_notification(tenant_id: str, call_id: str, target: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.commsNotifications",
        "value": [
            {
                "@odata.type": "#microsoft.graph.commsNotification",
                "changeType": "created",
                "resourceUrl": f"/communications/calls/{call_id}",
                "resourceData": {
                    "@odata.type": "#microsoft.graph.call",
                    "state": "incoming",
                    "direction": "incoming",
                    "tenantId": tenant_id,
                    "source": {"identity": {"phone": {"id": "+14255550123"}}},
                    "targets": [{"identity": {"applicationInstance": {"id": target}}}],
                },
            }
        ],
    }


async def _post(stack: Stack, token: str, body: dict[str, Any]) -> int:
    response = await stack.host.post(
        "/api/calling",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    return response.status


async def test_duplicate_and_late_notifications_change_nothing(
    stack: Stack, simulator_data_dir: Path
) -> None:
    token = _graph_token(simulator_data_dir, stack.tenant_id)
    call_id, call = await _ringing(stack, stack.sales_line)
    agent_id = invited_user_ids(call)[0]
    await _after(stack, call_id, stack.simulator.answer_participant(call_id, agent_id), 2)
    before = await stack.repository.calls.get(stack.tenant_id, call_id)

    # Graph may deliver again, and out of order: established twice, a late establishing,
    # and the incoming call itself once more.
    for state in ("established", "establishing", "established"):
        assert (
            await _post(stack, token, _state_notification(stack.tenant_id, call_id, state)) == 202
        )
    incoming = _incoming_notification(stack.tenant_id, call_id, stack.sales_line)
    assert await _post(stack, token, incoming) == 202

    after = await stack.repository.calls.get(stack.tenant_id, call_id)
    assert after.value.state is CallState.CONNECTED
    assert after.value.agent_id == agent_id
    assert after.value.answered_at == before.value.answered_at
    call = await stack.simulator.call(call_id)
    assert invited_user_ids(call) == [agent_id]
    assert sum(1 for r in call["requests"] if r["path"].endswith("/answer")) == 1


async def test_notifications_after_the_call_ended_do_not_resurrect_it(
    stack: Stack, simulator_data_dir: Path
) -> None:
    token = _graph_token(simulator_data_dir, stack.tenant_id)
    call_id, call = await _ringing(stack, stack.sales_line)
    await _after(stack, call_id, stack.simulator.hang_up(call_id), 1)
    record = await stack.repository.call_records.get(stack.tenant_id, call_id)
    assert record.value.outcome is CallOutcome.ABANDONED

    for body in (
        _state_notification(stack.tenant_id, call_id, "established"),
        _incoming_notification(stack.tenant_id, call_id, stack.sales_line),
    ):
        assert await _post(stack, token, body) == 202
    assert await stack.repository.calls.find(stack.tenant_id) == []
    again = await stack.repository.call_records.get(stack.tenant_id, call_id)
    assert again.value == record.value
    call = await stack.simulator.call(call_id)
    assert sum(1 for r in call["requests"] if r["path"].endswith("/answer")) == 1


async def test_notifications_for_unknown_calls_are_ignored(
    stack: Stack, simulator_data_dir: Path
) -> None:
    token = _graph_token(simulator_data_dir, stack.tenant_id)
    body = _state_notification(
        stack.tenant_id, "6a0e8a52-0000-4000-8000-000000000000", "established"
    )
    assert await _post(stack, token, body) == 202
    assert await stack.repository.calls.find(stack.tenant_id) == []


async def test_malformed_json_gets_400_and_changes_nothing(
    stack: Stack, simulator_data_dir: Path
) -> None:
    token = _graph_token(simulator_data_dir, stack.tenant_id)
    response = await stack.host.post(
        "/api/calling",
        data=b'{"value": [',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalidNotification"
    assert await stack.repository.calls.find(stack.tenant_id) == []


async def test_a_malformed_notification_is_skipped_and_the_rest_of_its_batch_applies(
    stack: Stack, simulator_data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = _graph_token(simulator_data_dir, stack.tenant_id)
    call_id, call = await _ringing(stack, stack.sales_line)
    agent_id = invited_user_ids(call)[0]
    invite = next(op for op in call["operations"] if op["type"] == "inviteParticipantsOperation")
    joined = documented_fixture("invite-completed.json").render(
        seeded_values(
            callId=call_id,
            agentUserId=agent_id,
            operationId=invite["id"],
            clientContext=invite["clientContext"],
        )
    )
    bad = {
        "changeType": "updated",
        "resourceUrl": f"/communications/calls/{call_id}",
        "resourceData": {"state": 5},
    }
    unknown = {
        "changeType": "updated",
        "resourceUrl": "/communications/onlineMeetings/6a0e8a52",
        "resourceData": {"futureKey": True},
        "futureKey": [],
    }
    body = {**joined, "futureKey": 1, "value": [bad, *joined["value"], unknown]}

    assert await _post(stack, token, body) == 202

    live = (await stack.repository.calls.get(stack.tenant_id, call_id)).value
    assert (live.state, live.agent_id) == (CallState.CONNECTED, agent_id)
    skipped = [r for r in caplog.records if r.name == "graph.notifications"]
    # The malformed one is told of once, with its call id; the unknown one is not.
    assert [(r.levelname, getattr(r, "call_id", None)) for r in skipped] == [("WARNING", call_id)]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[]", id="an-array"),
        pytest.param(b'{"value": {}}', id="value-not-a-list"),
        pytest.param(b'{"@odata.type": "#microsoft.graph.commsNotifications"}', id="no-value"),
    ],
)
async def test_a_body_that_is_not_a_notification_batch_gets_400_with_our_error_body(
    stack: Stack, simulator_data_dir: Path, body: bytes
) -> None:
    token = _graph_token(simulator_data_dir, stack.tenant_id)
    response = await stack.host.post(
        "/api/calling",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status == 400
    error = (await response.json())["error"]
    assert set(error) == {"code", "message"}
    assert error["code"] == "invalidNotification"


async def test_a_host_restart_mid_call_loses_nothing(
    stack: Stack, aiohttp_client: AiohttpClient
) -> None:
    call_id, call = await _ringing(stack, stack.sales_line)
    agent_id = invited_user_ids(call)[0]
    port = stack.host.port
    await stack.host.close()

    # A new host process on the same data dir and address takes over the call.
    restarted = create_app(stack.settings, Services(clock=stack.clock, run_timers=False))
    stack.host = await aiohttp_client(restarted, server_kwargs={"port": port})
    await _after(stack, call_id, stack.simulator.answer_participant(call_id, agent_id), 2)
    live = (await stack.repository.calls.get(stack.tenant_id, call_id)).value
    assert live.state is CallState.CONNECTED
    stack.clock.advance(30)
    await _after(stack, call_id, stack.simulator.hang_up_participant(call_id, agent_id), 2)
    record = (await stack.repository.call_records.get(stack.tenant_id, call_id)).value
    assert record.outcome is CallOutcome.ANSWERED
    assert record.talk_s == 30
    agent = (await stack.repository.agents.get(stack.tenant_id, agent_id)).value
    assert agent.activity is AgentActivity.WRAP_UP


# ------------------------------------------------------------- lost notifications
async def _wait_in_sales(stack: Stack) -> str:
    """Place a call to Sales while nobody there can take it; return its id once it waits."""
    await _away(stack, "ana", "ben", "chloe")
    placed = await stack.simulator.place_call(
        stack.tenant_id, application_instance_id=stack.sales_line, caller_phone="+14255550123"
    )
    await stack.simulator.wait_for_call(placed.id, state="established", notifications=3)
    live = await stack.repository.calls.get(stack.tenant_id, placed.id)
    assert live.value.state is CallState.WAITING
    return placed.id


async def test_a_waiting_callers_lost_hang_up_still_ends_the_call_as_abandoned(
    stack: Stack,
) -> None:
    call_id = await _wait_in_sales(stack)
    await stack.simulator.drop_notifications(call_id=call_id, state="terminated")
    await _after(stack, call_id, stack.simulator.hang_up(call_id), 1)
    sim = await stack.simulator.call(call_id)
    assert sim["notifications"][-1]["error"].startswith("lost")
    assert (await stack.repository.calls.get(stack.tenant_id, call_id)).value.state in (
        CallState.WAITING,
        CallState.RINGING,
    )

    # The next thing the host does with the call (at the latest its keepAlive, due every
    # 15 minutes) finds it gone at Graph.
    stack.clock.advance(stack.engine.settings.keep_alive_s)
    await stack.engine.fire_due_timers()

    assert await stack.repository.calls.find(stack.tenant_id) == []
    record = (await stack.repository.call_records.get(stack.tenant_id, call_id)).value
    assert record.outcome is CallOutcome.ABANDONED


async def test_a_talk_whose_notifications_are_all_lost_ends_at_the_next_keep_alive(
    stack: Stack,
) -> None:
    call_id, call = await _ringing(stack, stack.sales_line)
    agent_id = invited_user_ids(call)[0]
    await _after(stack, call_id, stack.simulator.answer_participant(call_id, agent_id), 2)
    await stack.simulator.drop_notifications(call_id=call_id, count=None)
    # The caller leaves the group call, then the agent: the bot, alone, is out of it too.
    await stack.simulator.hang_up(call_id)
    await stack.simulator.hang_up_participant(call_id, agent_id)
    assert (await stack.simulator.call(call_id))["state"] == "terminated"
    assert (await stack.repository.calls.get(stack.tenant_id, call_id)).value.state is (
        CallState.CONNECTED
    )

    # Nothing tells the host; its keepAlive (due every 15 minutes) learns the call is gone.
    stack.clock.advance(stack.engine.settings.keep_alive_s)
    await stack.engine.fire_due_timers()

    assert await stack.repository.calls.find(stack.tenant_id) == []
    record = (await stack.repository.call_records.get(stack.tenant_id, call_id)).value
    assert record.outcome is CallOutcome.ANSWERED
    assert record.agent_id == agent_id
    agent = (await stack.repository.agents.get(stack.tenant_id, agent_id)).value
    assert agent.current_call_id is None
    assert agent.activity in (AgentActivity.WRAP_UP, AgentActivity.IDLE)
