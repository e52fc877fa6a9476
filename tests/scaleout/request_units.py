"""What one answered call costs in store requests, and in Cosmos DB request units.

Drives the routing engine through one answered call's whole life (incoming, established,
the agent rung and answering, the talk, the caller hanging up, the wrap-up timer) on a
store that counts every request by kind and notes the size of each document written.
The request units are then estimated with the prices Microsoft documents for Cosmos DB
(https://learn.microsoft.com/azure/cosmos-db/request-units,
https://learn.microsoft.com/azure/cosmos-db/optimize-cost-reads-writes): a point read of
an item up to 1 KB costs 1 RU, a write of an item up to 1 KB about 5 RU (more with more
indexed properties), a query a few RU. docs/scaling.md quotes the result; print it again
with ``python -m tests.scaleout.request_units``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from contactcenter.events import CallStateChanged, GraphCallState
from contactcenter.ports import Condition, Page, Store, StoredDocument
from storage.cosmos import CosmosStore
from tests.domain.harness import TENANT, CountingStore, Harness, make_agent, make_queue

# Request-unit prices (session consistency). Microsoft's table: a point read costs 1 RU for
# a 1 KB item and 10 RU for a 100 KB one; a write 5 RU for 1 KB and 50 RU for 100 KB.
# Between those, the price grows by the slope of that table.
RU_READ_1KB: Final = 1.0
RU_READ_PER_EXTRA_KB: Final = (10.0 - 1.0) / 99
RU_WRITE_1KB: Final = 5.5  # "about 5 RU", a little more: every path but the body is indexed
RU_WRITE_PER_EXTRA_KB: Final = (50.0 - 5.0) / 99
RU_DELETE: Final = 5.0
RU_QUERY: Final = 3.0  # a query within one partition, served by the index, few results
RU_QUERY_CROSS_PARTITION: Final = 5.0  # the timer queries fan out over every partition
# Cosmos DB stores each document in an envelope (id, tenantId, body) with system properties.
ENVELOPE_BYTES: Final = 200

_WRITES: Final = ("create", "replace", "upsert")


@dataclass
class Lifecycle:
    """Store requests of one answered call, by kind, and the sizes of what was written."""

    requests: Counter[str] = field(default_factory=Counter)
    written_bytes: dict[str, list[int]] = field(default_factory=dict)
    # What Cosmos DB charged, when the call ran on a Cosmos DB store.
    measured_ru: float | None = None

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def by_operation(self) -> Counter[str]:
        """Return the requests by operation alone (read, create, replace, delete, query...)."""
        found: Counter[str] = Counter()
        for key, count in self.requests.items():
            found[key.split()[0]] += count
        return found

    def request_units(self) -> float:
        """Estimate the request units, pricing each write by the size of its document."""
        total = 0.0
        for key, count in self.requests.items():
            operation = key.split()[0]
            if operation == "read":
                total += count * RU_READ_1KB  # every document here is under 2 KB
            elif operation in _WRITES:
                total += sum(_write_ru(size) for size in self.written_bytes.get(key, []))
            elif operation == "delete":
                total += count * RU_DELETE
            elif operation == "query-all-tenants":
                total += count * RU_QUERY_CROSS_PARTITION
            else:  # query, count
                total += count * RU_QUERY
        return total


def _write_ru(size: int) -> float:
    kilobytes = (size + ENVELOPE_BYTES) / 1024
    return RU_WRITE_1KB + RU_WRITE_PER_EXTRA_KB * max(0.0, kilobytes - 1)


class _SizingStore(CountingStore):
    """Counts requests and keeps the JSON size of every document written."""

    def __init__(self, inner: Store) -> None:
        super().__init__(inner)
        self.sizes: dict[str, list[int]] = {}

    def _size(self, operation: str, collection: str, body: Mapping[str, Any]) -> None:
        size = len(json.dumps(dict(body), separators=(",", ":")).encode())
        self.sizes.setdefault(f"{operation} {collection}", []).append(size)

    async def create(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        self._size("create", collection, body)
        return await super().create(collection, tenant_id, doc_id, body)

    async def replace(
        self,
        collection: str,
        tenant_id: str,
        doc_id: str,
        body: Mapping[str, Any],
        *,
        if_match: str,
    ) -> StoredDocument:
        self._size("replace", collection, body)
        return await super().replace(collection, tenant_id, doc_id, body, if_match=if_match)

    async def upsert(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        self._size("upsert", collection, body)
        return await super().upsert(collection, tenant_id, doc_id, body)

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
        # Counted here, by scope: a query across tenants fans out over every partition.
        scope = "query" if tenant_id is not None else "query-all-tenants"
        self.counts[f"{scope} {collection}"] += 1
        return await self.inner.query(
            collection,
            tenant_id,
            where,
            order_by=order_by,
            limit=limit,
            continuation=continuation,
        )


async def measure(store: Store | None = None) -> Lifecycle:
    """Run one answered call (after a first one warmed the caches) and count its requests.

    On ``store`` if given (a Cosmos DB store, to read the real charges), else in memory.
    """
    h = Harness()
    sizing = _SizingStore(store or h.store.inner)
    h.store = sizing
    h.repo = type(h.repo)(sizing)
    h.engine = h.new_engine()
    run = uuid.uuid4().hex[:8]
    warm_up, call = f"warm-up-{run}", f"call-{run}"
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=10), [make_agent("a1")])
    # A first call, so that the tenant's settings are cached as on a running host.
    await h.arrive(warm_up)
    await h.answers(warm_up, "a1")
    await h.terminated(warm_up)
    h.clock.advance(10)
    await h.engine.fire_due_timers(h.now)
    sizing.reset()
    sizing.sizes.clear()
    before = _charges(store)

    await h.incoming(call)
    await h.engine.handle(CallStateChanged(TENANT, call, GraphCallState.ESTABLISHING))
    await h.established(call)
    await h.answers(call, "a1")
    await h.roster(call, "a1")
    h.clock.advance(120)  # the talk
    await h.terminated(call)  # the caller hangs up
    h.clock.advance(10)
    await h.engine.fire_due_timers(h.now)  # the sweep that ends the agent's wrap-up
    assert (await h.record(call)) is not None
    after = _charges(store)
    measured = None if after is None or before is None else after - before
    return Lifecycle(Counter(sizing.counts), dict(sizing.sizes), measured)


def _charges(store: Store | None) -> float | None:
    return store.request_charge_total if isinstance(store, CosmosStore) else None


def report(lifecycle: Lifecycle) -> str:
    """Return the table docs/scaling.md shows."""
    lines = ["| store request | count | largest document |", "|---|---:|---:|"]
    for key, count in sorted(lifecycle.requests.items()):
        sizes = lifecycle.written_bytes.get(key)
        largest = f"{max(sizes)} B" if sizes else ""
        lines.append(f"| {key} | {count} | {largest} |")
    operations = lifecycle.by_operation()
    lines.append(
        f"| **total** | **{lifecycle.total}** | "
        f"{', '.join(f'{n} {op}' for op, n in sorted(operations.items()))} |"
    )
    lines.append("")
    lines.append(f"Estimated: {lifecycle.request_units():.0f} RU per answered call.")
    if lifecycle.measured_ru is not None:
        lines.append(f"Charged by Cosmos DB: {lifecycle.measured_ru:.1f} RU.")
    return "\n".join(lines)


async def _main(argv: Sequence[str]) -> Lifecycle:
    parser = argparse.ArgumentParser(
        prog="python -m tests.scaleout.request_units",
        description="Count the store requests of one answered call; with --cosmos-endpoint, "
        "also what a Cosmos DB account charges for them (key from COSMOS_KEY).",
    )
    parser.add_argument("--cosmos-endpoint", metavar="URL", help="run on this Cosmos DB account")
    parser.add_argument("--database", default="contactcenter-request-units")
    parser.add_argument("--insecure", action="store_true", help="local test server only")
    args = parser.parse_args(argv)
    if args.cosmos_endpoint is None:
        return await measure()
    store = await CosmosStore.open(
        args.cosmos_endpoint,
        key=os.environ.get("COSMOS_KEY") or None,
        database=args.database,
        verify_tls=not args.insecure,
    )
    try:
        return await measure(store)
    finally:
        await store.close()


if __name__ == "__main__":
    sys.stdout.write(report(asyncio.run(_main(sys.argv[1:]))) + "\n")
