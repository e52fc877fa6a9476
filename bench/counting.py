"""Count store requests, attributed to what the host was doing when it made them.

design.md section 8 counts, per answered call, every store request: a point read, a write
(create, replace, upsert, delete) or one query (a page of a query, or a count), each as 1.
The counts go to the bucket in the :data:`CURRENT` context variable: the benchmark host sets
it for the calling webhook, for each run of the timer loop and for its own endpoints, and
asyncio copies it into the tasks those start.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from contactcenter.aggregates import AGENT_COLLECTION, COLLECTION
from contactcenter.ports import Condition, Page, Store, StoredDocument

READ = "read"
WRITE = "write"
QUERY = "query"


@dataclass(slots=True)
class OpCounts:
    """Store requests by kind (read / write / query) and by Store method and collection."""

    kinds: Counter[str] = field(default_factory=Counter)
    methods: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, method: str) -> None:
        self.kinds[kind] += 1
        self.methods[method] += 1

    def clear(self) -> None:
        self.kinds.clear()
        self.methods.clear()

    def merge(self, other: OpCounts) -> None:
        self.kinds.update(other.kinds)
        self.methods.update(other.methods)

    @property
    def total(self) -> int:
        return sum(self.kinds.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "reads": self.kinds[READ],
            "writes": self.kinds[WRITE],
            "queries": self.kinds[QUERY],
            "methods": dict(sorted(self.methods.items())),
        }


@dataclass(slots=True)
class OpLedger:
    """Every bucket the host's store requests are counted in."""

    # Handling calling notifications (and the background work they start).
    notifications: OpCounts = field(default_factory=OpCounts)
    # Timer-loop runs that found something due, and runs that found nothing.
    timers_fired: OpCounts = field(default_factory=OpCounts)
    timers_idle: OpCounts = field(default_factory=OpCounts)
    timer_runs: int = 0
    # Presence polling (every few seconds, whatever the calls).
    presence: OpCounts = field(default_factory=OpCounts)
    # Interval aggregates written by the host's background batches (finished calls are
    # counted there every few seconds, not while a notification is handled).
    aggregates: OpCounts = field(default_factory=OpCounts)
    # The benchmark's own endpoints (seeding, filling queues): never part of a result.
    bench: OpCounts = field(default_factory=OpCounts)
    # Anything else (start-up, the tab).
    other: OpCounts = field(default_factory=OpCounts)

    def reset(self) -> None:
        """Zero every bucket in place (tasks still running keep counting into them)."""
        for bucket in (
            self.notifications,
            self.timers_fired,
            self.timers_idle,
            self.presence,
            self.aggregates,
            self.bench,
            self.other,
        ):
            bucket.clear()
        self.timer_runs = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "notifications": self.notifications.to_json(),
            "timersFired": self.timers_fired.to_json(),
            "timersIdle": self.timers_idle.to_json(),
            "timerRuns": self.timer_runs,
            "presence": self.presence.to_json(),
            "aggregates": self.aggregates.to_json(),
            "bench": self.bench.to_json(),
            "other": self.other.to_json(),
        }


AGGREGATE_COLLECTIONS = frozenset({COLLECTION, AGENT_COLLECTION})

CURRENT: ContextVar[OpCounts | None] = ContextVar("bench_store_bucket", default=None)
"""Where the store requests made in this context are counted (None: the ledger's other)."""


class CountingStore:
    """A :class:`~contactcenter.ports.Store` that counts each request, then makes it."""

    def __init__(self, inner: Store, ledger: OpLedger) -> None:
        self.inner = inner
        self._ledger = ledger

    def _count(self, kind: str, method: str, collection: str) -> None:
        bucket = CURRENT.get()
        if bucket is None:
            in_background = collection in AGGREGATE_COLLECTIONS
            bucket = self._ledger.aggregates if in_background else self._ledger.other
        bucket.add(kind, f"{method} {collection}")

    async def read(self, collection: str, tenant_id: str, doc_id: str) -> StoredDocument:
        self._count(READ, "read", collection)
        return await self.inner.read(collection, tenant_id, doc_id)

    async def create(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        self._count(WRITE, "create", collection)
        return await self.inner.create(collection, tenant_id, doc_id, body)

    async def replace(
        self,
        collection: str,
        tenant_id: str,
        doc_id: str,
        body: Mapping[str, Any],
        *,
        if_match: str,
    ) -> StoredDocument:
        self._count(WRITE, "replace", collection)
        return await self.inner.replace(collection, tenant_id, doc_id, body, if_match=if_match)

    async def upsert(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        self._count(WRITE, "upsert", collection)
        return await self.inner.upsert(collection, tenant_id, doc_id, body)

    async def delete(
        self, collection: str, tenant_id: str, doc_id: str, *, if_match: str | None = None
    ) -> None:
        self._count(WRITE, "delete", collection)
        await self.inner.delete(collection, tenant_id, doc_id, if_match=if_match)

    async def query(
        self,
        collection: str,
        tenant_id: str | None,
        where: Sequence[Condition] = (),
        *,
        order_by: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
        continuation: str | None = None,
    ) -> Page:
        self._count(QUERY, "query", collection)
        return await self.inner.query(
            collection,
            tenant_id,
            where,
            order_by=order_by,
            limit=limit,
            continuation=continuation,
        )

    async def count(
        self, collection: str, tenant_id: str | None, where: Sequence[Condition] = ()
    ) -> int:
        self._count(QUERY, "count", collection)
        return await self.inner.count(collection, tenant_id, where)

    async def close(self) -> None:
        await self.inner.close()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def ledger_middleware(ledger: OpLedger, *, calling_path: str, bench_prefix: str) -> Any:
    """Return a middleware that counts the webhook's and the benchmark endpoints' requests."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == calling_path:
            bucket: OpCounts | None = ledger.notifications
        elif request.path.startswith(bench_prefix):
            bucket = ledger.bench
        else:
            bucket = None
        if bucket is None:
            return await handler(request)
        token = CURRENT.set(bucket)
        try:
            return await handler(request)
        finally:
            CURRENT.reset(token)

    return middleware
