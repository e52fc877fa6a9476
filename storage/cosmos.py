"""The Cosmos DB store: one container per collection, partitioned by ``/tenantId``.

Each document is one item, an envelope around the body the caller gave::

    {"id": "<doc id>", "tenantId": "<tenant id>", "body": {...},
     "ttl": 31536000,                 # only when the body has a valid top-level "ttl"
     "wholeFloats": [["waitS"], ...]} # only when the body holds floats like 3.0

so a body comes back exactly as it was written: its own ``id``, ``tenantId``, ``ttl`` or
underscore keys never collide with Cosmos DB's, and floats with a whole value stay floats
(Cosmos DB keeps JSON numbers, which do not tell ``3.0`` from ``3``: the test server
answers ``3``). The layout and its reasons are in docs/decisions/0006-cosmos-layout.md.

Compare-and-set is Cosmos DB's own: ``If-Match`` with the item's ``_etag``. Queries are
parameterized SQL; field names are checked against a strict identifier pattern and every
value is a parameter. A query without a limit is one request whose matches the store
orders itself. A page (``limit``) is read with ``TOP`` in index order, served by the
composite indexes the collection's :class:`CollectionLayout` declares (an ordering
without one is sorted in the store, correct but reading every match, with a warning), and
continues after the last document returned: keyset paging, with the same tokens as the
other stores, so documents that stop matching between pages never make the next page
skip others.

Throttling (429) is retried by the SDK, which honours ``x-ms-retry-after-ms``, a bounded
number of times; then :class:`~contactcenter.errors.Throttled` is raised. Every request's
charge (``x-ms-request-charge``) is added up in :attr:`CosmosStore.request_charges`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar, cast

from azure.core import MatchConditions
from azure.core.exceptions import AzureError
from azure.cosmos import PartitionKey
from azure.cosmos.aio import ContainerProxy, CosmosClient, DatabaseProxy
from azure.cosmos.exceptions import CosmosHttpResponseError
from azure.identity.aio import DefaultAzureCredential

from contactcenter.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    Throttled,
    Unavailable,
)
from contactcenter.ports import Condition, Op, Page, StoredDocument
from storage.documents import (
    check_limit,
    copy_body,
    decode_continuation,
    encode_continuation,
)

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

_LOGGER = logging.getLogger(__name__)

_T = TypeVar("_T")

PARTITION_KEY_PATH: Final = "/tenantId"
"""Every container's partition key: each tenant's documents live in one partition."""

SYSTEM_PROPERTIES: Final = frozenset({"_rid", "_self", "_etag", "_attachments", "_ts"})
"""Properties Cosmos DB adds to every item; never part of a returned body."""

Ordering = tuple[tuple[str, bool], ...]
"""An ``order_by`` as queries pass it: (field, descending) pairs."""

ResponseHook = Callable[..., None]
"""Called by the SDK with each response's headers (and, for most calls, its body)."""

# Throttled requests: the SDK waits as Cosmos DB's x-ms-retry-after-ms says, at most this
# many times and this long in all, then gives up with 429. A call must be answered within
# 15 s, so waiting longer than a few seconds for one document does more harm than good.
_THROTTLE_RETRIES: Final = 5
_THROTTLE_WAIT_S: Final = 5
_PROVISIONED_MIN_THROUGHPUT: Final = 400

_MAX_PAGE_ITEMS: Final = 1000
_MAX_SAFE_INTEGER: Final = 2**53
_MAX_ITEM_TTL_S: Final = 2**31 - 1

# A body field may be named in a query only if it is a plain identifier: the name goes
# into the SQL text (as c.body["name"]), so nothing that could end the string may pass.
_FIELD_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_COLLECTION_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")
# Cosmos DB refuses these in an id (they would also break the item's URL).
_ID_FORBIDDEN: Final = frozenset("/\\?#")
_MAX_ID_LENGTH: Final = 255


# ------------------------------------------------------------------------- layout
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
        # What-if simulations started from the tab.
        "whatIfRuns": CollectionLayout(),
    }
)
"""The collections the product uses and the orderings its queries need.

A query whose ordering is not declared here still works, sorted in the store with a
warning; declare it so that Cosmos DB serves it from an index.
"""

# Default layout for a collection the store is asked to write but does not know.
_DEFAULT_LAYOUT: Final = CollectionLayout()

_Path = tuple[tuple[str, str], ...]
"""A composite index: (path, "ascending" | "descending") pairs."""

_TIE_BREAK: Final[_Path] = (("/tenantId", "ascending"), ("/id", "ascending"))


def _body_path(name: str) -> str:
    return f"/body/{name}"


def _order_paths(fields: Sequence[tuple[str, bool]]) -> _Path:
    """Return the composite index a query ordered by ``fields`` (then tenant, id) needs."""
    return (
        *((_body_path(name), "descending" if desc else "ascending") for name, desc in fields),
        *_TIE_BREAK,
    )


