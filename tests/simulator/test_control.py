"""The control API plays everyone but the bot: settings, the clock, and ring-all by hand."""

from __future__ import annotations

from typing import Any

import pytest

from simulator import InviteeBehaviour, SilentPoints, SimulatorRequestError
from tests.simulator.support import (
    AGENT_2_ID,
    AGENT_ID,
    CALLER_NUMBER,
    SALES_ID,
    TENANT_ID,
    BotReceiver,
    Simulator,
    established_call,
    invite_body,
)


async def _invite(simulator: Simulator, call_id: str, user_id: str) -> dict[str, Any]:
    status, operation, _ = await simulator.graph(
        "POST", f"/communications/calls/{call_id}/participants/invite", invite_body(user_id)
    )
    assert status == 200, operation
    assert isinstance(operation, dict)
    return operation


async def test_settings_can_be_read_and_changed(simulator: Simulator) -> None:
    before = await simulator.control.settings()

    after = await simulator.control.update_settings(
        media_mode="manual",
        invite_timeout_s=20,
        default_user_behaviour=InviteeBehaviour(on_invite="answer", answer_after_s=3),
    )

    assert before["mediaMode"] == "timed"
    assert before["inviteTimeoutS"] == 60
    assert before["defaultUserBehaviour"]["onInvite"] == "manual"
    assert after["mediaMode"] == "manual"
    assert after["inviteTimeoutS"] == 20
    assert after["promptDurationS"] == before["promptDurationS"]
    assert await simulator.control.user_behaviour(TENANT_ID, AGENT_ID) == {
        "onInvite": "answer",
        "answerAfterS": 3,
        "hangUpAfterS": None,
    }


async def test_an_unknown_media_mode_is_refused(simulator: Simulator) -> None:
    with pytest.raises(SimulatorRequestError) as refused:
        await simulator.control.update_settings(media_mode="fast")

    assert refused.value.status == 400


async def test_the_system_clock_cannot_be_advanced(simulator: Simulator) -> None:
    with pytest.raises(SimulatorRequestError) as refused:
        await simulator.control.advance_clock(10)

    assert refused.value.status == 409


@pytest.mark.silent_points
async def test_ring_all_is_one_invite_per_agent_and_the_rest_are_cancelled(
    simulator: Simulator, receiver: BotReceiver, silent_points: SilentPoints
) -> None:
    call_id = await established_call(simulator, receiver)
    first = await _invite(simulator, call_id, AGENT_ID)
    if not silent_points.parallel_invites:
        # Graph may ring one invitee at a time on a peer-to-peer call: then the second
        # invitation waits until the first is over.
        refused, _, _ = await simulator.graph(
            "POST",
            f"/communications/calls/{call_id}/participants/invite",
            invite_body(AGENT_2_ID),
        )
        assert refused == 409
        return
    second = await _invite(simulator, call_id, AGENT_2_ID)

    await simulator.control.answer_participant(call_id, AGENT_2_ID)
    status, _, _ = await simulator.graph(
        "DELETE",
        f"/communications/calls/{call_id}/participants/{first['participants'][0]['id']}",
    )

    assert status == 204
    first_done = await receiver.wait_until(lambda note: note.is_operation(first["id"]))
    second_done = await receiver.wait_until(lambda note: note.is_operation(second["id"]))
    assert (first_done.data["status"], first_done.data["resultInfo"]["code"]) == ("failed", 487)
    assert second_done.data["status"] == "completed"
    with pytest.raises(SimulatorRequestError) as late:
        await simulator.control.answer_participant(call_id, AGENT_ID)
    assert late.value.status == 409


async def test_an_operation_can_be_read_back_from_fake_graph(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await established_call(simulator, receiver)
    operation = await _invite(simulator, call_id, AGENT_ID)

    status, body, _ = await simulator.graph(
        "GET", f"/communications/calls/{call_id}/operations/{operation['id']}"
    )
    missing, _, _ = await simulator.graph("GET", f"/communications/calls/{call_id}/operations/nope")

    assert (status, missing) == (200, 404)
    assert body["status"] == "running"


async def test_an_unknown_recording_is_404(simulator: Simulator) -> None:
    async with simulator.session.get(simulator.url("/media/recordings/nope")) as response:
        body = await response.json()

    assert response.status == 404
    assert body["error"]["code"] == "itemNotFound"


@pytest.mark.parametrize("tones", ["", "12a", "9" * 101])
async def test_tones_must_be_keys_of_a_phone(
    simulator: Simulator, receiver: BotReceiver, tones: str
) -> None:
    call_id = await established_call(simulator, receiver)

    with pytest.raises(SimulatorRequestError) as refused:
        await simulator.control.press_tones(call_id, tones)

    assert refused.value.status == 400


async def test_keys_pressed_before_the_call_is_established_are_refused(
    simulator: Simulator,
) -> None:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )

    with pytest.raises(SimulatorRequestError) as refused:
        await simulator.control.press_tones(placed.id, "1")

    assert refused.value.status == 409


async def test_answering_an_incoming_call_as_the_callee_is_a_conflict(
    simulator: Simulator,
) -> None:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )

    with pytest.raises(SimulatorRequestError) as refused:
        await simulator.control.answer_call(placed.id)

    assert refused.value.status == 409


async def test_a_phone_behaviour_needs_an_e164_number(simulator: Simulator) -> None:
    with pytest.raises(SimulatorRequestError) as refused:
        await simulator.control.set_phone_behaviour("0800-CALLME", "answer")

    assert refused.value.status == 400


async def test_acting_as_someone_not_in_the_call_is_404(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await established_call(simulator, receiver)

    with pytest.raises(SimulatorRequestError) as refused:
        await simulator.control.answer_participant(call_id, AGENT_ID)

    assert refused.value.status == 404
