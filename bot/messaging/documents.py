"""What the messaging bot keeps in the store: conversations, teams, and the cards it sent.

Each is a document of its own collection, written whole (single-document writes only):

- ``conversationRefs``: one per user, the bot's 1:1 chat with them (to alert them); read
  through :class:`ConversationRefs`, a bounded in-process cache.
- ``teams``: one per team the app was added to, with the channels known of it.
- ``offerCards``: one per (call, agent): the alert card's activity id, to update it in place;
  kept a week (``ttl``, where the store expires documents).
- ``queueCards``: one per (queue, channel conversation): a supervisor's live queue card.
- ``noticeCards``: one per notice told to a queue's agents (a voicemail, a callback): the
  activity id of every agent's copy, to update them all in place; kept a month.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from bot.cards.offers import OfferView
from contactcenter.errors import NotFound
from contactcenter.ports import OfferEnd, Store
from contactcenter.repository import Collection

OFFER_CARD_TTL_S = 7 * 86_400
NOTICE_CARD_TTL_S = 30 * 86_400


class ConversationKind(StrEnum):
    PERSONAL = "personal"
    CHANNEL = "channel"
    GROUP_CHAT = "groupChat"


@dataclass(frozen=True, slots=True)
class ConversationRef:
    """Where the bot can write: a Teams conversation, and how to reach it.

    As a ``conversationRefs`` document the id is the user's Entra object id.
    """

    id: str
    tenant_id: str
    conversation_id: str
    service_url: str
    bot_id: str
    kind: ConversationKind = ConversationKind.PERSONAL
    # The user the conversation is with (personal chats): Teams id (29:...) and name.
    user_mri: str = ""
    user_name: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TeamChannel:
    id: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class TeamRegistration:
    """A team the app was added to; its channels may carry queue cards."""

    id: str
    tenant_id: str
    name: str
    service_url: str
    bot_id: str
    channels: tuple[TeamChannel, ...] = ()
    installed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OfferCard:
    """The alert card an agent got for one offer, so that it can be updated in place."""

    id: str
    tenant_id: str
    call_id: str
    agent_id: str
    conversation_id: str
    activity_id: str
    view: OfferView
    ended: OfferEnd | None = None
    sent_at: datetime | None = None
    # Cosmos DB expires the document after this many seconds: a week outlives any offer.
    ttl: int | None = OFFER_CARD_TTL_S


@dataclass(frozen=True, slots=True)
class QueueCard:
    """A live queue card in a channel, and what it showed last."""

    id: str
    tenant_id: str
    queue_id: str
    conversation: ConversationRef
    activity_id: str
    # A digest of the numbers shown, so that an unchanged card is not sent again.
    shown: str = ""
    updated_at: datetime | None = None


class NoticeKind(StrEnum):
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"


@dataclass(frozen=True, slots=True)
class CardCopy:
    """One agent's copy of a notice card."""

    agent_id: str
    conversation_id: str
    activity_id: str


@dataclass(frozen=True, slots=True)
class NoticeCards:
    """The copies of one notice sent to a queue's agents, and the state they show."""

    id: str
    tenant_id: str
    kind: NoticeKind
    subject_id: str
    copies: tuple[CardCopy, ...] = ()
    # What the copies show once updated ("" while they show the notice as sent).
    shown: str = ""
    sent_at: datetime | None = None
    # Cosmos DB expires the document after this many seconds.
    ttl: int | None = NOTICE_CARD_TTL_S

    def with_copy(self, copy: CardCopy) -> NoticeCards:
        """Return the document with ``copy`` added (or replacing the agent's older one)."""
        kept = tuple(c for c in self.copies if c.agent_id != copy.agent_id)
        return replace(self, copies=(*kept, copy))


def notice_cards_id(kind: NoticeKind, subject_id: str) -> str:
    """Return the ``noticeCards`` id of a notice (a voicemail, a callback request)."""
    return f"{kind.value}:{subject_id}"


def offer_card_id(call_id: str, agent_id: str) -> str:
    """Return the ``offerCards`` id of one offer to one agent."""
    return f"{call_id}:{agent_id}"