def _composite_indexes(layout: CollectionLayout) -> list[_Path]:
    """Return every composite index the layout's orderings need, tie-break included."""
    paths: list[_Path] = [_TIE_BREAK]
    for ordering in layout.orderings:
        # A query reads the fields that are null or missing as one group ordered by
        # (tenant, id) alone, so every subset of the ordering's fields needs its index.
        for mask in range(1, 2 ** len(ordering)):
            subset = [spec for bit, spec in enumerate(ordering) if mask >> bit & 1]
            path = _order_paths(subset)
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
            for index in _composite_indexes(layout)
        ],
    }


def _declared_indexes(properties: Mapping[str, Any]) -> frozenset[_Path]:
    """Return the composite indexes of a container, each also in reverse (both serve)."""
    found: set[_Path] = set()
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
        _check_collection(name)
        for ordering in spec.orderings:
            if not ordering:
                raise ValueError(f"collection {name}: an ordering needs at least one field")
            for field_name, _ in ordering:
                _check_field(field_name)
        for field_name in spec.indexed_fields or ():
            _check_field(field_name)


# --------------------------------------------------------------------- validation
def _check_field(name: str) -> str:
    if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
        raise InvalidInput(
            f"cannot query by the field {name!r}: Cosmos DB queries accept top-level "
            "fields named like identifiers (letters, digits, underscores)",
            field=str(name),
        )
    return name


def _check_collection(name: str) -> str:
    if not _COLLECTION_NAME.fullmatch(name):
        raise ValueError(f"invalid collection name {name!r}")
    return name


def _check_id(doc_id: str, what: str) -> None:
    if (
        not doc_id
        or len(doc_id) > _MAX_ID_LENGTH
        or doc_id != doc_id.rstrip()
        or any(char in _ID_FORBIDDEN for char in doc_id)
    ):
        raise InvalidInput(
            f"Cosmos DB cannot store the {what} {doc_id!r}: it must be 1 to "
            f"{_MAX_ID_LENGTH} characters without / \\ ? # or trailing spaces",
            field=what,
        )


# ---------------------------------------------------------------------- documents
_JsonPath = list[str | int]


def _check_numbers(value: Any, path: _JsonPath, whole_floats: list[_JsonPath]) -> None:
    """Collect the paths of whole-valued floats; refuse integers Cosmos DB would round."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            location = "/".join(str(step) for step in path) or "the body"
            raise ValueError(
                f"{location}: Cosmos DB keeps integers only up to 2**53 exactly, not {value}"
            )
    elif isinstance(value, float):
        if value.is_integer():
            whole_floats.append(list(path))
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_numbers(item, [*path, key], whole_floats)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_numbers(item, [*path, index], whole_floats)


def _item_ttl(value: Any) -> int | None:
    """Return ``value`` if Cosmos DB takes it as an item's ttl, else None."""
    valid = isinstance(value, int) and not isinstance(value, bool)
    return value if valid and (value == -1 or 0 < value <= _MAX_ITEM_TTL_S) else None


