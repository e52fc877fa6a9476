"""A phone caller's data (GDPR): export it all by their number, or erase it, from the admin API.

Robin phoned Sales: Ana took the call and noted what it was about, Robin later left a
voicemail and asked to be called back, and is on the VIP list; the tenant sends call
records to a webhook. Casey (the security suite's waiting caller) is still on a call.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.cards.offers import OfferView
from bot.media_routes import MEDIA_STORE
from bot.messaging.documents import MessagingDocuments, OfferCard, offer_card_id
from contactcenter.audit import AuditLog
from contactcenter.errors import NotFound
from contactcenter.export import OUTBOX, Delivery, encode_body, event_id, record_payload
from contactcenter.model import (
    CallbackAttempt,
    CallbackRequest,
    CallbackStatus,
    CallOutcome,
    Party,
    PartyKind,
    Voicemail,
)
from contactcenter.personal_data import CALLER_PSEUDONYM_PREFIX, caller_reference
from contactcenter.repository import Collection
from contactcenter.voicemail import recording_media_id, voicemail_id
from simulator.media import wav_bytes
from storage.memory import MemoryStore
from tests.security.conftest import A_CALL, A_CALLER, A_RECORD, TENANT_A
from tests.security.support import changes, refused, snapshot
from tests.tab.support import ADMIN, ANA, SALES, SUPERVISOR, TabStack

ROBIN = "+14255550123"
ROBIN_DIGITS = ROBIN.removeprefix("+")
ROBIN_NAME = "Robin Ringer"
ROBINS_CALL = "a3000000-0000-4000-8000-0000000000c1"
ROBINS_VOICEMAIL_CALL = "a3000000-0000-4000-8000-0000000000c2"
ROBINS_CALLBACK = "a3000000-0000-4000-8000-0000000000c3"
HOOK = "a3000000-0000-4000-8000-0000000000c4"
EXPORT = f"/api/tab/admin/callers/{ROBIN}/export"
ERASE = f"/api/tab/admin/callers/{ROBIN}/personal-data"


def _everything(tab: TabStack) -> str:
    store = tab.repository.store
    assert isinstance(store, MemoryStore)
    return json.dumps([doc.body for doc in store._docs.values()])


async def _robins_history(tab: TabStack) -> None:
    """Store everything Robin left behind."""
    repo = tab.repository
    now = tab.clock.now()
    robin = Party(PartyKind.PHONE, ROBIN, ROBIN_NAME)
    caseys = (await repo.call_records.get(TENANT_A, A_RECORD)).value
    answered = replace(
        caseys,
        id=ROBINS_CALL,
        caller=robin,
        disposition_code="Complaint",
        disposition_note=f"{ROBIN_NAME} wants a refund, call back on {ROBIN}",
        disposed_by=ANA.id,
        disposed_at=now,
    )
    await repo.call_records.create(answered)
    voicemail = Voicemail(
        id=voicemail_id(ROBINS_VOICEMAIL_CALL),
        tenant_id=TENANT_A,
        queue_id=SALES,
        call_id=ROBINS_VOICEMAIL_CALL,
        caller=robin,
        recorded_at=now - timedelta(minutes=3),
        media_id=recording_media_id(ROBINS_VOICEMAIL_CALL),
        queue_name="Sales",
        duration_s=4.0,
    )
    await tab.app[MEDIA_STORE].put(TENANT_A, voicemail.media_id, wav_bytes(0.5))
    await repo.voicemails.create(voicemail)
    await repo.call_records.create(
        replace(
            caseys,
            id=ROBINS_VOICEMAIL_CALL,
            caller=robin,
            outcome=CallOutcome.VOICEMAIL,
            answered_at=None,
            agent_id=None,
            agent_name="",
            talk_s=0.0,
            voicemail_id=voicemail.id,
        )
    )
    await repo.callbacks.create(
        CallbackRequest(
            id=ROBINS_CALLBACK,
            tenant_id=TENANT_A,
            queue_id=SALES,
            queue_name="Sales",
            number=robin,
            origin_call_id=ROBINS_CALL,
            requested_at=now - timedelta(minutes=2),
            offered_at=now - timedelta(minutes=1),
            ended_at=now,
            status=CallbackStatus.CONNECTED,
            attempts=(CallbackAttempt(1, now - timedelta(minutes=1), agent_id=ANA.id),),
            agent_id=ANA.id,
        )
    )
    await MessagingDocuments(repo.store).offer_cards.create(
        OfferCard(
            id=offer_card_id(ROBINS_CALL, ANA.id),
            tenant_id=TENANT_A,
            call_id=ROBINS_CALL,
            agent_id=ANA.id,
            conversation_id="a:ana-personal-chat",
            activity_id="activity-offer",
            view=OfferView(ROBINS_CALL, "Sales", ROBIN_NAME, ROBIN, 1, 12.0),
        )
    )
    await Collection(repo.store, OUTBOX, Delivery).create(
        Delivery(
            id=f"{HOOK}|{ROBINS_CALL}",
            tenant_id=TENANT_A,
            endpoint_id=HOOK,
            event_id=event_id(TENANT_A, ROBINS_CALL),
            call_id=ROBINS_CALL,
            body=encode_body(record_payload(answered, created_at=now)),
            due_at=now,
            created_at=now,
        )
    )
    await _make_robin_a_vip(tab)


async def _make_robin_a_vip(tab: TabStack) -> None:
    """Through the admin API, so that the audit log names Robin too."""
    status, lists = await tab.call("GET", "/api/tab/admin/caller-lists", user=ADMIN.id)
    assert status == 200
    entries = [*lists["entries"], {"kind": "vip", "partyKind": "phone", "value": ROBIN}]
    status, answer = await tab.call(
        "PUT",
        "/api/tab/admin/caller-lists",
        user=ADMIN.id,
        json={"entries": entries},
        headers={"If-Match": lists["etag"]},
    )
    assert status == 200, answer


async def _records(tab: TabStack) -> int:
    return len(await tab.repository.call_records.find(TENANT_A))


async def test_an_export_finds_everything_stored_about_a_caller(tab: TabStack) -> None:
    await _robins_history(tab)

    status, export = await tab.call("GET", EXPORT, user=ADMIN.id)

    assert status == 200, export
    assert export["number"] == ROBIN
    assert export["calls"] == []
    assert sorted(r["id"] for r in export["callRecords"]) == [ROBINS_CALL, ROBINS_VOICEMAIL_CALL]
    assert [v["callId"] for v in export["voicemails"]] == [ROBINS_VOICEMAIL_CALL]
    assert [c["id"] for c in export["callbacks"]] == [ROBINS_CALLBACK]
    assert [(e["kind"], e["value"]) for e in export["callerListEntries"]] == [("vip", ROBIN)]
    assert [d["callId"] for d in export["webhookDeliveries"]] == [ROBINS_CALL]
    assert [c["callId"] for c in export["offerCards"]] == [ROBINS_CALL]
    assert [e["action"] for e in export["auditEntries"]] == ["callers.update"]
    assert export["other"] == {}
    # Nothing of another caller's calls.
    assert A_CALLER not in json.dumps(export["callRecords"])


async def test_an_export_takes_the_number_as_people_write_it(tab: TabStack) -> None:
    await _robins_history(tab)

    status, export = await tab.call(
        "GET", "/api/tab/admin/callers/+1 (425) 555-0123/export", user=ADMIN.id
    )

    assert status == 200, export
    assert export["number"] == ROBIN
    assert len(export["callRecords"]) == 2


async def test_an_export_is_audited_without_the_number(tab: TabStack) -> None:
    status, _ = await tab.call("GET", EXPORT, user=ADMIN.id)
    assert status == 200

    latest = (await AuditLog(tab.repository.store, tab.clock).all(TENANT_A))[0].value

    assert (latest.action, latest.actor_id, latest.target_type, latest.target_id) == (
        "caller.export",
        ADMIN.id,
        "caller",
        caller_reference(TENANT_A, ROBIN),
    )
    assert ROBIN_DIGITS not in json.dumps(latest.target_id)


async def test_erasure_leaves_nothing_that_names_the_caller(tab: TabStack) -> None:
    await _robins_history(tab)
    await tab.call("GET", EXPORT, user=ADMIN.id)
    assert ROBIN_DIGITS in _everything(tab)
    records = await _records(tab)
    caseys = (await tab.repository.call_records.get(TENANT_A, A_RECORD)).value
    blob = recording_media_id(ROBINS_VOICEMAIL_CALL)

    status, erased = await tab.call("DELETE", ERASE, user=ADMIN.id)

    assert status == 200, erased
    pseudonym = erased["pseudonym"]
    assert pseudonym.startswith(CALLER_PSEUDONYM_PREFIX)
    assert erased["deleted"] == 1  # the voicemail
    everything = _everything(tab)
    assert [t for t in (ROBIN_DIGITS, ROBIN_NAME, "wants a refund") if t in everything] == []
    # Reports keep their counts and what the business classified.
    assert await _records(tab) == records
    kept = (await tab.repository.call_records.get(TENANT_A, ROBINS_CALL)).value
    assert (kept.caller.kind, kept.caller.id, kept.caller.display_name) == (
        PartyKind.PHONE,
        pseudonym,
        "",
    )
    assert (kept.disposition_code, kept.disposition_note) == ("Complaint", "")
    assert (kept.agent_id, kept.talk_s, kept.outcome) == (ANA.id, caseys.talk_s, caseys.outcome)
    callback = (await tab.repository.callbacks.get(TENANT_A, ROBINS_CALLBACK)).value
    assert (callback.number.id, callback.status) == (pseudonym, CallbackStatus.CONNECTED)
    # The voicemail and its recording are gone.
    with pytest.raises(NotFound):
        await tab.repository.voicemails.get(TENANT_A, voicemail_id(ROBINS_VOICEMAIL_CALL))
    with pytest.raises(NotFound):
        await tab.app[MEDIA_STORE].get(TENANT_A, blob)
    # The VIP entry is gone, the others stay.
    status, lists = await tab.call("GET", "/api/tab/admin/caller-lists", user=ADMIN.id)
    assert status == 200
    assert len(lists["entries"]) == 2
    # A pending webhook delivery now sends the pseudonym.
    delivery = (
        await Collection(tab.repository.store, OUTBOX, Delivery).get(
            TENANT_A, f"{HOOK}|{ROBINS_CALL}"
        )
    ).value
    payload: dict[str, Any] = json.loads(delivery.body)
    assert payload["callRecord"]["caller"] == {"kind": "phone", "id": pseudonym, "displayName": ""}
    assert payload["callRecord"]["talkS"] == caseys.talk_s
    # Another caller's record is untouched.
    assert (await tab.repository.call_records.get(TENANT_A, A_RECORD)).value == caseys
    # The audit log names the pseudonym, for the export before as for the erasure.
    entries = [e.value for e in await AuditLog(tab.repository.store, tab.clock).all(TENANT_A)]
    assert [(e.action, e.target_id) for e in entries[:2]] == [
        ("caller.erase", pseudonym),
        ("caller.export", pseudonym),
    ]


async def test_a_second_erasure_changes_nothing(tab: TabStack) -> None:
    await _robins_history(tab)
    status, _ = await tab.call("DELETE", ERASE, user=ADMIN.id)
    assert status == 200
    before = await snapshot(tab.repository.store)

    status, again = await tab.call("DELETE", ERASE, user=ADMIN.id)

    assert status == 200
    assert again == {"pseudonym": "", "deleted": 0, "pseudonymised": 0}
    assert changes(before, await snapshot(tab.repository.store)) == []


@pytest.mark.parametrize("number", ["14255550123", "+0425555", "+1425555012345678", "Robin"])
async def test_a_number_that_is_not_e164_is_refused(tab: TabStack, number: str) -> None:
    before = await snapshot(tab.repository.store)
    for method, path in (
        ("GET", f"/api/tab/admin/callers/{number}/export"),
        ("DELETE", f"/api/tab/admin/callers/{number}/personal-data"),
    ):
        status, body = await tab.call(method, path, user=ADMIN.id)
        assert status == 422, (method, body)
        assert body["error"]["details"][0]["field"] == "number"
        refused(f"{method} {path.replace(number, '{number}')}")
    assert changes(before, await snapshot(tab.repository.store)) == []


async def test_a_caller_on_a_call_is_not_erased_until_it_ends(tab: TabStack) -> None:
    before = await snapshot(tab.repository.store)

    status, body = await tab.call(
        "DELETE", f"/api/tab/admin/callers/{A_CALLER}/personal-data", user=ADMIN.id
    )

    assert status == 409
    assert body["error"]["code"] == "callerInCall"
    assert "try again" in body["error"]["message"]
    assert body["error"]["details"] == [{"field": "number", "message": f"call {A_CALL}"}]
    assert changes(before, await snapshot(tab.repository.store)) == []
    refused("DELETE /api/tab/admin/callers/{number}/personal-data")


async def test_only_admins_export_or_erase_a_caller(tab: TabStack) -> None:
    await _robins_history(tab)
    for user in (ANA.id, SUPERVISOR.id):
        for method, path in (("GET", EXPORT), ("DELETE", ERASE)):
            status, _ = await tab.call(method, path, user=user)
            assert status == 403
            refused(f"{method} {path.replace(ROBIN, '{number}')}")
    assert ROBIN_DIGITS in _everything(tab)
