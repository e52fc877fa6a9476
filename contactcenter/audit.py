"""The audit log: who changed which piece of configuration, when, from what to what.

One document per change in the ``auditLog`` collection, partitioned by tenant like every
other document. An entry is written after the change it describes has been stored (the
store has no multi-document transactions): a crash between the two loses the entry, never
invents one for a change that did not happen; a failure to write it is logged loudly.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contactcenter.clock import Clock
from contactcenter.codec import to_document
from contactcenter.errors import DomainError
from contactcenter.ports import Store
from contactcenter.repository import Collection, Versioned

_LOGGER = logging.getLogger(__name__)

AUDIT_COLLECTION = "auditLog"
# Entry ids start with the time of the change, so ordering by id is ordering by time.
_NEWEST_FIRST = (("id", True),)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: a signed-in user, or the host itself (bootstrap)."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One configuration change."""

    id: str
    tenant_id: str
    at: datetime
    actor_id: str
    actor_name: str
    # What was done, as ``<thing>.<verb>``: ``queue.create``, ``user.roles``, ``seat.assign``...
    action: str
    target_type: str
    target_id: str
    # The changed document as stored before and after (None: it did not exist).
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


def snapshot(value: object | None) -> dict[str, Any] | None:
    """Return a document as the audit log keeps it (the stored JSON form)."""
    if value is None:
        return None
    document = to_document(value)
    if not isinstance(document, dict):
        raise TypeError(f"cannot audit a {type(value).__name__}")
    return document


class AuditLog:
    """Write and read a tenant's audit entries."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._entries = Collection(store, AUDIT_COLLECTION, AuditEntry)
        self._clock = clock
        self._sequence = itertools.count()

    def _entry_id(self, at: datetime) -> str:
        """Return an id that sorts like the entries' times (then their order on this host)."""
        microseconds = int(at.timestamp() * 1_000_000)
        return f"{microseconds:017d}-{next(self._sequence) % 1_000_000:06d}-{uuid.uuid4().hex[:8]}"

    async def record(
        self,
        tenant_id: str,
        actor: Actor,
        action: str,
        *,
        target_type: str,
        target_id: str,
        before: object | None = None,
        after: object | None = None,
    ) -> AuditEntry | None:
        """Write an entry for a change that has been stored; None if it could not be written."""
        at = self._clock.now()
        entry = AuditEntry(
            id=self._entry_id(at),
            tenant_id=tenant_id,
            at=at,
            actor_id=actor.id,
            actor_name=actor.name,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=snapshot(before),
            after=snapshot(after),
        )
        try:
            await self._entries.create(entry)
        except DomainError:
            _LOGGER.exception(
                "Could not write the audit entry for %s %s",
                action,
                target_id,
                extra={"tenant_id": tenant_id},
            )
            return None
        _LOGGER.info(
            "Audit: %s %s %s by %s",
            action,
            target_type,
            target_id,
            actor.id,
            extra={"tenant_id": tenant_id},
        )
        return entry

    async def page(
        self, tenant_id: str, *, limit: int, continuation: str | None = None
    ) -> tuple[list[AuditEntry], str | None]:
        """Return one page of the tenant's entries, newest first."""
        found, following = await self._entries.page(
            tenant_id, order_by=_NEWEST_FIRST, limit=limit, continuation=continuation
        )
        return [item.value for item in found], following

    async def all(self, tenant_id: str) -> list[Versioned[AuditEntry]]:
        """Return every entry of the tenant, newest first (for tests and exports)."""
        return await self._entries.find(tenant_id, order_by=_NEWEST_FIRST)
