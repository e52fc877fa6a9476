"""The agent's after-call work: dispositions of calls taken, missed calls, callbacks."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.demo import LINES
from contactcenter.clock import VirtualClock
from contactcenter.dispositions import DISPOSITION_WINDOW
from contactcenter.model import (
    AgentActivity,
    Call,
    CallbackAttempt,
    CallbackRequest,
    CallbackSettings,
    CallbackState,
    CallbackStatus,
    CallRecord,
    CallState,
    Offer,
    Party,
    PartyKind,
    Queue,
)
from contactcenter.ports import StoredDocument
from contactcenter.repository import Repository
from storage.memory import MemoryStore
from tests.tab.support import ADMIN, ANA, BEN, DEV, SALES, TabStack

CODES = ("Sale", "Question", "Complaint")
CALLER = "+14255550188"


def _tenant(tab: TabStack) -> str:
    return tab.settings.microsoft_app_tenant_id


async def _set_codes(tab: TabStack, codes: tuple[str, ...]) -> None:
    def change(queue: Queue) -> Queue:
        return replace(queue, disposition_codes=codes)

    await tab.repository.queues.update(_tenant(tab), SALES, change)


async def _after(tab: TabStack, call_id: str, action: Awaitable[Any], notifications: int) -> None:
    """Run a simulator action and wait until its ``notifications`` have been answered."""
    before = len((await tab.simulator.call(call_id))["notifications"])
    await action
    await tab.simulator.wait_for_call(call_id, notifications=before + notifications, timeout_s=10)


async def _away(tab: TabStack, *people: str) -> None:
    for person in people:
        status, _ = await tab.call(
            "POST", "/api/tab/me/status", user=person, json={"status": "away"}
        )
        assert status == 200


async def _connected(tab: TabStack, agent_id: str = ANA.id) -> str:
    """Place a call to Sales and have ``agent_id`` (the first agent rung) answer it."""
    placed = await tab.simulator.place_call(
        _tenant(tab), application_instance_id=LINES[0].application_instance_id, caller_phone=CALLER
    )
    await tab.simulator.wait_for_call(placed.id, state="established", notifications=3, timeout_s=10)
    await _after(tab, placed.id, tab.simulator.answer_participant(placed.id, agent_id), 2)
    return placed.id


async def _taken(tab: TabStack, agent_id: str = ANA.id, talk_s: float = 90) -> str:
    """Have ``agent_id`` take a Sales call, talk, and hang up; return the call id."""
    call_id = await _connected(tab, agent_id)
    _advance(tab, talk_s)
    await _hung_up(tab, call_id, agent_id)
    return call_id


async def _hung_up(tab: TabStack, call_id: str, agent_id: str) -> None:
    """Hang up as the agent; the bot then ends the call, once its record is written."""
    await tab.simulator.hang_up_participant(call_id, agent_id)
    await tab.simulator.wait_for_call(call_id, state="terminated", timeout_s=10)


def _advance(tab: TabStack, seconds: float) -> None:
    clock = tab.clock
    assert isinstance(clock, VirtualClock)
    clock.advance(seconds)


async def _record(tab: TabStack, call_id: str) -> CallRecord:
    return (await tab.repository.call_records.get(_tenant(tab), call_id)).value


async def _my_call(tab: TabStack, user: str, call_id: str) -> dict[str, Any]:
    status, body = await tab.call("GET", "/api/tab/me/calls", user=user)
    assert status == 200
    return next(c for c in body["calls"] if c["id"] == call_id)


def _disposition(call_id: str) -> str:
    return f"/api/tab/me/calls/{call_id}/disposition"


async def test_an_agent_records_the_disposition_of_a_call_they_took(tab: TabStack) -> None:
    await _set_codes(tab, CODES)
    await _away(tab, BEN.id)
    call_id = await _taken(tab)
    agent = (await tab.repository.agents.get(_tenant(tab), ANA.id)).value
    assert agent.activity is AgentActivity.WRAP_UP

    listed = await _my_call(tab, ANA.id, call_id)
    assert listed["outcome"] == "answered"
    assert listed["missed"] is False
    assert listed["dispositionCode"] is None
    assert listed["dispositionCodes"] == list(CODES)
    ended = (await _record(tab, call_id)).ended_at
    assert listed["disposableUntil"] == (ended + DISPOSITION_WINDOW).isoformat().replace(
        "+00:00", "Z"
    )

    _advance(tab, 5)
    status, body = await tab.call(
        "POST", _disposition(call_id), user=ANA.id, json={"code": "Sale", "note": "  two seats  "}
    )
    assert status == 200
    assert (body["id"], body["dispositionCode"], body["dispositionNote"]) == (
        call_id,
        "Sale",
        "two seats",
    )
    record = await _record(tab, call_id)
    assert (record.disposition_code, record.disposition_note) == ("Sale", "two seats")
    assert (record.disposed_by, record.disposed_at) == (ANA.id, tab.clock.now())
    listed = await _my_call(tab, ANA.id, call_id)
    assert (listed["dispositionCode"], listed["disposedBy"]) == ("Sale", ANA.id)


async def test_only_the_agent_who_took_the_call_may_dispose_it(tab: TabStack) -> None:
    await _set_codes(tab, CODES)
    await _away(tab, BEN.id)
    call_id = await _taken(tab)

    status, body = await tab.call("POST", _disposition(call_id), user=BEN.id, json={"code": "Sale"})

    assert status == 403
    assert body["error"]["code"] == "notYourCall"
    assert (await _record(tab, call_id)).disposition_code is None


async def test_a_code_not_of_the_queue_is_refused_and_nothing_changes(tab: TabStack) -> None:
    await _set_codes(tab, CODES)
    await _away(tab, BEN.id)
    call_id = await _taken(tab)
    before = await _record(tab, call_id)

    status, body = await tab.call(
        "POST", _disposition(call_id), user=ANA.id, json={"code": "Refund", "note": "n"}
    )

    assert status == 422
    assert body["error"]["code"] == "validationFailed"
    assert [d["field"] for d in body["error"]["details"]] == ["code"]
    assert await _record(tab, call_id) == before


async def test_a_note_over_2000_characters_is_refused(tab: TabStack) -> None:
    await _set_codes(tab, CODES)
    await _away(tab, BEN.id)
    call_id = await _taken(tab)

    status, body = await tab.call(
        "POST", _disposition(call_id), user=ANA.id, json={"code": "Sale", "note": "x" * 2001}
    )

    assert status == 422
    assert [d["field"] for d in body["error"]["details"]] == ["note"]
    assert (await _record(tab, call_id)).disposition_note == ""


async def test_without_codes_only_a_note_is_kept(tab: TabStack) -> None:
    await _away(tab, BEN.id)
    call_id = await _taken(tab)
    assert (await _my_call(tab, ANA.id, call_id))["dispositionCodes"] == []

    status, body = await tab.call(
        "POST", _disposition(call_id), user=ANA.id, json={"code": None, "note": "asked for a quote"}
    )
    assert status == 200
    assert (body["dispositionCode"], body["dispositionNote"]) == (None, "asked for a quote")

    status, body = await tab.call("POST", _disposition(call_id), user=ANA.id, json={"code": "Sale"})
    assert status == 422
    assert body["error"]["details"][0]["field"] == "code"


async def test_the_disposition_may_change_for_24_hours_then_is_final(tab: TabStack) -> None:
    await _set_codes(tab, CODES)
    await _away(tab, BEN.id)
    call_id = await _taken(tab)
    status, _ = await tab.call("POST", _disposition(call_id), user=ANA.id, json={"code": "Sale"})
    assert status == 200

    _advance(tab, DISPOSITION_WINDOW.total_seconds() - 60)
    status, body = await tab.call(
        "POST", _disposition(call_id), user=ANA.id, json={"code": "Complaint", "note": "late"}
    )
    assert status == 200
    assert body["dispositionCode"] == "Complaint"

    _advance(tab, 61)
    assert (await _my_call(tab, ANA.id, call_id))["disposableUntil"] is None
    status, body = await tab.call("POST", _disposition(call_id), user=ANA.id, json={"code": "Sale"})
    assert status == 409
    assert body["error"]["code"] == "dispositionClosed"
    assert (await _record(tab, call_id)).disposition_code == "Complaint"


async def test_a_record_changed_meanwhile_is_read_again_and_both_changes_kept(
    tab: TabStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _set_codes(tab, CODES)
    await _away(tab, BEN.id)
    call_id = await _taken(tab)
    store = tab.repository.store
    assert isinstance(store, MemoryStore)
    replace_document = store.replace
    lost: list[str] = []

    async def racing(
        collection: str,
        tenant_id: str,
        doc_id: str,
        body: Mapping[str, Any],
        *,
        if_match: str,
    ) -> StoredDocument:
        if collection == Repository.CALL_RECORDS and not lost:
            # Another writer changes the record between the handler's read and its write.
            current = await store.read(collection, tenant_id, doc_id)
            await store.upsert(collection, tenant_id, doc_id, {**current.body, "holdS": 12.0})
            lost.append(current.etag)
        return await replace_document(collection, tenant_id, doc_id, body, if_match=if_match)

    monkeypatch.setattr(store, "replace", racing)

    status, _ = await tab.call(
        "POST", _disposition(call_id), user=ANA.id, json={"code": "Question"}
    )

    assert status == 200
    assert lost  # the first write lost the race
    record = await _record(tab, call_id)
    assert (record.disposition_code, record.hold_s) == ("Question", 12.0)


async def test_a_call_in_progress_has_no_record_yet(tab: TabStack) -> None:
    await _set_codes(tab, CODES)
    await _away(tab, BEN.id)
    call_id = await _connected(tab)

    status, body = await tab.call("POST", _disposition(call_id), user=ANA.id, json={"code": "Sale"})
    assert status == 409
    assert body["error"]["code"] == "callNotEnded"
    assert "no record yet" in body["error"]["message"]

    status, body = await tab.call("POST", _disposition(call_id), user=BEN.id, json={"code": "Sale"})
    assert status == 403


async def test_an_unknown_call_is_not_found(tab: TabStack) -> None:
    status, body = await tab.call(
        "POST", _disposition("no-such-call"), user=ANA.id, json={"code": "Sale"}
    )
    assert status == 404
    assert body["error"]["code"] == "notFound"


async def test_a_call_i_declined_is_listed_as_missed(tab: TabStack) -> None:
    await _set_codes(tab, CODES)
    placed = await tab.simulator.place_call(
        _tenant(tab), application_instance_id=LINES[0].application_instance_id, caller_phone=CALLER
    )
    await tab.simulator.wait_for_call(placed.id, state="established", notifications=3, timeout_s=10)
    status, _ = await tab.call("POST", f"/api/tab/me/offers/{placed.id}/decline", user=ANA.id)
    assert status == 200
    rung = (await tab.repository.calls.get(_tenant(tab), placed.id)).value
    assert rung.offer is not None
    taker = rung.offer.agent_ids[0]
    await _after(tab, placed.id, tab.simulator.answer_participant(placed.id, taker), 2)
    _advance(tab, 30)
    await _hung_up(tab, placed.id, taker)
    assert ANA.id in (await _record(tab, placed.id)).missed_agent_ids

    missed = await _my_call(tab, ANA.id, placed.id)
    assert missed["missed"] is True
    assert missed["outcome"] == "answered"
    assert (missed["disposableUntil"], missed["dispositionCodes"]) == (None, [])
    status, _ = await tab.call("POST", _disposition(placed.id), user=ANA.id, json={"code": "Sale"})
    assert status == 403
    taken = await _my_call(tab, taker, placed.id)
    assert taken["missed"] is False
    assert taken["disposableUntil"] is not None


async def test_the_calls_report_csv_has_the_disposition(tab: TabStack) -> None:
    await _set_codes(tab, CODES)
    await _away(tab, BEN.id)
    call_id = await _taken(tab)
    await tab.call(
        "POST", _disposition(call_id), user=ANA.id, json={"code": "Sale", "note": "=1+1 seats"}
    )
    day = tab.clock.now().date().isoformat()
    path = f"/api/tab/reports/calls?from={day}&to={day}&format=csv"
    async with tab.host.get(path, headers=tab.auth(ADMIN.id)) as response:
        assert response.status == 200
        rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][-5:] == [
        "result code",
        "result subcode",
        "result message",
        "disposition",
        "disposition note",
    ]
    row = next(r for r in rows[1:] if r[0] == call_id)
    # The agent hung up: the roster said so, Graph gave no result.
    assert row[rows[0].index("leave reason")] == "agent hung up"
    assert row[-5:-2] == ["", "", ""]
    # A note a spreadsheet would run as a formula is neutralised.
    assert row[-2:] == ["Sale", "'=1+1 seats"]


# ---------------------------------------------------------------------- callbacks
def _line(
    tab: TabStack,
    call_id: str,
    *,
    state: CallState,
    offered_minutes_ago: float,
    callback: bool = True,
    attempts: tuple[CallbackAttempt, ...] = (),
    offer_to: str | None = None,
) -> Call:
    now = tab.clock.now()
    offered = now - timedelta(minutes=offered_minutes_ago)
    return Call(
        id=call_id,
        tenant_id=_tenant(tab),
        caller=Party(PartyKind.PHONE, "+14255550111"),
        target_id=LINES[0].phone,
        state=state,
        direction="callback" if callback else "incoming",
        queue_id=SALES,
        queue_name="Sales",
        offered_at=offered,
        due_at=now + timedelta(minutes=5) if state is CallState.SCHEDULED else None,
        callback=(
            CallbackState(
                request_id=call_id,
                origin_call_id=f"origin-{call_id}",
                requested_at=offered + timedelta(minutes=1),
                settings=CallbackSettings(offered=True, max_attempts=3),
                attempts=attempts,
            )
            if callback
            else None
        ),
        offer=(
            Offer(agent_ids=(offer_to,), started_at=now, expires_at=now + timedelta(seconds=60))
            if offer_to
            else None
        ),
    )


async def test_callbacks_of_my_queues_are_listed_in_serving_order(tab: TabStack) -> None:
    tenant = _tenant(tab)
    now = tab.clock.now()
    first_try = CallbackAttempt(
        1, now - timedelta(minutes=6), call_id="leg-1", agent_id=BEN.id, ended_at=now, result="busy"
    )
    for call in (
        _line(
            tab, "caller-waiting", state=CallState.WAITING, offered_minutes_ago=10, callback=False
        ),
        _line(tab, "callback-b", state=CallState.WAITING, offered_minutes_ago=8),
        _line(
            tab,
            "callback-a",
            state=CallState.SCHEDULED,
            offered_minutes_ago=20,
            attempts=(first_try,),
        ),
        _line(
            tab,
            "callback-c",
            state=CallState.RINGING,
            offered_minutes_ago=30,
            offer_to=ANA.id,
            attempts=(CallbackAttempt(1, now, call_id="leg-2", agent_id=ANA.id),),
        ),
    ):
        await tab.repository.calls.create(call)
    await tab.repository.callbacks.create(
        CallbackRequest(
            id="callback-done",
            tenant_id=tenant,
            queue_id=SALES,
            queue_name="Sales",
            number=Party(PartyKind.PHONE, "+14255550122"),
            origin_call_id="origin-done",
            requested_at=now - timedelta(hours=2),
            offered_at=now - timedelta(hours=2),
            ended_at=now - timedelta(hours=1),
            status=CallbackStatus.CONNECTED,
            connected_call_id="leg-0",
            agent_id=ANA.id,
        )
    )

    status, body = await tab.call("GET", "/api/tab/me/callbacks", user=ANA.id)

    assert status == 200
    waiting = {c["id"]: c for c in body["waiting"]}
    assert [c["id"] for c in body["waiting"]] == ["callback-c", "callback-a", "callback-b"]
    assert (waiting["callback-c"]["status"], waiting["callback-c"]["position"]) == ("dialing", None)
    assert waiting["callback-c"]["assignedToMe"] is True
    # Scheduled for its second try, it goes back in its old place: first in line.
    scheduled = waiting["callback-a"]
    assert (scheduled["status"], scheduled["position"]) == ("scheduled", 1)
    assert scheduled["nextAttemptAt"] is not None
    assert [(a["number"], a["result"]) for a in scheduled["attempts"]] == [(1, "busy")]
    assert scheduled["maxAttempts"] == 3
    assert scheduled["number"] == {"kind": "phone", "id": "+14255550111", "displayName": ""}
    # Behind the caller who has waited 10 minutes.
    assert (waiting["callback-b"]["status"], waiting["callback-b"]["position"]) == ("waiting", 2)
    assert waiting["callback-b"]["assignedToMe"] is False
    assert [(c["id"], c["status"], c["assignedToMe"]) for c in body["recent"]] == [
        ("callback-done", "connected", True)
    ]

    # Dev is in Support only: none of them are his.
    status, body = await tab.call("GET", "/api/tab/me/callbacks", user=DEV.id)
    assert status == 200
    assert body == {"waiting": [], "recent": []}


async def test_callbacks_are_for_agents(tab: TabStack) -> None:
    status, body = await tab.call("GET", "/api/tab/me/callbacks", user=ADMIN.id)
    assert status == 403
    assert body["error"]["code"] == "forbidden"


async def test_a_note_keeps_its_lines_and_tabs_but_not_a_bidirectional_override(
    tab: TabStack,
) -> None:
    await _set_codes(tab, CODES)
    await _away(tab, BEN.id)
    call_id = await _taken(tab)

    status, body = await tab.call(
        "POST", _disposition(call_id), user=ANA.id, json={"code": "Sale", "note": "a\u202eb"}
    )
    assert status == 422
    assert body["error"]["details"][0]["field"] == "note"
    assert (await _record(tab, call_id)).disposition_note == ""

    note = "Two seats\n\tand a headset"
    status, body = await tab.call(
        "POST", _disposition(call_id), user=ANA.id, json={"code": "Sale", "note": note}
    )
    assert status == 200
    assert (await _record(tab, call_id)).disposition_note == note
