"""Dispositions: the agent who took a call records what it was about, on its call record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contactcenter.clock import VirtualClock
from contactcenter.codec import from_document, to_document
from contactcenter.dispositions import (
    DISPOSITION_WINDOW,
    MAX_NOTE_CHARS,
    Disposition,
    DispositionClosed,
    NotYourCall,
    can_dispose,
    check_disposition,
    record_disposition,
)
from contactcenter.errors import Conflict, InvalidInput, NotFound
from contactcenter.model import CallOutcome, CallRecord, Party, PartyKind, Queue
from contactcenter.ports import StoredDocument
from contactcenter.repository import Repository
from storage.memory import MemoryStore

TENANT = "tenant-1"
CODES = ("Sale", "Question", "Complaint")
ENDED = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def _record(
    call_id: str = "c1", *, agent_id: str | None = "a1", queue_id: str = "q1"
) -> CallRecord:
    return CallRecord(
        id=call_id,
        tenant_id=TENANT,
        chain_id="",
        direction="incoming",
        caller=Party(PartyKind.PHONE, "+14255550100"),
        queue_id=queue_id,
        queue_name="Sales",
        offered_at=ENDED - timedelta(minutes=3),
        answered_at=ENDED - timedelta(minutes=2) if agent_id else None,
        ended_at=ENDED,
        outcome=CallOutcome.ANSWERED if agent_id else CallOutcome.ABANDONED,
        agent_id=agent_id,
        missed_agent_ids=("a2",),
    )


class RacingStore(MemoryStore):
    """A store where another writer changes a call record between each read and write."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races
        self.lost = 0

    async def replace(
        self,
        collection: str,
        tenant_id: str,
        doc_id: str,
        body: Mapping[str, Any],
        *,
        if_match: str,
    ) -> StoredDocument:
        if collection == Repository.CALL_RECORDS and self.races > 0:
            self.races -= 1
            current = await self.read(collection, tenant_id, doc_id)
            await self.upsert(
                collection, tenant_id, doc_id, {**current.body, "holdS": current.body["holdS"] + 1}
            )
        try:
            return await super().replace(collection, tenant_id, doc_id, body, if_match=if_match)
        except Conflict:
            self.lost += 1
            raise


async def _repository(
    store: MemoryStore | None = None, *, codes: tuple[str, ...] = CODES, queue: bool = True
) -> Repository:
    repo = Repository(store or MemoryStore())
    if queue:
        await repo.queues.create(
            Queue(id="q1", tenant_id=TENANT, name="Sales", disposition_codes=codes)
        )
    await repo.call_records.create(_record())
    return repo


async def _stored(repo: Repository, call_id: str = "c1") -> CallRecord:
    return (await repo.call_records.get(TENANT, call_id)).value


async def test_a_code_of_the_queue_is_recorded_with_who_and_when() -> None:
    repo = await _repository()
    clock = VirtualClock(ENDED + timedelta(seconds=20))

    saved = await record_disposition(
        repo,
        TENANT,
        "c1",
        Disposition("Sale", "  wants the blue one  "),
        agent_id="a1",
        now=clock.now(),
    )

    assert saved == await _stored(repo)
    assert saved.disposition_code == "Sale"
    assert saved.disposition_note == "wants the blue one"
    assert saved.disposed_by == "a1"
    assert saved.disposed_at == clock.now()
    # Nothing else about the call changes.
    assert (
        replace(
            saved, disposition_code=None, disposition_note="", disposed_by=None, disposed_at=None
        )
        == _record()
    )


async def test_a_code_not_of_the_queue_is_refused_and_nothing_changes() -> None:
    repo = await _repository()

    with pytest.raises(InvalidInput) as refused:
        await record_disposition(
            repo, TENANT, "c1", Disposition("Refund"), agent_id="a1", now=ENDED
        )

    assert refused.value.field == "code"
    assert await _stored(repo) == _record()


async def test_a_queue_with_codes_needs_one() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_disposition(Disposition(None, "a note"), CODES)
    assert refused.value.field == "code"
    with pytest.raises(InvalidInput):
        check_disposition(Disposition("  ", "a note"), CODES)


