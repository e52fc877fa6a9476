"""Overflow, timeout and no-agent actions, shared voicemail and callbacks, end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from contactcenter.callbacks import callback_id
from contactcenter.errors import InvalidInput, NotFound
from contactcenter.model import (
    ActionKind,
    AgentActivity,
    AgentStatus,
    CallbackOrder,
    CallbackSettings,
    CallbackStatus,
    CallOutcome,
    CallState,
    QueueAction,
)
from contactcenter.voicemail import mark_handled, voicemails_of
from tests.http.caller_stack import (
    AGENT_IDS,
    CALLER,
    SALES,
    SUPPORT,
    CallerStack,
    played,
    requested,
    start_caller_stack,
)
from tests.http.conftest import invited_user_ids

FRONT_DESK = "+14255550177"
SUPPORT_AGENTS = ("chloe", "dev", "eva", "femi")


@pytest.fixture
async def stack(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    simulator_data_dir: Path,
) -> AsyncIterator[CallerStack]:
    async for running in start_caller_stack(
        aiohttp_server, aiohttp_client, tmp_path, simulator_data_dir
    ):
        yield running


async def _sign_out(stack: CallerStack, *names: str) -> None:
    for name in names:
        await stack.engine.sign_out(stack.tenant_id, AGENT_IDS[name])


async def _timed_out(stack: CallerStack, call_id: str) -> dict[str, Any]:
    """Let the call's maximum wait pass; wait for the music it cut short to end."""
    before = len((await stack.sim_call(call_id))["notifications"])
    await stack.fire_timers(31)
    return await stack.simulator.wait_for_call(call_id, notifications=before + 1, timeout_s=10)


# ---------------------------------------------------------------------- actions
async def test_no_agent_disconnects_with_a_prompt(stack: CallerStack) -> None:
    await _sign_out(stack, "ana", "ben", "chloe")
    call_id = await stack.dial(stack.sales_line)

    assert played(await stack.sim_call(call_id)) == [["std.en-US.unavailable"]]
    call = await stack.after(call_id, stack.simulator.complete_media(call_id), 1)
    assert [r["method"] for r in call["requests"]][-1] == "DELETE"
    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.NO_AGENT
    assert record.leave_reason == "no-agent: disconnected"


async def test_overflow_to_another_queue_keeps_the_place_and_priority(stack: CallerStack) -> None:
    await stack.set_queue(SALES, max_size=0, priority=5)
    call_id = await stack.dial(stack.sales_line)

    live = await stack.live(call_id)
    assert live.queue_id == SUPPORT
    assert live.queue_hops == (SALES,)
    assert live.priority == 5
    assert len(invited_user_ids(await stack.sim_call(call_id))) == 1


async def test_overflow_redirects_to_a_number(stack: CallerStack) -> None:
    overflow = QueueAction(ActionKind.REDIRECT_NUMBER, target=FRONT_DESK)
    await stack.set_queue(SALES, max_size=0, overflow_action=overflow)
    call_id = await stack.dial(stack.sales_line)
    assert played(await stack.sim_call(call_id)) == [["std.en-US.transferring"]]

    call = await stack.after(call_id, stack.simulator.complete_media(call_id), 2)
    [transfer] = requested(call, "/transfer")
    assert transfer["transferTarget"]["identity"]["phone"]["id"] == FRONT_DESK
    await stack.after(call_id, stack.simulator.answer_participant(call_id, FRONT_DESK), 2)

    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.OVERFLOWED
    assert record.leave_reason == f"overflow: transferred to {FRONT_DESK}"


async def test_timeout_redirects_to_a_user(stack: CallerStack) -> None:
    timeout = QueueAction(ActionKind.REDIRECT_USER, target=AGENT_IDS["dev"])
    await stack.set_queue(SALES, max_wait_s=30, timeout_action=timeout)
    await stack.away("ana", "ben", "chloe")
    call_id = await stack.dial(stack.sales_line)
    call = await _timed_out(stack, call_id)
    assert played(call)[-1] == ["std.en-US.transferring"]

    await stack.after(call_id, stack.simulator.complete_media(call_id), 2)
    await stack.after(call_id, stack.simulator.answer_participant(call_id, AGENT_IDS["dev"]), 2)

    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.TIMED_OUT
    assert record.wait_s == 31


async def test_a_transfer_nobody_takes_ends_the_call_with_its_outcome(stack: CallerStack) -> None:
    timeout = QueueAction(ActionKind.REDIRECT_USER, target=AGENT_IDS["dev"])
    await stack.set_queue(SALES, max_wait_s=30, timeout_action=timeout)
    await stack.away("ana", "ben", "chloe")
    call_id = await stack.dial(stack.sales_line)
    await _timed_out(stack, call_id)
    await stack.after(call_id, stack.simulator.complete_media(call_id), 2)

    # Dev declines: the call is back with the bot ("established" with 603).
    await stack.after(call_id, stack.simulator.decline_participant(call_id, AGENT_IDS["dev"]), 1)
    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.TIMED_OUT
    assert "transfer failed: 603" in record.leave_reason