def _to_item(tenant_id: str, doc_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap a body as the item that stores it; raise TypeError or ValueError for bad bodies."""
    copied = copy_body(body)
    whole_floats: list[_JsonPath] = []
    _check_numbers(copied, [], whole_floats)
    item: dict[str, Any] = {"id": doc_id, "tenantId": tenant_id, "body": copied}
    ttl = _item_ttl(copied.get("ttl"))
    if ttl is not None:
        item["ttl"] = ttl
    if whole_floats:
        item["wholeFloats"] = whole_floats
    return item


def _restore_float(body: dict[str, Any], path: Sequence[Any]) -> None:
    parent: Any = body
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    value = parent[last]
    if isinstance(value, int) and not isinstance(value, bool):
        parent[last] = float(value)


def _from_item(collection: str, item: Mapping[str, Any]) -> StoredDocument:
    """Unwrap an item into the document it stores."""
    body = item.get("body")
    if not isinstance(body, dict) or not isinstance(item.get("_etag"), str):
        raise Unavailable(
            f"{collection}/{item.get('id')} in Cosmos DB is not a document of this store"
        )
    # The SDK gives a fresh dict per response, so the body is already the caller's own.
    for path in item.get("wholeFloats") or ():
        try:
            _restore_float(body, path)
        except (KeyError, IndexError, TypeError):
            _LOGGER.warning("Ignored a stale number-type hint in %s/%s", collection, item["id"])
    return StoredDocument(
        collection=collection,
        tenant_id=str(item["tenantId"]),
        id=str(item["id"]),
        body=body,
        etag=item["_etag"],
    )


# ------------------------------------------------------------------ sort keys (keyset)
# JSON types ranked as Cosmos DB orders them: null (and missing) < booleans < numbers <
# strings < arrays and objects. The ranks and keys are those of the other stores.
_NULL, _BOOL, _NUMBER, _STRING, _COMPLEX = range(5)


def _rank(value: Any) -> int:
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int | float):
        return _NUMBER
    if isinstance(value, str):
        return _STRING
    return _COMPLEX


def _sort_key(value: Any) -> tuple[int, Any]:
    rank = _rank(value)
    if rank == _NULL:
        return (_NULL, 0)
    if rank == _COMPLEX:
        return (_COMPLEX, json.dumps(value, sort_keys=True))
    return (rank, value)


def _field_sort_key(name: str, doc: StoredDocument) -> tuple[int, Any]:
    return _sort_key(doc.body.get(name))


def _order_key(doc: StoredDocument, order_by: Sequence[tuple[str, bool]]) -> list[Any]:
    key: list[Any] = []
    for name, _ in order_by:
        key.extend(_sort_key(doc.body.get(name)))
    key.extend((doc.tenant_id, doc.id))
    return key


def _is_after(key: Sequence[Any], last: Sequence[Any], descending: Sequence[bool]) -> bool:
    for mine, theirs, desc in zip(key, last, descending, strict=True):
        if mine != theirs:
            return bool(mine < theirs) if desc else bool(mine > theirs)
    return False


def _check_after(after: Sequence[Any], order_by: Sequence[tuple[str, bool]]) -> None:
    """Refuse a decoded continuation whose values cannot be a sort key of this store."""
    expected = {
        _BOOL: (bool,),
        _NUMBER: (int, float),
        _STRING: (str,),
        _COMPLEX: (str,),
    }
    for index in range(len(order_by)):
        rank, value = after[2 * index], after[2 * index + 1]
        ok = isinstance(rank, int) and not isinstance(rank, bool) and _NULL <= rank <= _COMPLEX
        if ok and rank != _NULL:
            ok = isinstance(value, expected[rank]) and (
                rank == _BOOL or not isinstance(value, bool)
            )
        if not ok:
            raise InvalidInput("continuation token does not belong to this query")
    if not all(isinstance(part, str) for part in after[-2:]):
        raise InvalidInput("continuation token does not belong to this query")


# ----------------------------------------------------------------- building queries
# Every predicate is written with at most one level of parentheses (AND binds tighter
# than OR): the test server's SQL parser takes time exponential in nesting depth.
_TYPE_FUNCTIONS: Final = {
    _BOOL: ("IS_BOOL",),
    _NUMBER: ("IS_NUMBER",),
    _STRING: ("IS_STRING",),
    _COMPLEX: ("IS_ARRAY", "IS_OBJECT"),
}
_NULLISH: Final = "(NOT IS_DEFINED({x}) OR IS_NULL({x}))"
_NOT_NULLISH: Final = "IS_DEFINED({x}) AND NOT IS_NULL({x})"


def _expr(name: str) -> str:
    """Return the SQL expression of a (checked) top-level body field."""
    return f'c.body["{_check_field(name)}"]'


class _Sql:
    """The WHERE clauses and parameters of one query, values always bound."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.parameters: list[dict[str, Any]] = []

    def bind(self, value: Any) -> str:
        name = f"@p{len(self.parameters)}"
        self.parameters.append({"name": name, "value": value})
        return name

    def text(self, *, top: int | None = None, order: _Path = (), count: bool = False) -> str:
        if count:
            sql = "SELECT VALUE COUNT(1) FROM c"
        elif top is not None:
            # Only parameter names are interpolated; every value is bound.
            sql = f"SELECT TOP {self.bind(top)} * FROM c"  # noqa: S608
        else:
            sql = "SELECT * FROM c"
        if self.clauses:
            sql += " WHERE " + " AND ".join(self.clauses)
        if order:
            sql += " ORDER BY " + ", ".join(
                f"{_path_expr(path)} {'DESC' if direction == 'descending' else 'ASC'}"
                for path, direction in order
            )
        return sql


def _path_expr(path: str) -> str:
    if path.startswith("/body/"):
        return _expr(path.removeprefix("/body/"))
    return {"/tenantId": "c.tenantId", "/id": "c.id"}[path]


def _condition_sql(condition: Condition, sql: _Sql) -> str | None:
    """Return the predicate of one condition, or None when nothing can match it.

    A missing field reads as null; values of different JSON types are never equal and
    never ordered against each other (as in every store).
    """
    x = _expr(condition.field)
    op, value = condition.op, condition.value
    if value is None:
        if op is Op.EQ:
            return _NULLISH.format(x=x)
        if op is Op.NE:
            return _NOT_NULLISH.format(x=x)
        return None
    rank = _rank(value)
    if rank in (_NULL, _COMPLEX):
        raise TypeError(f"cannot compare a document field with {type(value).__name__}")
    if op is Op.NE:
        # NOT of (false AND anything) is true: a missing field or another type is "not equal".
        (is_type,) = _TYPE_FUNCTIONS[rank]
        return f"NOT ({is_type}({x}) AND {x} = {sql.bind(value)})"
    # Comparing values of different types (or a missing field) is undefined, never true.
    return f"{x} {op.value} {sql.bind(value)}"


def _required(where: Sequence[Condition], name: str) -> tuple[bool, bool]:
    """Return whether the conditions allow ``name`` to be null/missing, and to hold a value."""
    nullish, valued = True, True
    for condition in where:
        if condition.field != name:
            continue
        if condition.value is None:
            if condition.op is Op.EQ:
                valued = False
            elif condition.op is Op.NE:
                nullish = False
        elif condition.op is not Op.NE:
            nullish = False
    return nullish, valued


def _segments(
    order_by: Sequence[tuple[str, bool]], where: Sequence[Condition]
) -> Iterator[tuple[bool, ...]]:
    """Yield, in result order, which order fields hold a value in each group of documents.

    Null and missing values sort as one, before every value (after, descending), with ties
    in (tenant, id) order. Cosmos DB sorts a missing field before null, so each group of
    documents that are null or missing in the same fields is read on its own.
    """
    choices: list[list[bool]] = []
    for name, descending in order_by:
        nullish, valued = _required(where, name)
        allowed = [v for v, ok in ((False, nullish), (True, valued)) if ok]
        choices.append(list(reversed(allowed)) if descending else allowed)

    def walk(index: int, prefix: tuple[bool, ...]) -> Iterator[tuple[bool, ...]]:
        if index == len(choices):
            yield prefix
            return
        for choice in choices[index]:
            yield from walk(index + 1, (*prefix, choice))

    yield from walk(0, ())


@dataclass(frozen=True, slots=True)
class _Column:
    """One column of a keyset: its SQL, direction, and the last row's value there."""

    sql: str
    descending: bool
    value: Any
    # The JSON type rank of ``value`` for a body field (whose values may be of any type);
    # None for tenantId and id, which are always strings.
    rank: int | None = None


def _other_types(x: str, rank: int, descending: bool) -> str | None:
    """Return a conjunction true for non-null values of ``x`` of a type sorting after ``rank``."""
    later = range(_BOOL, rank) if descending else range(rank + 1, _COMPLEX + 1)
    functions = [function for r in later for function in _TYPE_FUNCTIONS[r]]
    if not functions:
        return None
    if len(functions) == 1:
        return f"{functions[0]}({x})"
    # Several types: say which it is not (the value is known to be neither null nor missing).
    others = [
        f for r in range(_BOOL, _COMPLEX + 1) for f in _TYPE_FUNCTIONS[r] if f not in functions
    ]
    return " AND ".join(f"NOT {function}({x})" for function in others)


def _after_sql(columns: Sequence[_Column], sql: _Sql) -> str:
    """Return the keyset predicate: rows whose key sorts after the given row's.

    Written as a disjunction of conjunctions: (a after) OR (a equal AND b after) OR ...
    A body field's value is after another if it is of the same type and greater (less,
    descending), or of a type that sorts later. A comparison between values of different
    types is undefined, never true, so ``x > @p`` needs no type check of its own.
    """
    terms: list[str] = []
    equal: list[str] = []
    for column in columns:
        x, rank = column.sql, column.rank
        if rank == _COMPLEX:
            raise InvalidInput("cannot continue a Cosmos DB query after an array or object value")
        param = sql.bind(column.value)
        terms.append(" AND ".join([*equal, f"{x} {'<' if column.descending else '>'} {param}"]))
        other = None if rank is None else _other_types(x, rank, column.descending)
        if other is not None:
            terms.append(" AND ".join([*equal, other]))
        equal.append(f"{x} = {param}")
    return "(" + " OR ".join(terms) + ")"


# ---------------------------------------------------------------------- metrics
@dataclass
class RequestCharges:
    """Request units (RU) Cosmos DB charged this store, in total and per operation.

    ``operations`` counts calls of the store's methods, ``requests`` the Cosmos DB
    requests they made (a query may take several), ``charges`` their RU.
    """

    total: float = 0.0
    charges: dict[str, float] = field(default_factory=dict)
    operations: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)

    def record(self, operation: str, charges: Sequence[float]) -> None:
        """Add one operation and the charges of the requests it made."""
        spent = sum(charges)
        self.total += spent
        self.charges[operation] = self.charges.get(operation, 0.0) + spent
        self.operations[operation] = self.operations.get(operation, 0) + 1
        self.requests[operation] = self.requests.get(operation, 0) + len(charges)


