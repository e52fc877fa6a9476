"""Voicemail and callback cards: sent to the queue's agents, updated in place for all."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.cards.caller import MENU_STEP
from bot.messaging.documents import NoticeKind, notice_cards_id
from contactcenter.callbacks import callback_id
from contactcenter.model import (
    Call,
    CallbackAttempt,
    CallbackRequest,
    CallbackSettings,
    CallbackState,
    CallbackStatus,
    CallState,
    Party,
    PartyKind,
    Voicemail,
)
from contactcenter.voicemail import recording_media_id, voicemail_id
from simulator import SimulatorRequestError
from simulator.installations import personal_conversation_id
from tests.messaging.support import (
    ANA,
    BEN,
    BY_NAME,
    CHLOE,
    SALES,
    SUPPORT,
    TENANT,
    Stack,
    card_of,
    card_text,
)

DEV = BY_NAME["dev"].id
CALLER = Party(PartyKind.PHONE, "+14255550142")


async def _voicemail(stack: Stack, call_id: str = "call-vm-1") -> Voicemail:
    voicemail = Voicemail(
        id=voicemail_id(call_id),
        tenant_id=TENANT,
        queue_id=SALES,
        call_id=call_id,
        caller=CALLER,
        recorded_at=stack.clock.now() - timedelta(minutes=3),
        media_id=recording_media_id(call_id),
        queue_name="Sales",
        duration_s=21.0,
        ivr_path=("Main menu", "Sales"),
    )
    return (await stack.repository.voicemails.create(voicemail)).value


async def _events(stack: Stack, user_id: str) -> list[dict[str, Any]]:
    """Return what the bot did in a user's chat after its welcome card."""
    conversation = await stack.simulator.conversation(personal_conversation_id(user_id))
    events: list[dict[str, Any]] = conversation["events"]
    return events[1:]


def _response(delivered: dict[str, Any]) -> tuple[int, str]:
    assert delivered["status"] == 200
    body = delivered["body"]
    return int(body["statusCode"]), card_text(body["value"])


async def _left(stack: Stack) -> Voicemail:
    """Install the app for Ana and Ben (not Chloe) and leave a Sales voicemail."""
    await stack.install(ANA)
    await stack.install(BEN)
    voicemail = await _voicemail(stack)
    await stack.notifier.voicemail_left(voicemail, (ANA, BEN, CHLOE))
    await stack.notifier.wait_idle()
    return voicemail


async def test_a_voicemail_card_goes_to_every_agent_of_the_queue_with_a_chat(
    stack: Stack,
) -> None:
    voicemail = await _left(stack)

    for agent in (ANA, BEN):
        [posted] = await _events(stack, agent)
        card = card_of(posted["activity"])
        text = card_text(card)
        assert posted["kind"] == "sent"
        assert "Voicemail · Sales" in text
        assert "+14255550142" in text
        assert "Length: 0:21" in text
        assert f"Menu path: Main menu{MENU_STEP}Sales" in text
        execute, call_back, listen = card["actions"]
        assert (execute["title"], execute["verb"]) == ("Mark handled", "voicemail")
        assert execute["data"] == {"voicemailId": voicemail.id}
        assert (call_back["title"], call_back["verb"]) == ("Call back", "callBack")
        assert listen["type"] == "Action.OpenUrl"
        assert f"voicemail={voicemail.id}" in listen["url"]
        assert card["refresh"]["userIds"] == [f"29:{agent}"]
    with pytest.raises(SimulatorRequestError):
        await stack.simulator.conversation(personal_conversation_id(CHLOE))
    cards = (
        await stack.documents.notice_cards.get(
            TENANT, notice_cards_id(NoticeKind.VOICEMAIL, voicemail.id)
        )
    ).value
    assert sorted(copy.agent_id for copy in cards.copies) == sorted((ANA, BEN))


async def test_mark_handled_on_the_card_updates_every_agents_copy_in_place(
    stack: Stack,
) -> None:
    voicemail = await _left(stack)

    status, text = _response(await stack.press(ANA, "voicemail", {"voicemailId": voicemail.id}))
    await stack.notifier.wait_idle()

    assert status == 200
    assert "Handled by Ana Ruiz at Mar 2, 9:00 AM EST." in text
    stored = (await stack.repository.voicemails.get(TENANT, voicemail.id)).value
    assert stored.handled_by == ANA
    for agent in (ANA, BEN):
        posted, updated = await _events(stack, agent)
        assert updated["kind"] == "updated"
        assert updated["activityId"] == posted["activityId"]
        card = card_of(updated["activity"])
        assert "Handled by Ana Ruiz" in card_text(card)
        assert [action["title"] for action in card["actions"]] == ["Listen"]


