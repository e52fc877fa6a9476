"""Retention and offboarding: what expires, what a terminated tenant keeps, and when.

SQLite, the in-memory store and the Cosmos DB test server enforce no TTL, so the purge job
(``contactcenter.retention.purge_expired``) deletes what has expired, on every store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import keys
from bot.demo import LINES
from bot.messaging.documents import MessagingDocuments
from bot.notifications import SUBSCRIPTIONS
from contactcenter.audit import AUDIT_COLLECTION
from contactcenter.clock import VirtualClock
from contactcenter.codec import format_timestamp
from contactcenter.errors import NotFound
from contactcenter.model import (
    CallOutcome,
    CallRecord,
    Party,
    PartyKind,
    Prompt,
    Tenant,
    TenantStatus,
    Voicemail,
)
from contactcenter.repository import Collection, Repository
from contactcenter.retention import (
    AGGREGATES,
    TENANT_COLLECTIONS,
    TERMINATED_TENANT_GRACE,
    offboard_tenant,
    purge_expired,
)
from contactcenter.seats import SEATS_COLLECTION
from graph.identity.tab_sso import GLOBAL_ADMINISTRATOR_ROLE
from storage.cosmos import COLLECTIONS as COSMOS_COLLECTIONS
from storage.media import DataDirMediaStore
from storage.memory import MemoryStore
from tests.security.conftest import TENANT_A, TENANT_B, LiveStack
from tests.tab.support import ADMIN, ANA, TabStack

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
SHORT = "5e000000-0000-4000-8000-000000000001"
LONG = "5e000000-0000-4000-8000-000000000002"


def _record(tenant_id: str, record_id: str, ended: datetime) -> CallRecord:
    return CallRecord(
        id=record_id,
        tenant_id=tenant_id,
        chain_id="",
        direction="incoming",
        caller=Party(PartyKind.PHONE, "+14255550100"),
        queue_id="q",
        queue_name="Q",
        offered_at=ended - timedelta(minutes=5),
        ended_at=ended,
        outcome=CallOutcome.ABANDONED,
    )


async def _aggregate(repository: Repository, tenant_id: str, doc_id: str, start: datetime) -> None:
    await repository.store.upsert(
        AGGREGATES,
        tenant_id,
        doc_id,
        {"kind": "queue", "intervalStart": format_timestamp(start), "answered": 1},
    )


async def _ids(repository: Repository, collection: str, tenant_id: str) -> set[str]:
    page = await repository.store.query(collection, tenant_id)
    return {doc.id for doc in page.documents}


@pytest.fixture
async def stores() -> tuple[Repository, VirtualClock]:
    clock = VirtualClock(NOW)
    repository = Repository(MemoryStore())
    await repository.tenants.create(Tenant(SHORT, "Short", retention_days=30))
    await repository.tenants.create(Tenant(LONG, "Long", retention_days=395))
    for tenant_id in (SHORT, LONG):
        for name, age in (("old", 31), ("recent", 29)):
            await repository.call_records.create(
                _record(tenant_id, f"{name}-record", NOW - timedelta(days=age))
            )
            await _aggregate(repository, tenant_id, f"{name}-interval", NOW - timedelta(days=age))
    return repository, clock


async def test_records_and_aggregates_expire_after_their_tenants_retention(
    stores: tuple[Repository, VirtualClock],
) -> None:
    repository, clock = stores

    deleted = await purge_expired(repository, clock)

    assert deleted == 2
    assert await _ids(repository, Repository.CALL_RECORDS, SHORT) == {"recent-record"}
    assert await _ids(repository, AGGREGATES, SHORT) == {"recent-interval"}
    assert await _ids(repository, Repository.CALL_RECORDS, LONG) == {"old-record", "recent-record"}
    assert await _ids(repository, AGGREGATES, LONG) == {"old-interval", "recent-interval"}


async def test_a_purge_run_twice_deletes_nothing_twice(
    stores: tuple[Repository, VirtualClock],
) -> None:
    repository, clock = stores
    assert await purge_expired(repository, clock) == 2
    assert await purge_expired(repository, clock) == 0


async def test_an_interval_expires_only_once_all_of_it_is_past_retention(
    stores: tuple[Repository, VirtualClock],
) -> None:
    repository, clock = stores
    edge = NOW - timedelta(days=30, minutes=10)  # ends 5 minutes after the cutoff
    await _aggregate(repository, SHORT, "edge-interval", edge)
    await purge_expired(repository, clock)
    assert "edge-interval" in await _ids(repository, AGGREGATES, SHORT)
    clock.advance(6 * 60)
    await purge_expired(repository, clock)
    assert "edge-interval" not in await _ids(repository, AGGREGATES, SHORT)


async def test_a_terminated_tenants_data_is_kept_90_days_then_purged(
    stores: tuple[Repository, VirtualClock],
) -> None:
    repository, clock = stores
    before, after = await offboard_tenant(repository, LONG, clock)
    assert before.status is TenantStatus.ACTIVE
    assert (after.status, after.terminated_at) == (TenantStatus.TERMINATED, NOW)

    clock.advance((TERMINATED_TENANT_GRACE - timedelta(hours=1)).total_seconds())
    await purge_expired(repository, clock)
    assert await _ids(repository, Repository.CALL_RECORDS, LONG) == {"old-record", "recent-record"}

    clock.advance(timedelta(hours=1).total_seconds())
    await purge_expired(repository, clock)
    for collection in TENANT_COLLECTIONS:
        assert await _ids(repository, collection, LONG) == set(), collection
    tombstone = (await repository.tenants.get(LONG, LONG)).value
    assert tombstone == Tenant(
        LONG, "", retention_days=395, status=TenantStatus.TERMINATED, terminated_at=NOW
    )
    assert (await repository.tenants.get(SHORT, SHORT)).value.status is TenantStatus.ACTIVE


async def test_offboarding_twice_keeps_the_first_termination_time(
    stores: tuple[Repository, VirtualClock],
) -> None:
    repository, clock = stores
    await offboard_tenant(repository, SHORT, clock)
    clock.advance(3600)
    before, after = await offboard_tenant(repository, SHORT, clock)
    assert before == after
    assert after.terminated_at == NOW


def _voicemail(tenant_id: str, voicemail_id: str, left: datetime) -> Voicemail:
    return Voicemail(
        id=voicemail_id,
        tenant_id=tenant_id,
        queue_id="q",
        call_id=voicemail_id,
        caller=Party(PartyKind.PHONE, "+14255550100"),
        recorded_at=left,
        media_id=f"{voicemail_id}-recording",
    )


async def test_voicemails_and_their_recordings_expire_with_the_retention(
    stores: tuple[Repository, VirtualClock], tmp_path: Path
) -> None:
    repository, clock = stores
    media = DataDirMediaStore(tmp_path / "media")
    for name, age in (("old", 31), ("recent", 29)):
        message = _voicemail(SHORT, f"{name}-voicemail", NOW - timedelta(days=age))
        await repository.voicemails.create(message)
        await media.put(SHORT, message.media_id, b"RIFF")

    await purge_expired(repository, clock, media=media)

    assert await _ids(repository, "voicemails", SHORT) == {"recent-voicemail"}
    assert await media.get(SHORT, "recent-voicemail-recording") == b"RIFF"
    with pytest.raises(NotFound):
        await media.get(SHORT, "old-voicemail-recording")


async def test_a_purged_tenant_leaves_no_media_behind(
    stores: tuple[Repository, VirtualClock], tmp_path: Path
) -> None:
    repository, clock = stores
    media = DataDirMediaStore(tmp_path / "media")
    message = _voicemail(LONG, "voicemail", NOW)
    await repository.voicemails.create(message)
    await repository.prompts.create(Prompt(id="greeting", tenant_id=LONG, name="Greeting"))
    for tenant_id, blob in ((LONG, message.media_id), (LONG, "greeting"), (SHORT, "greeting")):
        await media.put(tenant_id, blob, b"RIFF")

    await offboard_tenant(repository, LONG, clock)
    clock.advance(TERMINATED_TENANT_GRACE.total_seconds())
    await purge_expired(repository, clock, media=media)

    for blob in (message.media_id, "greeting"):
        with pytest.raises(NotFound):
            await media.get(LONG, blob)
    assert await media.get(SHORT, "greeting") == b"RIFF"  # another tenant's, kept


def test_every_collection_the_host_writes_is_purged_with_its_tenant() -> None:
    owned: set[str] = {
        value.name
        for value in vars(Repository(MemoryStore())).values()
        if isinstance(value, Collection)
    }
    owned -= {Repository.TENANTS}
    owned |= set(COSMOS_COLLECTIONS) - {Repository.TENANTS}
    owned |= {
        MessagingDocuments.CONVERSATION_REFS,
        MessagingDocuments.TEAMS,
        MessagingDocuments.OFFER_CARDS,
        MessagingDocuments.QUEUE_CARDS,
        MessagingDocuments.NOTICE_CARDS,
        AUDIT_COLLECTION,
        SEATS_COLLECTION,
        SUBSCRIPTIONS,
    }
    assert owned - set(TENANT_COLLECTIONS) == set()


# ------------------------------------------------------------------- through the host
def _stored(tab: TabStack, tenant_id: str) -> dict[tuple[str, str], Any]:
    """Every document of a tenant, whatever its collection (the in-memory store's view)."""
    store = tab.repository.store
    assert isinstance(store, MemoryStore)
    return {
        (collection, doc_id): doc.body
        for (collection, tid, doc_id), doc in store._docs.items()
        if tid == tenant_id
    }


async def test_offboarding_refuses_the_tenants_users_at_once(tab: TabStack) -> None:
    assert (await tab.call("GET", "/api/tab/me", user=ANA.id))[0] == 200
    await offboard_tenant(tab.repository, TENANT_A, tab.clock)

    status, body = await tab.call("GET", "/api/tab/me", user=ANA.id)
    assert status == 403
    assert body["error"]["code"] == "tenantTerminated"
    status, _ = await tab.call("GET", "/api/tab/admin/users", user=ADMIN.id)
    assert status == 403


async def test_after_the_purge_nothing_of_the_tenant_is_left_and_it_cannot_come_back(
    tab: TabStack, clock: VirtualClock
) -> None:
    await tab.call("PUT", "/api/tab/admin/seats", user=ADMIN.id, json={"seatCount": 11})
    await tab.repository.store.upsert(SUBSCRIPTIONS, TENANT_A, "sub", {"clientState": "x" * 20})
    assert len(_stored(tab, TENANT_A)) > 20
    tenant_b_before = _stored(tab, TENANT_B)
    await offboard_tenant(tab.repository, TENANT_A, tab.clock)
    clock.advance(TERMINATED_TENANT_GRACE.total_seconds())

    deleted = await purge_expired(tab.repository, tab.clock)

    assert deleted > 20
    assert list(_stored(tab, TENANT_A)) == [(Repository.TENANTS, TENANT_A)]
    assert _stored(tab, TENANT_B) == tenant_b_before
    # Not even Entra's global administrator of that tenant brings it back by signing in.
    token = tab.tokens.token(ADMIN.id, wids=[GLOBAL_ADMINISTRATOR_ROLE])
    status, body = await tab.call("GET", "/api/tab/me", token=token)
    assert status == 403
    assert body["error"]["code"] == "tenantTerminated"
    assert list(_stored(tab, TENANT_A)) == [(Repository.TENANTS, TENANT_A)]


async def test_a_finished_calls_record_carries_its_tenants_retention_as_ttl(
    live: LiveStack,
) -> None:
    repository = live.host.app[keys.REPOSITORY]
    tenant = (await repository.tenants.get(TENANT_A, TENANT_A)).value
    placed = await live.simulator.place_call(
        TENANT_A,
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550123",
    )
    await live.simulator.wait_for_call(
        placed.id, state="established", notifications=3, timeout_s=10
    )
    await live.simulator.hang_up(placed.id)
    await live.simulator.wait_for_call(placed.id, state="terminated", timeout_s=10)

    record = (await repository.call_records.get(TENANT_A, placed.id)).value

    assert record.ttl == tenant.retention_days * 86_400
