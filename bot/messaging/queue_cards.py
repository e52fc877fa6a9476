"""Supervisors' live queue cards: posted in a channel, refreshed when the queue changes.

Queue changes come in bursts (every call arriving, ringing, connecting, ending), so the
refresh is coalesced: a queue's cards are updated at most once per ``coalesce_s`` (5 s),
each time with the numbers as they are when the update is made, and not at all when the
numbers did not change. The pacing is per host; a card is never updated from two workers
of one host at once. The card shows the queue's threshold alerts as they hold; since a
longest-wait alert starts with time passing rather than with an event, a card with a
waiting caller is looked at again when that caller passes the threshold.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.background import Background
from bot.cards.adaptive import Card
from bot.cards.queue import QueueSnapshot, queue_card
from bot.messaging.adapter import ConnectorError, Message
from bot.messaging.documents import (
    ConversationRef,
    MessagingDocuments,
    QueueCard,
    digest,
    queue_card_id,
)
from bot.messaging.outbox import Outbox, Timer, WorkTracker
from bot.messaging.views import queue_snapshot
from contactcenter.clock import Clock
from contactcenter.errors import DomainError, NotFound
from contactcenter.model import Queue
from contactcenter.ports import Condition, Op
from contactcenter.repository import Repository

_LOGGER = logging.getLogger(__name__)

COALESCE_S = 5.0

_Key = tuple[str, str]


def _message(snapshot: QueueSnapshot) -> Message:
    return Message(
        queue_card(snapshot),
        summary=f"{snapshot.queue_name}: {snapshot.waiting} waiting",
    )


class QueueCards:
    """Post and refresh the live queue cards of every queue."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        documents: MessagingDocuments,
        repository: Repository,
        background: Background,
        clock: Clock,
        timer: Timer,
        tracker: WorkTracker,
        coalesce_s: float = COALESCE_S,
    ) -> None:
        self._outbox = outbox
        self._documents = documents
        self._repository = repository
        self._background = background
        self._clock = clock
        self._timer = timer
        self._tracker = tracker
        self._coalesce_s = coalesce_s
        self._dirty: set[_Key] = set()
        self._workers: set[_Key] = set()
        self._last_run: dict[_Key, float] = {}
        self._rechecks: set[_Key] = set()
        self.updates = 0

    async def _queue(self, tenant_id: str, queue_id: str) -> Queue | None:
        try:
            return (await self._repository.queues.get(tenant_id, queue_id)).value
        except NotFound:
            return None

    async def card(self, tenant_id: str, queue_id: str) -> Card | None:
        """Return the queue's card as it would be now (None for an unknown queue)."""
        queue = await self._queue(tenant_id, queue_id)
        if queue is None:
            return None
        return queue_card(await queue_snapshot(self._repository, queue, self._clock.now()))

    async def register(self, conversation: ConversationRef, queue: Queue, activity_id: str) -> None:
        """Remember a queue card posted in a conversation, to keep it current."""
        snapshot = await queue_snapshot(self._repository, queue, self._clock.now())
        await self._documents.queue_cards.put(
            QueueCard(
                id=queue_card_id(queue.id, conversation.conversation_id),
                tenant_id=queue.tenant_id,
                queue_id=queue.id,
                conversation=conversation,
                activity_id=activity_id,
                shown=digest(snapshot.numbers()),
                updated_at=self._clock.now(),
            )
        )
        # The card just went out: the next update waits its turn like any other.
        self._last_run[(queue.tenant_id, queue.id)] = self._timer.monotonic()

    async def post(self, conversation: ConversationRef, queue: Queue) -> str:
        """Post a new live card for the queue in a conversation; return its activity id."""
        snapshot = await queue_snapshot(self._repository, queue, self._clock.now())
        activity_id = await self._outbox.send(conversation, _message(snapshot))
        await self.register(conversation, queue, activity_id)
        return activity_id

    def changed(self, tenant_id: str, queue_id: str) -> None:
        """Note that a queue changed; its cards follow within ``coalesce_s``."""
        key = (tenant_id, queue_id)
        self._dirty.add(key)
        if key in self._workers:
            return
        self._workers.add(key)
        self._tracker.started()
        try:
            self._background.spawn(self._worker(key), name=f"queue-cards-{queue_id}")
        except RuntimeError:
            # The host is shutting down: the cards stay as they are.
            self._workers.discard(key)
            self._tracker.finished()

    async def _worker(self, key: _Key) -> None:
        try:
            while True:
                last = self._last_run.get(key)
                if last is not None:
                    wait = last + self._coalesce_s - self._timer.monotonic()
                    if wait > 0:
                        await self._timer.sleep(wait)
                self._dirty.discard(key)
                self._last_run[key] = self._timer.monotonic()
                try:
                    await self._refresh(*key)
                except DomainError as err:
                    _LOGGER.warning(
                        "Queue cards of %s not refreshed: %s",
                        key[1],
                        err,
                        extra={"tenant_id": key[0], "queue_id": key[1]},
                    )
                if key not in self._dirty:
                    return
        finally:
            self._workers.discard(key)
            self._tracker.finished()

    def _recheck(self, key: _Key, delay_s: float) -> None:
        """Look at the queue's cards again after ``delay_s`` (once per queue at a time)."""
        if key in self._rechecks:
            return

        async def later() -> None:
            try:
                await self._timer.sleep(delay_s)
                self._rechecks.discard(key)
                self.changed(*key)
            finally:
                self._rechecks.discard(key)
                self._tracker.finished()

        self._rechecks.add(key)
        self._tracker.started()
        try:
            self._background.spawn(later(), name=f"queue-cards-recheck-{key[1]}")
        except RuntimeError:
            # The host is shutting down: the cards stay as they are.
            self._rechecks.discard(key)
            self._tracker.finished()

    async def _refresh(self, tenant_id: str, queue_id: str) -> None:
        cards = await self._documents.queue_cards.find(
            tenant_id, [Condition("queueId", Op.EQ, queue_id)]
        )
        if not cards:
            return
        queue = await self._queue(tenant_id, queue_id)
        if queue is None:
            return
        snapshot = await queue_snapshot(self._repository, queue, self._clock.now())
        if snapshot.alert_due_in_s is not None:
            self._recheck((tenant_id, queue_id), snapshot.alert_due_in_s)
        shown = digest(snapshot.numbers())
        for found in cards:
            card = found.value
            if card.shown == shown:
                continue
            try:
                await self._outbox.update(card.conversation, card.activity_id, _message(snapshot))
            except ConnectorError as err:
                if err.status == 404:
                    # Someone deleted the card in Teams: stop keeping it.
                    _LOGGER.info("Queue card %s is gone; forgetting it", card.id)
                    await self._documents.queue_cards.delete(tenant_id, card.id)
                else:
                    _LOGGER.warning("Queue card %s not updated: %s", card.id, err)
                continue
            self.updates += 1
            await self._documents.queue_cards.put(
                replace(card, shown=shown, updated_at=self._clock.now())
            )
