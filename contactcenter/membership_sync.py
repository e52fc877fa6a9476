"""Queues fed by a team, a channel or a group: their members kept in step with the directory.

Each such queue has a sync document (collection ``membershipSyncs``, id = the queue's id)
with a durable due-time, like the engine's timers: any host's sync loop finds the due ones
(a query across tenants), claims one by a compare-and-set that moves its due-time on (so
two hosts never sync the same queue at once, and a host that dies mid-sync only delays the
next), lists the source's members, and makes the queue's agents match:

* a joiner becomes an agent of the queue (the directory's name; a seat if one is free,
  signed in if they got one); without a free seat, a warning on the queue and in the audit
  log;
* a leaver is signed out of the queue and taken off it (the user and agent stay).

Every change is audited, by the sync as its actor. A throttled or failing directory backs
off: the next try waits twice as long each time (or what ``Retry-After`` asks), up to an
hour. A full listing each time rather than Graph's delta queries: see
docs/decisions/0027-queues-fed-by-teams.md.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contactcenter.audit import Actor, AuditLog
from contactcenter.clock import Clock
from contactcenter.codec import format_timestamp
from contactcenter.enrolment import Enrolment, EnrolmentRequest
from contactcenter.errors import Conflict, DomainError, NotFound, Throttled
from contactcenter.model import MembershipSource, Queue
from contactcenter.ports import Condition, Directory, Op, Store
from contactcenter.repository import Collection, Repository, Versioned

_LOGGER = logging.getLogger(__name__)

SYNC_COLLECTION = "membershipSyncs"
SYNC_INTERVAL = timedelta(minutes=5)
# How long a claimed sync may run before another host may take it over.
_LEASE = timedelta(minutes=2)
_MOST_BACK_OFF = timedelta(hours=1)
_DUE_BATCH = 20


@dataclass(frozen=True, slots=True)
class MembershipSync:
    """When a queue's members are next synced with their source, and how the last went."""

    id: str
    tenant_id: str
    due_at: datetime | None = None
    failures: int = 0
    last_synced_at: datetime | None = None
    # Why the last sync failed ("" when it did not).
    last_error: str = ""
    # What the admin should know from the last sync (joiners without a seat...).
    warnings: tuple[str, ...] = ()
    joined: int = 0
    left: int = 0


def sync_actor(source: MembershipSource) -> Actor:
    """Return who the audit log says made the sync's changes."""
    return Actor(id="membership-sync", name=f"Sync with {source.display_name or source.kind}")


