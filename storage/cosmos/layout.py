"""How the store lays out Cosmos DB: containers, their indexing policies, and valid names.

Each collection is a container partitioned by ``/tenantId``. A :class:`CollectionLayout`
says which orderings its queries use (each served by composite indexes), whether its items
may expire, and which body fields are indexed at all. The reasons are in
docs/decisions/0006-cosmos-layout.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from contactcenter.errors import InvalidInput

PARTITION_KEY_PATH: Final = "/tenantId"
"""Every container's partition key: each tenant's documents live in one partition."""

Ordering = tuple[tuple[str, bool], ...]
"""An ``order_by`` as queries pass it: (field, descending) pairs."""

IndexPath = tuple[tuple[str, str], ...]
"""A composite index: (path, "ascending" | "descending") pairs."""

# A body field may be named in a query only if it is a plain identifier: the name goes
# into the SQL text (as c.body["name"]), so nothing that could end the string may pass.
_FIELD_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_COLLECTION_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")


@dataclass(frozen=True, slots=True)
class CollectionLayout:
    """How the container of one collection is set up when the store creates it.

    ``orderings`` are the ``order_by`` values queries use: each gets the composite indexes
    that serve it (Cosmos DB orders by several paths only along a composite index).
    ``default_ttl=-1`` turns TTL on without expiring anything by default, so that an item
    expires only when its body has a top-level integer ``ttl`` (seconds). ``indexed_fields``
    limits the range index to those body fields (every field when None): fewer indexed
    paths make each write cheaper.
    """

    orderings: tuple[Ordering, ...] = ()
    default_ttl: int | None = None
    indexed_fields: tuple[str, ...] | None = None


COLLECTIONS: Final[Mapping[str, CollectionLayout]] = MappingProxyType(
    {
        "tenants": CollectionLayout(),
        "users": CollectionLayout(),
        "queues": CollectionLayout(),
        "bindings": CollectionLayout(),
        "seats": CollectionLayout(),
        "subscriptions": CollectionLayout(),
        # Timers: due documents across tenants, soonest first.
        "agents": CollectionLayout(orderings=((("dueAt", False),),)),
        # Timers, and a queue's waiting calls in the order they are offered to agents.
        "calls": CollectionLayout(
            orderings=((("dueAt", False),), (("priority", True), ("offeredAt", False))),
        ),
        # Call records are written once and kept for the tenant's retention: many items,
        # few queries (reports read aggregates), so only the fields queries filter on are
        # indexed, and each record expires by its own ttl.
        "callRecords": CollectionLayout(
            orderings=((("endedAt", True),),),
            default_ttl=-1,
            indexed_fields=("queueId", "agentId", "offeredAt", "endedAt", "outcome"),
        ),
        # The caller experience: IVRs, caller lists, uploaded prompts, a queue's shared
        # voicemail newest first, and finished callback requests.
        "ivrs": CollectionLayout(),
        "callerLists": CollectionLayout(),
        "prompts": CollectionLayout(),
        "voicemails": CollectionLayout(orderings=((("recordedAt", True),),)),
        "callbacks": CollectionLayout(),
        # The configuration audit log, newest first (its ids sort by time).
        "auditLog": CollectionLayout(orderings=((("id", True),),)),
        # Teams messaging: conversation references, teams, and the cards to update.
        "conversationRefs": CollectionLayout(),
        "teams": CollectionLayout(),
        # Alert cards are only updated while their offer lasts: each expires after a week.
        "offerCards": CollectionLayout(default_ttl=-1),
        "queueCards": CollectionLayout(),
        # Voicemail and callback notice cards are updated for a month at most: each
        # expires by its own ttl.
        "noticeCards": CollectionLayout(default_ttl=-1),
        # Interval aggregates (docs/decisions/0010): reports filter by kind, queue, agent
        # and interval; the call-id lists and wait histograms are never queried.
        "intervalAggregates": CollectionLayout(
            indexed_fields=("kind", "queueId", "agentId", "intervalStart", "sealed"),
        ),
        # Agents' interval aggregates: calls per agent and queue, and time by state.
        "agentIntervalAggregates": CollectionLayout(
            indexed_fields=("kind", "queueId", "agentId", "intervalStart", "sealed"),
        ),
        # Singleton background work per tenant (the agent-time sampler).
        "leases": CollectionLayout(),
        # Call-record webhooks, and the outbox their deliveries wait in (due across
        # tenants; the admin console lists a tenant's newest first).
        "webhookEndpoints": CollectionLayout(),
        "webhookOutbox": CollectionLayout(
            orderings=((("createdAt", True),),),
            indexed_fields=("state", "dueAt", "createdAt", "callId", "endpointId"),
        ),
        # Wallboard alert thresholds, one document per queue.
        "queueAlertRules": CollectionLayout(),
        # Queues fed by a team, channel or group: when each is next synced (due across tenants).
        "membershipSyncs": CollectionLayout(),
        # What-if simulations started from the tab.
        "whatIfRuns": CollectionLayout(),
    }
)
"""The collections the product uses and the orderings its queries need.

