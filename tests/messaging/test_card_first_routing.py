"""Card-first alerting end to end: the real engine, the real adapter, the simulator."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.demo import LINES
from contactcenter.model import AlertingModel, CallState, RoutingMethod
from simulator.installations import personal_conversation_id
from tests.messaging.support import ANA, BEN, CHLOE, SALES, TENANT, Stack, card_of, card_text


async def _card_first_sales(stack: Stack) -> None:
    for agent in (ANA, BEN, CHLOE):
        await stack.install(agent)
    queue = (await stack.repository.queues.get(TENANT, SALES)).value
    await stack.repository.queues.put(
        replace(queue, alerting_model=AlertingModel.CARD_FIRST, routing_method=RoutingMethod.SERIAL)
    )


async def _alert_of(stack: Stack, agent_id: str) -> dict[str, Any]:
    """Wait for the alert card in the agent's chat (after the welcome) and return it."""
    conversation = await stack.simulator.wait_for_conversation(
        personal_conversation_id(agent_id), events=2
    )
    event: dict[str, Any] = conversation["events"][1]
    assert event["kind"] == "sent"
    return event


async def _ringing_call(stack: Stack) -> str:
    placed = await stack.simulator.place_call(
        TENANT,
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550142",
    )
    assert placed.webhook_status == 202
    return placed.id


async def test_accept_on_the_card_rings_the_agent_in_teams(stack: Stack) -> None:
    await _card_first_sales(stack)
    call_id = await _ringing_call(stack)

    alert = await _alert_of(stack, ANA)
    card = card_of(alert["activity"])
    accept = next(action for action in card["actions"] if action["verb"] == "accept")
    assert accept["data"]["callId"] == call_id
    # Card-first: nobody is invited before Accept.
    call = await stack.simulator.call(call_id)
    assert not [r for r in call["requests"] if r["path"].endswith("/participants/invite")]

    delivered = await stack.press(ANA, "accept", accept["data"])

    assert delivered["body"]["statusCode"] == 200
    assert "Accepted" in card_text(delivered["body"]["value"])
    call = await stack.simulator.call(call_id)
    [invite] = [r for r in call["requests"] if r["path"].endswith("/participants/invite")]
    [invitee] = invite["body"]["participants"]
    assert invitee["identity"]["user"]["id"] == ANA
    stored = (await stack.repository.calls.get(TENANT, call_id)).value
    assert stored.state is CallState.RINGING
    assert stored.offer is not None
    assert stored.offer.agent_ids == (ANA,)


async def test_decline_on_the_card_offers_the_call_to_the_next_agent(stack: Stack) -> None:
    await _card_first_sales(stack)
    call_id = await _ringing_call(stack)
    alert = await _alert_of(stack, ANA)

    delivered = await stack.press(ANA, "decline", {"callId": call_id})

    assert delivered["body"]["statusCode"] == 200
    assert "You declined this call." in card_text(delivered["body"]["value"])
    next_alert = await _alert_of(stack, BEN)
    assert next_alert["activity"]["attachments"][0]["content"]["actions"][0]["data"] == {
        "callId": call_id
    }
    # Ana's alert is updated in place.
    await stack.notifier.wait_idle()
    conversation = await stack.simulator.conversation(personal_conversation_id(ANA))
    updated = conversation["events"][-1]
    assert updated["kind"] == "updated"
    assert updated["activityId"] == alert["activityId"]
    assert "You declined this call." in card_text(card_of(updated["activity"]))
    # Pressing again changes nothing: the offer is no longer Ana's.
    again = await stack.press(ANA, "decline", {"callId": call_id})
    assert "no longer available" in card_text(again["body"]["value"])
    stored = (await stack.repository.calls.get(TENANT, call_id)).value
    assert stored.offer is not None
    assert stored.offer.agent_ids == (BEN,)


async def test_a_throttled_connector_does_not_hold_up_routing(stack: Stack) -> None:
    for agent in (ANA, BEN, CHLOE):
        await stack.install(agent)
    queue = (await stack.repository.queues.get(TENANT, SALES)).value
    await stack.repository.queues.put(replace(queue, routing_method=RoutingMethod.SERIAL))
    await stack.simulator.add_fault(
        r"^/v3/conversations/.+/activities", status=429, retry_after=5, method="POST"
    )

    call_id = await _ringing_call(stack)
    # The card's first post was throttled: it waits out Retry-After on the timer.
    await stack.timer.wait_for_sleepers(1)

    # Ring-first: Teams rings Ana at once, while her card waits out the throttling.
    call = await stack.simulator.call(call_id)
    [invite] = [r for r in call["requests"] if r["path"].endswith("/participants/invite")]
    assert invite["body"]["participants"][0]["identity"]["user"]["id"] == ANA
    welcome_only = await stack.simulator.conversation(personal_conversation_id(ANA))
    assert len(welcome_only["events"]) == 1

    await stack.timer.advance(5)
    alert = await _alert_of(stack, ANA)
    assert "Decline" in card_text(card_of(alert["activity"]))
