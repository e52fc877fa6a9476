"""One person's data: export everything stored about a user, or erase it (GDPR).

What is stored about a user, by collection: their ``users`` document (name, UPN, roles),
their ``agents`` document (state, skills, seat), the messaging bot's ``conversationRefs``
document (their Teams chat with the bot) and ``offerCards`` (alert cards sent to them),
interval aggregates about them as an agent, call records in which they appear (as the
agent who answered, an agent who missed an offer, or a Teams caller), and audit entries
made by them or naming them.

**Export** returns all of it as stored. **Erasure** deletes the documents that are about
the user alone, and in every document kept for others (call records, the audit log,
whatever else names them) replaces the user's id with a random pseudonym and blanks their
name and UPN: reports keep their counts, and nothing left points back at the person. The
erasure is refused while the user is still part of the live configuration or of a call in
progress (remove them from their queues, and wait for the call to end), and for the
tenant's last admin.

Both are audited; the entry of an erasure names the pseudonym, never the person.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contactcenter.clock import Clock
from contactcenter.errors import Conflict, NotFound
from contactcenter.model import AgentActivity, Role, Tenant
from contactcenter.ports import Condition, Op, Store, StoredDocument
from contactcenter.repository import Repository
from contactcenter.retention import AGENT_AGGREGATES, AGGREGATES, TENANT_COLLECTIONS
from tab.audit import AUDIT_COLLECTION, Actor, AuditLog
from tab.seats import Seats

_LOGGER = logging.getLogger(__name__)

CONVERSATION_REFS = "conversationRefs"
OFFER_CARDS = "offerCards"
PSEUDONYM_PREFIX = "deleted-user-"
_ATTEMPTS = 4


class UserUnknown(Exception):
    """The tenant has no such user (nor an agent profile with that id)."""


class ErasureRefused(Exception):
    """The user cannot be erased now; ``code`` and the message say why (409)."""

    def __init__(self, code: str, message: str, details: list[str]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


@dataclass(frozen=True, slots=True)
class PersonalData:
    """Everything stored about one user, as stored (camelCase documents)."""

    tenant_id: str
    user_id: str
    exported_at: datetime
    user: dict[str, Any] | None
    agent: dict[str, Any] | None
    conversation: dict[str, Any] | None
    queue_ids: list[str]
    call_records: list[dict[str, Any]]
    offer_cards: list[dict[str, Any]]
    aggregates: list[dict[str, Any]]
    audit_entries: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure did: the pseudonym that replaced the user's id, and the counts."""

    pseudonym: str
    deleted: int
    pseudonymised: int