async def test_a_queue_without_codes_keeps_only_the_note() -> None:
    repo = await _repository(codes=())

    saved = await record_disposition(
        repo, TENANT, "c1", Disposition(None, "called about billing"), agent_id="a1", now=ENDED
    )

    assert (saved.disposition_code, saved.disposition_note) == (None, "called about billing")
    with pytest.raises(InvalidInput) as refused:
        await record_disposition(repo, TENANT, "c1", Disposition("Sale"), agent_id="a1", now=ENDED)
    assert refused.value.field == "code"


async def test_a_deleted_queue_has_no_codes_to_pick() -> None:
    repo = await _repository(queue=False)

    saved = await record_disposition(
        repo, TENANT, "c1", Disposition("", "queue is gone"), agent_id="a1", now=ENDED
    )

    assert (saved.disposition_code, saved.disposition_note) == (None, "queue is gone")


def test_a_note_may_be_at_most_2000_characters() -> None:
    assert check_disposition(Disposition("Sale", "x" * MAX_NOTE_CHARS), CODES).note == "x" * 2000
    with pytest.raises(InvalidInput) as refused:
        check_disposition(Disposition("Sale", "x" * (MAX_NOTE_CHARS + 1)), CODES)
    assert refused.value.field == "note"


@pytest.mark.parametrize("agent_id", ["a2", "someone-else"])
async def test_only_the_agent_who_took_the_call_may_dispose_it(agent_id: str) -> None:
    repo = await _repository()

    with pytest.raises(NotYourCall):
        await record_disposition(
            repo, TENANT, "c1", Disposition("Sale"), agent_id=agent_id, now=ENDED
        )

    assert await _stored(repo) == _record()


async def test_a_call_nobody_answered_has_no_one_to_dispose_it() -> None:
    repo = await _repository()
    await repo.call_records.create(_record("c2", agent_id=None))

    with pytest.raises(NotYourCall):
        await record_disposition(repo, TENANT, "c2", Disposition("Sale"), agent_id="a1", now=ENDED)


async def test_the_disposition_may_change_until_24_hours_after_the_call() -> None:
    repo = await _repository()
    clock = VirtualClock(ENDED + timedelta(minutes=1))
    await record_disposition(
        repo, TENANT, "c1", Disposition("Sale"), agent_id="a1", now=clock.now()
    )

    clock.set(ENDED + DISPOSITION_WINDOW)
    saved = await record_disposition(
        repo, TENANT, "c1", Disposition("Complaint", "rang back"), agent_id="a1", now=clock.now()
    )
    assert (saved.disposition_code, saved.disposed_at) == ("Complaint", clock.now())

    clock.advance(1)
    assert not can_dispose(saved, "a1", clock.now())
    with pytest.raises(DispositionClosed):
        await record_disposition(
            repo, TENANT, "c1", Disposition("Sale"), agent_id="a1", now=clock.now()
        )
    assert (await _stored(repo)).disposition_code == "Complaint"


async def test_a_lost_race_is_retried_and_keeps_the_other_change() -> None:
    store = RacingStore(races=2)
    repo = await _repository(store)

    saved = await record_disposition(
        repo, TENANT, "c1", Disposition("Question"), agent_id="a1", now=ENDED
    )

    assert store.lost == 2
    stored = await _stored(repo)
    assert stored == saved
    assert (stored.disposition_code, stored.hold_s) == ("Question", 2.0)


async def test_a_record_that_keeps_changing_is_a_conflict() -> None:
    store = RacingStore(races=100)
    repo = await _repository(store)

    with pytest.raises(Conflict):
        await record_disposition(
            repo, TENANT, "c1", Disposition("Question"), agent_id="a1", now=ENDED
        )

    assert (await _stored(repo)).disposition_code is None


async def test_an_unknown_call_is_not_found() -> None:
    repo = await _repository()

    with pytest.raises(NotFound):
        await record_disposition(
            repo, TENANT, "nope", Disposition("Sale"), agent_id="a1", now=ENDED
        )


def test_the_disposition_round_trips_through_the_document() -> None:
    record = replace(
        _record(),
        disposition_code="Sale",
        disposition_note="n",
        disposed_by="a1",
        disposed_at=ENDED,
    )
    body = to_document(record)
    assert isinstance(body, dict)
    assert (body["dispositionCode"], body["disposedBy"]) == ("Sale", "a1")
    assert from_document(CallRecord, body) == record