async def test_no_agent_takes_a_voicemail_that_is_handled_once(stack: CallerStack) -> None:
    await _sign_out(stack, *SUPPORT_AGENTS)
    call_id = await stack.dial(stack.support_line)
    call = await stack.sim_call(call_id)
    [recording] = requested(call, "/recordResponse")
    assert recording["prompts"][0]["mediaInfo"]["resourceId"] == "std.en-US.voicemail"

    await stack.after(call_id, stack.simulator.record(call_id, 12), 1)
    await stack.after(call_id, stack.simulator.complete_media(call_id), 1)

    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.VOICEMAIL
    assert record.leave_reason == "no-agent: voicemail: message left"
    [(voicemail, agents)] = stack.notifier.voicemails
    assert voicemail.queue_id == SUPPORT
    assert sorted(agents) == sorted(AGENT_IDS[n] for n in SUPPORT_AGENTS)
    assert voicemail.duration_s == pytest.approx(12)

    assert [
        v.value.id
        for v in await voicemails_of(
            stack.repository, stack.tenant_id, SUPPORT, unhandled_only=True
        )
    ] == [voicemail.id]
    now = stack.clock.now()
    await mark_handled(stack.repository, stack.tenant_id, voicemail.id, AGENT_IDS["eva"], now)
    with pytest.raises(InvalidInput):
        await mark_handled(stack.repository, stack.tenant_id, voicemail.id, AGENT_IDS["dev"], now)
    assert (
        await voicemails_of(stack.repository, stack.tenant_id, SUPPORT, unhandled_only=True) == []
    )


async def test_a_caller_who_hangs_up_before_the_tone_leaves_no_voicemail(
    stack: CallerStack,
) -> None:
    await _sign_out(stack, *SUPPORT_AGENTS)
    call_id = await stack.dial(stack.support_line)
    await stack.after(call_id, stack.simulator.hang_up(call_id), 1)

    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.NO_AGENT
    assert record.voicemail_id is None
    assert stack.notifier.voicemails == []


# -------------------------------------------------------------------- callbacks
async def _dial_leg(stack: CallerStack, line_id: str) -> str:
    """Return the outbound call of the callback's latest attempt."""
    line = await stack.live(line_id)
    assert line.state is CallState.RINGING
    assert line.callback is not None
    leg: str = line.callback.attempts[-1].call_id
    assert leg
    return leg


async def test_a_waiting_caller_keeps_their_place_and_is_called_back(stack: CallerStack) -> None:
    await stack.away(*SUPPORT_AGENTS)
    call_id = await stack.dial(stack.support_line)
    assert (await stack.sim_call(call_id))["tonesSubscribed"]
    offered_at = (await stack.live(call_id)).offered_at

    # The key, and the music it cut short.
    call = await stack.after(call_id, stack.simulator.press_tones(call_id, "1"), 2)
    assert played(call)[-1] == ["std.en-US.callback-confirmed"]
    await stack.after(call_id, stack.simulator.complete_media(call_id), 1)

    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.CALLBACK_REQUESTED
    line_id = callback_id(call_id)
    assert record.callback_request_id == line_id
    line = await stack.live(line_id)
    assert line.state is CallState.SCHEDULED
    assert line.offered_at == offered_at
    # The queue's agents hear of it once.
    support = (await stack.repository.queues.get(stack.tenant_id, SUPPORT)).value
    assert [(w.id, agents) for w, agents in stack.notifier.callbacks_waiting] == [
        (line_id, support.members)
    ]

    await stack.engine.set_status(stack.tenant_id, AGENT_IDS["dev"], AgentStatus.AVAILABLE)
    await stack.fire_timers(16)
    leg = await _dial_leg(stack, line_id)
    outbound = await stack.sim_call(leg)
    assert outbound["direction"] == "outgoing"
    assert outbound["targets"][0]["identity"]["phone"]["id"] == CALLER

    await stack.simulator.answer_call(leg)
    outbound = await stack.simulator.wait_for_call(leg, state="established", notifications=2)
    assert invited_user_ids(outbound) == [AGENT_IDS["dev"]]
    assert played(outbound)[-1][0] == "std.en-US.callback-intro"
    await stack.after(leg, stack.simulator.answer_participant(leg, AGENT_IDS["dev"]), 3)
    stack.clock.advance(60)
    await stack.after(leg, stack.simulator.hang_up_participant(leg, AGENT_IDS["dev"]), 2)

    talk = await stack.record(leg)
    assert talk.outcome is CallOutcome.ANSWERED
    assert talk.direction == "outbound"
    assert talk.callback_request_id == line_id
    assert talk.offered_at == offered_at
    request = (await stack.repository.callbacks.get(stack.tenant_id, line_id)).value
    assert request.status is CallbackStatus.CONNECTED
    assert request.connected_call_id == leg
    assert request.agent_id == AGENT_IDS["dev"]
    assert [(a.number, a.result) for a in request.attempts] == [(1, "answered")]
    assert stack.notifier.callbacks_ended == [request]


