"""Typed access to the store: domain dataclasses in, domain dataclasses out.

Each collection holds one kind of document. Every write is a single-document operation;
``save`` is a compare-and-set against the etag the value was read with.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from contactcenter.codec import from_document, to_document
from contactcenter.errors import Conflict
from contactcenter.model import (
    Agent,
    Binding,
    Call,
    CallbackRequest,
    CallerList,
    CallRecord,
    Ivr,
    Prompt,
    Queue,
    Tenant,
    User,
    Voicemail,
)
from contactcenter.ports import Condition, Store, StoredDocument

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Versioned(Generic[T]):
    """A value as read from the store, with the etag a conditional write must match."""

    value: T
    etag: str


# Decoded documents remembered per collection (see Collection).
_DECODED_KEPT = 4096


@dataclass(frozen=True, slots=True)
class Collection(Generic[T]):
    """One collection of ``T`` documents in a store.

    Values are shared, not copied: a document read again with an unchanged etag returns
    the value decoded (or written) before, since decoding is the costliest step of a read.
    Domain values are frozen; treat their dict fields as read-only too.
    """

    store: Store
    name: str
    kind: type[T]
    _decoded: OrderedDict[tuple[str, str], Versioned[T]] = field(
        default_factory=OrderedDict, compare=False, repr=False
    )

    def _remember(self, tenant_id: str, doc_id: str, versioned: Versioned[T]) -> Versioned[T]:
        decoded = self._decoded
        key = (tenant_id, doc_id)
        decoded[key] = versioned
        decoded.move_to_end(key)
        if len(decoded) > _DECODED_KEPT:
            # An OrderedDict drops its oldest entry in constant time (a dict would not).
            decoded.popitem(last=False)
        return versioned

    def last_known(self, tenant_id: str, doc_id: str) -> Versioned[T] | None:
        """Return the version this collection last read or wrote for the document.

        None when it does not remember one (never seen, forgotten, or deleted through it).
        """
        return self._decoded.get((tenant_id, doc_id))

    def _decode(self, doc: StoredDocument) -> Versioned[T]:
        known = self._decoded.get((doc.tenant_id, doc.id))
        if known is not None and known.etag == doc.etag:
            return known
        body = {k: v for k, v in doc.body.items() if k != "tenantId"}
        body.setdefault("id", doc.id)
        body["tenantId"] = doc.tenant_id
        return self._remember(
            doc.tenant_id, doc.id, Versioned(from_document(self.kind, body), doc.etag)
        )

    @staticmethod
    def _encode(value: T) -> tuple[str, str, dict[str, Any]]:
        body = to_document(value)
        assert isinstance(body, dict)
        tenant_id = body.get("tenantId") or body["id"]
        return str(tenant_id), str(body["id"]), body

    async def get(self, tenant_id: str, doc_id: str) -> Versioned[T]:
        return self._decode(await self.store.read(self.name, tenant_id, doc_id))

    # Writes return the value that was written with the new etag rather than decoding the
    # stored body again: the codec round-trips every domain value unchanged, and decoding
    # is the most expensive step of a write.
    async def create(self, value: T) -> Versioned[T]:
        tenant_id, doc_id, body = self._encode(value)
        doc = await self.store.create(self.name, tenant_id, doc_id, body)
        return self._remember(tenant_id, doc_id, Versioned(value, doc.etag))

    async def save(self, value: T, *, etag: str) -> Versioned[T]:
        """Replace the document if it still has ``etag``; raise Conflict otherwise."""
        tenant_id, doc_id, body = self._encode(value)
        doc = await self.store.replace(self.name, tenant_id, doc_id, body, if_match=etag)
        return self._remember(tenant_id, doc_id, Versioned(value, doc.etag))

    async def put(self, value: T) -> Versioned[T]:
        """Write unconditionally (configuration imports, seeding)."""
        tenant_id, doc_id, body = self._encode(value)
        doc = await self.store.upsert(self.name, tenant_id, doc_id, body)
        return self._remember(tenant_id, doc_id, Versioned(value, doc.etag))

    async def delete(self, tenant_id: str, doc_id: str, *, etag: str | None = None) -> None:
        await self.store.delete(self.name, tenant_id, doc_id, if_match=etag)
        self._decoded.pop((tenant_id, doc_id), None)

    async def find(
        self,
        tenant_id: str | None,
        where: Sequence[Condition] = (),
        *,
        order_by: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
    ) -> list[Versioned[T]]:
        """Return every match, following continuation pages."""
        found: list[Versioned[T]] = []
        continuation: str | None = None
        while True:
            page = await self.store.query(
                self.name,
                tenant_id,
                where,
                order_by=order_by,
                limit=limit,
                continuation=continuation,
            )
            found.extend(self._decode(doc) for doc in page.documents)
            continuation = page.continuation
            if continuation is None or (limit is not None and len(found) >= limit):
                return found[:limit] if limit is not None else found

    async def page(
        self,
        tenant_id: str | None,
        where: Sequence[Condition] = (),
        *,
        order_by: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
        continuation: str | None = None,
    ) -> tuple[list[Versioned[T]], str | None]:
        """Return one page of matches and the continuation for the next (None at the end)."""
        page = await self.store.query(
            self.name,
            tenant_id,
            where,
            order_by=order_by,
            limit=limit,
            continuation=continuation,
        )
        return [self._decode(doc) for doc in page.documents], page.continuation

    async def count(self, tenant_id: str | None, where: Sequence[Condition] = ()) -> int:
        """Return how many documents match."""
        return await self.store.count(self.name, tenant_id, where)

    async def update(
        self,
        tenant_id: str,
        doc_id: str,
        change: Callable[[T], T | None] | Callable[[T], Awaitable[T | None]],
        *,
        attempts: int = 8,
    ) -> Versioned[T] | None:
        """Read, apply ``change``, and compare-and-set; retry on a lost race.

        ``change`` returns the new value, or None to leave the document as it is (then the
        current value is returned without a write).
        """
        for _ in range(attempts):
            current = await self.get(tenant_id, doc_id)
            result = change(current.value)
            new = await result if isinstance(result, Awaitable) else result
            if new is None:
                return current
            try:
                return await self.save(new, etag=current.etag)
            except Conflict:
                continue
        raise Conflict(f"{self.name}/{doc_id}: gave up after {attempts} lost races")


class Repository:
    """The domain's collections in one store."""

    TENANTS = "tenants"
    USERS = "users"
    QUEUES = "queues"
    AGENTS = "agents"
    BINDINGS = "bindings"
    CALLS = "calls"
    CALL_RECORDS = "callRecords"
    IVRS = "ivrs"
    CALLER_LISTS = "callerLists"
    PROMPTS = "prompts"
    VOICEMAILS = "voicemails"
    CALLBACKS = "callbacks"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.tenants = Collection(store, self.TENANTS, Tenant)
        self.users = Collection(store, self.USERS, User)
        self.queues = Collection(store, self.QUEUES, Queue)
        self.agents = Collection(store, self.AGENTS, Agent)
        self.bindings = Collection(store, self.BINDINGS, Binding)
        self.calls = Collection(store, self.CALLS, Call)
        self.call_records = Collection(store, self.CALL_RECORDS, CallRecord)
        self.ivrs = Collection(store, self.IVRS, Ivr)
        self.caller_lists = Collection(store, self.CALLER_LISTS, CallerList)
        self.prompts = Collection(store, self.PROMPTS, Prompt)
        self.voicemails = Collection(store, self.VOICEMAILS, Voicemail)
        # Finished callback requests (a waiting callback is a call document).
        self.callbacks = Collection(store, self.CALLBACKS, CallbackRequest)
