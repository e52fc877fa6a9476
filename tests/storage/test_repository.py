"""The repository's read → decide → compare-and-set loop (``Collection.apply``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import pytest

from contactcenter.errors import Conflict, NotFound
from contactcenter.ports import StoredDocument
from contactcenter.repository import (
    ATTEMPTS,
    DELETE,
    KEEP,
    Collection,
    Decision,
    GiveUp,
    Missing,
    StaleVersion,
    Versioned,
)
from storage.memory import MemoryStore
from tests.domain.harness import CountingStore

TENANT = "tenant-1"


@dataclass(frozen=True, slots=True)
class Tally:
    """A document with one number, as small as a test needs."""

    id: str
    tenant_id: str
    count: int = 0


class Rig:
    """One collection, and a second view of the same store that plays another host."""

    def __init__(self) -> None:
        self.store = CountingStore(MemoryStore())
        self.tallies = Collection(self.store, "tallies", Tally)
        self.rival = Collection(self.store, "tallies", Tally)
        self.saved: list[tuple[Tally | None, Versioned[Tally]]] = []

    async def seed(self, count: int = 0) -> Versioned[Tally]:
        created = await self.tallies.create(Tally("t1", TENANT, count))
        self.store.reset()
        return created

    async def rival_writes(self) -> None:
        """Another host changes the document (its etag moves on)."""
        current = await self.rival.get(TENANT, "t1")
        await self.rival.save(
            replace(current.value, count=current.value.count + 100), etag=current.etag
        )

    def after_save(self, before: Tally | None, saved: Versioned[Tally]) -> None:
        self.saved.append((before, saved))


@pytest.fixture
def rig() -> Rig:
    return Rig()


def count_of(found: Versioned[Tally] | None) -> int | None:
    return None if found is None else found.value.count


def add_one(tally: Tally) -> Tally:
    return replace(tally, count=tally.count + 1)


async def test_a_change_is_written_by_compare_and_set(rig: Rig) -> None:
    await rig.seed(1)

    updated = await rig.tallies.apply(TENANT, "t1", add_one, after_save=rig.after_save)

    assert rig.store.counts == {"read tallies": 1, "replace tallies": 1}
    assert updated.changed
    assert count_of(updated.after) == 2
    assert (await rig.rival.get(TENANT, "t1")).value.count == 2
    assert [(before, saved.value.count) for before, saved in rig.saved] == [
        (Tally("t1", TENANT, 1), 2)
    ]


async def test_a_lost_race_is_read_again_and_decided_again(rig: Rig) -> None:
    await rig.seed(1)
    seen: list[int] = []

    async def add_one_racing(tally: Tally) -> Tally:
        seen.append(tally.count)
        if len(seen) == 1:
            await rig.rival_writes()
        return add_one(tally)

    updated = await rig.tallies.apply(TENANT, "t1", add_one_racing, after_save=rig.after_save)

    assert seen == [1, 101]
    assert count_of(updated.after) == 102
    assert [(before, saved.value.count) for before, saved in rig.saved] == [
        (Tally("t1", TENANT, 101), 102)
    ]


async def test_it_gives_up_after_the_attempts_with_a_conflict(rig: Rig) -> None:
    await rig.seed()
    tries = 0

    async def always_loses(tally: Tally) -> Tally:
        nonlocal tries
        tries += 1
        await rig.rival_writes()
        return add_one(tally)

    with pytest.raises(Conflict, match=f"tallies/t1: gave up after {ATTEMPTS} lost races"):
        await rig.tallies.apply(TENANT, "t1", always_loses, after_save=rig.after_save)

    assert tries == ATTEMPTS
    assert rig.saved == []


async def test_giving_up_can_be_a_warning_instead(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.seed()

    async def always_loses(tally: Tally) -> Tally:
        await rig.rival_writes()
        return add_one(tally)

    with caplog.at_level(logging.WARNING, logger="contactcenter.repository"):
        updated = await rig.tallies.apply(
            TENANT, "t1", always_loses, attempts=3, give_up=GiveUp.WARN
        )

    assert (updated.before, updated.after) == (None, None)
    assert [r.getMessage() for r in caplog.records] == ["tallies/t1: gave up after 3 lost races"]


@pytest.mark.parametrize("verdict", [KEEP, None], ids=["keep", "none"])
async def test_keep_leaves_the_document_unwritten(rig: Rig, verdict: Decision[Tally]) -> None:
    seeded = await rig.seed(5)

    updated = await rig.tallies.apply(
        TENANT, "t1", lambda tally: verdict, after_save=rig.after_save
    )

    assert not updated.changed
    assert updated.after == seeded
    assert rig.store.counts == {"read tallies": 1}
    assert rig.saved == []


async def test_update_returns_the_document_as_it_stands(rig: Rig) -> None:
    await rig.seed(5)

    kept = await rig.tallies.update(TENANT, "t1", lambda tally: None)
    written = await rig.tallies.update(TENANT, "t1", add_one)

    assert count_of(kept) == 5
    assert count_of(written) == 6


async def test_delete_removes_the_version_decided_on(rig: Rig) -> None:
    await rig.seed()
    tries = 0

    async def delete_racing(tally: Tally) -> Decision[Tally]:
        nonlocal tries
        tries += 1
        if tries == 1:
            await rig.rival_writes()
        return DELETE

    updated = await rig.tallies.apply(TENANT, "t1", delete_racing, after_save=rig.after_save)

    assert tries == 2
    assert updated.changed
    assert updated.after is None
    with pytest.raises(NotFound):
        await rig.rival.get(TENANT, "t1")
    assert rig.saved == []


async def test_a_missing_document_raises_not_found_by_default(rig: Rig) -> None:
    with pytest.raises(NotFound):
        await rig.tallies.apply(TENANT, "t1", add_one)


async def test_a_missing_document_can_come_to_nothing(rig: Rig) -> None:
    calls: list[Tally] = []

    def change(tally: Tally) -> Tally:
        calls.append(tally)
        return tally

    updated = await rig.tallies.apply(TENANT, "t1", change, missing=Missing.SKIP)

    assert (updated.before, updated.after) == (None, None)
    assert calls == []
    assert await rig.tallies.update(TENANT, "t1", change, missing=Missing.SKIP) is None


async def test_a_missing_document_can_be_created_from_a_factory(rig: Rig) -> None:
    updated = await rig.tallies.apply(
        TENANT, "t1", add_one, missing=lambda: Tally("t1", TENANT, 10), after_save=rig.after_save
    )

    assert updated.changed
    assert updated.before is None
    assert (await rig.rival.get(TENANT, "t1")).value.count == 11
    assert rig.store.counts["create tallies"] == 1
    assert [(before, saved.value.count) for before, saved in rig.saved] == [(None, 11)]


async def test_a_create_that_loses_its_race_adds_to_the_document_made_meanwhile(rig: Rig) -> None:
    tries = 0

    async def add_one_racing(tally: Tally) -> Tally:
        nonlocal tries
        tries += 1
        if tries == 1:
            await rig.rival.create(Tally("t1", TENANT, 50))
        return add_one(tally)

    updated = await rig.tallies.apply(
        TENANT, "t1", add_one_racing, missing=lambda: Tally("t1", TENANT)
    )

    assert tries == 2
    assert count_of(updated.after) == 51


async def test_ensure_creates_a_missing_document(rig: Rig) -> None:
    stored, created = await rig.tallies.ensure(Tally("t1", TENANT, 3))

    assert created
    assert stored.value.count == 3
    assert (await rig.rival.get(TENANT, "t1")).value.count == 3


async def test_ensure_leaves_a_stored_document_as_it_is(rig: Rig) -> None:
    await rig.seed(7)

    stored, created = await rig.tallies.ensure(Tally("t1", TENANT, 3))

    assert not created
    assert stored.value.count == 7
    assert rig.store.counts["replace tallies"] == 0


class CreatedMeanwhile(MemoryStore):
    """Another writer creates the document right after a read finds none."""

    async def read(self, collection: str, tenant_id: str, doc_id: str) -> StoredDocument:
        try:
            return await super().read(collection, tenant_id, doc_id)
        except NotFound:
            body = {"id": doc_id, "tenantId": tenant_id, "count": 50}
            await super().create(collection, tenant_id, doc_id, body)
            raise


async def test_ensure_keeps_the_document_another_writer_created_meanwhile() -> None:
    tallies = Collection(CreatedMeanwhile(), "tallies", Tally)

    stored, created = await tallies.ensure(Tally("t1", TENANT, 3))

    assert not created
    assert stored.value.count == 50


async def test_a_known_version_saves_the_first_read(rig: Rig) -> None:
    seeded = await rig.seed(1)

    await rig.tallies.apply(TENANT, "t1", add_one, first=seeded)

    assert rig.store.counts == {"replace tallies": 1}


async def test_a_stale_known_version_is_read_again(rig: Rig) -> None:
    seeded = await rig.seed(1)
    await rig.rival_writes()
    rig.store.reset()

    updated = await rig.tallies.apply(TENANT, "t1", add_one, first=seeded)

    assert count_of(updated.after) == 102
    assert rig.store.counts == {"replace tallies": 2, "read tallies": 1}


async def test_the_version_last_known_is_tried_first_and_forgotten_once_it_lost(
    rig: Rig,
) -> None:
    await rig.seed(1)  # this collection wrote it: it knows the version
    await rig.rival_writes()
    rig.store.reset()

    updated = await rig.tallies.apply(TENANT, "t1", add_one, known=True)

    assert count_of(updated.after) == 102
    assert rig.store.counts == {"replace tallies": 2, "read tallies": 1}
    assert rig.tallies.last_known(TENANT, "t1") == updated.after


async def test_the_hook_is_told_once_of_the_winning_save_only(rig: Rig) -> None:
    await rig.seed()
    tries = 0

    async def loses_twice(tally: Tally) -> Tally:
        nonlocal tries
        tries += 1
        if tries <= 2:
            await rig.rival_writes()
        return add_one(tally)

    told: list[int] = []

    async def after_save(before: Tally | None, saved: Versioned[Tally]) -> None:
        told.append(saved.value.count)

    await rig.tallies.apply(TENANT, "t1", loses_twice, after_save=after_save)

    assert tries == 3
    assert told == [201]


async def test_a_decision_that_writes_itself_is_retried_on_a_stale_version(rig: Rig) -> None:
    await rig.seed()
    seen: list[int | None] = []

    async def decide(current: Versioned[Tally] | None) -> str:
        seen.append(None if current is None else current.value.count)
        if len(seen) == 1:
            raise StaleVersion
        return "done"

    assert await rig.tallies.settle(TENANT, "t1", decide) == "done"
    assert seen == [0, 0]
    assert rig.store.counts == {"read tallies": 2}
