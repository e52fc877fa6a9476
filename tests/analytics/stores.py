"""Store wrappers for the aggregate tests: interleave concurrent writers, lose answers."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from typing import Any

from contactcenter.errors import Unavailable
from contactcenter.ports import Condition, Page, Store, StoredDocument


class InterleavingStore:
    """Yields to the event loop before every operation, so concurrent writers interleave."""

    def __init__(self, inner: Store, *, seed: int = 7) -> None:
        self.inner = inner
        self._random = random.Random(seed)
        self.writes = 0

    async def _pause(self) -> None:
        for _ in range(self._random.randrange(3)):
            await asyncio.sleep(0)

    async def read(self, collection: str, tenant_id: str, doc_id: str) -> StoredDocument:
        await self._pause()
        return await self.inner.read(collection, tenant_id, doc_id)

    async def create(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        await self._pause()
        self.writes += 1
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
        await self._pause()
        self.writes += 1
        return await self.inner.replace(collection, tenant_id, doc_id, body, if_match=if_match)

    async def upsert(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        await self._pause()
        return await self.inner.upsert(collection, tenant_id, doc_id, body)

    async def delete(
        self, collection: str, tenant_id: str, doc_id: str, *, if_match: str | None = None
    ) -> None:
        await self._pause()
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
        await self._pause()
        return await self.inner.query(
            collection, tenant_id, where, order_by=order_by, limit=limit, continuation=continuation
        )

    async def count(
        self, collection: str, tenant_id: str | None, where: Sequence[Condition] = ()
    ) -> int:
        await self._pause()
        return await self.inner.count(collection, tenant_id, where)

    async def close(self) -> None:
        await self.inner.close()


class LosingAnswersStore(InterleavingStore):
    """Applies the first ``lose`` writes to ``collection`` but answers them with an error.

    That is what a timeout after the write reached the database looks like to the writer.
    """

    def __init__(self, inner: Store, collection: str, *, lose: int = 1) -> None:
        super().__init__(inner)
        self.collection = collection
        self.lose = lose

    def _lost(self, collection: str) -> bool:
        if collection == self.collection and self.lose > 0:
            self.lose -= 1
            return True
        return False

    async def create(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        written = await super().create(collection, tenant_id, doc_id, body)
        if self._lost(collection):
            raise Unavailable("timed out waiting for the store's answer")
        return written

    async def replace(
        self,
        collection: str,
        tenant_id: str,
        doc_id: str,
        body: Mapping[str, Any],
        *,
        if_match: str,
    ) -> StoredDocument:
        written = await super().replace(collection, tenant_id, doc_id, body, if_match=if_match)
        if self._lost(collection):
            raise Unavailable("timed out waiting for the store's answer")
        return written
