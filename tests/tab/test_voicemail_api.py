"""The agent's voicemails in the tab: my queues' messages, their recordings, handling."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.media_routes import MEDIA_STORE
from contactcenter.model import Party, PartyKind, Voicemail
from contactcenter.voicemail import recording_media_id, voicemail_id
from tests.tab.support import ANA, BEN, DEV, SALES, SUPPORT, TabStack

RECORDING = b"RIFF\x24\x00\x00\x00WAVEfmt "


def _tenant(tab: TabStack) -> str:
    return tab.settings.microsoft_app_tenant_id


async def _leave(
    tab: TabStack, call_id: str, queue_id: str, *, minutes_ago: int, recorded: bool = True
) -> Voicemail:
    tenant_id = _tenant(tab)
    voicemail = Voicemail(
        id=voicemail_id(call_id),
        tenant_id=tenant_id,
        queue_id=queue_id,
        call_id=call_id,
        caller=Party(PartyKind.PHONE, "+14255550142"),
        recorded_at=tab.clock.now() - timedelta(minutes=minutes_ago),
        media_id=recording_media_id(call_id) if recorded else "",
        queue_name="Sales" if queue_id == SALES else "Support",
        duration_s=12.5,
        ivr_path=("Main menu",),
    )
    if recorded:
        await tab.app[MEDIA_STORE].put(tenant_id, voicemail.media_id, RECORDING)
    return (await tab.repository.voicemails.create(voicemail)).value


async def test_my_voicemails_are_my_queues_unhandled_first(tab: TabStack) -> None:
    old = await _leave(tab, "call-old", SALES, minutes_ago=30)
    handled = await _leave(tab, "call-handled", SALES, minutes_ago=5)
    await tab.repository.voicemails.put(
        replace(handled, handled_by=BEN.id, handled_at=tab.clock.now())
    )
    new = await _leave(tab, "call-new", SALES, minutes_ago=10, recorded=False)
    await _leave(tab, "call-support", SUPPORT, minutes_ago=1)

    status, body = await tab.call("GET", "/api/tab/me/voicemails", user=ANA.id)

    assert status == 200
    listed = body["voicemails"]
    assert [v["id"] for v in listed] == [new.id, old.id, handled.id]
    assert listed[0]["hasRecording"] is False
    assert listed[0]["handledBy"] is None
    assert listed[2]["handledBy"] == {"id": BEN.id, "displayName": BEN.name}
    assert listed[1]["caller"]["id"] == "+14255550142"
    assert listed[1]["ivrPath"] == ["Main menu"]


async def test_an_agent_of_the_queue_gets_the_recording(tab: TabStack) -> None:
    voicemail = await _leave(tab, "call-1", SALES, minutes_ago=1)

    async with tab.host.get(
        f"/api/tab/me/voicemails/{voicemail.id}/audio", headers=tab.auth(ANA.id)
    ) as answer:
        assert answer.status == 200
        assert answer.content_type == "audio/wav"
        assert "no-store" in answer.headers["Cache-Control"]
        assert await answer.read() == RECORDING


async def test_anyone_else_gets_404_for_the_recording(tab: TabStack) -> None:
    voicemail = await _leave(tab, "call-1", SALES, minutes_ago=1)

    status, body = await tab.call(
        "GET", f"/api/tab/me/voicemails/{voicemail.id}/audio", user=DEV.id
    )
    assert status == 404
    assert body["error"]["code"] == "voicemailNotFound"
    status, _ = await tab.call("GET", "/api/tab/me/voicemails/vm-nope/audio", user=ANA.id)
    assert status == 404


async def test_a_voicemail_without_a_recording_has_nothing_to_play(tab: TabStack) -> None:
    voicemail = await _leave(tab, "call-1", SALES, minutes_ago=1, recorded=False)

    status, body = await tab.call(
        "GET", f"/api/tab/me/voicemails/{voicemail.id}/audio", user=ANA.id
    )
    assert status == 404
    assert body["error"]["code"] == "noRecording"


async def test_marking_handled_records_who_and_when(tab: TabStack) -> None:
    voicemail = await _leave(tab, "call-1", SALES, minutes_ago=1)

    status, body = await tab.call(
        "POST", f"/api/tab/me/voicemails/{voicemail.id}/handled", user=ANA.id
    )

    assert status == 200
    assert body["handledBy"] == {"id": ANA.id, "displayName": ANA.name}
    stored = (await tab.repository.voicemails.get(_tenant(tab), voicemail.id)).value
    assert stored.handled_by == ANA.id
    assert stored.handled_at == tab.clock.now()


async def test_marking_handled_again_is_fine_for_me_and_a_conflict_for_others(
    tab: TabStack,
) -> None:
    voicemail = await _leave(tab, "call-1", SALES, minutes_ago=1)
    path = f"/api/tab/me/voicemails/{voicemail.id}/handled"
    await tab.call("POST", path, user=ANA.id)

    again, _ = await tab.call("POST", path, user=ANA.id)
    status, body = await tab.call("POST", path, user=BEN.id)

    assert again == 200
    assert status == 409
    assert body["error"]["code"] == "voicemailAlreadyHandled"
    assert ANA.name in body["error"]["message"]
    stored = (await tab.repository.voicemails.get(_tenant(tab), voicemail.id)).value
    assert stored.handled_by == ANA.id


async def test_an_agent_of_another_queue_cannot_handle_it(tab: TabStack) -> None:
    voicemail = await _leave(tab, "call-1", SALES, minutes_ago=1)

    status, _ = await tab.call(
        "POST", f"/api/tab/me/voicemails/{voicemail.id}/handled", user=DEV.id
    )

    assert status == 404
    stored = (await tab.repository.voicemails.get(_tenant(tab), voicemail.id)).value
    assert stored.handled_by is None
