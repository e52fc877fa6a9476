"""The call at hand: notes saved as typed, the caller's history, transfers, more wrap-up
time, and calling back a caller nobody answered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot import keys
from bot.demo import LINES, PEOPLE
from contactcenter.callbacks import callback_id
from contactcenter.model import CallState, Party, PartyKind, Voicemail
from contactcenter.records import leg_record_id
from tests.tab.support import ANA, BEN, DEV, SALES, SUPPORT, TabStack
from tests.tab.test_work_api import (
    CALLER,
    CODES,
    _advance,
    _after,
    _away,
    _connected,
    _record,
    _set_codes,
    _taken,
    _tenant,
)

CHLOE = next(p for p in PEOPLE if p.upn.startswith("chloe"))


def _notes(call_id: str) -> str:
    return f"/api/tab/me/calls/{call_id}/notes"


async def _me(tab: TabStack, user: str) -> dict[str, Any]:
    status, body = await tab.call("GET", "/api/tab/me", user=user)
    assert status == 200
    return body  # type: ignore[no-any-return]


async def _fire_timers(tab: TabStack) -> None:
    await tab.app[keys.ENGINE].fire_due_timers()


async def test_the_workspace_shows_the_call_i_am_on(tab: TabStack) -> None:
    await _away(tab, BEN.id, CHLOE.id)
    call_id = await _connected(tab)

    me = await _me(tab, ANA.id)

    assert me["tenant"]["timeZone"] == "America/New_York"
    call = me["call"]
    assert (call["callId"], call["queueName"], call["caller"]["id"]) == (call_id, "Sales", CALLER)
    assert call["answeredAt"] is not None
    assert call["transfer"] is None
    assert me["wrapUp"] is None


async def test_notes_typed_during_wrap_up_survive_its_timer(tab: TabStack) -> None:
    await _set_codes(tab, CODES)
    await _away(tab, BEN.id, CHLOE.id)
    call_id = await _taken(tab)
    me = await _me(tab, ANA.id)
    assert me["wrapUp"]["recordId"] == call_id
    assert me["wrapUp"]["extensionS"] == 60

    status, body = await tab.call(
        "PUT", _notes(call_id), user=ANA.id, json={"code": None, "note": "Line one\n\tline two"}
    )
    assert status == 200
    assert (body["savedTo"], body["note"], body["codes"]) == (
        "draft",
        "Line one\n\tline two",
        list(CODES),
    )
    assert (await _record(tab, call_id)).disposition_note == ""

    _advance(tab, 20)
    await _fire_timers(tab)

    record = await _record(tab, call_id)
    assert record.disposition_note == "Line one\n\tline two"
    assert (record.wrap_up_s, record.wrap_up_pending) == (15, False)
    status, body = await tab.call("GET", _notes(call_id), user=ANA.id)
    assert (body["savedTo"], body["note"]) == ("record", "Line one\n\tline two")


async def test_a_note_with_a_control_character_is_refused_in_plain_words(tab: TabStack) -> None:
    await _away(tab, BEN.id, CHLOE.id)
    call_id = await _taken(tab)

    status, body = await tab.call(
        "PUT", _notes(call_id), user=ANA.id, json={"note": "ok\u202eevil"}
    )

    assert status == 422
    [detail] = body["error"]["details"]
    assert detail["field"] == "note"
    assert "control or bidirectional-override" in detail["message"]


async def test_an_agent_takes_more_wrap_up_time_once(tab: TabStack) -> None:
    await _away(tab, BEN.id, CHLOE.id)
    await _taken(tab)
    before = datetime.fromisoformat((await _me(tab, ANA.id))["wrapUp"]["until"])

    status, me = await tab.call("POST", "/api/tab/me/wrap-up/extend", user=ANA.id)

    assert status == 200
    assert me["wrapUp"]["extended"] is True
    assert (datetime.fromisoformat(me["wrapUp"]["until"]) - before).total_seconds() == 60
    status, body = await tab.call("POST", "/api/tab/me/wrap-up/extend", user=ANA.id)
    assert status == 422
    assert "already" in body["error"]["message"]


async def test_the_caller_s_earlier_calls_show_on_the_call_at_hand(tab: TabStack) -> None:
    await _set_codes(tab, CODES)
    await _away(tab, BEN.id, CHLOE.id)
    first = await _taken(tab)
    await tab.call(
        "POST",
        f"/api/tab/me/calls/{first}/disposition",
        user=ANA.id,
        json={"code": "Sale", "note": "renewal"},
    )
    _advance(tab, 60)
    await _fire_timers(tab)
    second = await _connected(tab)

    status, body = await tab.call("GET", f"/api/tab/me/calls/{second}/caller-history", user=ANA.id)

    assert status == 200
    assert body["caller"]["id"] == CALLER
    assert [(c["id"], c["dispositionCode"], c["agentName"]) for c in body["calls"]] == [
        (first, "Sale", "Ana Ruiz")
    ]


async def test_an_agent_transfers_a_call_to_another_queue(tab: TabStack) -> None:
    await _away(tab, BEN.id, CHLOE.id)
    call_id = await _connected(tab)
    status, targets = await tab.call("GET", "/api/tab/me/transfer-targets", user=ANA.id)
    assert status == 200
    assert {q["name"] for q in targets["queues"]} == {"Sales", "Support"}
    assert ANA.id not in {a["id"] for a in targets["agents"]}

    status, me = await tab.call(
        "POST", f"/api/tab/me/calls/{call_id}/transfer", user=ANA.id, json={"queueId": SUPPORT}
    )

    assert status == 200
    assert me["call"] is None
    assert me["wrapUp"]["recordId"] == leg_record_id(call_id, 1)
    live = (await tab.repository.calls.get(_tenant(tab), call_id)).value
    assert (live.queue_id, live.state) == (SUPPORT, CallState.RINGING)


async def test_an_agent_transfers_a_call_to_another_agent(tab: TabStack) -> None:
    await _away(tab, BEN.id, CHLOE.id)
    call_id = await _connected(tab)

    status, me = await tab.call(
        "POST", f"/api/tab/me/calls/{call_id}/transfer", user=ANA.id, json={"agentId": DEV.id}
    )

    assert status == 200
    assert me["call"]["transfer"]["agentId"] == DEV.id
    await _after(tab, call_id, tab.simulator.answer_participant(call_id, DEV.id), 2)
    dev = await _me(tab, DEV.id)
    assert dev["call"]["callId"] == call_id
    assert (await _me(tab, ANA.id))["call"] is None


async def test_a_transfer_names_one_target(tab: TabStack) -> None:
    await _away(tab, BEN.id, CHLOE.id)
    call_id = await _connected(tab)

    status, body = await tab.call(
        "POST",
        f"/api/tab/me/calls/{call_id}/transfer",
        user=ANA.id,
        json={"agentId": DEV.id, "queueId": SUPPORT},
    )

    assert status == 422
    assert "either a queue or an agent" in body["error"]["details"][0]["message"]


async def test_an_agent_has_a_call_nobody_answered_called_back(tab: TabStack) -> None:
    await _away(tab, BEN.id, CHLOE.id)
    placed = await tab.simulator.place_call(
        _tenant(tab), application_instance_id=LINES[0].application_instance_id, caller_phone=CALLER
    )
    await tab.simulator.wait_for_call(placed.id, state="established", notifications=3, timeout_s=10)
    await _after(tab, placed.id, tab.simulator.decline_participant(placed.id, ANA.id), 1)
    await tab.simulator.hang_up(placed.id)
    await tab.simulator.wait_for_call(placed.id, state="terminated", timeout_s=10)
    status, calls = await tab.call("GET", "/api/tab/me/calls", user=ANA.id)
    [missed] = [c for c in calls["calls"] if c["id"] == placed.id]
    assert (missed["missed"], missed["canCallBack"]) == (True, True)

    status, body = await tab.call("POST", f"/api/tab/me/calls/{placed.id}/callback", user=ANA.id)

    assert status == 201
    assert (body["id"], body["queueName"], body["number"]["id"]) == (
        callback_id(placed.id),
        "Sales",
        CALLER,
    )
    line = (await tab.repository.calls.get(_tenant(tab), callback_id(placed.id))).value
    assert line.callback is not None
    status, body = await tab.call("POST", f"/api/tab/me/calls/{placed.id}/callback", user=ANA.id)
    assert status == 409


async def test_an_agent_has_a_voicemail_called_back(tab: TabStack) -> None:
    voicemail = Voicemail(
        id="vm-1",
        tenant_id=_tenant(tab),
        queue_id=SALES,
        call_id="call-vm-1",
        caller=Party(PartyKind.PHONE, "+14255550177", "Pat"),
        recorded_at=datetime(2026, 3, 2, 13, 0, tzinfo=UTC),
        queue_name="Sales",
    )
    await tab.repository.voicemails.put(voicemail)

    status, body = await tab.call("POST", "/api/tab/me/voicemails/vm-1/callback", user=ANA.id)
    assert status == 201
    assert body["id"] == callback_id("call-vm-1")
    # Not an agent of the voicemail's queue: it does not exist for them.
    status, _ = await tab.call("POST", "/api/tab/me/voicemails/vm-1/callback", user=DEV.id)
    assert status == 404