def _charge(headers: Mapping[str, Any] | None) -> float | None:
    if not headers:
        return None
    raw = headers.get("x-ms-request-charge")
    try:
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- error translation
def _retry_after_s(err: CosmosHttpResponseError) -> float | None:
    headers = getattr(err, "headers", None) or {}
    raw = headers.get("x-ms-retry-after-ms")
    try:
        return int(raw) / 1000 if raw is not None else None
    except (TypeError, ValueError):
        return None


def translate_error(err: CosmosHttpResponseError, what: str) -> DomainError:
    """Return the domain error for a failed Cosmos DB request about ``what``."""
    status = err.status_code
    sub_status = getattr(err, "sub_status", None)
    if status == 404:
        return NotFound(f"{what} not found")
    if status == 409:
        return Conflict(f"{what} already exists")
    if status == 412:
        return Conflict(f"{what} changed since it was read")
    if status == 429:
        retry_after = _retry_after_s(err)
        return Throttled(
            f"{what}: Cosmos DB is throttling requests (retries exhausted)",
            retry_after=retry_after,
        )
    if status in (400, 413):
        return InvalidInput(f"{what}: Cosmos DB refused the request ({status}): {err.message}")
    if status in (401, 403):
        return Unavailable(
            f"{what}: Cosmos DB refused access ({status}, sub-status {sub_status}): "
            "check the key, or the identity's data-plane role and the account's firewall"
        )
    return Unavailable(f"{what}: Cosmos DB answered {status} (sub-status {sub_status})")


