"""The agent's card follows the call at hand: on the call, then its wrap-up; notes, transfers
and calling back from the card. The real engine, the real adapter, the simulator.
"""

from __future__ import annotations

from typing import Any

from bot.demo import LINES, queue_id
from contactcenter.callbacks import callback_id
from contactcenter.model import AgentStatus, CallState
from simulator.installations import personal_conversation_id
from tests.messaging.support import ANA, BEN, CHLOE, TENANT, Stack, card_of, card_text
from tests.messaging.test_voicemail_cards import _events as _voicemail_events
from tests.messaging.test_voicemail_cards import _left

CALLER = "+14255550142"


async def _events(stack: Stack, agent_id: str, count: int) -> list[dict[str, Any]]:
    """Wait for ``count`` events after the welcome card in the agent's chat; return them."""
    conversation = await stack.simulator.wait_for_conversation(
        personal_conversation_id(agent_id), events=count + 1
    )
    events: list[dict[str, Any]] = conversation["events"][1:]
    return events


async def _ana_on_a_call(stack: Stack) -> str:
    await stack.install(ANA)
    for other in (BEN, CHLOE):
        await stack.engine.set_status(TENANT, other, AgentStatus.AWAY, "Lunch")
    placed = await stack.simulator.place_call(
        TENANT, application_instance_id=LINES[0].application_instance_id, caller_phone=CALLER
    )
    await stack.simulator.wait_for_call(placed.id, state="established", notifications=3)
    await stack.simulator.answer_participant(placed.id, ANA)
    await _events(stack, ANA, 2)
    return placed.id


async def test_the_alert_becomes_the_call_at_hand_then_its_wrap_up(stack: Stack) -> None:
    call_id = await _ana_on_a_call(stack)

    posted, answered = await _events(stack, ANA, 2)
    assert answered["kind"] == "updated"
    assert answered["activityId"] == posted["activityId"]
    card = card_of(answered["activity"])
    text = card_text(card)
    assert f"On a call · Sales\n{CALLER}" in text
    assert "Answered: 9:00 AM EST" in text
    assert "Hold: Not measured" in text
    inputs = {item["id"] for item in card["body"] if item["type"].startswith("Input.")}
    assert {"note", "transferQueueId"} <= inputs

    stack.clock.advance(95)
    await stack.simulator.hang_up(call_id)
    ended = (await _events(stack, ANA, 3))[2]
    text = card_text(card_of(ended["activity"]))
    assert "Call ended · Sales" in text
    assert "Ended: Mar 2, 9:01 AM EST" in text
    assert "Talked: 1:35" in text
    assert "End wrap-up" in text


async def test_notes_saved_on_the_card_are_on_the_record_when_the_wrap_up_ends(
    stack: Stack,
) -> None:
    call_id = await _ana_on_a_call(stack)
    await stack.simulator.hang_up(call_id)
    await _events(stack, ANA, 3)

    delivered = await stack.press(
        ANA, "saveNotes", {"callId": call_id, "recordId": call_id, "note": "Quote\n\tthree seats"}
    )

    assert delivered["body"]["statusCode"] == 200
    assert "Saved 9:00 AM EST." in card_text(delivered["body"]["value"])
    delivered = await stack.press(ANA, "endWrapUp", {"callId": call_id, "recordId": call_id})
    assert "Call ended" in card_text(delivered["body"]["value"])
    delivered = await stack.press(ANA, "endWrapUp", {"callId": call_id, "recordId": call_id})
    assert "had ended already" in card_text(delivered["body"]["value"])
    record = (await stack.repository.call_records.get(TENANT, call_id)).value
    assert record.disposition_note == "Quote\n\tthree seats"
    assert not record.wrap_up_pending


async def test_a_note_with_a_control_character_is_refused_on_the_card(stack: Stack) -> None:
    call_id = await _ana_on_a_call(stack)

    delivered = await stack.press(
        ANA, "saveNotes", {"callId": call_id, "recordId": call_id, "note": "bad \x1b note"}
    )

    text = card_text(delivered["body"]["value"])
    assert "Not saved:" in text
    assert "On a call · Sales" in text
    agent = (await stack.repository.agents.get(TENANT, ANA)).value
    assert agent.notes_draft is None


async def test_a_transfer_to_a_queue_from_the_card(stack: Stack) -> None:
    call_id = await _ana_on_a_call(stack)
    support = queue_id("Support")

    delivered = await stack.press(
        ANA, "transferToQueue", {"callId": call_id, "transferQueueId": support}
    )

    assert delivered["body"]["statusCode"] == 200
    assert "Call ended" in card_text(delivered["body"]["value"])
    live = (await stack.repository.calls.get(TENANT, call_id)).value
    assert live.queue_id == support
    assert live.state in {CallState.WAITING, CallState.RINGING}


async def test_a_missed_call_still_in_the_queue_is_not_called_back(stack: Stack) -> None:
    call_id = await _ana_on_a_call(stack)

    delivered = await stack.press(ANA, "callBack", {"callId": call_id})

    assert "still waiting" in card_text(delivered["body"]["value"])
    live = {c.value.id for c in await stack.repository.calls.find(TENANT)}
    assert call_id in live
    assert callback_id(call_id) not in live


async def test_a_voicemail_s_caller_is_called_back_from_its_card(stack: Stack) -> None:
    voicemail = await _left(stack)
    [posted] = await _voicemail_events(stack, ANA)
    back = next(a for a in card_of(posted["activity"])["actions"] if a["title"] == "Call back")

    delivered = await stack.press(ANA, back["verb"], back["data"])

    assert "Callback asked for" in card_text(delivered["body"]["value"])
    line = (await stack.repository.calls.get(TENANT, callback_id(voicemail.call_id))).value
    assert (line.state, line.caller.id) == (CallState.SCHEDULED, voicemail.caller.id)
    delivered = await stack.press(ANA, back["verb"], back["data"])
    assert "No callback asked for" in card_text(delivered["body"]["value"])
