"""``TeamsNotifier``: the domain's Notifier, as Teams cards.

Alerting must never hold up routing: every method only queues work and returns at once;
the work runs in the host's background tasks, paced and retried by the :class:`Outbox`.
Work for one offer (its alert, then its update) runs in order; offers are independent.

An agent without a stored 1:1 conversation (the app is not installed for them) gets no
card: that is logged, and routing goes on.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from bot.background import Background
from bot.cards.offers import OfferView, missed_call_card, offer_card, offer_ended_card
from bot.messaging.adapter import BotChannel, ConnectorError, Message
from bot.messaging.documents import (
    ConversationRef,
    MessagingDocuments,
    OfferCard,
    offer_card_id,
)
from bot.messaging.outbox import (
    AsyncioTimer,
    Outbox,
    RetryPolicy,
    Timer,
    TrackedTimer,
    WorkTracker,
)
from bot.messaging.queue_cards import COALESCE_S, QueueCards
from bot.messaging.views import CallerHistory
from contactcenter.clock import Clock
from contactcenter.errors import DomainError, NotFound
from contactcenter.model import Voicemail
from contactcenter.ports import OfferAlert, OfferEnd
from contactcenter.repository import Repository

_LOGGER = logging.getLogger(__name__)

_Work = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class _Bound:
    outbox: Outbox
    documents: MessagingDocuments
    repository: Repository
    background: Background
    clock: Clock
    queue_cards: QueueCards
    history: CallerHistory
    tab_url: str | None


def _ctx(alert: OfferAlert) -> dict[str, str]:
    return {"call_id": alert.call_id, "tenant_id": alert.tenant_id, "agent_id": alert.agent_id}


class TeamsNotifier:
    """Alert agents with cards in their 1:1 chat, and keep supervisors' queue cards current.

    Made before the host starts (the routing engine needs its notifier when it is built);
    :meth:`bind` hands it the Bot Framework channel and the store once the host runs.
    Until then, and after :meth:`unbind`, it drops what it is told, with a log line.
    """

    def __init__(
        self,
        *,
        timer: Timer | None = None,
        coalesce_s: float = COALESCE_S,
        retry: RetryPolicy | None = None,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        self._tracker = WorkTracker()
        self._timer = TrackedTimer(timer or AsyncioTimer(), self._tracker)
        self._coalesce_s = coalesce_s
        self._retry = retry or RetryPolicy()
        self._random = random_fraction
        self._bound: _Bound | None = None
        self._pending: dict[tuple[str, str, str], deque[_Work]] = {}

    # ------------------------------------------------------------------ wiring
    def bind(
        self,
        *,
        channel: BotChannel,
        documents: MessagingDocuments,
        repository: Repository,
        background: Background,
        clock: Clock,
        tab_url: str | None = None,
    ) -> None:
        """Start sending through ``channel``."""
        outbox = Outbox(channel, self._timer, retry=self._retry, random_fraction=self._random)
        self._bound = _Bound(
            outbox=outbox,
            documents=documents,
            repository=repository,
            background=background,
            clock=clock,
            queue_cards=QueueCards(
                outbox=outbox,
                documents=documents,
                repository=repository,
                background=background,
                clock=clock,
                timer=self._timer,
                tracker=self._tracker,
                coalesce_s=self._coalesce_s,
            ),
            history=CallerHistory(repository),
            tab_url=tab_url,
        )

    def unbind(self) -> None:
        """Stop sending (the host is shutting down)."""
        self._bound = None

    @property
    def queue_cards(self) -> QueueCards:
        """Return the live queue cards (once bound)."""
        if self._bound is None:
            raise RuntimeError("the Teams notifier is not bound to a running host")
        return self._bound.queue_cards

    @property
    def outbox(self) -> Outbox:
        """Return the outbox all outbound calls go through (once bound)."""
        if self._bound is None:
            raise RuntimeError("the Teams notifier is not bound to a running host")
        return self._bound.outbox

    async def wait_idle(self) -> None:
        """Return once no outbound work runs: all of it is done or waits on the timer."""
        await self._tracker.wait_idle()

    # ---------------------------------------------------------------- Notifier
    async def offer_started(self, alert: OfferAlert) -> None:
        bound = self._bound
        if bound is None:
            _LOGGER.info("No Teams channel yet: no alert card", extra=_ctx(alert))
            return
        self._submit(bound, alert, lambda: self._post_offer(bound, alert))

    async def offer_ended(self, alert: OfferAlert, how: OfferEnd) -> None:
        bound = self._bound
        if bound is None:
            return
        self._submit(bound, alert, lambda: self._end_offer(bound, alert, how))

    async def queue_changed(self, tenant_id: str, queue_id: str) -> None:
        bound = self._bound
        if bound is not None:
            bound.queue_cards.changed(tenant_id, queue_id)

    async def voicemail_left(self, voicemail: Voicemail, agent_ids: Sequence[str]) -> None:
        # No voicemail card yet: the message is in the store and the log says so.
        _LOGGER.info(
            "Voicemail for queue %s: %d agents to tell (no card yet)",
            voicemail.queue_id,
            len(agent_ids),
            extra={"tenant_id": voicemail.tenant_id, "call_id": voicemail.call_id},
        )

    # ---------------------------------------------------------------- the work
    def _submit(self, bound: _Bound, alert: OfferAlert, work: _Work) -> None:
        """Queue work for one offer; one worker per offer runs it in order."""
        key = (alert.tenant_id, alert.call_id, alert.agent_id)
        queued = self._pending.get(key)
        if queued is not None:
            queued.append(work)
            return
        queued = deque([work])
        self._pending[key] = queued
        self._tracker.started()
        try:
            bound.background.spawn(self._drain(key, queued), name=f"offer-card-{alert.call_id}")
        except RuntimeError:
            del self._pending[key]
            self._tracker.finished()
            _LOGGER.info("Shutting down: no card for this offer", extra=_ctx(alert))

    async def _drain(self, key: tuple[str, str, str], queued: deque[_Work]) -> None:
        try:
            while queued:
                work = queued.popleft()
                try:
                    await work()
                except (ConnectorError, DomainError) as err:
                    _LOGGER.warning(
                        "Offer card for %s: %s",
                        key[2],
                        err,
                        extra={"tenant_id": key[0], "call_id": key[1], "agent_id": key[2]},
                    )
        finally:
            del self._pending[key]
            self._tracker.finished()

    async def _reference(
        self, bound: _Bound, tenant_id: str, agent_id: str
    ) -> ConversationRef | None:
        try:
            return (await bound.documents.conversation_refs.get(tenant_id, agent_id)).value
        except NotFound:
            return None

    async def _post_offer(self, bound: _Bound, alert: OfferAlert) -> None:
        ref = await self._reference(bound, alert.tenant_id, alert.agent_id)
        if ref is None:
            _LOGGER.info(
                "No Teams chat with agent %s (app not installed?): no alert card",
                alert.agent_id,
                extra=_ctx(alert),
            )
            return
        now = bound.clock.now()
        previous = await bound.history.previous_calls(alert.tenant_id, alert.caller.id, now)
        view = OfferView.from_alert(alert, previous_calls=previous, agent_mri=ref.user_mri)
        activity_id = await bound.outbox.send(
            ref,
            Message(
                offer_card(view), summary=f"Incoming {view.queue_name} call: {view.caller_name}"
            ),
        )
        await bound.documents.offer_cards.put(
            OfferCard(
                id=offer_card_id(alert.call_id, alert.agent_id),
                tenant_id=alert.tenant_id,
                call_id=alert.call_id,
                agent_id=alert.agent_id,
                conversation_id=ref.conversation_id,
                activity_id=activity_id,
                view=view,
                sent_at=now,
            )
        )

    async def _end_offer(self, bound: _Bound, alert: OfferAlert, how: OfferEnd) -> None:
        try:
            found = await bound.documents.offer_cards.get(
                alert.tenant_id, offer_card_id(alert.call_id, alert.agent_id)
            )
        except NotFound:
            _LOGGER.debug("No alert card to update", extra=_ctx(alert))
            return
        card = found.value
        if card.ended is not None:
            return
        ref = await self._reference(bound, alert.tenant_id, alert.agent_id)
        if ref is None:
            return
        ref = replace(ref, conversation_id=card.conversation_id)
        await bound.outbox.update(ref, card.activity_id, Message(offer_ended_card(card.view, how)))
        await bound.documents.offer_cards.put(replace(card, ended=how))
        if how in {OfferEnd.MISSED, OfferEnd.SET_AWAY}:
            await self._send_missed(bound, alert, ref, card.view)

    async def _send_missed(
        self, bound: _Bound, alert: OfferAlert, ref: ConversationRef, view: OfferView
    ) -> None:
        try:
            agent = (await bound.repository.agents.get(alert.tenant_id, alert.agent_id)).value
            queue = (await bound.repository.queues.get(alert.tenant_id, alert.queue_id)).value
        except NotFound:
            return
        card = missed_call_card(
            view,
            missed_in_a_row=agent.missed_in_a_row,
            away_after=queue.missed_offers_to_away,
            tab_url=bound.tab_url,
        )
        await bound.outbox.send(ref, Message(card, summary=f"Missed call: {view.caller_name}"))
