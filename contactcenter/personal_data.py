"""One person's data: export everything stored about a user, or erase it (GDPR).

What is stored about a user, by collection: their ``users`` document (name, UPN, roles),
their ``agents`` document (state, skills, seat), the messaging bot's ``conversationRefs``
document (their Teams chat with the bot), ``offerCards`` (alert cards sent to them) and
their copies in ``noticeCards`` (voicemail and callback cards sent to a queue's agents),
interval aggregates about them as an agent, call records in which they appear (as the
agent who answered and recorded the disposition, an agent who missed an offer, or a Teams
caller), and audit entries made by them or naming them.

**Export** returns all of it as stored (of a notice's cards, only the user's own copies).
**Erasure** deletes the documents that are about the user alone and their copies of
notice cards, and in every document kept for others (call records, the audit log,
whatever else names them) replaces the user's id with a random pseudonym and blanks their
name and UPN: reports keep their counts, and nothing left points back at the person.

A disposition note is free text an agent typed about a call, so it is read as being about
the caller: a record whose caller is the user loses its note (its code, the business's
classification, is kept). A record the user took keeps its note for the business, with
the agent who recorded it (``disposedBy``) pseudonymised like the answering agent, and
the user's name and UPN blanked wherever they appear in the note's text.

The erasure is refused while the user is still part of the live configuration or of a
call in progress (remove them from their queues, and wait for the call to end), and for
the tenant's last admin.

Both are audited; the entry of an erasure names the pseudonym, never the person.

**Phone callers.** Someone who phones in is known by their number (E.164), and by the
name their carrier sends, if any. The number is in call records and live calls,
voicemails (whose recording is a media blob), finished callback requests, the caller
lists (blocked and VIP entries), alert cards sent about their calls, webhook outbox
payloads, and audit entries of caller-list changes. :meth:`PersonalDataService.export_caller`
returns every document that names the number; :meth:`PersonalDataService.erase_caller`
deletes their voicemails with the recordings and their caller-list entries, and in
everything else replaces the number with a random pseudonym (the same scheme as a
user's), blanks the name beside it and clears the disposition notes of their calls:
reports keep their counts. It is refused while a call (or a waiting callback) of theirs
is in progress, and while the number is part of the configuration (a queue, a binding
or an IVR), which an admin changes first. Their audit entries name the number by a hash
(:func:`caller_reference`), which the erasure replaces with the pseudonym too; running
the erasure again finds nothing and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contactcenter.audit import AUDIT_COLLECTION, Actor, AuditLog
from contactcenter.callbacks import is_e164
from contactcenter.clock import Clock
from contactcenter.errors import InvalidInput, NotFound
from contactcenter.export import OUTBOX, encode_body
from contactcenter.model import AgentActivity, PartyKind, Role, Tenant
from contactcenter.ports import Condition, MediaStore, Op, Store, StoredDocument
from contactcenter.repository import KEEP, Collection, Decision, Missing, Repository, Versioned
from contactcenter.retention import AGENT_AGGREGATES, AGGREGATES, TENANT_COLLECTIONS
from contactcenter.seats import Seats

_LOGGER = logging.getLogger(__name__)

CONVERSATION_REFS = "conversationRefs"
OFFER_CARDS = "offerCards"
NOTICE_CARDS = "noticeCards"
PSEUDONYM_PREFIX = "deleted-user-"
CALLER_PSEUDONYM_PREFIX = "deleted-caller-"


class UserUnknown(Exception):
    """The tenant has no such user (nor an agent profile with that id)."""


class ErasureRefused(Exception):
    """The person cannot be erased now; ``code`` and the message say why (409)."""

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
    notice_cards: list[dict[str, Any]]
    aggregates: list[dict[str, Any]]
    audit_entries: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure did: the pseudonym that replaced the person's id, and the counts.

    The pseudonym is empty when nothing was left to erase.
    """

    pseudonym: str
    deleted: int
    pseudonymised: int


@dataclass(frozen=True, slots=True)
class CallerData:
    """Every document that names one phone caller's number, as stored."""

    tenant_id: str
    number: str
    exported_at: datetime
    calls: list[dict[str, Any]]
    call_records: list[dict[str, Any]]
    voicemails: list[dict[str, Any]]
    callbacks: list[dict[str, Any]]
    caller_list_entries: list[dict[str, Any]]
    webhook_deliveries: list[dict[str, Any]]
    offer_cards: list[dict[str, Any]]
    audit_entries: list[dict[str, Any]]
    # Any other collection's documents that name the number, by collection.
    other: dict[str, list[dict[str, Any]]]


