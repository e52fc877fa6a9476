"""Retention: what expires, and what is purged when a tenant leaves.

* A call record expires once the tenant's retention (``Tenant.retention_days``) has passed
  since the call ended; an interval aggregate once it has passed since the interval closed;
  a voicemail (with its recording) since it was left, a callback request since it ended.
  Cosmos DB removes records by their ``ttl`` itself, but SQLite, the in-memory store and the
  Cosmos DB test server enforce no TTL, so :func:`purge_expired` deletes them on every store
  (on Cosmos DB it finds little or nothing left to do).
* Offboarding (:func:`offboard_tenant`) marks a tenant terminated at once: every entry point
  refuses its traffic from then on. Once :data:`TERMINATED_TENANT_GRACE` has passed, the
  purge deletes every document of the tenant and leaves only a tombstone of the tenant
  document (id, status, when it was terminated, no name), so that nobody can bring the
  tenant back by signing in; reinstating it is an operator's decision. Media blobs go with
  the documents that own them (uploaded prompts, voicemail recordings).

Every deletion is a single-document operation (the store has no multi-document
transactions): a purge interrupted half-way leaves the rest for its next run, and running
it again deletes nothing twice. The host runs it periodically in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType

from contactcenter.audit import AUDIT_COLLECTION
from contactcenter.clock import Clock
from contactcenter.codec import format_timestamp
from contactcenter.errors import NotFound
from contactcenter.model import Tenant, TenantStatus
from contactcenter.ports import Condition, MediaStore, Op
from contactcenter.repository import Repository
from contactcenter.seats import SEATS_COLLECTION

_LOGGER = logging.getLogger(__name__)

__all__ = [
    "EXPIRING",
    "TENANT_COLLECTIONS",
    "TERMINATED_TENANT_GRACE",
    "TenantNotFound",
    "offboard_tenant",
    "purge_expired",
    "purge_tenant",
]

TERMINATED_TENANT_GRACE = timedelta(days=90)
"""How long a terminated tenant's data is kept before the purge deletes it."""

# How often the host runs the purge (a suggestion for the background task that calls it).
PURGE_INTERVAL = timedelta(hours=1)

# Interval aggregates (contactcenter/aggregates.py): one document per queue (or per agent,
# in their own collection) and 15-minute interval, named by the interval's start.
AGGREGATES = "intervalAggregates"
AGENT_AGGREGATES = "agentIntervalAggregates"
AGGREGATE_INTERVAL = timedelta(minutes=15)

TENANT_COLLECTIONS: tuple[str, ...] = (
    # The domain's (contactcenter/repository.py and aggregates.py); tenants are handled
    # last, by purge_tenant.
    Repository.USERS,
    Repository.QUEUES,
    Repository.AGENTS,
    Repository.BINDINGS,
    Repository.CALLS,
    Repository.CALL_RECORDS,
    AGGREGATES,
    AGENT_AGGREGATES,
    "ivrs",
    "callerLists",
    "prompts",
    "voicemails",
    "callbacks",
    # The configuration audit log and the seat ledger.
    AUDIT_COLLECTION,
    SEATS_COLLECTION,
    # Graph change-notification subscriptions (bot/notifications.py).
    "subscriptions",
    # Analytics: queue alert rules, outgoing webhooks and their outbox, what-if runs,
    # and the leases of background work.
    "queueAlertRules",
    "webhookEndpoints",
    "webhookOutbox",
    "whatIfRuns",
    "leases",
    # Queues fed by a team, channel or group (contactcenter/membership_sync.py).
    "membershipSyncs",
    # The messaging bot's (bot/messaging/documents.py).
    "conversationRefs",
    "teams",
    "offerCards",
    "queueCards",
    "noticeCards",
)
"""Every collection that holds a tenant's documents, besides ``tenants`` itself.

The domain cannot import the packages that own some of these; a test checks this list
against every collection the host writes.
"""

EXPIRING: tuple[tuple[str, str, timedelta], ...] = (
    # (collection, timestamp field, how long after it the retention starts counting)
    (Repository.CALL_RECORDS, "endedAt", timedelta(0)),
    # Voicemails (and their recordings) and callback requests hold what callers left.
    ("voicemails", "recordedAt", timedelta(0)),
    ("callbacks", "endedAt", timedelta(0)),
    (AGGREGATES, "intervalStart", AGGREGATE_INTERVAL),
    (AGENT_AGGREGATES, "intervalStart", AGGREGATE_INTERVAL),
)
"""What expires with the tenant's retention, and from when."""

MEDIA_OF: Mapping[str, str] = MappingProxyType({"voicemails": "mediaId", "prompts": "id"})
"""Collections whose documents own a media blob, and the field naming it: the blob is
deleted before its document, so an interrupted purge finds the document again."""