def queue_card_id(queue_id: str, conversation_id: str) -> str:
    """Return the ``queueCards`` id of a queue's card in a conversation.

    Conversation ids carry characters some stores refuse in ids: hash them.
    """
    digest = hashlib.sha256(conversation_id.encode("utf-8")).hexdigest()[:24]
    return f"{queue_id}:{digest}"


def digest(values: tuple[object, ...]) -> str:
    """Return a short digest of what a card shows."""
    return hashlib.sha256(repr(values).encode("utf-8")).hexdigest()[:16]


class ConversationRefs:
    """The users' 1:1 conversation references, read through a bounded in-process cache.

    Alerting an agent needs their reference on every offer; it changes only when the app
    is installed again or removed. A reference (or its absence) read from the store is
    used for at most ``ttl_s`` seconds. What this process writes or deletes through
    :meth:`put` and :meth:`delete` is seen at once; a change made by another host (or
    straight in the store) is seen within ``ttl_s``. :meth:`forget` drops an entry, for
    when Teams says the conversation is gone.
    """

    TTL_S = 60.0
    MAX_ENTRIES = 4096

    def __init__(
        self,
        collection: Collection[ConversationRef],
        *,
        ttl_s: float = TTL_S,
        max_entries: int = MAX_ENTRIES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._collection = collection
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._monotonic = monotonic
        # (tenant id, user id) -> (read at, the reference or None for "none stored").
        self._entries: OrderedDict[tuple[str, str], tuple[float, ConversationRef | None]] = (
            OrderedDict()
        )
        # Bumped by every write, delete or forget: a read that started before one of them
        # must not put what it read over what was written meanwhile.
        self._generation = 0

    async def get(self, tenant_id: str, user_id: str) -> ConversationRef | None:
        """Return the user's reference (None: none stored), from the cache when fresh."""
        key = (tenant_id, user_id)
        entry = self._entries.get(key)
        if entry is not None and self._monotonic() - entry[0] < self._ttl_s:
            return entry[1]
        generation = self._generation
        try:
            ref: ConversationRef | None = (await self._collection.get(tenant_id, user_id)).value
        except NotFound:
            ref = None
        if generation == self._generation:
            self._keep(key, ref)
        return ref

    async def put(self, ref: ConversationRef) -> None:
        """Store a reference (an install, a conversation update) and use it at once."""
        self._generation += 1
        await self._collection.put(ref)
        self._generation += 1
        self._keep((ref.tenant_id, ref.id), ref)

    async def delete(self, tenant_id: str, user_id: str) -> None:
        """Delete a user's reference (the app was removed); raise NotFound if none."""
        self.forget(tenant_id, user_id)
        try:
            await self._collection.delete(tenant_id, user_id)
        finally:
            self.forget(tenant_id, user_id)

    def forget(self, tenant_id: str, user_id: str) -> None:
        """Drop the cached entry: the next :meth:`get` reads the store."""
        self._generation += 1
        self._entries.pop((tenant_id, user_id), None)

    def _keep(self, key: tuple[str, str], ref: ConversationRef | None) -> None:
        entries = self._entries
        entries[key] = (self._monotonic(), ref)
        entries.move_to_end(key)
        while len(entries) > self._max_entries:
            entries.popitem(last=False)


class MessagingDocuments:
    """The messaging bot's collections in the host's store."""

    CONVERSATION_REFS = "conversationRefs"
    TEAMS = "teams"
    OFFER_CARDS = "offerCards"
    QUEUE_CARDS = "queueCards"
    NOTICE_CARDS = "noticeCards"

    def __init__(self, store: Store, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.conversation_refs = Collection(store, self.CONVERSATION_REFS, ConversationRef)
        # Reads and writes of references go through here, so the cache sees this process's.
        self.references = ConversationRefs(self.conversation_refs, monotonic=monotonic)
        self.teams = Collection(store, self.TEAMS, TeamRegistration)
        self.offer_cards = Collection(store, self.OFFER_CARDS, OfferCard)
        self.queue_cards = Collection(store, self.QUEUE_CARDS, QueueCard)
        self.notice_cards = Collection(store, self.NOTICE_CARDS, NoticeCards)
