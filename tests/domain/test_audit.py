"""The audit log: who changed what, when, with the document before and after as stored."""

from __future__ import annotations

from contactcenter.audit import Actor, AuditLog
from contactcenter.clock import VirtualClock
from contactcenter.model import Queue, RoutingMethod
from storage.memory import MemoryStore

TENANT = "tenant-1"
ADMIN = Actor(id="admin-1", name="Adele")


async def test_an_entry_keeps_the_documents_as_stored() -> None:
    log = AuditLog(MemoryStore(), VirtualClock())
    before = Queue(id="q1", tenant_id=TENANT, name="Sales")
    after = Queue(id="q1", tenant_id=TENANT, name="Sales", routing_method=RoutingMethod.SERIAL)
    entry = await log.record(
        TENANT,
        ADMIN,
        "queue.update",
        target_type="queue",
        target_id="q1",
        before=before,
        after=after,
    )
    assert entry is not None
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["routingMethod"], entry.after["routingMethod"]) == (
        "longest-idle",
        "serial",
    )
    assert (entry.actor_id, entry.actor_name, entry.action) == ("admin-1", "Adele", "queue.update")


async def test_entries_are_read_newest_first_page_by_page() -> None:
    clock = VirtualClock()
    log = AuditLog(MemoryStore(), clock)
    for n in range(5):
        await log.record(TENANT, ADMIN, f"queue.{n}", target_type="queue", target_id="q1")
        clock.advance(1)
    first, continuation = await log.page(TENANT, limit=3)
    assert [e.action for e in first] == ["queue.4", "queue.3", "queue.2"]
    rest, end = await log.page(TENANT, limit=3, continuation=continuation)
    assert [e.action for e in rest] == ["queue.1", "queue.0"]
    assert end is None