_PAGE = 500


class TenantNotFound(Exception):
    """No tenant with this id is stored."""


@dataclass(frozen=True, slots=True)
class _Due:
    tenant: Tenant
    purge_all: bool


async def offboard_tenant(
    repository: Repository, tenant_id: str, clock: Clock
) -> tuple[Tenant, Tenant]:
    """Mark a tenant terminated now; return it before and after (unchanged if it was)."""
    before: Tenant | None = None

    def terminate(tenant: Tenant) -> Tenant | None:
        nonlocal before
        before = tenant
        if tenant.status is TenantStatus.TERMINATED:
            return None
        return replace(tenant, status=TenantStatus.TERMINATED, terminated_at=clock.now())

    try:
        saved = await repository.tenants.update(tenant_id, tenant_id, terminate)
    except NotFound:
        raise TenantNotFound(f"no tenant {tenant_id}") from None
    assert saved is not None
    assert before is not None
    if before != saved.value:
        _LOGGER.warning(
            "Tenant %s terminated: its data is purged after %d days",
            tenant_id,
            TERMINATED_TENANT_GRACE.days,
            extra={"tenant_id": tenant_id},
        )
    return before, saved.value


async def purge_expired(
    repository: Repository,
    clock: Clock,
    *,
    grace: timedelta = TERMINATED_TENANT_GRACE,
    collections: tuple[str, ...] = TENANT_COLLECTIONS,
    media: MediaStore | None = None,
) -> int:
    """Delete what has expired: old records and aggregates, and terminated tenants' data.

    Return how many documents were deleted.
    """
    now = clock.now()
    deleted = 0
    for due in await _tenants(repository, now, grace):
        tenant = due.tenant
        if due.purge_all:
            deleted += await purge_tenant(repository, tenant, collections=collections, media=media)
            continue
        cutoff = now - timedelta(days=tenant.retention_days)
        for collection, field, period in EXPIRING:
            before = format_timestamp(cutoff - period)
            count = await _delete_where(
                repository, collection, tenant.id, (Condition(field, Op.LT, before),), media
            )
            if count:
                _LOGGER.info(
                    "Deleted %d expired %s (retention %d days)",
                    count,
                    collection,
                    tenant.retention_days,
                    extra={"tenant_id": tenant.id},
                )
            deleted += count
    return deleted


async def purge_tenant(
    repository: Repository,
    tenant: Tenant,
    *,
    collections: tuple[str, ...] = TENANT_COLLECTIONS,
    media: MediaStore | None = None,
) -> int:
    """Delete every document (and media blob) of a tenant; leave a tombstone tenant."""
    deleted = 0
    for collection in collections:
        deleted += await _delete_where(repository, collection, tenant.id, (), media)
    tombstone = Tenant(
        id=tenant.id,
        name="",
        retention_days=tenant.retention_days,
        status=TenantStatus.TERMINATED,
        terminated_at=tenant.terminated_at,
    )
    if tombstone != tenant:
        # Written last: until then the tenant is still found terminated, and the next
        # run finishes an interrupted purge.
        await repository.tenants.put(tombstone)
    if deleted:
        _LOGGER.warning(
            "Purged terminated tenant %s: %d documents deleted",
            tenant.id,
            deleted,
            extra={"tenant_id": tenant.id},
        )
    return deleted


async def _tenants(repository: Repository, now: datetime, grace: timedelta) -> list[_Due]:
    due: list[_Due] = []
    for found in await repository.tenants.find(None):
        tenant = found.value
        terminated = tenant.status is TenantStatus.TERMINATED
        purge_all = terminated and (
            tenant.terminated_at is None or tenant.terminated_at + grace <= now
        )
        due.append(_Due(tenant, purge_all))
    return due


async def _delete_where(
    repository: Repository,
    collection: str,
    tenant_id: str,
    where: tuple[Condition, ...],
    media: MediaStore | None = None,
) -> int:
    """Delete every document of one tenant in a collection that matches ``where``."""
    store = repository.store
    media_field = MEDIA_OF.get(collection) if media is not None else None
    deleted = 0
    while True:
        page = await store.query(collection, tenant_id, where, limit=_PAGE)
        if not page.documents:
            return deleted
        progressed = False
        for document in page.documents:
            blob = document.body.get(media_field) if media_field else None
            if media is not None and isinstance(blob, str) and blob:
                await media.delete(tenant_id, blob)
            try:
                await store.delete(collection, tenant_id, document.id)
            except NotFound:
                # Deleted meanwhile (another host's purge, or Cosmos DB's TTL).
                continue
            deleted += 1
            progressed = True
        if not progressed or (page.continuation is None and len(page.documents) < _PAGE):
            return deleted
