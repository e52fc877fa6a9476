"""The calling webhook's short-lived cache of tenant documents."""

from __future__ import annotations

from bot.calling import TENANT_CACHE_TTL_S, TenantCache
from contactcenter.clock import VirtualClock
from contactcenter.model import Tenant
from contactcenter.ports import StoredDocument
from contactcenter.repository import Repository
from contactcenter.retention import offboard_tenant
from storage.memory import MemoryStore

TENANT = "11111111-2222-4333-8444-555555555555"


class _CountingStore(MemoryStore):
    """A memory store that counts point reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def read(self, collection: str, tenant_id: str, doc_id: str) -> StoredDocument:
        self.reads += 1
        return await super().read(collection, tenant_id, doc_id)


async def _setup() -> tuple[_CountingStore, Repository, VirtualClock, TenantCache]:
    store = _CountingStore()
    repository = Repository(store)
    await repository.tenants.create(Tenant(id=TENANT, name="Contoso"))
    clock = VirtualClock()
    return store, repository, clock, TenantCache(repository, clock)


async def test_a_tenant_is_read_once_while_its_entry_is_fresh() -> None:
    store, _, clock, cache = await _setup()

    for _ in range(10):
        assert await cache.is_active(TENANT)
        clock.advance(TENANT_CACHE_TTL_S / 20)

    assert store.reads == 1


async def test_a_tenant_is_read_again_once_its_entry_is_older_than_the_ttl() -> None:
    store, _, clock, cache = await _setup()
    await cache.is_active(TENANT)

    clock.advance(TENANT_CACHE_TTL_S)
    await cache.is_active(TENANT)

    assert store.reads == 2


async def test_a_tenant_offboarded_by_this_process_is_refused_at_once() -> None:
    _, repository, clock, cache = await _setup()
    assert await cache.is_active(TENANT)

    await offboard_tenant(repository, TENANT, clock)

    assert not await cache.is_active(TENANT)


async def test_a_tenant_offboarded_elsewhere_is_refused_within_the_ttl() -> None:
    store, _, clock, cache = await _setup()
    assert await cache.is_active(TENANT)

    # Another process (the tenant command, another host): its own repository, same store.
    await offboard_tenant(Repository(store), TENANT, clock)
    clock.advance(TENANT_CACHE_TTL_S)

    assert not await cache.is_active(TENANT)


async def test_an_unknown_tenant_is_served_as_soon_as_it_exists() -> None:
    store, _, _, cache = await _setup()
    other = "66666666-7777-4888-8999-000000000000"
    assert not await cache.is_active(other)

    await Repository(store).tenants.create(Tenant(id=other, name="Fabrikam"))

    assert await cache.is_active(other)


async def test_the_cache_keeps_a_bounded_number_of_tenants() -> None:
    store = _CountingStore()
    repository = Repository(store)
    for index in range(10):
        await repository.tenants.create(Tenant(id=f"tenant-{index}", name=f"T{index}"))
    cache = TenantCache(repository, VirtualClock(), size=4)

    for index in range(10):
        assert await cache.is_active(f"tenant-{index}")

    assert len(cache) == 4