def caller_number(text: str) -> str:
    """Return a phone number in E.164 form, or raise InvalidInput (field ``number``).

    Spaces, dashes, dots and parentheses are dropped (``+1 (425) 555-0100``); the number
    must then be ``+``, a country code and at most 15 digits in all.
    """
    number = _NUMBER_SEPARATORS.sub("", text)
    if not is_e164(number):
        raise InvalidInput(
            "not an E.164 phone number (+, country code and number: at most 15 digits)",
            field="number",
        )
    return number


def caller_reference(tenant_id: str, number: str) -> str:
    """Return how audit entries name a caller without writing their number: a hash."""
    digest = hashlib.sha256(f"{tenant_id}|{number}".encode()).hexdigest()
    return f"caller-{digest[:20]}"


_NUMBER_SEPARATORS = re.compile(r"[\s().-]")
# Where a phone caller is part of what routes calls: an admin changes that first.
_CONFIGURATION = (Repository.QUEUES, Repository.BINDINGS, Repository.IVRS)


class PersonalDataService:
    """Export and erase one user's, or one phone caller's, data in a tenant."""

    def __init__(
        self,
        store: Store,
        repository: Repository,
        audit: AuditLog,
        seats: Seats,
        clock: Clock,
        *,
        media: MediaStore | None = None,
    ) -> None:
        self._store = store
        self._repo = repository
        self._audit = audit
        self._seats = seats
        self._clock = clock
        # Voicemail recordings: needed to erase a caller.
        self._media = media

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
            notice_cards=[
                {**_body_of(d), "copies": _copies(d.body, user_id, keep=True)}
                for d in await self._mentioning(NOTICE_CARDS, tenant_id, needles)
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
        replace_value = _Replacement(
            ids=frozenset({user_id}),
            pseudonym=pseudonym,
            names=frozenset(names),
            in_text=frozenset(names),
            beside=frozenset({"name"}),
        )
        deleted = 0
        for collection in (self._repo.USERS, self._repo.AGENTS, CONVERSATION_REFS):
            deleted += await self._delete(collection, tenant_id, user_id)
        for collection in (OFFER_CARDS, AGGREGATES, AGENT_AGGREGATES):
            for document in await self._where(collection, tenant_id, "agentId", user_id):
                deleted += await self._delete(collection, tenant_id, document.id)
        pseudonymised = 0
        for document in await self._mentioning(NOTICE_CARDS, tenant_id, {user_id}):
            # The user's copy points at their own chat: it goes, the others' copies stay.
            pseudonymised += await self._rewrite(
                document, lambda body: {**body, "copies": _copies(body, user_id, keep=False)}
            )
        deleted_whole = {self._repo.USERS, self._repo.AGENTS, CONVERSATION_REFS}
        kept = [c for c in TENANT_COLLECTIONS if c not in deleted_whole]
        for collection in kept:
            for document in await self._mentioning(collection, tenant_id, {user_id, *names}):
                pseudonymised += await self._rewrite(document, replace_value.apply)
        erasure = Erasure(pseudonym=pseudonym, deleted=deleted, pseudonymised=pseudonymised)
        return await self._recorded(tenant_id, actor, "user", erasure)

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

    # -------------------------------------------------------------- callers
    async def export_caller(self, tenant_id: str, number: str, actor: Actor) -> CallerData:
        """Return every document naming a phone caller's number; raise InvalidInput."""
        number = caller_number(number)
        reference = caller_reference(tenant_id, number)
        found: dict[str, list[dict[str, Any]]] = {}
        for collection in TENANT_COLLECTIONS:
            documents = await self._mentioning(collection, tenant_id, {number, reference})
            if documents:
                found[collection] = [_body_of(d) for d in documents]
        entries = [
            dict(entry)
            for caller_list in found.pop(self._repo.CALLER_LISTS, [])
            for entry in caller_list.get("entries", [])
            if _lists_number(entry, number)
        ]
        data = CallerData(
            tenant_id=tenant_id,
            number=number,
            exported_at=self._clock.now(),
            calls=found.pop(self._repo.CALLS, []),
            call_records=found.pop(self._repo.CALL_RECORDS, []),
            voicemails=found.pop(self._repo.VOICEMAILS, []),
            callbacks=found.pop(self._repo.CALLBACKS, []),
            caller_list_entries=entries,
            webhook_deliveries=found.pop(OUTBOX, []),
            offer_cards=found.pop(OFFER_CARDS, []),
            audit_entries=found.pop(AUDIT_COLLECTION, []),
            other=found,
        )
        await self._audit.record(
            tenant_id, actor, "caller.export", target_type="caller", target_id=reference
        )
        return data

    async def erase_caller(self, tenant: Tenant, number: str, actor: Actor) -> Erasure:
        """Delete a phone caller's voicemails and list entries, pseudonymise them elsewhere.

        Raise InvalidInput for a number that is not E.164, or ErasureRefused while a call
        of theirs is in progress or the number is part of the configuration.
        """
        if self._media is None:
            raise RuntimeError("erasing a caller needs the media store (their recordings)")
        tenant_id = tenant.id
        number = caller_number(number)
        await self._check_caller_erasable(tenant_id, number)
        pseudonym = CALLER_PSEUDONYM_PREFIX + secrets.token_hex(6)
        needles = {number, caller_reference(tenant_id, number)}
        replacement = _Replacement(
            ids=frozenset(needles),
            pseudonym=pseudonym,
            in_text=frozenset({number}),
            beside=_NAME_FIELDS | {"reason"},
        )
        deleted = 0
        for voicemail in await self._mentioning(self._repo.VOICEMAILS, tenant_id, {number}):
            # The recording first: an interrupted erasure finds the voicemail again.
            media_id = voicemail.body.get("mediaId")
            if isinstance(media_id, str) and media_id:
                await self._media.delete(tenant_id, media_id)
            deleted += await self._delete(self._repo.VOICEMAILS, tenant_id, voicemail.id)
        pseudonymised = 0
        for caller_list in await self._mentioning(self._repo.CALLER_LISTS, tenant_id, {number}):
            pseudonymised += await self._rewrite(
                caller_list,
                lambda body: {
                    **body,
                    "entries": [e for e in body.get("entries", []) if not _lists_number(e, number)],
                },
            )
        # Live calls were checked above; one arriving meanwhile belongs to the engine.
        handled = {self._repo.CALLS, self._repo.VOICEMAILS, self._repo.CALLER_LISTS}
        for collection in (c for c in TENANT_COLLECTIONS if c not in handled):
            for document in await self._mentioning(collection, tenant_id, needles):
                pseudonymised += await self._rewrite(document, replacement.apply)
        if not deleted and not pseudonymised:
            return Erasure(pseudonym="", deleted=0, pseudonymised=0)
        erasure = Erasure(pseudonym=pseudonym, deleted=deleted, pseudonymised=pseudonymised)
        return await self._recorded(tenant_id, actor, "caller", erasure)

    async def _check_caller_erasable(self, tenant_id: str, number: str) -> None:
        live = await self._mentioning(self._repo.CALLS, tenant_id, {number})
        if live:
            raise ErasureRefused(
                "callerInCall",
                "the caller is on a call or waiting for a callback: try again when it has ended",
                [f"call {doc.id}" for doc in live],
            )
        configured = [
            f"{collection} {doc.id}"
            for collection in _CONFIGURATION
            for doc in await self._mentioning(collection, tenant_id, {number})
        ]
        if configured:
            raise ErasureRefused(
                "numberInUse",
                "the number is part of the configuration: change that first",
                configured,
            )

    async def _recorded(self, tenant_id: str, actor: Actor, whom: str, erasure: Erasure) -> Erasure:
        """Audit an erasure of a ``user`` or a ``caller`` by its pseudonym; return it."""
        await self._audit.record(
            tenant_id,
            actor,
            f"{whom}.erase",
            target_type=whom,
            target_id=erasure.pseudonym,
            after=erasure,
        )
        _LOGGER.warning(
            "Erased a %s's personal data (now %s): %d documents deleted, %d pseudonymised",
            whom,
            erasure.pseudonym,
            erasure.deleted,
            erasure.pseudonymised,
            extra={"tenant_id": tenant_id},
        )
        return erasure

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

    async def _rewrite(
        self, document: StoredDocument, change: Callable[[Mapping[str, Any]], Any]
    ) -> int:
        """Change one document as ``change`` says (compare-and-set, decided again on a lost race)."""
        documents = Collection(self._store, document.collection, dict)

        def rewritten(body: dict[str, Any]) -> Decision[dict[str, Any]]:
            new = change(body)
            if new == body:
                return KEEP
            # The document keeps its own id, even where the person's id was its ``id`` field.
            return {**new, "id": document.id, "tenantId": document.tenant_id}

        updated = await documents.apply(
            document.tenant_id,
            document.id,
            rewritten,
            first=Versioned(_body_of(document), document.etag),
            missing=Missing.SKIP,
        )
        return 1 if updated.changed else 0


def _body(document: StoredDocument | None) -> dict[str, Any] | None:
    return None if document is None else _body_of(document)


def _body_of(document: StoredDocument) -> dict[str, Any]:
    return {**document.body, "id": document.id, "tenantId": document.tenant_id}


def _copies(body: Mapping[str, Any], user_id: str, *, keep: bool) -> list[Any]:
    """Return a notice's card copies that are the user's (``keep``) or everyone else's."""
    copies = body.get("copies", [])
    return [c for c in copies if (isinstance(c, Mapping) and c.get("agentId") == user_id) is keep]


def _lists_number(entry: Any, number: str) -> bool:
    """Tell whether a stored caller-list entry is about a phone number."""
    return (
        isinstance(entry, Mapping)
        and entry.get("partyKind") == PartyKind.PHONE.value
        and entry.get("value") == number
    )


def _json_object(text: str) -> dict[str, Any] | None:
    """Return the object a JSON text holds (a webhook payload), or None."""
    if not text.startswith("{"):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _mentions(value: Any, needles: set[str], key: str = "") -> bool:
    if isinstance(value, str):
        if key in _FREE_TEXT_FIELDS:
            return any(needle in value for needle in needles)
        if key in _JSON_TEXT_FIELDS and (parsed := _json_object(value)) is not None:
            return _mentions(parsed, needles)
        return value in needles
    if isinstance(value, Mapping):
        return any(_mentions(v, needles, k) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_mentions(v, needles, key) for v in value)
    return False


# Fields that hold a person's name or sign-in name, wherever they are nested.
_NAME_FIELDS = frozenset({"displayName", "upn", "agentName", "actorName", "userName", "callerName"})
# Free text people typed, in which a name can appear anywhere.
_FREE_TEXT_FIELDS = frozenset({"dispositionNote"})
# JSON text kept as sent (a webhook delivery's payload): looked into, and rewritten whole.
_JSON_TEXT_FIELDS = frozenset({"body"})


@dataclass(frozen=True, slots=True)
class _Replacement:
    """How one person is taken out of a document that is kept for others.

    Their ids (a user's id; a caller's number and audit reference) become the pseudonym
    anywhere; ``names`` are blanked in name fields anywhere; ``in_text`` is cut out of
    free text; the ``beside`` fields of an object that holds one of the ids (the name next
    to a number) are blanked.
    """

    ids: frozenset[str]
    pseudonym: str
    names: frozenset[str] = frozenset()
    in_text: frozenset[str] = frozenset()
    beside: frozenset[str] = frozenset()

    def apply(self, value: Any, key: str = "") -> Any:
        if isinstance(value, str):
            if value in self.ids:
                return self.pseudonym
            if key in _FREE_TEXT_FIELDS:
                return self._without_text(value)
            if key in _JSON_TEXT_FIELDS:
                return self._in_json(value)
            return "" if key in _NAME_FIELDS and value in self.names else value
        if isinstance(value, Mapping):
            changed = {k: self.apply(v, k) for k, v in value.items()}
            if any(isinstance(v, str) and v in self.ids for v in value.values()):
                for field in self.beside & value.keys():
                    if isinstance(value[field], str):
                        changed[field] = ""
            if "dispositionNote" in value and self._is_caller(value.get("caller")):
                # A note on the person's own call is about them.
                changed["dispositionNote"] = ""
            return changed
        if isinstance(value, list | tuple):
            return [self.apply(v, key) for v in value]
        return value

    def _is_caller(self, caller: Any) -> bool:
        return isinstance(caller, Mapping) and caller.get("id") in self.ids

    def _without_text(self, text: str) -> str:
        # Longest first, so that a name inside the UPN does not leave half of the UPN.
        for name in sorted(self.in_text, key=len, reverse=True):
            text = text.replace(name, "")
        return text

    def _in_json(self, text: str) -> str:
        parsed = _json_object(text)
        if parsed is None:
            return text
        changed = self.apply(parsed)
        return text if changed == parsed else encode_body(changed)