class MembershipSyncs:
    """Find due queue syncs, claim them, and make each queue's members match its source."""

    def __init__(
        self,
        store: Store,
        repository: Repository,
        directory: Directory | None,
        enrolment: Enrolment,
        audit: AuditLog,
        clock: Clock,
        *,
        interval: timedelta = SYNC_INTERVAL,
    ) -> None:
        self.syncs: Collection[MembershipSync] = Collection(store, SYNC_COLLECTION, MembershipSync)
        self._repo = repository
        self._directory = directory
        self._enrolment = enrolment
        self._audit = audit
        self._clock = clock
        self._interval = interval

    async def schedule(self, queue: Queue) -> None:
        """Sync a queue that gained (or changed) a source soon; forget one that lost it."""
        if queue.membership is None:
            try:
                found = await self.syncs.get(queue.tenant_id, queue.id)
            except NotFound:
                return
            await self.syncs.delete(queue.tenant_id, queue.id, etag=found.etag)
            return
        now = self._clock.now()
        fresh = MembershipSync(id=queue.id, tenant_id=queue.tenant_id, due_at=now)
        await self.syncs.apply(
            queue.tenant_id,
            queue.id,
            lambda state: replace(state, due_at=now, failures=0),
            missing=lambda: fresh,
        )

    async def state(self, tenant_id: str) -> list[MembershipSync]:
        """Return the sync state of every queue of the tenant fed by a source."""
        return [found.value for found in await self.syncs.find(tenant_id)]

    async def run_due(self, now: datetime | None = None) -> int:
        """Sync every queue due by ``now`` that this host claims; return how many."""
        when = now or self._clock.now()
        due = await self.syncs.find(
            None, (Condition("dueAt", Op.LE, format_timestamp(when)),), limit=_DUE_BATCH
        )
        synced = 0
        for found in due:
            claimed = await self._claim(found, when)
            if claimed is not None:
                await self._sync(claimed, when)
                synced += 1
        return synced

    async def sync_now(self, tenant_id: str, queue_id: str, actor: Actor) -> MembershipSync:
        """Sync one queue at once (an admin's "sync now", audited as theirs); return how it went."""
        now = self._clock.now()
        found = await self.syncs.get(tenant_id, queue_id)
        claimed = await self._claim(found, now)
        if claimed is None:
            raise Conflict("the queue is being synced: try again in a moment")
        return await self._sync(claimed, now, actor)

    async def _claim(
        self, found: Versioned[MembershipSync], now: datetime
    ) -> Versioned[MembershipSync] | None:
        try:
            return await self.syncs.save(replace(found.value, due_at=now + _LEASE), etag=found.etag)
        except (Conflict, NotFound):
            return None  # another host took it, or the queue lost its source

    async def _sync(
        self, claimed: Versioned[MembershipSync], now: datetime, actor: Actor | None = None
    ) -> MembershipSync:
        state = claimed.value
        try:
            queue = (await self._repo.queues.get(state.tenant_id, state.id)).value
        except NotFound:
            await self.syncs.delete(state.tenant_id, state.id, etag=claimed.etag)
            return state
        if queue.membership is None or self._directory is None:
            await self.syncs.delete(state.tenant_id, state.id, etag=claimed.etag)
            return state
        try:
            outcome = await self._mirror(
                queue, queue.membership, actor or sync_actor(queue.membership)
            )
        except DomainError as err:
            failures = state.failures + 1
            back_off = min(self._interval * 2 ** (failures - 1), _MOST_BACK_OFF)
            if isinstance(err, Throttled) and err.retry_after is not None:
                back_off = max(back_off, timedelta(seconds=err.retry_after))
            _LOGGER.warning(
                "Sync of queue %s with %s failed (%s); next try in %s",
                queue.id,
                queue.membership.source_id,
                type(err).__name__,
                back_off,
                extra={"tenant_id": queue.tenant_id},
            )
            reason = (
                f"no such {queue.membership.kind} in the directory"
                if isinstance(err, NotFound)
                else "the directory did not answer"
            )
            new = replace(state, due_at=now + back_off, failures=failures, last_error=reason)
        else:
            joined, left, warnings = outcome
            new = replace(
                state,
                due_at=now + self._interval,
                failures=0,
                last_synced_at=now,
                last_error="",
                warnings=tuple(warnings),
                joined=joined,
                left=left,
            )
            if warnings and warnings != list(state.warnings):
                await self._audit.record(
                    queue.tenant_id, actor or sync_actor(queue.membership), "queue.syncWarning",
                    target_type="queue", target_id=queue.id, before=state, after=new,
                )  # fmt: skip
        # Rescheduled or removed meanwhile by an admin: theirs stands.
        with contextlib.suppress(Conflict, NotFound):
            await self.syncs.save(new, etag=claimed.etag)
        return new

    async def _mirror(
        self, queue: Queue, source: MembershipSource, actor: Actor
    ) -> tuple[int, int, list[str]]:
        """Make the queue's members those of its source; return joined, left, warnings."""
        assert self._directory is not None
        people = await self._directory.members(queue.tenant_id, source.kind, source.source_id)
        wanted = {person.id: person for person in people}
        tenant = (await self._repo.tenants.get(queue.tenant_id, queue.tenant_id)).value
        left = 0
        for member in queue.members:
            if member not in wanted and await self._enrolment.leave_queue(
                queue.tenant_id, actor, member, queue.id
            ):
                left += 1
        joined = 0
        warnings: list[str] = []
        request = EnrolmentRequest(seat=True, queue_ids=(queue.id,), sign_in=True)
        for person_id, person in wanted.items():
            if person_id in queue.members:
                continue
            result = await self._enrolment.enrol(tenant, actor, person, request)
            joined += 1
            warnings += result.warnings
        return joined, left, warnings