async def test_handling_twice_says_who_handled_it_and_changes_nothing(stack: Stack) -> None:
    voicemail = await _left(stack)
    await stack.press(ANA, "voicemail", {"voicemailId": voicemail.id})
    await stack.notifier.wait_idle()
    before = await stack.repository.voicemails.get(TENANT, voicemail.id)

    status, text = _response(await stack.press(BEN, "voicemail", {"voicemailId": voicemail.id}))
    await stack.notifier.wait_idle()

    assert status == 200
    assert "Already handled: Handled by Ana Ruiz" in text
    after = await stack.repository.voicemails.get(TENANT, voicemail.id)
    assert after.etag == before.etag
    # Each copy was updated once: the second press has nothing new to show.
    assert [event["kind"] for event in await _events(stack, BEN)] == ["sent", "updated"]


async def test_an_agent_of_another_queue_gets_a_clear_card_and_nothing_changes(
    stack: Stack,
) -> None:
    voicemail = await _left(stack)
    before = await stack.repository.voicemails.get(TENANT, voicemail.id)

    status, text = _response(await stack.press(DEV, "voicemail", {"voicemailId": voicemail.id}))

    assert status == 403
    assert "Not your queue's voicemail" in text
    assert "Nothing was changed" in text
    after = await stack.repository.voicemails.get(TENANT, voicemail.id)
    assert after.etag == before.etag


async def test_a_voicemail_handled_in_the_tab_updates_the_cards(stack: Stack) -> None:
    voicemail = await _left(stack)
    async with stack.host.post("/api/tab/demo/token", json={"userId": BEN}) as answer:
        token = (await answer.json())["accessToken"]

    async with stack.host.post(
        f"/api/tab/me/voicemails/{voicemail.id}/handled",
        headers={"Authorization": f"Bearer {token}"},
    ) as answer:
        assert answer.status == 200
        assert (await answer.json())["handledBy"]["displayName"] == "Ben Okafor"
    await stack.notifier.wait_idle()

    for agent in (ANA, BEN):
        _, updated = await _events(stack, agent)
        assert "Handled by Ben Okafor" in card_text(card_of(updated["activity"]))


async def test_a_voicemail_handled_before_its_cards_went_out_shows_it_on_them(
    stack: Stack,
) -> None:
    await stack.install(ANA)
    voicemail = await _voicemail(stack)
    await stack.repository.voicemails.put(
        replace(voicemail, handled_by=BEN, handled_at=stack.clock.now())
    )

    await stack.notifier.voicemail_left(voicemail, (ANA,))
    await stack.notifier.wait_idle()

    posted, updated = await _events(stack, ANA)
    assert updated["activityId"] == posted["activityId"]
    assert "Handled by Ben Okafor" in card_text(card_of(updated["activity"]))


async def test_refreshing_a_voicemail_card_shows_it_as_it_is_now(stack: Stack) -> None:
    voicemail = await _left(stack)
    await stack.press(BEN, "voicemail", {"voicemailId": voicemail.id})

    status, text = _response(
        await stack.press(ANA, "refresh", {"kind": "voicemail", "voicemailId": voicemail.id})
    )

    assert status == 200
    assert "Handled by Ben Okafor" in text


def _callback_line(now: datetime) -> Call:
    request = callback_id("call-cb-1")
    return Call(
        id=request,
        tenant_id=TENANT,
        caller=Party(PartyKind.PHONE, "+14255550123", "Megan Bowen"),
        target_id="app-instance",
        state=CallState.SCHEDULED,
        direction="callback",
        queue_id=SUPPORT,
        queue_name="Support",
        callback=CallbackState(
            request_id=request,
            origin_call_id="call-cb-1",
            requested_at=now,
            settings=CallbackSettings(offered=True, max_attempts=3),
        ),
    )


async def test_a_waiting_callback_is_told_to_the_queue_and_its_end_updates_the_cards(
    stack: Stack,
) -> None:
    await stack.install(CHLOE)
    now = stack.clock.now()
    line = _callback_line(now)

    await stack.notifier.callback_waiting(line, (CHLOE, DEV))
    await stack.notifier.wait_idle()
    await stack.notifier.callback_ended(
        CallbackRequest(
            id=line.id,
            tenant_id=TENANT,
            queue_id=SUPPORT,
            queue_name="Support",
            number=line.caller,
            origin_call_id="call-cb-1",
            requested_at=now,
            offered_at=now,
            ended_at=now + timedelta(minutes=4),
            status=CallbackStatus.CONNECTED,
            attempts=(CallbackAttempt(1, now + timedelta(minutes=3)),),
            agent_id=CHLOE,
        )
    )
    await stack.notifier.wait_idle()

    posted, updated = await _events(stack, CHLOE)
    waiting = card_text(card_of(posted["activity"]))
    assert "Callback · Support" in waiting
    assert "Megan Bowen" in waiting
    assert "up to 3 tries" in waiting
    assert updated["activityId"] == posted["activityId"]
    assert "Called back with Chloe Martin at Mar 2, 9:04 AM EST." in card_text(
        card_of(updated["activity"])
    )
