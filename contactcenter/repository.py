"""Typed access to the store: domain dataclasses in, domain dataclasses out.

Each collection holds one kind of document. Every write is a single-document operation;
``save`` is a compare-and-set against the etag the value was read with, and
``Collection.apply`` (``update``) is the one read → decide → compare-and-set loop the
product uses wherever a decision must hold against writers on other hosts.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeAlias, TypeVar

from contactcenter.codec import from_document, to_document
from contactcenter.errors import Conflict, NotFound
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

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# How many times a read → decide → compare-and-set is tried before it gives up: losing this
# many races in a row means something keeps rewriting the document, not bad luck.
ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Versioned(Generic[T]):
    """A value as read from the store, with the etag a conditional write must match."""

    value: T
    etag: str


@dataclass(frozen=True, slots=True)
class Remembered(Versioned[T]):
    """A version this host last read or wrote, taken from memory rather than read now.

    Only a compare-and-set proves it current: a decision made on it holds if its write
    wins; one that writes nothing, or lost, is made again on the document as read now.
    """


class Verdict(Enum):
    """What a change decided about a document, other than a new value for it."""

    KEEP = "keep"
    DELETE = "delete"


# Leave the document as it is (a change may also return None for this).
KEEP = Verdict.KEEP
# Remove the document (if it is still the version decided on).
DELETE = Verdict.DELETE


class Missing(Enum):
    """What an update does when the document does not exist (or a factory: create it)."""

    RAISE = "raise"
    SKIP = "skip"


class GiveUp(Enum):
    """What a read → decide → compare-and-set does after losing every attempt."""

    RAISE = "raise"  # Conflict
    WARN = "warn"  # a warning in the log, and the update comes to nothing


class StaleVersion(Exception):
    """A decision's own compare-and-set lost a race: read the document again, decide again."""


@dataclass(frozen=True, slots=True)
class Updated(Generic[T]):
    """What an update came to: the version decided on and the document as it now stands.

    Both are None when the document was missing and stays so (or the update gave up).
    """

    before: Versioned[T] | None
    after: Versioned[T] | None

    @property
    def changed(self) -> bool:
        """Tell whether the update wrote (created, replaced or deleted) the document."""
        return self.after is not self.before