def _status(err: DomainError) -> int | None:
    """Return the HTTP status of the Cosmos DB error a domain error was translated from."""
    cause = err.__cause__
    return cause.status_code if isinstance(cause, CosmosHttpResponseError) else None


@dataclass(slots=True)
class _Container:
    proxy: ContainerProxy
    composite_indexes: frozenset[_Path]


# ------------------------------------------------------------------------ the store
class CosmosStore:
    """A :class:`~contactcenter.ports.Store` on Azure Cosmos DB (``azure.cosmos.aio``).

    Open it with :meth:`open`; it owns its client (one per process) and closes it in
    :meth:`close`. Use it as an async context manager or call :meth:`close`.
    """

    def __init__(
        self,
        client: CosmosClient,
        database: DatabaseProxy,
        *,
        layout: Mapping[str, CollectionLayout],
        owned_credential: AsyncTokenCredential | None = None,
    ) -> None:
        """Wrap an entered client (use :meth:`open` to get one)."""
        self._client: CosmosClient | None = client
        self._database = database
        self._layout = layout
        self._owned_credential = owned_credential
        self._containers: dict[str, _Container] = {}
        self._creating: dict[str, asyncio.Lock] = {}
        self._warned_orderings: set[tuple[str, _Path]] = set()
        self.request_charges = RequestCharges()

    @classmethod
    async def open(
        cls,
        endpoint: str,
        *,
        key: str | None,
        database: str,
        verify_tls: bool = True,
        serverless: bool = True,
        throughput: int | None = None,
        credential: AsyncTokenCredential | None = None,
        layout: Mapping[str, CollectionLayout] = COLLECTIONS,
    ) -> Self:
        """Connect, and create the database and the layout's containers if missing.

        ``key`` is the account key; without one, ``credential`` (or, when that is None
        too, ``DefaultAzureCredential``: managed identity in Azure) signs the requests.
        ``throughput`` is the database's shared manual RU/s when the store creates it on a
        provisioned account (``serverless=False``; default 400); a serverless account
        takes none. ``verify_tls=False`` is for a local test server only.
        """
        if key is not None and credential is not None:
            raise ValueError("give either an account key or a credential, not both")
        if key == "":
            raise ValueError("the account key is empty: pass None to sign with a credential")
        if serverless and throughput is not None:
            raise ValueError("a serverless Cosmos DB account takes no throughput")
        if not serverless and throughput is None:
            throughput = _PROVISIONED_MIN_THROUGHPUT
        if not database:
            raise ValueError("a Cosmos DB database name is required")
        check_layout(layout)
        if not verify_tls:
            _LOGGER.warning("TLS certificates of %s are not verified", endpoint)

        owned: AsyncTokenCredential | None = None
        auth: str | AsyncTokenCredential
        if key is not None:
            auth = key
        elif credential is not None:
            auth = credential
        else:
            owned = DefaultAzureCredential()
            auth = owned
        client = CosmosClient(
            endpoint,
            credential=auth,
            connection_verify=verify_tls,
            retry_throttle_total=_THROTTLE_RETRIES,
            retry_throttle_backoff_max=_THROTTLE_WAIT_S,
            user_agent_suffix="contact-center",
        )
        store = cls(
            client,
            client.get_database_client(database),
            layout=layout,
            owned_credential=owned,
        )
        try:
            await store._run(
                "open", f"Cosmos DB account {endpoint}", lambda _hook: client.__aenter__()
            )
            await store._prepare(database, throughput)
        except BaseException:
            await store.close()
            raise
        _LOGGER.info(
            "Opened Cosmos DB store %s/%s (%s auth)",
            endpoint,
            database,
            "key" if key is not None else "token",
        )
        return store

    @property
    def database(self) -> str:
        """The name of the store's database."""
        return self._database.id

    @property
    def request_charge_total(self) -> float:
        """Request units charged since the store was opened."""
        return self.request_charges.total

    # -------------------------------------------------------------- plumbing
    async def _run(
        self,
        operation: str,
        what: str,
        call: Callable[[ResponseHook], Awaitable[_T]],
    ) -> _T:
        """Run one Cosmos DB call: record its charge, translate its failure."""
        if self._client is None:
            raise RuntimeError("the Cosmos DB store is closed")
        charges: list[float] = []

        def hook(headers: Mapping[str, Any], _body: Any = None) -> None:
            charge = _charge(headers)
            if charge is not None:
                charges.append(charge)

        try:
            return await call(hook)
        except CosmosHttpResponseError as err:
            charge = _charge(getattr(err, "headers", None))
            if charge is not None:
                charges.append(charge)
            _LOGGER.debug("Cosmos DB %s %s failed: %s", operation, what, err.status_code)
            raise translate_error(err, what) from err
        except AzureError as err:
            # Connection failures and timeouts, after the SDK's own retries.
            raise Unavailable(
                f"{what}: Cosmos DB cannot be reached ({type(err).__name__})"
            ) from err
        finally:
            self.request_charges.record(operation, charges)
            _LOGGER.debug(
                "Cosmos DB %s %s: %.2f RU in %d requests",
                operation,
                what,
                sum(charges),
                len(charges),
            )

    def _database_proxy(self) -> DatabaseProxy:
        if self._client is None:
            raise RuntimeError("the Cosmos DB store is closed")
        return self._database

    async def _prepare(self, database: str, throughput: int | None) -> None:
        fresh = await self._open_database(database, throughput)
        # Concurrently: creating a container is a round trip of its own. In a database
        # just created, no container can exist yet.
        outcomes = await asyncio.gather(
            *(self._ensure_container(name, known_missing=fresh) for name in self._layout),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _open_database(self, name: str, throughput: int | None) -> bool:
        """Create the database unless it exists; return whether it was created."""
        client = self._client
        assert client is not None
        what = f"database {name}"
        try:
            self._database = await self._run(
                "metadata",
                what,
                lambda hook: client.create_database(
                    name, offer_throughput=throughput, response_hook=hook
                ),
            )
        except Conflict:
            return False
        except Unavailable as err:
            # Data-plane roles (managed identity) may not create databases; the
            # deployment does. Go on if it exists.
            if _status(err) != 403:
                raise
            database = self._database
            await self._run("metadata", what, lambda hook: database.read(response_hook=hook))
            return False
        _LOGGER.info("Created Cosmos DB database %s", name)
        return True

    async def _read_container(self, name: str) -> _Container | None:
        """Return the container of ``name`` if it exists (and remember it)."""
        proxy = self._database_proxy().get_container_client(name)
        try:
            properties = await self._run(
                "metadata", f"container {name}", lambda hook: proxy.read(response_hook=hook)
            )
        except NotFound:
            return None
        paths = (properties.get("partitionKey") or {}).get("paths") or []
        if paths[:1] != [PARTITION_KEY_PATH]:
            raise Unavailable(
                f"Cosmos DB container {name} is partitioned by {paths}, not {PARTITION_KEY_PATH}"
            )
        container = _Container(proxy, _declared_indexes(properties))
        self._check_existing(name, properties, container)
        self._containers[name] = container
        return container

    def _check_existing(
        self, name: str, properties: Mapping[str, Any], container: _Container
    ) -> None:
        spec = self._layout.get(name)
        if spec is None:
            return
        if spec.default_ttl is not None and properties.get("defaultTtl") != spec.default_ttl:
            _LOGGER.warning(
                "Cosmos DB container %s has default TTL %s, not %s: item TTLs may be ignored",
                name,
                properties.get("defaultTtl"),
                spec.default_ttl,
            )
        missing = [
            index for index in _composite_indexes(spec) if index not in container.composite_indexes
        ]
        if missing:
            _LOGGER.warning(
                "Cosmos DB container %s lacks %d composite indexes of its layout: "
                "queries needing them sort in the store",
                name,
                len(missing),
            )

    async def _ensure_container(self, name: str, *, known_missing: bool = False) -> _Container:
        """Return the container of ``name``, creating it from its layout if missing."""
        found = self._containers.get(name)
        if found is None and not known_missing:
            found = await self._read_container(name)
        if found is not None:
            return found
        async with self._creating.setdefault(name, asyncio.Lock()):
            if name in self._containers:
                return self._containers[name]
            return await self._create_container(name)

    async def _create_container(self, name: str) -> _Container:
        spec = self._layout.get(name, _DEFAULT_LAYOUT)
        if name not in self._layout:
            _LOGGER.info("Creating Cosmos DB container %s with the default layout", name)
        database = self._database_proxy()
        what = f"container {name}"
        try:
            proxy, properties = await self._run(
                "metadata",
                what,
                lambda hook: database.create_container(
                    name,
                    PartitionKey(path=PARTITION_KEY_PATH),
                    indexing_policy=cast(dict[str, str], indexing_policy(spec)),
                    default_ttl=spec.default_ttl,
                    return_properties=True,
                    response_hook=hook,
                ),
            )
        except Conflict:
            # Another host created it first.
            found = await self._read_container(name)
            if found is None:
                raise
            return found
        except Unavailable as err:
            if _status(err) != 403:
                raise
            raise Unavailable(
                f"{what} is missing and this identity may not create it: "
                "deploy the containers with the infrastructure templates"
            ) from err
        container = _Container(proxy, _declared_indexes(properties))
        self._containers[name] = container
        return container

    async def _existing_container(self, name: str) -> _Container | None:
        _check_collection(name)
        return self._containers.get(name) or await self._read_container(name)

    # ---------------------------------------------------------- documents
    async def read(self, collection: str, tenant_id: str, doc_id: str) -> StoredDocument:
        """Return the document, or raise NotFound."""
        what = f"{collection}/{doc_id}"
        container = await self._existing_container(collection)
        if container is None:
            raise NotFound(f"{what} not found")
        item = await self._run(
            "read",
            what,
            lambda hook: container.proxy.read_item(
                doc_id, partition_key=tenant_id, response_hook=hook
            ),
        )
        return _from_item(collection, item)

    async def create(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        """Store a new document; raise Conflict if the id is taken."""
        item = self._item(collection, tenant_id, doc_id, body)
        container = await self._ensure_container(collection)
        stored = await self._run(
            "create",
            f"{collection}/{doc_id}",
            lambda hook: container.proxy.create_item(item, response_hook=hook),
        )
        return _from_item(collection, stored)

    async def replace(
        self,
        collection: str,
        tenant_id: str,
        doc_id: str,
        body: Mapping[str, Any],
        *,
        if_match: str,
    ) -> StoredDocument:
        """Overwrite the document if its etag is still ``if_match``; else Conflict or NotFound."""
        item = self._item(collection, tenant_id, doc_id, body)
        what = f"{collection}/{doc_id}"
        container = await self._existing_container(collection)
        if container is None:
            raise NotFound(f"{what} not found")
        stored = await self._run(
            "replace",
            what,
            lambda hook: container.proxy.replace_item(
                doc_id,
                item,
                etag=if_match,
                match_condition=MatchConditions.IfNotModified,
                response_hook=hook,
            ),
        )
        return _from_item(collection, stored)

    async def upsert(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        """Create or overwrite the document unconditionally."""
        item = self._item(collection, tenant_id, doc_id, body)
        container = await self._ensure_container(collection)
        stored = await self._run(
            "upsert",
            f"{collection}/{doc_id}",
            lambda hook: container.proxy.upsert_item(item, response_hook=hook),
        )
        return _from_item(collection, stored)

    async def delete(
        self, collection: str, tenant_id: str, doc_id: str, *, if_match: str | None = None
    ) -> None:
        """Remove the document (only if its etag is ``if_match``, when given)."""
        what = f"{collection}/{doc_id}"
        container = await self._existing_container(collection)
        if container is None:
            raise NotFound(f"{what} not found")
        if if_match is None:
            await self._run(
                "delete",
                what,
                lambda hook: container.proxy.delete_item(
                    doc_id, partition_key=tenant_id, response_hook=hook
                ),
            )
            return
        await self._run(
            "delete",
            what,
            lambda hook: container.proxy.delete_item(
                doc_id,
                partition_key=tenant_id,
                etag=if_match,
                match_condition=MatchConditions.IfNotModified,
                response_hook=hook,
            ),
        )

    @staticmethod
    def _item(
        collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        _check_collection(collection)
        _check_id(doc_id, "id")
        _check_id(tenant_id, "tenant id")
        # Encoded before the first await: the caller may change its mapping once we yield.
        return _to_item(tenant_id, doc_id, body)

    # ------------------------------------------------------------- queries
    async def _fetch(
        self,
        container: _Container,
        collection: str,
        tenant_id: str | None,
        sql: str,
        parameters: list[dict[str, Any]],
        *,
        top: int | None,
    ) -> list[dict[str, Any]]:
        """Run one query to the end; return its items."""
        what = f"query on {collection}"
        max_items = min(top, _MAX_PAGE_ITEMS) if top is not None else _MAX_PAGE_ITEMS

        async def run(hook: ResponseHook) -> list[dict[str, Any]]:
            if tenant_id is None:
                pager = container.proxy.query_items(
                    sql, parameters=parameters, max_item_count=max_items, response_hook=hook
                )
            else:
                pager = container.proxy.query_items(
                    sql,
                    parameters=parameters,
                    partition_key=tenant_id,
                    max_item_count=max_items,
                    response_hook=hook,
                )
            return [item async for item in pager]

        _LOGGER.debug("Cosmos DB query on %s: %s", collection, sql)
        return await self._run("query", what, run)

    def _base(self, tenant_id: str | None, where: Sequence[Condition]) -> _Sql | None:
        """Return the scope and conditions of a query, or None when nothing can match."""
        sql = _Sql()
        if tenant_id is not None:
            sql.clauses.append(f"c.tenantId = {sql.bind(tenant_id)}")
        for condition in where:
            predicate = _condition_sql(condition, sql)
            if predicate is None:
                return None
            sql.clauses.append(predicate)
        return sql

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
        """Return documents matching every condition; ``order_by`` is (field, descending)."""
        check_limit(limit)
        order_by = tuple(order_by)
        for condition in where:
            _check_field(condition.field)
        for name, _ in order_by:
            _check_field(name)
        after: list[Any] | None = None
        if continuation:
            after = decode_continuation(continuation, order_by, 2 * len(order_by) + 2)
            _check_after(after, order_by)
        container = await self._existing_container(collection)
        if container is None or self._base(tenant_id, where) is None:
            return Page([])

        if limit is None:
            # Every match is read anyway: one request, ordered here, costs least.
            return await self._query_sorting_here(
                container, collection, tenant_id, where, order_by, limit, after
            )
        groups = list(_segments(order_by, where))
        needed = {_order_paths([s for s, v in zip(order_by, g, strict=True) if v]) for g in groups}
        if not needed <= container.composite_indexes:
            self._warn_unindexed(collection, container, needed)
            return await self._query_sorting_here(
                container, collection, tenant_id, where, order_by, limit, after
            )
        return await self._query_by_groups(
            container, collection, tenant_id, where, order_by, limit, after, groups
        )

    def _warn_unindexed(self, collection: str, container: _Container, needed: set[_Path]) -> None:
        for path in sorted(needed - container.composite_indexes):
            if (collection, path) not in self._warned_orderings:
                self._warned_orderings.add((collection, path))
                _LOGGER.warning(
                    "Cosmos DB container %s has no composite index %s: such queries read "
                    "every match and sort in the store; declare the ordering in its layout",
                    collection,
                    [f"{p} {o}" for p, o in path],
                )

    async def _query_by_groups(
        self,
        container: _Container,
        collection: str,
        tenant_id: str | None,
        where: Sequence[Condition],
        order_by: Ordering,
        limit: int,
        after: list[Any] | None,
        groups: list[tuple[bool, ...]],
    ) -> Page:
        """Read each group of documents in order, ordered by Cosmos DB, until the page is full."""
        # One more than the page, to learn whether another page follows.
        wanted = limit + 1
        start = None
        if after is not None:
            start = tuple(after[2 * i] != _NULL for i in range(len(order_by)))
            if start in groups:
                groups = groups[groups.index(start) :]
            else:
                # Its group can no longer match these conditions: resume at the next one.
                groups = [g for g in groups if _group_after(g, start, order_by)]
        found: list[StoredDocument] = []
        for group in groups:
            sql = self._base(tenant_id, where)
            assert sql is not None
            valued = [
                (spec, i) for i, (spec, v) in enumerate(zip(order_by, group, strict=True)) if v
            ]
            for (name, _), value_held in zip(order_by, group, strict=True):
                template = _NOT_NULLISH if value_held else _NULLISH
                sql.clauses.append(template.format(x=_expr(name)))
            if after is not None and group == start:
                columns = [
                    _Column(_expr(name), desc, after[2 * i + 1], rank=after[2 * i])
                    for (name, desc), i in valued
                ]
                columns += [
                    _Column("c.tenantId", False, after[-2]),
                    _Column("c.id", False, after[-1]),
                ]
                sql.clauses.append(_after_sql(columns, sql))
            top = wanted - len(found)
            text = sql.text(top=top, order=_order_paths([spec for spec, _ in valued]))
            items = await self._fetch(
                container, collection, tenant_id, text, sql.parameters, top=top
            )
            found.extend(_from_item(collection, item) for item in items)
            if len(found) >= wanted:
                break
        return _page(found, order_by, limit)

    async def _query_sorting_here(
        self,
        container: _Container,
        collection: str,
        tenant_id: str | None,
        where: Sequence[Condition],
        order_by: Ordering,
        limit: int | None,
        after: list[Any] | None,
    ) -> Page:
        """Read every match in one request and order it here."""
        sql = self._base(tenant_id, where)
        assert sql is not None
        items = await self._fetch(
            container, collection, tenant_id, sql.text(), sql.parameters, top=None
        )
        found = [_from_item(collection, item) for item in items]
        # Stable sorts, last key first; ties end up in (tenant_id, id) order.
        found.sort(key=lambda d: (d.tenant_id, d.id))
        for name, descending in reversed(order_by):
            found.sort(key=functools.partial(_field_sort_key, name), reverse=descending)
        if after is not None:
            directions = [desc for _, desc in order_by for _ in range(2)] + [False, False]
            found = [d for d in found if _is_after(_order_key(d, order_by), after, directions)]
        if limit is not None:
            found = found[: limit + 1]
        return _page(found, order_by, limit)

    async def count(
        self, collection: str, tenant_id: str | None, where: Sequence[Condition] = ()
    ) -> int:
        """Return how many documents match every condition."""
        for condition in where:
            _check_field(condition.field)
        container = await self._existing_container(collection)
        sql = self._base(tenant_id, where)
        if container is None or sql is None:
            return 0
        items = await self._fetch(
            container, collection, tenant_id, sql.text(count=True), sql.parameters, top=None
        )
        # A query across partitions may answer one partial count per partition.
        return sum(int(cast(Any, value)) for value in items)

    # ------------------------------------------------------------- lifetime
    async def close(self) -> None:
        """Close the client (and the credential the store created)."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()
        credential, self._owned_credential = self._owned_credential, None
        if credential is not None:
            await credential.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


def _group_after(group: tuple[bool, ...], start: tuple[bool, ...], order_by: Ordering) -> bool:
    """Return whether documents of ``group`` sort after those of ``start``."""
    for held, was, (_, descending) in zip(group, start, order_by, strict=True):
        if held != was:
            # Null groups come first ascending, last descending.
            return held != descending
    return False


def _page(found: list[StoredDocument], order_by: Ordering, limit: int | None) -> Page:
    if limit is None or len(found) <= limit:
        return Page(found)
    page = found[:limit]
    return Page(page, encode_continuation(order_by, _order_key(page[-1], order_by)))