async def test_a_callback_nobody_answers_fails_after_its_attempts(stack: CallerStack) -> None:
    settings = CallbackSettings(offered=False, max_attempts=2, retry_s=60)
    await stack.set_queue(SUPPORT, max_wait_s=30, callback=settings)
    await stack.away(*SUPPORT_AGENTS)
    call_id = await stack.dial(stack.support_line)

    # Waited too long: Support offers a callback (its timeout action).
    call = await _timed_out(stack, call_id)
    assert played(call)[-1] == ["std.en-US.callback-offer", "std.en-US.number-1"]
    await stack.after(call_id, stack.simulator.complete_media(call_id), 1)
    await stack.after(call_id, stack.simulator.press_tones(call_id, "1"), 1)
    await stack.after(call_id, stack.simulator.complete_media(call_id), 1)
    assert (await stack.record(call_id)).outcome is CallOutcome.CALLBACK_REQUESTED
    line_id = callback_id(call_id)

    await stack.engine.set_status(stack.tenant_id, AGENT_IDS["eva"], AgentStatus.AVAILABLE)
    await stack.fire_timers(16)
    for attempt in (1, 2):
        leg = await _dial_leg(stack, line_id)
        await stack.simulator.decline_participant(leg, CALLER)
        await stack.simulator.wait_for_call(leg, state="terminated", notifications=2)
        assert (await stack.record(leg)).outcome is CallOutcome.FAILED
        eva = (await stack.repository.agents.get(stack.tenant_id, AGENT_IDS["eva"])).value
        assert eva.activity is AgentActivity.IDLE
        assert eva.missed_in_a_row == 0
        if attempt == 1:
            assert (await stack.live(line_id)).state is CallState.SCHEDULED
            await stack.fire_timers(61)

    request = (await stack.repository.callbacks.get(stack.tenant_id, line_id)).value
    assert request.status is CallbackStatus.FAILED
    assert stack.notifier.callbacks_ended == [request]
    assert [a.result for a in request.attempts] == ["not answered (603)"] * 2
    with pytest.raises(NotFound):
        await stack.live(line_id)


async def test_a_caller_without_a_number_cannot_ask_for_a_callback(stack: CallerStack) -> None:
    await stack.away(*SUPPORT_AGENTS)
    placed = await stack.simulator.place_call(
        stack.tenant_id,
        application_instance_id=stack.support_line,
        caller_user_id=AGENT_IDS["ana"],
    )
    await stack.simulator.wait_for_call(placed.id, state="established", notifications=3)
    assert not (await stack.sim_call(placed.id))["tonesSubscribed"]
    live = await stack.live(placed.id)
    assert live.state is CallState.WAITING
    assert not live.tones


async def test_agent_first_callback_rings_the_agent_then_the_caller(stack: CallerStack) -> None:
    settings = CallbackSettings(offered=True, order=CallbackOrder.AGENT_FIRST)
    await stack.set_queue(SUPPORT, callback=settings)
    await stack.away(*SUPPORT_AGENTS)
    call_id = await stack.dial(stack.support_line)
    await stack.after(call_id, stack.simulator.press_tones(call_id, "1"), 2)
    await stack.after(call_id, stack.simulator.complete_media(call_id), 1)
    line_id = callback_id(call_id)
    await stack.engine.set_status(stack.tenant_id, AGENT_IDS["femi"], AgentStatus.AVAILABLE)
    await stack.fire_timers(16)

    leg = await _dial_leg(stack, line_id)
    outbound = await stack.sim_call(leg)
    assert outbound["targets"][0]["identity"]["user"]["id"] == AGENT_IDS["femi"]
    await stack.simulator.answer_call(leg)
    outbound = await stack.simulator.wait_for_call(leg, state="established", notifications=2)
    [invite] = requested(outbound, "/participants/invite")
    assert invite["participants"][0]["identity"]["phone"]["id"] == CALLER
    femi = (await stack.repository.agents.get(stack.tenant_id, AGENT_IDS["femi"])).value
    assert femi.activity is AgentActivity.ON_CALL
    assert femi.current_call_id == leg

    # The caller picks up: the invitation completes and the roster lists them.
    await stack.after(leg, stack.simulator.answer_participant(leg, CALLER), 2)
    assert (await stack.live(leg)).state is CallState.CONNECTED
    stack.clock.advance(45)
    # The caller hangs up; in this group call Graph only leaves them out of the roster.
    await stack.after(leg, stack.simulator.hang_up_participant(leg, CALLER), 1)

    talk = await stack.record(leg)
    assert talk.outcome is CallOutcome.ANSWERED
    assert talk.talk_s == 45
    assert talk.agent_id == AGENT_IDS["femi"]
    request = (await stack.repository.callbacks.get(stack.tenant_id, line_id)).value
    assert request.status is CallbackStatus.CONNECTED
    femi = (await stack.repository.agents.get(stack.tenant_id, AGENT_IDS["femi"])).value
    assert femi.activity is AgentActivity.WRAP_UP
