"""Personal data: a caller's number is read in E.164 form, and an erasure holds against
writers that change a document between the scan that finds it and its rewrite."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from contactcenter.audit import Actor, AuditLog
from contactcenter.clock import VirtualClock
from contactcenter.errors import InvalidInput
from contactcenter.model import (
    Agent,
    CallOutcome,
    CallRecord,
    Party,
    PartyKind,
    Role,
    Tenant,
    User,
)
from contactcenter.personal_data import PSEUDONYM_PREFIX, PersonalDataService, caller_number
from contactcenter.ports import StoredDocument
from contactcenter.repository import Repository
from contactcenter.seats import Seats
from storage.memory import MemoryStore

TENANT = Tenant(id="tenant-1", name="Contoso")
OPERATOR = Actor(id="operator", name="Operator")
ENDED = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


class RacingStore(MemoryStore):
    """A store in which another writer changes a call record just before each of our writes."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

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
                collection, tenant_id, doc_id, {**current.body, "dispositionCode": "Sale"}
            )
        return await super().replace(collection, tenant_id, doc_id, body, if_match=if_match)


def test_a_callers_number_is_read_in_e164_form() -> None:
    assert caller_number("+1 (425) 555-0100") == "+14255550100"
    with pytest.raises(InvalidInput):
        caller_number("425 555 0100")


async def _erase_ben(store: MemoryStore) -> int:
    repository = Repository(store)
    clock = VirtualClock()
    await repository.tenants.create(TENANT)
    await repository.users.create(User(id="ben", tenant_id=TENANT.id, display_name="Ben Ito"))
    await repository.users.create(
        User(id="admin", tenant_id=TENANT.id, display_name="Adele", roles=frozenset({Role.ADMIN}))
    )
    await repository.agents.create(Agent(id="ben", tenant_id=TENANT.id, display_name="Ben Ito"))
    await repository.call_records.create(
        CallRecord(
            id="call-1",
            tenant_id=TENANT.id,
            chain_id="call-1",
            direction="incoming",
            caller=Party(PartyKind.PHONE, "+14255550100"),
            queue_id="sales",
            queue_name="Sales",
            offered_at=ENDED,
            ended_at=ENDED,
            outcome=CallOutcome.ANSWERED,
            agent_id="ben",
            agent_name="Ben Ito",
        )
    )
    service = PersonalDataService(
        store, repository, AuditLog(store, clock), Seats(store, repository, clock), clock
    )
    erasure = await service.erase(TENANT, "ben", OPERATOR)
    record = (await repository.call_records.get(TENANT.id, "call-1")).value
    assert record.agent_id == erasure.pseudonym
    assert record.agent_id.startswith(PSEUDONYM_PREFIX)
    assert record.agent_name == ""
    return erasure.pseudonymised


async def test_an_erasure_rewrites_a_record_changed_meanwhile_keeping_that_change() -> None:
    store = RacingStore(races=2)
    assert await _erase_ben(store) == 1
    assert store.races == 0
    body = (await store.read(Repository.CALL_RECORDS, TENANT.id, "call-1")).body
    assert body["dispositionCode"] == "Sale"


async def test_an_erasure_without_races_rewrites_each_record_once() -> None:
    assert await _erase_ben(MemoryStore()) == 1
