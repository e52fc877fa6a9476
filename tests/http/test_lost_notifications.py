"""Notifications Graph sent and nobody got: the host still learns what they said.

The simulator loses a notification for good (``drop_notifications``), as a host that is
down or restarting would; the host then reads who is in its talks (every
``reconcile_s``, a minute at most) and records calls it never heard of.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pytest_aiohttp import AiohttpClient

from bot.app import Services, create_app
from contactcenter.events import CallStateChanged, GraphCallState
from contactcenter.model import AgentActivity, CallOutcome, CallState
from contactcenter.reports import CallFilter, ReportPeriod, ReportScope, call_page
from tests.http.conftest import Stack
from tests.http.test_routing import _after, _ringing, ringing_user_ids

# Each test rings an agent or reads a roster: each runs under every way Graph may go.
pytestmark = pytest.mark.silent_points


async def _talking(stack: Stack) -> tuple[str, str]:
    """Return a call whose caller talks with the agent who answered it, and that agent."""
    call_id, call = await _ringing(stack, stack.sales_line)
    [agent_id] = ringing_user_ids(call)
    await _after(stack, call_id, stack.simulator.answer_participant(call_id, agent_id), 2)
    live = (await stack.repository.calls.get(stack.tenant_id, call_id)).value
    assert (live.state, live.agent_id) == (CallState.CONNECTED, agent_id)
    return call_id, agent_id


async def _lose_the_next_roster(stack: Stack, call_id: str) -> None:
    await stack.simulator.drop_notifications(call_id=call_id, change_type="updated")


async def _a_minute_later(stack: Stack, call_id: str) -> dict[str, Any]:
    """Let the host's timers run one reconcile interval on; return the simulator's call."""
    assert stack.engine.settings.reconcile_s <= 60
    stack.clock.advance(stack.engine.settings.reconcile_s)
    await stack.engine.fire_due_timers()
    await stack.simulator.wait_until_delivered()
    return await stack.simulator.wait_for_call(call_id, state="terminated", timeout_s=10)


def _status(call: dict[str, Any], role: str) -> str:
    [participant] = [p for p in call["participants"] if p["role"] == role]
    status: str = participant["status"]
    return status


async def _recorded(stack: Stack, call_id: str) -> Any:
    return (await stack.repository.call_records.get(stack.tenant_id, call_id)).value


async def test_an_agent_who_hung_up_unheard_is_free_and_the_caller_let_go_within_a_minute(
    stack: Stack,
) -> None:
    call_id, agent_id = await _talking(stack)
    await _lose_the_next_roster(stack, call_id)

    await stack.simulator.hang_up_participant(call_id, agent_id)

    call = await stack.simulator.call(call_id)
    assert call["notifications"][-1]["error"].startswith("lost")
    assert _status(call, "caller") == "joined"
    call = await _a_minute_later(stack, call_id)
    # The caller's leg ended: the host removed them, then left a call with nobody else.
    assert _status(call, "caller") == "left"
    agent = (await stack.repository.agents.get(stack.tenant_id, agent_id)).value
    assert agent.current_call_id is None
    assert agent.activity is AgentActivity.WRAP_UP
    record = await _recorded(stack, call_id)
    assert (record.outcome, record.leave_reason) == (CallOutcome.ANSWERED, "agent hung up")


async def test_a_caller_who_hung_up_unheard_frees_the_agent_within_a_minute(
    stack: Stack,
) -> None:
    call_id, agent_id = await _talking(stack)
    await _lose_the_next_roster(stack, call_id)

    # In a group call the caller only leaves: the agent stays, talking to nobody.
    await stack.simulator.hang_up(call_id)

    call = await stack.simulator.call(call_id)
    assert call["notifications"][-1]["error"].startswith("lost")
    assert _status(call, "invitee") == "joined"
    call = await _a_minute_later(stack, call_id)
    assert _status(call, "invitee") == "left"
    agent = (await stack.repository.agents.get(stack.tenant_id, agent_id)).value
    assert agent.current_call_id is None
    assert agent.activity is AgentActivity.WRAP_UP
    record = await _recorded(stack, call_id)
    assert (record.outcome, record.leave_reason) == (CallOutcome.ANSWERED, "caller hung up")


async def test_a_call_whose_incoming_a_restarting_host_missed_is_in_the_reports(
    stack: Stack, aiohttp_client: AiohttpClient
) -> None:
    port = stack.host.port
    await stack.host.close()
    placed = await stack.simulator.place_call(
        stack.tenant_id, application_instance_id=stack.sales_line, caller_phone="+14255550123"
    )
    # Nobody took the incoming notification: the host was down.
    assert placed.webhook_status is None
    restarted = create_app(stack.settings, Services(clock=stack.clock, run_timers=False))
    stack.host = await aiohttp_client(restarted, server_kwargs={"port": port})

    # The caller gives up on a call nobody answers: Graph ends it, and says so to the host.
    await stack.simulator.hang_up(placed.id)
    await stack.simulator.wait_until_delivered()

    record = await _recorded(stack, placed.id)
    assert (record.outcome, record.leave_reason) == (
        CallOutcome.ABANDONED,
        "no host knew the call: caller hung up",
    )
    assert (record.result_code, record.result_subcode) == (200, 540000)
    tenant = (await stack.repository.tenants.get(stack.tenant_id, stack.tenant_id)).value
    zone = tenant.time_zone or "UTC"
    day = record.ended_at.astimezone(ZoneInfo(zone)).date()
    page = await call_page(
        stack.repository,
        stack.tenant_id,
        ReportPeriod.of(day, day, zone),
        ReportScope(),
        CallFilter(),
    )
    assert [r.id for r in page.records] == [placed.id]
    # The same notification again (Graph delivers at least once) records nothing more.
    ended = CallStateChanged(stack.tenant_id, placed.id, GraphCallState.TERMINATED, 200, 540000)
    await stack.engine.handle(ended)
    assert [r.value for r in await stack.repository.call_records.find(stack.tenant_id)] == [record]