Decision: TypeAlias = T | Verdict | None
Change: TypeAlias = Callable[[T], Decision[T]] | Callable[[T], Awaitable[Decision[T]]]
# Told of a winning write: the value decided on (None for a create) and the version written.
AfterSave: TypeAlias = Callable[[T | None, Versioned[T]], Awaitable[None] | None]


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

    def remembered(self, tenant_id: str, doc_id: str) -> Remembered[T] | None:
        """Return :meth:`last_known` marked as remembered (to be proven by a write)."""
        known = self._decoded.get((tenant_id, doc_id))
        return None if known is None else Remembered(known.value, known.etag)

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
        try:
            doc = await self.store.replace(self.name, tenant_id, doc_id, body, if_match=etag)
        except (Conflict, NotFound):
            # That version is not current: the next decision must not start from it.
            known = self._decoded.get((tenant_id, doc_id))
            if known is not None and known.etag == etag:
                del self._decoded[(tenant_id, doc_id)]
            raise
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

    async def settle(
        self,
        tenant_id: str,
        doc_id: str,
        decide: Callable[[Versioned[T] | None], Awaitable[R]],
        *,
        attempts: int = ATTEMPTS,
        first: Versioned[T] | None = None,
        known: bool = False,
        missing_ok: bool = True,
        give_up: GiveUp = GiveUp.RAISE,
    ) -> R | None:
        """Run ``decide`` on the document as it stands until the decision holds.

        ``decide`` gets the current version: ``first`` for the first try, or with ``known``
        the version this collection last read or wrote (each saves a read), else the one
        read now; None when the document does not exist, unless ``missing_ok`` is False:
        then the read's NotFound propagates. A decision that makes its own compare-and-set
        raises :class:`StaleVersion` when that write lost a race: the document is read
        again (with ``known``, unless another task of this collection learnt it meanwhile)
        and ``decide`` runs again, ``attempts`` times at most.
        """
        for _ in range(attempts):
            current = (
                first if first is not None or not known else self.last_known(tenant_id, doc_id)
            )
            first = None
            if current is None:
                try:
                    current = await self.get(tenant_id, doc_id)
                except NotFound:
                    if not missing_ok:
                        raise
            try:
                return await decide(current)
            except StaleVersion:
                if known and current is not None:
                    # Forget the version that lost, so that the next try (this one's, or
                    # another task's) reads the one that won.
                    self._decoded.pop((tenant_id, doc_id), None)
        message = f"{self.name}/{doc_id}: gave up after {attempts} lost races"
        if give_up is GiveUp.RAISE:
            raise Conflict(message)
        _LOGGER.warning("%s", message, extra={"tenant_id": tenant_id})
        return None

    async def apply(
        self,
        tenant_id: str,
        doc_id: str,
        change: Change[T],
        *,
        attempts: int = ATTEMPTS,
        first: Versioned[T] | None = None,
        known: bool = False,
        missing: Missing | Callable[[], T] = Missing.RAISE,
        after_save: AfterSave[T] | None = None,
        give_up: GiveUp = GiveUp.RAISE,
    ) -> Updated[T]:
        """Read, apply ``change``, and compare-and-set; read and decide again on a lost race.

        ``change`` (sync or async) returns the new value, :data:`KEEP` (or None) to leave the
        document as it is, or :data:`DELETE` to remove it. A missing document raises
        NotFound (``Missing.RAISE``), comes to nothing (``Missing.SKIP``), or, given a
        factory, is decided on as the factory's value and created. ``first`` and ``known``
        save reads as in :meth:`settle`. ``after_save`` is told of the winning write only:
        the value decided on (None for a create) and the version written.
        """

        async def decide(current: Versioned[T] | None) -> Updated[T]:
            if current is not None:
                base = current.value
            elif isinstance(missing, Missing):
                return Updated(None, None)
            else:
                base = missing()
            result = change(base)
            new = await result if isinstance(result, Awaitable) else result
            if new is None or new is Verdict.KEEP:
                return Updated(current, current)
            if new is Verdict.DELETE:
                if current is not None:
                    try:
                        await self.delete(tenant_id, doc_id, etag=current.etag)
                    except Conflict as err:
                        raise StaleVersion from err
                    except NotFound:
                        pass  # gone already, which is what was asked
                return Updated(current, None)
            try:
                if current is None:
                    saved = await self.create(new)
                else:
                    saved = await self.save(new, etag=current.etag)
            except (Conflict, NotFound) as err:
                raise StaleVersion from err
            if after_save is not None:
                told = after_save(base if current is not None else None, saved)
                if isinstance(told, Awaitable):
                    await told
            return Updated(current, saved)

        updated = await self.settle(
            tenant_id,
            doc_id,
            decide,
            attempts=attempts,
            first=first,
            known=known,
            missing_ok=missing is not Missing.RAISE,
            give_up=give_up,
        )
        return updated if updated is not None else Updated(None, None)

    async def update(
        self,
        tenant_id: str,
        doc_id: str,
        change: Change[T],
        *,
        attempts: int = ATTEMPTS,
        first: Versioned[T] | None = None,
        known: bool = False,
        missing: Missing | Callable[[], T] = Missing.RAISE,
        after_save: AfterSave[T] | None = None,
        give_up: GiveUp = GiveUp.RAISE,
    ) -> Versioned[T] | None:
        """Like :meth:`apply`; return the document as it now stands (None: deleted or missing)."""
        updated = await self.apply(
            tenant_id,
            doc_id,
            change,
            attempts=attempts,
            first=first,
            known=known,
            missing=missing,
            after_save=after_save,
            give_up=give_up,
        )
        return updated.after

    async def ensure(self, value: T) -> tuple[Versioned[T], bool]:
        """Return the stored document, created as ``value`` if missing, and whether it was."""
        tenant_id, doc_id, _ = self._encode(value)
        # The change sees ``value`` itself only when nothing is stored.
        updated = await self.apply(
            tenant_id,
            doc_id,
            lambda found: found if found is value else KEEP,
            missing=lambda: value,
        )
        assert updated.after is not None
        return updated.after, updated.before is None


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
