"""Every documented notification of the corpus, driven end to end through ``/api/calling``.

Each fixture of ``tests/fixtures/graph/`` (Microsoft's examples, see its README) is posted,
signed as Graph signs, to a real host (the real msgraph-sdk client talking to the
simulator, real JWT validation) about a call in a state where Graph would send it: a call
ringing an agent for an invitation's completion, a talk for a roster without the agent,
a transfer under way for a transfer's end, and so on. Each test then checks what the
notification did: the call's state, its outcome and leave reason, the agent's state, the
record, or what the host asked Graph for. The ids are the seeded demo tenant's and the
running call's (``corpus.seeded_values``).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.demo import IVR_NAME, ivr_id
from bot.settings import DEMO_TENANT_ID
from contactcenter.callbacks import callback_id
from contactcenter.errors import NotFound
from contactcenter.model import (
    ActionKind,
    AgentActivity,
    AgentStatus,
    CallbackOrder,
    CallbackSettings,
    CallOutcome,
    CallState,
    PartyKind,
    QueueAction,
    RoutingMethod,
)
from tests.graph.corpus import documented_fixture, documented_fixtures, seeded_values
from tests.http.caller_stack import (
    AGENT_IDS,
    CALLER,
    SALES,
    SUPPORT,
    CallerStack,
    played,
    requested,
)
from tests.http.conftest import invited_user_ids
from tests.http.test_resilience import _graph_token

FRONT_DESK = "+14255550177"
SUPPORT_AGENTS = ("chloe", "dev", "eva", "femi")


@pytest.fixture
def stack(caller_stack: CallerStack) -> CallerStack:
    return caller_stack


@pytest.fixture
def token(simulator_data_dir: Path) -> str:
    return _graph_token(simulator_data_dir, DEMO_TENANT_ID)


async def post(stack: CallerStack, token: str, fixture: str, **ids: str) -> dict[str, str]:
    """Post a documented notification with these ids, as Graph would; wait for its echoes.

    Return every id it was posted with (the seeded tenant's for those not given).
    """
    values = seeded_values(**ids)
    body = documented_fixture(f"{fixture}.json").render(values)
    response = await stack.host.post(
        "/api/calling",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status == 202, await response.text()
    # What the host asked the simulator for may make it notify back: let that land too.
    await stack.simulator.wait_until_delivered()
    return values


# ------------------------------------------------------------------ call states
def _operation(call: dict[str, Any], kind: str, *, status: str = "running") -> dict[str, Any]:
    """Return the call's latest operation of a kind (``playPromptOperation``...)."""
    found = [op for op in call["operations"] if op["type"] == kind and op["status"] == status]
    assert found, (kind, status, call["operations"])
    operation: dict[str, Any] = found[-1]
    return operation


async def _waiting(stack: CallerStack) -> str:
    """Return a call waiting in Sales (its agents away), hold music playing."""
    await stack.away("ana", "ben", "chloe")
    call_id = await stack.dial(stack.sales_line)
    assert (await stack.live(call_id)).state is CallState.WAITING
    return call_id


async def _ringing(stack: CallerStack) -> tuple[str, str, dict[str, Any]]:
    """Return a Sales call ringing an agent, the agent, and the invitation's operation."""
    call_id = await stack.dial(stack.sales_line)
    call = await stack.sim_call(call_id)
    [agent_id] = invited_user_ids(call)
    assert (await stack.live(call_id)).state is CallState.RINGING
    return call_id, agent_id, _operation(call, "inviteParticipantsOperation")


async def _ringing_everyone(stack: CallerStack) -> tuple[str, list[str], dict[str, Any]]:
    """Return a Support call ringing all four agents at once, and the first invitation."""
    # Several invitations ringing at once are these tests' premise; where Graph refuses
    # them, the host rings one agent at a time (tests/http/test_routing.py).
    parallel = stack.silent_points.model_copy(update={"parallel_invites": True})
    await stack.simulator.set_silent_points(parallel)
    await stack.set_queue(SUPPORT, routing_method=RoutingMethod.ATTENDANT)
    call_id = await stack.dial(stack.support_line)
    call = await stack.sim_call(call_id)
    agents = invited_user_ids(call)
    assert len(agents) == 4
    first = next(op for op in call["operations"] if op["type"] == "inviteParticipantsOperation")
    return call_id, agents, first


async def _talking(stack: CallerStack) -> tuple[str, str]:
    """Return a call whose caller talks with an agent, and that agent."""
    call_id, agent_id, _ = await _ringing(stack)
    await stack.after(call_id, stack.simulator.answer_participant(call_id, agent_id), 2)
    assert (await stack.live(call_id)).state is CallState.CONNECTED
    stack.clock.advance(30)
    return call_id, agent_id


async def _answering(stack: CallerStack, token: str) -> str:
    """Return a call the host answered whose ``established`` has not come (yet)."""
    placed = await stack.simulator.place_call(
        stack.tenant_id, application_instance_id=stack.sales_line, caller_phone=CALLER, notify=False
    )
    await stack.simulator.drop_notifications(call_id=placed.id, state="established")
    await post(stack, token, "incoming-pstn-to-resource-account", callId=placed.id)
    assert (await stack.live(placed.id)).state is CallState.ANSWERING
    return placed.id


async def _transferring(stack: CallerStack) -> str:
    """Return a call Sales is transferring to a number (the queue is full: overflow)."""
    overflow = QueueAction(ActionKind.REDIRECT_NUMBER, target=FRONT_DESK)
    await stack.set_queue(SALES, max_size=0, overflow_action=overflow)
    call_id = await stack.dial(stack.sales_line)
    call = await stack.after(call_id, stack.simulator.complete_media(call_id), 2)
    assert requested(call, "/transfer")
    live = await stack.live(call_id)
    assert live.state is CallState.LEAVING
    assert live.leaving is not None
    assert live.leaving.transferring
    return call_id


async def _recording(stack: CallerStack) -> tuple[str, dict[str, Any]]:
    """Return a call recording a voicemail for Support (nobody signed in), and the recording."""
    for name in SUPPORT_AGENTS:
        await stack.engine.sign_out(stack.tenant_id, AGENT_IDS[name])
    call_id = await stack.dial(stack.support_line)
    assert (await stack.live(call_id)).state is CallState.VOICEMAIL
    return call_id, _operation(await stack.sim_call(call_id), "recordOperation")


async def _callback_leg(stack: CallerStack, order: CallbackOrder) -> tuple[str, str]:
    """Return a callback's line and its outbound call, ringing its first party."""
    settings = CallbackSettings(offered=True, order=order)
    await stack.set_queue(SUPPORT, callback=settings)
    await stack.away(*SUPPORT_AGENTS)
    call_id = await stack.dial(stack.support_line)
    await stack.after(call_id, stack.simulator.press_tones(call_id, "1"), 2)
    await stack.after(call_id, stack.simulator.complete_media(call_id), 1)
    line_id = callback_id(call_id)
    await stack.engine.set_status(stack.tenant_id, AGENT_IDS["femi"], AgentStatus.AVAILABLE)
    await stack.fire_timers(16)
    line = await stack.live(line_id)
    assert line.callback is not None
    leg: str = line.callback.attempts[-1].call_id
    assert (await stack.live(leg)).state is CallState.DIALING
    return line_id, leg


async def _agent(stack: CallerStack, agent_id: str) -> Any:
    return (await stack.repository.agents.get(stack.tenant_id, agent_id)).value


# ---------------------------------------------------------------- incoming calls
@pytest.mark.parametrize(
    ("fixture", "caller"),
    [
        ("incoming-pstn-to-resource-account", (PartyKind.PHONE, "callerPhone")),
        ("incoming-teams-user-to-resource-account", (PartyKind.USER, "callerUserId")),
        ("incoming-to-resource-account-policy-recording", (PartyKind.USER, "callerUserId")),
    ],
)
async def test_an_incoming_call_to_a_queues_line_is_answered_and_queued(
    stack: CallerStack, token: str, fixture: str, caller: tuple[PartyKind, str]
) -> None:
    placed = await stack.simulator.place_call(
        stack.tenant_id, application_instance_id=stack.sales_line, caller_phone=CALLER, notify=False
    )

    values = await post(stack, token, fixture, callId=placed.id)

    call = await stack.simulator.wait_for_call(placed.id, state="established", notifications=2)
    assert len(requested(call, "/answer")) == 1
    live = await stack.live(placed.id)
    assert live.queue_id == SALES
    assert live.state is CallState.RINGING
    assert (live.caller.kind, live.caller.id) == (caller[0], values[caller[1]])
    if "chainId" in documented_fixture(f"{fixture}.json").documented_ids:
        assert live.chain_id == values["chainId"]


async def test_an_incoming_call_to_the_bot_itself_is_rejected_and_recorded(
    stack: CallerStack, token: str
) -> None:
    placed = await stack.simulator.place_call(
        stack.tenant_id, application_instance_id=stack.sales_line, caller_phone=CALLER, notify=False
    )

    await post(stack, token, "incoming-teams-user-to-bot", callId=placed.id)

    call = await stack.simulator.wait_for_call(placed.id, state="terminated")
    assert requested(call, "/reject")
    record = await stack.record(placed.id)
    assert record.outcome is CallOutcome.REJECTED
    assert record.caller.id == seeded_values()["callerUserId"]


# ------------------------------------------------------------------ call states
async def test_establishing_changes_nothing_until_the_call_is_established(
    stack: CallerStack, token: str
) -> None:
    call_id = await _answering(stack, token)

    await post(stack, token, "call-establishing", callId=call_id)

    assert (await stack.live(call_id)).state is CallState.ANSWERING
    assert invited_user_ids(await stack.sim_call(call_id)) == []


async def test_an_established_call_is_queued_and_an_agent_rung(
    stack: CallerStack, token: str
) -> None:
    call_id = await _answering(stack, token)

    await post(stack, token, "call-established", callId=call_id)

    live = await stack.live(call_id)
    assert live.state is CallState.RINGING
    assert live.offered_at is not None
    assert len(invited_user_ids(await stack.sim_call(call_id))) == 1


async def test_terminating_changes_nothing_in_a_talk(stack: CallerStack, token: str) -> None:
    call_id, agent_id = await _talking(stack)

    await post(stack, token, "call-terminating", callId=call_id)

    assert (await stack.live(call_id)).state is CallState.CONNECTED
    assert (await _agent(stack, agent_id)).activity is AgentActivity.ON_CALL


async def test_a_notification_about_content_sharing_is_skipped(
    stack: CallerStack, token: str
) -> None:
    call_id, agent_id = await _talking(stack)
    before = await stack.live(call_id)

    await post(stack, token, "content-sharing-started-without-resource-data", callId=call_id)

    assert await stack.live(call_id) == before
    assert (await _agent(stack, agent_id)).activity is AgentActivity.ON_CALL


async def test_a_key_pressed_in_the_menu_takes_the_caller_to_its_queue(
    stack: CallerStack, token: str
) -> None:
    call_id = await stack.dial(stack.main_line)
    assert (await stack.live(call_id)).state is CallState.MENU

    await post(stack, token, "tone-received", callId=call_id)

    live = await stack.live(call_id)
    assert live.queue_id == SALES
    assert "key:1" in live.ivr_path
    assert live.state in (CallState.RINGING, CallState.WAITING)


# ------------------------------------------------------------------ invitations
@pytest.mark.parametrize("fixture", ["invite-completed", "invite-completed-replacing-call"])
async def test_a_completed_invitation_connects_the_agent(
    stack: CallerStack, token: str, fixture: str
) -> None:
    call_id, agent_id, invite = await _ringing(stack)

    await post(
        stack,
        token,
        fixture,
        callId=call_id,
        operationId=invite["id"],
        clientContext=invite["clientContext"],
        agentUserId=agent_id,
    )

    live = await stack.live(call_id)
    assert (live.state, live.agent_id) == (CallState.CONNECTED, agent_id)
    assert (await _agent(stack, agent_id)).activity is AgentActivity.ON_CALL


async def test_an_invitation_of_several_completing_without_an_id_connects_its_agent(
    stack: CallerStack, token: str
) -> None:
    call_id, agents, first = await _ringing_everyone(stack)
    # The first invitation rang the first agent.
    winner = agents[0]

    await post(
        stack,
        token,
        "invite-completed-group-call",
        callId=call_id,
        clientContext=first["clientContext"],
        agentUserId=winner,
        secondAgentUserId=agents[1],
    )

    live = await stack.live(call_id)
    assert (live.state, live.agent_id) == (CallState.CONNECTED, winner)
    for other in agents[1:]:
        assert (await _agent(stack, other)).activity is AgentActivity.IDLE


async def test_a_failed_invitation_is_a_missed_offer(stack: CallerStack, token: str) -> None:
    await stack.set_queue(SALES, routing_method=RoutingMethod.SERIAL)
    call_id, agent_id, invite = await _ringing(stack)

    await post(
        stack,
        token,
        "invite-failed",
        callId=call_id,
        operationId=invite["id"],
        clientContext=invite["clientContext"],
        agentUserId=agent_id,
    )

    agent = await _agent(stack, agent_id)
    assert agent.missed_in_a_row == 1
    live = await stack.live(call_id)
    assert agent_id in live.missed_agent_ids
    # The next agent is rung.
    assert invited_user_ids(await stack.sim_call(call_id))[-1] != agent_id


async def test_a_completed_invitation_of_a_phone_connects_a_callback(
    stack: CallerStack, token: str
) -> None:
    _line, leg = await _callback_leg(stack, CallbackOrder.AGENT_FIRST)
    await stack.simulator.answer_call(leg)
    outbound = await stack.simulator.wait_for_call(leg, state="established", notifications=2)
    invite = _operation(outbound, "inviteParticipantsOperation")

    await post(
        stack,
        token,
        "invite-completed-pstn",
        callId=leg,
        operationId=invite["id"],
        clientContext=invite["clientContext"],
        targetPhone=CALLER,
    )

    live = await stack.live(leg)
    assert (live.state, live.agent_id) == (CallState.CONNECTED, AGENT_IDS["femi"])


async def test_establishing_changes_nothing_in_a_callback_ringing_the_caller(
    stack: CallerStack, token: str
) -> None:
    _line, leg = await _callback_leg(stack, CallbackOrder.CALLER_FIRST)

    await post(stack, token, "outgoing-call-establishing", callId=leg)

    assert (await stack.live(leg)).state is CallState.DIALING
    assert invited_user_ids(await stack.sim_call(leg)) == []


async def test_a_callback_the_caller_answered_rings_the_reserved_agent(
    stack: CallerStack, token: str
) -> None:
    _line, leg = await _callback_leg(stack, CallbackOrder.CALLER_FIRST)
    await stack.simulator.drop_notifications(call_id=leg, state="established")
    await stack.simulator.answer_call(leg)

    await post(stack, token, "outgoing-call-established", callId=leg)

    assert invited_user_ids(await stack.sim_call(leg)) == [AGENT_IDS["femi"]]


# ----------------------------------------------------------------------- rosters
@pytest.mark.parametrize(
    "fixture", ["roster-invitee-added", "roster-group-call", "roster-replaced-call"]
)
async def test_a_roster_naming_the_invitee_while_it_rings_is_no_answer(
    stack: CallerStack, token: str, fixture: str
) -> None:
    call_id, agent_id, invite = await _ringing(stack)

    # Graph may list an invitee still ringing exactly as one who joined (the roster of an
    # invitation that replaces a call comes on the replaced call's id).
    await post(
        stack,
        token,
        fixture,
        callId=call_id,
        replacedCallId=call_id,
        agentUserId=agent_id,
        agentParticipantId=invite["participantIds"][0],
    )

    live = await stack.live(call_id)
    assert (live.state, live.agent_id) == (CallState.RINGING, None)
    # The invitation's completion is the answer.
    await post(
        stack,
        token,
        "invite-completed",
        callId=call_id,
        operationId=invite["id"],
        clientContext=invite["clientContext"],
        agentUserId=agent_id,
    )
    live = await stack.live(call_id)
    assert (live.state, live.agent_id) == (CallState.CONNECTED, agent_id)


async def test_a_roster_naming_several_ringing_invitees_connects_none_of_them(
    stack: CallerStack, token: str
) -> None:
    call_id, agents, _ = await _ringing_everyone(stack)

    await post(
        stack,
        token,
        "roster-group-call-invitees-added",
        callId=call_id,
        agentUserId=agents[0],
        secondAgentUserId=agents[1],
    )

    live = await stack.live(call_id)
    assert live.state is CallState.RINGING
    assert live.offer is not None
    assert sorted(live.offer.agent_ids) == sorted(agents)
    for agent_id in agents:
        assert (await _agent(stack, agent_id)).activity is AgentActivity.RINGING


@pytest.mark.parametrize("fixture", ["roster-participant-left", "roster-pstn-participant-added"])
async def test_a_roster_without_the_agent_ends_the_talk_as_the_agents_hang_up(
    stack: CallerStack, token: str, fixture: str
) -> None:
    call_id, agent_id = await _talking(stack)

    await post(stack, token, fixture, callId=call_id, targetPhone=CALLER)

    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.ANSWERED
    assert record.leave_reason == "agent hung up"
    assert record.talk_s == 30
    assert (await _agent(stack, agent_id)).activity is AgentActivity.WRAP_UP
    # The host removed whoever was left and left the call itself.
    call = await stack.sim_call(call_id)
    assert [p["status"] for p in call["participants"] if p["status"] == "joined"] == []


# ------------------------------------------------------------------------- media
async def test_music_on_hold_that_played_to_its_end_plays_again(
    stack: CallerStack, token: str
) -> None:
    call_id = await _waiting(stack)
    hold = _operation(await stack.sim_call(call_id), "playPromptOperation")
    before = await stack.live(call_id)

    await post(
        stack,
        token,
        "play-prompt-completed",
        callId=call_id,
        operationId=hold["id"],
        clientContext=hold["clientContext"],
    )

    assert (await stack.live(call_id)).media_seq == before.media_seq + 1
    assert len(played(await stack.sim_call(call_id))) == 2


async def test_music_on_hold_we_cancelled_is_not_played_again(
    stack: CallerStack, token: str
) -> None:
    call_id = await _waiting(stack)
    hold = _operation(await stack.sim_call(call_id), "playPromptOperation")
    before = await stack.live(call_id)

    await post(
        stack,
        token,
        "play-prompt-failed",
        callId=call_id,
        operationId=hold["id"],
        clientContext=hold["clientContext"],
    )

    assert (await stack.live(call_id)).media_seq == before.media_seq
    assert len(played(await stack.sim_call(call_id))) == 1


async def test_a_completed_recording_is_kept_as_a_voicemail(stack: CallerStack, token: str) -> None:
    call_id, recording = await _recording(stack)
    # The simulator records; its own completion is lost, the documented one tells of it.
    await stack.simulator.drop_notifications(call_id=call_id, change_type="deleted")
    await stack.simulator.record(call_id, 12)
    recorded = _operation(await stack.sim_call(call_id), "recordOperation", status="completed")

    await post(
        stack,
        token,
        "record-response-completed",
        callId=call_id,
        operationId=recording["id"],
        clientContext=recording["clientContext"],
        recordingLocation=recorded["recordingLocation"],
        recordingAccessToken=recorded["recordingAccessToken"],
    )

    [(voicemail, agents)] = stack.notifier.voicemails
    assert voicemail.call_id == call_id
    assert voicemail.duration_s == pytest.approx(12)
    assert sorted(agents) == sorted(AGENT_IDS[n] for n in SUPPORT_AGENTS)
    assert (await stack.live(call_id)).voicemail_id == voicemail.id


async def test_a_recording_we_cancelled_changes_nothing(stack: CallerStack, token: str) -> None:
    call_id, recording = await _recording(stack)

    await post(
        stack,
        token,
        "record-response-failed",
        callId=call_id,
        operationId=recording["id"],
        clientContext=recording["clientContext"],
    )

    live = await stack.live(call_id)
    assert live.state is CallState.VOICEMAIL
    assert stack.notifier.voicemails == []


# --------------------------------------------------------------------- transfers
@pytest.mark.parametrize("fixture", ["transferring", "transfer-accepted"])
async def test_a_transfer_under_way_changes_nothing(
    stack: CallerStack, token: str, fixture: str
) -> None:
    call_id = await _transferring(stack)
    before = await stack.live(call_id)

    await post(stack, token, fixture, callId=call_id)

    assert await stack.live(call_id) == before


@pytest.mark.parametrize(
    ("fixture", "result"),
    [
        ("transfer-completed", (0, 7015, "GracefulTransferCompleted")),
        ("transfer-completed-consultative", (None, None, "AppTransferred")),
    ],
)
async def test_a_completed_transfer_ends_the_call_with_its_outcome(
    stack: CallerStack, token: str, fixture: str, result: tuple[int | None, int | None, str]
) -> None:
    call_id = await _transferring(stack)

    await post(stack, token, fixture, callId=call_id)

    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.OVERFLOWED
    assert record.leave_reason == f"overflow: transferred to {FRONT_DESK}"
    assert (record.result_code, record.result_subcode, record.result_message) == result
    with pytest.raises(NotFound):
        await stack.live(call_id)


async def test_a_failed_transfer_ends_the_call_saying_so(stack: CallerStack, token: str) -> None:
    call_id = await _transferring(stack)

    await post(stack, token, "transfer-failed", callId=call_id)

    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.OVERFLOWED
    assert "transfer failed: 500" in record.leave_reason


async def test_the_end_of_a_redirected_call_changes_its_record_in_nothing(
    stack: CallerStack, token: str
) -> None:
    ivr = (await stack.repository.ivrs.get(stack.tenant_id, ivr_id(IVR_NAME))).value
    assert ivr.hours is not None
    hours = replace(
        ivr.hours,
        closed_now=True,
        closed_now_action=QueueAction(ActionKind.REDIRECT_NUMBER, target=FRONT_DESK),
    )
    await stack.repository.ivrs.update(
        stack.tenant_id, ivr.id, lambda current: replace(current, hours=hours)
    )
    placed = await stack.simulator.place_call(
        stack.tenant_id, application_instance_id=stack.main_line, caller_phone=CALLER
    )
    await stack.simulator.wait_for_call(placed.id, state="terminated")
    before = await stack.record(placed.id)

    await post(stack, token, "terminated-after-redirect", callId=placed.id)

    assert await stack.record(placed.id) == before
    assert before.outcome is CallOutcome.REJECTED
    assert await stack.repository.calls.find(stack.tenant_id) == []


# -------------------------------------------------------------------- endings
# What each documented end reason means, read from the delete-call page's messages: the
# other side left; someone took the bot out of the call; a bot ended it; a transfer
# completed; the platform failed (every 4xx/5xx, and "unable to determine a host").
_OTHER_SIDE = {4097, 4521, 18503, 540000, 560000, 5001, 5002, 5003, 5007, 5010, 5012, 5013, 5020}
_TAKEN_OUT = {5000, 5300, 5855, 5030}
_BY_A_BOT = {7000, 10550}
TERMINATED = [
    f for f in documented_fixtures() if f.name.startswith("terminated-") and f.result is not None
]


def _expected(code: int, subcode: int) -> tuple[CallOutcome, str]:
    """Return the outcome of a waiting call Graph ended so, and the leave reason."""
    if subcode in _OTHER_SIDE:
        return CallOutcome.ABANDONED, "caller hung up"
    if subcode in _TAKEN_OUT:
        return CallOutcome.FAILED, "removed"
    if subcode in _BY_A_BOT:
        return CallOutcome.FAILED, "ended by the contact center"
    if subcode == 7015:
        return CallOutcome.TRANSFERRED, "transferred"
    assert code >= 400 or subcode == 5014, (code, subcode)
    return CallOutcome.FAILED, "failed"


def _message(name: str) -> str:
    body = documented_fixture(name).render_as_documented()
    message: str = body["value"][0]["resourceData"]["resultInfo"]["message"]
    return message


@pytest.mark.parametrize("fixture", TERMINATED, ids=lambda f: f.name.removesuffix(".json"))
async def test_a_waiting_call_graph_ended_gets_the_outcome_its_code_means(
    stack: CallerStack, token: str, fixture: Any
) -> None:
    call_id = await _waiting(stack)
    code, subcode = fixture.result

    await post(stack, token, fixture.name.removesuffix(".json"), callId=call_id)

    record = await stack.record(call_id)
    assert (record.outcome, record.leave_reason) == _expected(code, subcode)
    assert (record.result_code, record.result_subcode) == (code, subcode)
    assert record.result_message == _message(fixture.name)
    with pytest.raises(NotFound):
        await stack.live(call_id)


@pytest.mark.parametrize("fixture", TERMINATED, ids=lambda f: f.name.removesuffix(".json"))
async def test_a_talk_graph_ended_keeps_why_and_wraps_the_agent_up(
    stack: CallerStack, token: str, fixture: Any
) -> None:
    call_id, agent_id = await _talking(stack)
    code, subcode = fixture.result

    await post(stack, token, fixture.name.removesuffix(".json"), callId=call_id)

    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.ANSWERED
    assert record.leave_reason == _expected(code, subcode)[1]
    assert (record.result_code, record.result_subcode) == (code, subcode)
    assert record.talk_s == 30
    assert (await _agent(stack, agent_id)).activity is AgentActivity.WRAP_UP


def test_every_documented_fixture_is_driven_end_to_end() -> None:
    names = {f.name.removesuffix(".json") for f in documented_fixtures()}
    driven_here = {
        *(f.name.removesuffix(".json") for f in TERMINATED),
        *_names_posted_in_this_module(),
    }
    assert names <= driven_here, sorted(names - driven_here)


def _names_posted_in_this_module() -> set[str]:
    """Return the fixture names this module's tests post (read from its source)."""
    source = Path(__file__).read_text(encoding="utf-8")
    return set(re.findall(r'"([a-z0-9-]+)"', source)) & {
        f.name.removesuffix(".json") for f in documented_fixtures()
    }