A query whose ordering is not declared here still works, sorted in the store with a
warning; declare it so that Cosmos DB serves it from an index.
"""

DEFAULT_LAYOUT: Final = CollectionLayout()
"""The layout of a collection the store is asked to write but does not know."""

_TIE_BREAK: Final[IndexPath] = (("/tenantId", "ascending"), ("/id", "ascending"))


def _body_path(name: str) -> str:
    return f"/body/{name}"


def order_paths(fields: Sequence[tuple[str, bool]]) -> IndexPath:
    """Return the composite index a query ordered by ``fields`` (then tenant, id) needs."""
    return (
        *((_body_path(name), "descending" if desc else "ascending") for name, desc in fields),
        *_TIE_BREAK,
    )


def composite_indexes(layout: CollectionLayout) -> list[IndexPath]:
    """Return every composite index the layout's orderings need, tie-break included."""
    paths: list[IndexPath] = [_TIE_BREAK]
    for ordering in layout.orderings:
        # A query reads the fields that are null or missing as one group ordered by
        # (tenant, id) alone, so every subset of the ordering's fields needs its index.
        for mask in range(1, 2 ** len(ordering)):
            subset = [spec for bit, spec in enumerate(ordering) if mask >> bit & 1]
            path = order_paths(subset)
            if path not in paths:
                paths.append(path)
    return paths


def indexing_policy(layout: CollectionLayout) -> dict[str, Any]:
    """Return the Cosmos DB indexing policy of a collection's container (for templates too)."""
    if layout.indexed_fields is None:
        included = [{"path": "/*"}]
        excluded = [{"path": '/"_etag"/?'}]
    else:
        included = [{"path": "/tenantId/?"}]
        included += [{"path": f"{_body_path(name)}/?"} for name in layout.indexed_fields]
        excluded = [{"path": "/*"}]
    return {
        "indexingMode": "consistent",
        "automatic": True,
        "includedPaths": included,
        "excludedPaths": excluded,
        "compositeIndexes": [
            [{"path": path, "order": order} for path, order in index]
            for index in composite_indexes(layout)
        ],
    }


def declared_indexes(properties: Mapping[str, Any]) -> frozenset[IndexPath]:
    """Return the composite indexes of a container, each also in reverse (both serve)."""
    found: set[IndexPath] = set()
    policy = properties.get("indexingPolicy") or {}
    for index in policy.get("compositeIndexes") or []:
        path = tuple((str(p["path"]), str(p.get("order", "ascending"))) for p in index)
        found.add(path)
        flipped = {"ascending": "descending", "descending": "ascending"}
        found.add(tuple((p, flipped.get(order, order)) for p, order in path))
    return frozenset(found)


def check_layout(layout: Mapping[str, CollectionLayout]) -> None:
    """Refuse a layout with a collection or field name the store cannot use."""
    for name, spec in layout.items():
        check_collection(name)
        for ordering in spec.orderings:
            if not ordering:
                raise ValueError(f"collection {name}: an ordering needs at least one field")
            for field_name, _ in ordering:
                check_field(field_name)
        for field_name in spec.indexed_fields or ():
            check_field(field_name)


def check_field(name: str) -> str:
    """Return ``name`` if queries may name that body field; raise InvalidInput if not."""
    if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
        raise InvalidInput(
            f"cannot query by the field {name!r}: Cosmos DB queries accept top-level "
            "fields named like identifiers (letters, digits, underscores)",
            field=str(name),
        )
    return name


def check_collection(name: str) -> str:
    """Return ``name`` if it can name a container; raise ValueError if not."""
    if not _COLLECTION_NAME.fullmatch(name):
        raise ValueError(f"invalid collection name {name!r}")
    return name
