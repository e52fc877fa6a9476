"""Agents' alert cards: sent when an offer starts, updated in place when it ends."""

from __future__ import annotations

from typing import Any

import pytest

from contactcenter.model import Party, PartyKind
from contactcenter.ports import OfferAlert, OfferEnd
from simulator import SimulatorRequestError
from simulator.installations import personal_conversation_id
from tests.messaging.support import ANA, BEN, SALES, TENANT, Stack, card_of, card_text


def _alert(agent_id: str = ANA, call_id: str = "call-1", *, card_first: bool = False) -> OfferAlert:
    return OfferAlert(
        tenant_id=TENANT,
        call_id=call_id,
        agent_id=agent_id,
        queue_id=SALES,
        queue_name="Sales",
        caller=Party(PartyKind.PHONE, "+14255550199"),
        waited_s=12.0,
        card_first=card_first,
        ivr_path=("Main menu", "Sales"),
    )


async def _events_after_install(stack: Stack, user_id: str) -> list[dict[str, Any]]:
    conversation = await stack.simulator.conversation(personal_conversation_id(user_id))
    events: list[dict[str, Any]] = conversation["events"]
    assert events[0]["kind"] == "sent"  # the welcome card
    return events[1:]


async def test_the_alert_is_posted_then_updated_in_place_when_the_offer_ends(
    stack: Stack,
) -> None:
    await stack.install(ANA)

    await stack.notifier.offer_started(_alert())
    await stack.notifier.wait_idle()
    await stack.notifier.offer_ended(_alert(), OfferEnd.TAKEN_BY_OTHER)
    await stack.notifier.wait_idle()

    posted, updated = await _events_after_install(stack, ANA)
    assert posted["kind"] == "sent"
    assert updated["kind"] == "updated"
    assert updated["activityId"] == posted["activityId"]
    assert posted["authorized"]
    assert updated["authorized"]
    first = card_text(card_of(posted["activity"]))
    assert "Incoming call" in first
    assert "+14255550199" in first
    assert "Main menu" in first
    assert "Decline" in first
    assert "Another agent took this call." in card_text(card_of(updated["activity"]))
    stored = (await stack.documents.offer_cards.get(TENANT, f"call-1:{ANA}")).value
    assert stored.activity_id == posted["activityId"]
    assert stored.ended is OfferEnd.TAKEN_BY_OTHER


async def test_a_card_first_alert_offers_accept_and_decline(stack: Stack) -> None:
    await stack.install(ANA)

    await stack.notifier.offer_started(_alert(card_first=True))
    await stack.notifier.wait_idle()

    [posted] = await _events_after_install(stack, ANA)
    card = card_of(posted["activity"])
    assert [action["verb"] for action in card["actions"]] == ["accept", "decline"]
    assert card["refresh"]["userIds"] == [f"29:{ANA}"]


async def test_a_missed_offer_updates_the_card_and_sends_a_missed_call_note(
    stack: Stack,
) -> None:
    await stack.install(ANA)

    await stack.notifier.offer_started(_alert())
    await stack.notifier.offer_ended(_alert(), OfferEnd.MISSED)
    await stack.notifier.wait_idle()

    posted, updated, missed = await _events_after_install(stack, ANA)
    assert (posted["kind"], updated["kind"], missed["kind"]) == ("sent", "updated", "sent")
    assert updated["activityId"] == posted["activityId"]
    assert "Missed call" in card_text(card_of(missed["activity"]))


async def test_an_offer_ending_twice_updates_the_card_once(stack: Stack) -> None:
    await stack.install(ANA)

    await stack.notifier.offer_started(_alert())
    await stack.notifier.offer_ended(_alert(), OfferEnd.ANSWERED)
    await stack.notifier.offer_ended(_alert(), OfferEnd.CALLER_HUNG_UP)
    await stack.notifier.wait_idle()

    kinds = [event["kind"] for event in await _events_after_install(stack, ANA)]
    assert kinds == ["sent", "updated"]


async def test_an_agent_without_the_app_gets_no_card_and_nothing_waits(stack: Stack) -> None:
    await stack.notifier.offer_started(_alert(BEN))
    await stack.notifier.wait_idle()

    with pytest.raises(SimulatorRequestError) as missing:
        await stack.simulator.conversation(personal_conversation_id(BEN))
    assert missing.value.status == 404


async def test_a_throttled_alert_is_retried_after_retry_after(stack: Stack) -> None:
    await stack.install(ANA)
    await stack.simulator.add_fault(
        r"^/v3/conversations/.+/activities", status=429, retry_after=2, method="POST"
    )

    await stack.notifier.offer_started(_alert())
    await stack.notifier.wait_idle()

    # Throttled once: the alert waits for Retry-After on the (virtual) timer.
    assert await _events_after_install(stack, ANA) == []
    assert stack.timer.sleeping == 1
    await stack.timer.advance(1.9)
    await stack.notifier.wait_idle()
    assert await _events_after_install(stack, ANA) == []

    await stack.timer.advance(0.1)
    await stack.notifier.wait_idle()

    [posted] = await _events_after_install(stack, ANA)
    assert "Incoming call" in card_text(card_of(posted["activity"]))
    [fault] = await stack.simulator.list_faults()
    assert fault["fired"] == 1
    assert stack.notifier.outbox.attempts == 2


async def test_an_alert_that_keeps_failing_gives_up_and_leaves_routing_alone(
    stack: Stack,
) -> None:
    await stack.install(ANA)
    await stack.simulator.add_fault(
        r"^/v3/conversations/.+/activities", status=502, count=None, method="POST"
    )

    await stack.notifier.offer_started(_alert())
    for _ in range(5):
        await stack.notifier.wait_idle()
        await stack.timer.advance(30)
    await stack.notifier.wait_idle()

    assert await _events_after_install(stack, ANA) == []
    assert stack.notifier.outbox.attempts == 5
    assert stack.timer.sleeping == 0
