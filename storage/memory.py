"""An in-memory Store, for domain tests and short simulations.

It follows the same contract as the SQLite and Cosmos stores (the storage contract suite
runs against it), so a test that passes here means the same thing there.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from contactcenter.errors import Conflict, NotFound
from contactcenter.ports import Condition, Op, Page, StoredDocument
from storage.documents import (
    check_limit,
    copy_body,
    decode_continuation,
    encode_continuation,
)

_Key = tuple[str, str, str]


def _kind(value: Any) -> int:
    # JSON's types, ranked as Cosmos DB orders them: null < booleans < numbers < strings.
    # A bool is an int to Python but never a number to JSON.
    if value is None:
        return 0
    if isinstance(value, bool):
        return 1
    if isinstance(value, int | float):
        return 2
    if isinstance(value, str):
        return 3
    return 4


def _matches(body: Mapping[str, Any], condition: Condition) -> bool:
    # A missing field reads as null; values of different JSON types are never equal
    # and never ordered against each other.
    value = body.get(condition.field)
    wanted = condition.value
    same_kind = _kind(value) == _kind(wanted)
    if condition.op is Op.EQ:
        return same_kind and bool(value == wanted)
    if condition.op is Op.NE:
        return not (same_kind and bool(value == wanted))
    if value is None or wanted is None or not same_kind:
        return False
    if condition.op is Op.LT:
        return bool(value < wanted)
    if condition.op is Op.LE:
        return bool(value <= wanted)
    if condition.op is Op.GT:
        return bool(value > wanted)
    return bool(value >= wanted)


def _sort_key(value: Any) -> tuple[int, Any]:
    kind = _kind(value)
    if kind == 0:
        return (0, 0)
    if kind == 4:
        return (4, json.dumps(value, sort_keys=True))
    return (kind, value)


def _field_sort_key(field: str) -> Callable[[StoredDocument], tuple[int, Any]]:
    def key(doc: StoredDocument) -> tuple[int, Any]:
        return _sort_key(doc.body.get(field))

    return key


def _order_key(doc: StoredDocument, order_by: Sequence[tuple[str, bool]]) -> list[Any]:
    key: list[Any] = []
    for field, _ in order_by:
        key.extend(_sort_key(doc.body.get(field)))
    key.extend((doc.tenant_id, doc.id))
    return key


def _compare(key: Sequence[Any], other: Sequence[Any], descending: Sequence[bool]) -> int:
    """Return -1, 0 or 1 as ``key`` sorts before, with or after ``other``."""
    for mine, theirs, desc in zip(key, other, descending, strict=True):
        if mine != theirs:
            before = bool(mine > theirs) if desc else bool(mine < theirs)
            return -1 if before else 1
    return 0


def _copy(doc: StoredDocument) -> StoredDocument:
    return StoredDocument(doc.collection, doc.tenant_id, doc.id, copy_body(doc.body), doc.etag)


class MemoryStore:
    """Documents in a dict; etags from a counter."""

    def __init__(self) -> None:
        self._docs: dict[_Key, StoredDocument] = {}
        self._etags = itertools.count(1)

    def _put(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        doc = StoredDocument(
            collection=collection,
            tenant_id=tenant_id,
            id=doc_id,
            body=copy_body(body),
            etag=f'"{next(self._etags)}"',
        )
        self._docs[(collection, tenant_id, doc_id)] = doc
        return _copy(doc)

    async def read(self, collection: str, tenant_id: str, doc_id: str) -> StoredDocument:
        try:
            doc = self._docs[(collection, tenant_id, doc_id)]
        except KeyError:
            raise NotFound(f"{collection}/{doc_id} not found") from None
        return _copy(doc)

    async def create(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        if (collection, tenant_id, doc_id) in self._docs:
            raise Conflict(f"{collection}/{doc_id} already exists")
        return self._put(collection, tenant_id, doc_id, body)

    async def replace(
        self,
        collection: str,
        tenant_id: str,
        doc_id: str,
        body: Mapping[str, Any],
        *,
        if_match: str,
    ) -> StoredDocument:
        current = self._docs.get((collection, tenant_id, doc_id))
        if current is None:
            raise NotFound(f"{collection}/{doc_id} not found")
        if current.etag != if_match:
            raise Conflict(f"{collection}/{doc_id} changed since it was read")
        return self._put(collection, tenant_id, doc_id, body)

    async def upsert(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        return self._put(collection, tenant_id, doc_id, body)

    async def delete(
        self, collection: str, tenant_id: str, doc_id: str, *, if_match: str | None = None
    ) -> None:
        current = self._docs.get((collection, tenant_id, doc_id))
        if current is None:
            raise NotFound(f"{collection}/{doc_id} not found")
        if if_match is not None and current.etag != if_match:
            raise Conflict(f"{collection}/{doc_id} changed since it was read")
        del self._docs[(collection, tenant_id, doc_id)]

    def _select(
        self, collection: str, tenant_id: str | None, where: Sequence[Condition]
    ) -> list[StoredDocument]:
        return [
            doc
            for (coll, tid, _), doc in self._docs.items()
            if coll == collection
            and (tenant_id is None or tid == tenant_id)
            and all(_matches(doc.body, c) for c in where)
        ]

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
        found = self._select(collection, tenant_id, where)
        # Stable sorts, last key first, give the order_by fields, then (tenant_id, id): a
        # total order, the one _compare describes, so a page can resume after its last key.
        found.sort(key=lambda doc: (doc.tenant_id, doc.id))
        for field, descending in reversed(order_by):
            found.sort(key=_field_sort_key(field), reverse=descending)
        directions = [desc for _, desc in order_by for _ in range(2)] + [False, False]
        if continuation:
            last = decode_continuation(continuation, order_by, len(directions))
            found = [
                doc for doc in found if _compare(_order_key(doc, order_by), last, directions) > 0
            ]
        if limit is None or len(found) <= limit:
            return Page([_copy(d) for d in found])
        page = found[:limit]
        return Page(
            [_copy(d) for d in page],
            encode_continuation(order_by, _order_key(page[-1], order_by)),
        )

    async def count(
        self, collection: str, tenant_id: str | None, where: Sequence[Condition] = ()
    ) -> int:
        return len(self._select(collection, tenant_id, where))

    async def close(self) -> None:
        self._docs.clear()
