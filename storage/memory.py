"""An in-memory Store, for domain tests and short simulations.

It follows the same contract as the SQLite and Cosmos stores (the storage contract suite
runs against it), so a test that passes here means the same thing there.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from contactcenter.errors import Conflict, NotFound
from contactcenter.ports import Condition, Op, Page, StoredDocument

_Key = tuple[str, str, str]


def _matches(body: Mapping[str, Any], condition: Condition) -> bool:
    value = body.get(condition.field)
    wanted = condition.value
    if condition.op is Op.EQ:
        return bool(value == wanted)
    if condition.op is Op.NE:
        return bool(value != wanted)
    if value is None or wanted is None:
        return False
    try:
        if condition.op is Op.LT:
            return bool(value < wanted)
        if condition.op is Op.LE:
            return bool(value <= wanted)
        if condition.op is Op.GT:
            return bool(value > wanted)
        return bool(value >= wanted)
    except TypeError:
        return False


def _sort_key(value: Any) -> tuple[int, Any]:
    # Order like Cosmos DB: null < booleans < numbers < strings.
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4, json.dumps(value, sort_keys=True))


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
            body=copy.deepcopy(dict(body)),
            etag=f'"{next(self._etags)}"',
        )
        self._docs[(collection, tenant_id, doc_id)] = doc
        return doc

    async def read(self, collection: str, tenant_id: str, doc_id: str) -> StoredDocument:
        try:
            doc = self._docs[(collection, tenant_id, doc_id)]
        except KeyError:
            raise NotFound(f"{collection}/{doc_id} not found") from None
        return StoredDocument(
            doc.collection, doc.tenant_id, doc.id, copy.deepcopy(dict(doc.body)), doc.etag
        )

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
        found = self._select(collection, tenant_id, where)
        found.sort(key=lambda d: (d.tenant_id, d.id))
        for field, descending in reversed(order_by):
            found.sort(key=lambda d, f=field: _sort_key(d.body.get(f)), reverse=descending)
        start = int(continuation) if continuation else 0
        end = len(found) if limit is None else start + limit
        page = [
            StoredDocument(d.collection, d.tenant_id, d.id, copy.deepcopy(dict(d.body)), d.etag)
            for d in found[start:end]
        ]
        more = str(end) if limit is not None and end < len(found) else None
        return Page(page, more)

    async def count(
        self, collection: str, tenant_id: str | None, where: Sequence[Condition] = ()
    ) -> int:
        return len(self._select(collection, tenant_id, where))

    async def close(self) -> None:
        self._docs.clear()