class PersonalDataService:
    """Export and erase one user's data in a tenant."""

    def __init__(
        self, store: Store, repository: Repository, audit: AuditLog, seats: Seats, clock: Clock
    ) -> None:
        self._store = store
        self._repo = repository
        self._audit = audit
        self._seats = seats
        self._clock = clock

    # ----------------------------------------------------------------- export
    async def export(self, tenant_id: str, user_id: str, actor: Actor) -> PersonalData:
        """Return everything stored about the user; raise UserUnknown."""
        user = await self._read(self._repo.USERS, tenant_id, user_id)
        agent = await self._read(self._repo.AGENTS, tenant_id, user_id)
        if user is None and agent is None:
            raise UserUnknown(user_id)
        needles = {user_id}
        queues = await self._repo.queues.find(tenant_id)
        data = PersonalData(
            tenant_id=tenant_id,
            user_id=user_id,
            exported_at=self._clock.now(),
            user=_body(user),
            agent=_body(agent),
            conversation=_body(await self._read(CONVERSATION_REFS, tenant_id, user_id)),
            queue_ids=sorted(q.value.id for q in queues if user_id in q.value.members),
            call_records=[
                _body_of(d)
                for d in await self._mentioning(self._repo.CALL_RECORDS, tenant_id, needles)
            ],
            offer_cards=[
                _body_of(d) for d in await self._where(OFFER_CARDS, tenant_id, "agentId", user_id)
            ],
            aggregates=[
                _body_of(d)
                for collection in (AGGREGATES, AGENT_AGGREGATES)
                for d in await self._where(collection, tenant_id, "agentId", user_id)
            ],
            audit_entries=[
                _body_of(d) for d in await self._mentioning(AUDIT_COLLECTION, tenant_id, needles)
            ],
        )
        await self._audit.record(
            tenant_id, actor, "user.export", target_type="user", target_id=user_id
        )
        return data

    # ------------------------------------------------------------------ erase
    async def erase(self, tenant: Tenant, user_id: str, actor: Actor) -> Erasure:
        """Delete the user's documents and pseudonymise them elsewhere.

        Raise UserUnknown, or ErasureRefused while they are still in use.
        """
        tenant_id = tenant.id
        user_doc = await self._read(self._repo.USERS, tenant_id, user_id)
        agent_doc = await self._read(self._repo.AGENTS, tenant_id, user_id)
        if user_doc is None and agent_doc is None:
            raise UserUnknown(user_id)
        await self._check_erasable(tenant_id, user_id, user_doc, agent_doc)
        if agent_doc is not None:
            # Also clears a seat the ledger counts but the agent's flag lost (seats.py).
            await self._seats.release(tenant, user_id)
        pseudonym = PSEUDONYM_PREFIX + secrets.token_hex(6)
        names = {
            value
            for known in (user_doc, agent_doc)
            if known is not None
            for field in ("displayName", "upn")
            if isinstance(value := known.body.get(field), str) and value
        }
        replace_value = _Replacement(user_id, pseudonym, frozenset(names))
        deleted = 0
        for collection in (self._repo.USERS, self._repo.AGENTS, CONVERSATION_REFS):
            deleted += await self._delete(collection, tenant_id, user_id)
        for collection in (OFFER_CARDS, AGGREGATES, AGENT_AGGREGATES):
            for document in await self._where(collection, tenant_id, "agentId", user_id):
                deleted += await self._delete(collection, tenant_id, document.id)
        pseudonymised = 0
        deleted_whole = {self._repo.USERS, self._repo.AGENTS, CONVERSATION_REFS}
        kept = [c for c in TENANT_COLLECTIONS if c not in deleted_whole]
        for collection in kept:
            for document in await self._mentioning(collection, tenant_id, {user_id, *names}):
                pseudonymised += await self._rewrite(document, replace_value)
        erasure = Erasure(pseudonym=pseudonym, deleted=deleted, pseudonymised=pseudonymised)
        await self._audit.record(
            tenant_id,
            actor,
            "user.erase",
            target_type="user",
            target_id=pseudonym,
            after=erasure,
        )
        _LOGGER.warning(
            "Erased a user's personal data (now %s): %d documents deleted, %d pseudonymised",
            pseudonym,
            deleted,
            pseudonymised,
            extra={"tenant_id": tenant_id},
        )
        return erasure

    async def _check_erasable(
        self,
        tenant_id: str,
        user_id: str,
        user_doc: StoredDocument | None,
        agent_doc: StoredDocument | None,
    ) -> None:
        queues = [
            q.value.name
            for q in await self._repo.queues.find(tenant_id)
            if user_id in q.value.members
        ]
        if queues:
            raise ErasureRefused(
                "userInUse",
                "remove the user from their queues first",
                [f"member of queue {name}" for name in queues],
            )
        if agent_doc is not None and agent_doc.body.get("activity", "idle") != AgentActivity.IDLE:
            raise ErasureRefused(
                "userInUse", "the user is on a call: try again when it has ended", []
            )
        live = await self._mentioning(self._repo.CALLS, tenant_id, {user_id})
        if live:
            raise ErasureRefused(
                "userInUse",
                "calls in progress name the user: try again when they have ended",
                [f"call {doc.id}" for doc in live],
            )
        roles = user_doc.body.get("roles", []) if user_doc is not None else []
        if Role.ADMIN.value in roles:
            admins = [
                u for u in await self._repo.users.find(tenant_id) if Role.ADMIN in u.value.roles
            ]
            if len(admins) <= 1:
                raise ErasureRefused(
                    "lastAdmin", "the last admin cannot be erased: make someone else an admin", []
                )

    # ---------------------------------------------------------------- store
    async def _read(self, collection: str, tenant_id: str, doc_id: str) -> StoredDocument | None:
        try:
            return await self._store.read(collection, tenant_id, doc_id)
        except NotFound:
            return None

    async def _delete(self, collection: str, tenant_id: str, doc_id: str) -> int:
        try:
            await self._store.delete(collection, tenant_id, doc_id)
        except NotFound:
            return 0
        return 1

    async def _where(
        self, collection: str, tenant_id: str, field: str, value: str
    ) -> list[StoredDocument]:
        return await self._all(collection, tenant_id, (Condition(field, Op.EQ, value),))

    async def _mentioning(
        self, collection: str, tenant_id: str, needles: set[str]
    ) -> list[StoredDocument]:
        """Return the tenant's documents of a collection in which any of ``needles`` occurs.

        A scan: ids can sit in lists and nested objects the store cannot filter on. It runs
        only for an export or an erasure, which are rare.
        """
        return [
            doc
            for doc in await self._all(collection, tenant_id, ())
            if _mentions(doc.body, needles)
        ]

    async def _all(
        self, collection: str, tenant_id: str, where: tuple[Condition, ...]
    ) -> list[StoredDocument]:
        found: list[StoredDocument] = []
        continuation: str | None = None
        while True:
            page = await self._store.query(collection, tenant_id, where, continuation=continuation)
            found.extend(page.documents)
            continuation = page.continuation
            if continuation is None:
                return found

    async def _rewrite(self, document: StoredDocument, replacement: _Replacement) -> int:
        """Replace the user's values in one document (compare-and-set, retried)."""
        current = document
        for _ in range(_ATTEMPTS):
            body = replacement.apply(current.body)
            if body == current.body:
                return 0
            try:
                await self._store.replace(
                    current.collection, current.tenant_id, current.id, body, if_match=current.etag
                )
            except Conflict:
                try:
                    current = await self._store.read(
                        current.collection, current.tenant_id, current.id
                    )
                except NotFound:
                    return 0
                continue
            except NotFound:
                return 0
            return 1
        raise Conflict(f"{document.collection}/{document.id}: gave up after {_ATTEMPTS} races")


def _body(document: StoredDocument | None) -> dict[str, Any] | None:
    return None if document is None else _body_of(document)


def _body_of(document: StoredDocument) -> dict[str, Any]:
    return {**document.body, "id": document.id, "tenantId": document.tenant_id}


def _mentions(value: Any, needles: set[str]) -> bool:
    if isinstance(value, str):
        return value in needles
    if isinstance(value, Mapping):
        return any(_mentions(v, needles) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions(v, needles) for v in value)
    return False


# Fields that hold a person's name or sign-in name, wherever they are nested.
_NAME_FIELDS = frozenset({"displayName", "upn", "agentName", "actorName", "userName"})


@dataclass(frozen=True, slots=True)
class _Replacement:
    """The user's id becomes the pseudonym anywhere; their names are blanked in name fields."""

    user_id: str
    pseudonym: str
    names: frozenset[str]

    def apply(self, value: Any, key: str = "") -> Any:
        if isinstance(value, str):
            if value == self.user_id:
                return self.pseudonym
            return "" if key in _NAME_FIELDS and value in self.names else value
        if isinstance(value, Mapping):
            return {k: self.apply(v, k) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.apply(v, key) for v in value]
        return value
