"""``TeamsNotifier``: the domain's Notifier, as Teams cards.

Alerting must never hold up routing: every method only queues work and returns at once;
the work runs in the host's background tasks, paced and retried by the :class:`Outbox`.
Work for one offer (its alert, then its update) runs in order; offers are independent.
So does the work for one notice told to a queue's agents (a voicemail, a callback): its
cards go out, then every copy is updated in place when it is handled or ends.

An agent without a stored 1:1 conversation (the app is not installed for them) gets no
card: that is logged, and routing goes on. Conversation references come from the bounded
in-process cache of :class:`~bot.messaging.documents.ConversationRefs`: one stored by this
process is used at once, one changed elsewhere within its TTL (60 s); a send Teams refuses
because the conversation is gone drops the agent's entry.

An offer card's first write is a create, and its end updates the version this process
wrote without reading it again; the store's etag check catches a card changed elsewhere,
which is then read and replaced. An answered offer's card becomes the card of the call at
hand, built from what the engine passes (the agent, the call and its record as written,
the tenant's time zone and the queue's codes from its caches) rather than read back; a
talk that ends before its answer is shown goes to the wrap-up in one update.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from bot.background import Background
from bot.cards.adaptive import Card
from bot.cards.call import call_panel_card
from bot.cards.callbacks import (
    CallbackOutcome,
    CallbackView,
    callback_ended_card,
    callback_waiting_card,
)
from bot.cards.links import TabLinks
from bot.cards.offers import OfferView, missed_call_card, offer_card, offer_ended_card
from bot.cards.voicemail import voicemail_card
from bot.messaging.adapter import BotChannel, ConnectorError, Message
from bot.messaging.documents import (
    CardCopy,
    ConversationRef,
    MessagingDocuments,
    NoticeCards,
    NoticeKind,
    OfferCard,
    notice_cards_id,
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
from bot.messaging.views import (
    CallerHistory,
    call_panel_view,
    callback_view,
    caller_label,
    person_name,
    tenant_zone,
    voicemail_view,
)
from contactcenter.clock import Clock
from contactcenter.errors import Conflict, DomainError, NotFound
from contactcenter.model import Call, CallbackRequest, Voicemail
from contactcenter.ports import CallAtHand, OfferAlert, OfferEnd
from contactcenter.repository import KEEP, Decision, GiveUp, Missing, Repository

_LOGGER = logging.getLogger(__name__)

_Work = Callable[[], Awaitable[None]]
_Key = tuple[str, str, str]

# How long what the engine passes for the card of the call at hand is trusted: an update
# that waited longer (Teams throttling, retries) reads the call's state, which may have
# moved on meanwhile (the talk ended on another host, a note saved on the card).
AT_HAND_TRUSTED_S = 5.0

# Statuses of a refused send that mean the bot's conversation is gone: 403, the bot is no
# longer in it (the app was removed or the user blocked it); 404, no such conversation.
CONVERSATION_GONE_STATUSES = frozenset({403, 404})


@dataclass(slots=True)
class _Bound:
    outbox: Outbox
    documents: MessagingDocuments
    repository: Repository
    background: Background
    clock: Clock
    queue_cards: QueueCards
    history: CallerHistory
    links: TabLinks | None


@dataclass(slots=True)
class _End:
    """An offer's end waiting to be shown on its card.

    An answer not shown yet takes the talk's end in its place (``how``, ``at_hand``), so
    that a short talk's card is updated once; ``answered`` stays true.
    """

    how: OfferEnd
    at_hand: CallAtHand | None
    told_at: float  # the clock's monotonic time when the engine told it
    answered: bool


def _offer_key(alert: OfferAlert) -> _Key:
    return (alert.tenant_id, alert.call_id, alert.agent_id)


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
        self._pending: dict[_Key, deque[_Work]] = {}
        # Answers queued for their card and not shown yet, by offer.
        self._answers: dict[_Key, _End] = {}

    # ------------------------------------------------------------------ wiring
    def bind(
        self,
        *,
        channel: BotChannel,
        documents: MessagingDocuments,
        repository: Repository,
        background: Background,
        clock: Clock,
        links: TabLinks | None = None,
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
            links=links,
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
        self._submit_offer(bound, alert, lambda: self._post_offer(bound, alert))

    async def offer_ended(
        self, alert: OfferAlert, how: OfferEnd, *, at_hand: CallAtHand | None = None
    ) -> None:
        bound = self._bound
        if bound is None:
            return
        key = _offer_key(alert)
        waiting = self._answers.get(key)
        if how is OfferEnd.TALK_ENDED and waiting is not None:
            # The talk ended before its answer was shown: the one update shows the wrap-up.
            waiting.how, waiting.at_hand = how, at_hand
            waiting.told_at = bound.clock.monotonic()
            return
        end = _End(how, at_hand, bound.clock.monotonic(), answered=how is OfferEnd.ANSWERED)
        if end.answered:
            self._answers[key] = end
        self._submit_offer(bound, alert, lambda: self._end_offer(bound, alert, end))

    async def queue_changed(self, tenant_id: str, queue_id: str) -> None:
        bound = self._bound
        if bound is not None:
            bound.queue_cards.changed(tenant_id, queue_id)

    async def voicemail_left(self, voicemail: Voicemail, agent_ids: Sequence[str]) -> None:
        bound = self._bound
        if bound is None:
            _LOGGER.info("No Teams channel yet: no voicemail card", extra=_vm_ctx(voicemail))
            return
        agents = tuple(dict.fromkeys(agent_ids))
        self._submit_notice(
            bound,
            (voicemail.tenant_id, NoticeKind.VOICEMAIL, voicemail.id),
            lambda: self._post_voicemail(bound, voicemail, agents),
        )

    async def voicemail_handled(self, voicemail: Voicemail) -> None:
        bound = self._bound
        if bound is None or voicemail.handled_by is None:
            return
        self._submit_notice(
            bound,
            (voicemail.tenant_id, NoticeKind.VOICEMAIL, voicemail.id),
            lambda: self._show_voicemail_handled(bound, voicemail),
        )

    async def callback_waiting(self, line: Call, agent_ids: Sequence[str]) -> None:
        """Tell the queue's agents that a caller waits to be called back.

        ``line`` is the callback's call document (``Call.callback`` set), as the engine
        creates it when a caller asks for a callback.
        """
        bound = self._bound
        state = line.callback
        if bound is None or state is None:
            return
        agents = tuple(dict.fromkeys(agent_ids))
        self._submit_notice(
            bound,
            (line.tenant_id, NoticeKind.CALLBACK, state.request_id),
            lambda: self._post_callback(bound, line, agents),
        )

    async def callback_ended(self, request: CallbackRequest) -> None:
        """Update the agents' callback cards in place: connected, not reached, cancelled."""
        bound = self._bound
        if bound is None:
            return
        self._submit_notice(
            bound,
            (request.tenant_id, NoticeKind.CALLBACK, request.id),
            lambda: self._end_callback(bound, request),
        )

    # ---------------------------------------------------------------- the work
    def _submit_offer(self, bound: _Bound, alert: OfferAlert, work: _Work) -> None:
        """Queue work for one offer; one worker per offer runs it in order."""
        self._submit(
            bound,
            _offer_key(alert),
            work,
            name=f"offer-card-{alert.call_id}",
            log=_ctx(alert),
        )

    def _submit_notice(self, bound: _Bound, key: _Key, work: _Work) -> None:
        """Queue work for one notice; one worker per notice runs it in order."""
        tenant_id, kind, subject = key
        self._submit(
            bound,
            ("notice", tenant_id, f"{kind}:{subject}"),
            work,
            name=f"{kind}-cards-{subject}",
            log={"tenant_id": tenant_id, f"{kind}_id": subject},
        )

    def _submit(
        self, bound: _Bound, key: _Key, work: _Work, *, name: str, log: dict[str, str]
    ) -> None:
        queued = self._pending.get(key)
        if queued is not None:
            queued.append(work)
            return
        queued = deque([work])
        self._pending[key] = queued
        self._tracker.started()
        try:
            bound.background.spawn(self._drain(key, queued, log), name=name)
        except RuntimeError:
            del self._pending[key]
            self._answers.pop(key, None)
            self._tracker.finished()
            _LOGGER.info("Shutting down: no card sent", extra=log)

    async def _drain(self, key: _Key, queued: deque[_Work], log: dict[str, str]) -> None:
        try:
            while queued:
                work = queued.popleft()
                try:
                    await work()
                except (ConnectorError, DomainError) as err:
                    _LOGGER.warning("Card for %s: %s", key[2], err, extra=log)
        finally:
            del self._pending[key]
            self._answers.pop(key, None)
            self._tracker.finished()

    async def _reference(
        self, bound: _Bound, tenant_id: str, agent_id: str
    ) -> ConversationRef | None:
        return await bound.documents.references.get(tenant_id, agent_id)

    async def _send(self, bound: _Bound, ref: ConversationRef, message: Message) -> str:
        """Post to a user's chat; forget the cached reference when Teams says it is gone."""
        try:
            return await bound.outbox.send(ref, message)
        except ConnectorError as err:
            if err.status in CONVERSATION_GONE_STATUSES:
                bound.documents.references.forget(ref.tenant_id, ref.id)
            raise

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
        activity_id = await self._send(
            bound,
            ref,
            Message(
                offer_card(view), summary=f"Incoming {view.queue_name} call: {view.caller_name}"
            ),
        )
        await self._store_offer_card(
            bound,
            OfferCard(
                id=offer_card_id(alert.call_id, alert.agent_id),
                tenant_id=alert.tenant_id,
                call_id=alert.call_id,
                agent_id=alert.agent_id,
                conversation_id=ref.conversation_id,
                activity_id=activity_id,
                view=view,
                sent_at=now,
            ),
        )

    async def _store_offer_card(self, bound: _Bound, card: OfferCard) -> None:
        """Write a new offer's card: a create, or (an earlier offer's card is there) a replace."""
        cards = bound.documents.offer_cards
        try:
            await cards.create(card)
        except Conflict:
            # An earlier offer of this call to this agent left its card: replace it (or
            # create it again, should it expire meanwhile).
            await cards.update(card.tenant_id, card.id, lambda _: card, missing=lambda: card)

    async def _end_offer(self, bound: _Bound, alert: OfferAlert, end: _End) -> None:
        key = _offer_key(alert)
        if self._answers.get(key) is end:
            del self._answers[key]  # shown now: a later end is an update of its own
        how, at_hand = end.how, end.at_hand
        if bound.clock.monotonic() - end.told_at > AT_HAND_TRUSTED_S:
            at_hand = None
        cards = bound.documents.offer_cards
        card_id = offer_card_id(alert.call_id, alert.agent_id)
        # The card as this process wrote it, if it did: its etag guards the write below
        # (one changed elsewhere since is read and updated again).
        known = cards.last_known(alert.tenant_id, card_id)
        # Ended before: perhaps a later offer's card replaced it since, and a decision to
        # keep is not trusted to a remembered version. The talk's end after the answer
        # this process showed is a write (or has no chat to show it in): it is trusted.
        talk_after_answer = how is OfferEnd.TALK_ENDED and (
            known is not None and known.value.ended is OfferEnd.ANSWERED
        )
        if known is not None and known.value.ended is not None and not talk_after_answer:
            known = None
        ref: ConversationRef | None = None

        async def ended(card: OfferCard) -> Decision[OfferCard]:
            nonlocal ref
            # Only an answered call's card goes on, to the end of the talk (shown at once
            # when the talk ended before the answer was).
            answered = card.ended is OfferEnd.ANSWERED or (end.answered and card.ended is None)
            follows = how is OfferEnd.TALK_ENDED and answered
            if card.ended is not None and not follows:
                return KEEP
            if how is OfferEnd.TALK_ENDED and not follows:
                return KEEP
            ref = await self._reference(bound, alert.tenant_id, alert.agent_id)
            if ref is None:
                return KEEP
            ref = replace(ref, conversation_id=card.conversation_id)
            shown = offer_ended_card(card.view, how)
            if how in (OfferEnd.ANSWERED, OfferEnd.TALK_ENDED):
                # The call at hand: who, notes, transfers; then the wrap-up.
                panel = await call_panel_view(
                    bound.repository,
                    alert.tenant_id,
                    alert.agent_id,
                    alert.call_id,
                    bound.clock.now(),
                    agent_mri=ref.user_mri,
                    at_hand=at_hand,
                )
                if panel is not None:
                    shown = call_panel_card(panel)
            await bound.outbox.update(ref, card.activity_id, Message(shown))
            return replace(card, ended=how)

        try:
            updated = await cards.apply(
                alert.tenant_id, card_id, ended, first=known, give_up=GiveUp.WARN
            )
        except NotFound:
            _LOGGER.debug("No alert card to update", extra=_ctx(alert))
            return
        missed = how in {OfferEnd.MISSED, OfferEnd.SET_AWAY}
        if missed and updated.changed and updated.before is not None and ref is not None:
            view = updated.before.value.view
            await self._send_missed(bound, alert, ref, view, set_away=how is OfferEnd.SET_AWAY)

    async def _send_missed(
        self,
        bound: _Bound,
        alert: OfferAlert,
        ref: ConversationRef,
        view: OfferView,
        *,
        set_away: bool,
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
            open_url=bound.links.workspace() if bound.links is not None else None,
            set_away=set_away,
        )
        await self._send(bound, ref, Message(card, summary=f"Missed call: {view.caller_name}"))

    # --------------------------------------------------------- notices to a queue
    async def _notice_cards(
        self, bound: _Bound, tenant_id: str, kind: NoticeKind, subject_id: str
    ) -> NoticeCards:
        try:
            return (
                await bound.documents.notice_cards.get(tenant_id, notice_cards_id(kind, subject_id))
            ).value
        except NotFound:
            return NoticeCards(
                id=notice_cards_id(kind, subject_id),
                tenant_id=tenant_id,
                kind=kind,
                subject_id=subject_id,
                sent_at=bound.clock.now(),
            )

    async def _post_notice(
        self,
        bound: _Bound,
        cards: NoticeCards,
        agent_ids: Sequence[str],
        card_for: Callable[[ConversationRef], Awaitable[Card]],
        summary: str,
    ) -> None:
        """Send each agent without a copy yet their card, keeping every copy's activity id."""
        log = {"tenant_id": cards.tenant_id, f"{cards.kind}_id": cards.subject_id}
        have = {copy.agent_id for copy in cards.copies}
        for agent_id in agent_ids:
            if agent_id in have:
                continue
            ref = await self._reference(bound, cards.tenant_id, agent_id)
            if ref is None:
                _LOGGER.info(
                    "No Teams chat with agent %s (app not installed?): no %s card",
                    agent_id,
                    cards.kind,
                    extra=log,
                )
                continue
            try:
                activity_id = await self._send(
                    bound, ref, Message(await card_for(ref), summary=summary)
                )
            except ConnectorError as err:
                _LOGGER.warning("No %s card for %s: %s", cards.kind, agent_id, err, extra=log)
                continue
            cards = cards.with_copy(CardCopy(agent_id, ref.conversation_id, activity_id))
            cards = (await bound.documents.notice_cards.put(cards)).value

    async def _update_notice(
        self,
        bound: _Bound,
        tenant_id: str,
        kind: NoticeKind,
        subject_id: str,
        shown: str,
        card: Card,
    ) -> None:
        """Update every copy of a notice to ``card``, once per state shown."""
        log = {"tenant_id": tenant_id, f"{kind}_id": subject_id}

        async def show(cards: NoticeCards) -> Decision[NoticeCards]:
            if cards.shown == shown:
                return KEEP
            for copy in cards.copies:
                ref = await self._reference(bound, tenant_id, copy.agent_id)
                if ref is None:
                    continue  # the app was removed: the chat is gone
                ref = replace(ref, conversation_id=copy.conversation_id)
                try:
                    await bound.outbox.update(ref, copy.activity_id, Message(card))
                except ConnectorError as err:
                    _LOGGER.warning(
                        "%s card of %s not updated: %s", kind, copy.agent_id, err, extra=log
                    )
            return replace(cards, shown=shown)

        try:
            # One try: a copy added meanwhile is its sender's to show in this state.
            await bound.documents.notice_cards.apply(
                tenant_id, notice_cards_id(kind, subject_id), show, attempts=1, missing=Missing.SKIP
            )
        except Conflict:
            _LOGGER.debug("%s cards changed while updated", kind, extra=log)

    async def _post_voicemail(
        self, bound: _Bound, voicemail: Voicemail, agent_ids: Sequence[str]
    ) -> None:
        repository = bound.repository
        zone = await tenant_zone(repository, voicemail.tenant_id)
        cards = await self._notice_cards(
            bound, voicemail.tenant_id, NoticeKind.VOICEMAIL, voicemail.id
        )

        async def card_for(ref: ConversationRef) -> Card:
            view = await voicemail_view(
                repository, voicemail, links=bound.links, agent_mri=ref.user_mri, zone=zone
            )
            return voicemail_card(view)

        name = voicemail.caller.display_name or voicemail.caller.id or "a caller"
        await self._post_notice(
            bound, cards, agent_ids, card_for, f"Voicemail from {name} ({voicemail.queue_name})"
        )
        # Handled before every card went out (or on another host meanwhile): show it now.
        try:
            now = (await repository.voicemails.get(voicemail.tenant_id, voicemail.id)).value
        except NotFound:
            return
        if now.handled_by is not None:
            await self._show_voicemail_handled(bound, now)

    async def _show_voicemail_handled(self, bound: _Bound, voicemail: Voicemail) -> None:
        view = await voicemail_view(bound.repository, voicemail, links=bound.links)
        await self._update_notice(
            bound,
            voicemail.tenant_id,
            NoticeKind.VOICEMAIL,
            voicemail.id,
            f"handled:{voicemail.handled_by}",
            voicemail_card(view),
        )

    async def _post_callback(self, bound: _Bound, line: Call, agent_ids: Sequence[str]) -> None:
        view = callback_view(line, await tenant_zone(bound.repository, line.tenant_id), bound.links)
        cards = await self._notice_cards(
            bound, line.tenant_id, NoticeKind.CALLBACK, view.request_id
        )

        async def card_for(ref: ConversationRef) -> Card:
            return callback_waiting_card(view)

        await self._post_notice(
            bound,
            cards,
            agent_ids,
            card_for,
            f"Callback waiting: {view.caller_name} ({view.queue_name})",
        )

    async def _end_callback(self, bound: _Bound, request: CallbackRequest) -> None:
        repository = bound.repository
        name, number = caller_label(request.number)
        view = CallbackView(
            request_id=request.id,
            queue_name=request.queue_name,
            caller_name=name,
            caller_number=number,
            requested_at=request.requested_at,
            zone=await tenant_zone(repository, request.tenant_id),
            open_url=bound.links.workspace() if bound.links is not None else None,
        )
        outcome = CallbackOutcome(
            status=request.status,
            ended_at=request.ended_at,
            attempts=len(request.attempts),
            agent_name=(
                await person_name(repository, request.tenant_id, request.agent_id)
                if request.agent_id
                else ""
            ),
        )
        await self._update_notice(
            bound,
            request.tenant_id,
            NoticeKind.CALLBACK,
            request.id,
            f"ended:{request.status.value}",
            callback_ended_card(view, outcome),
        )


def _vm_ctx(voicemail: Voicemail) -> dict[str, str]:
    return {
        "tenant_id": voicemail.tenant_id,
        "call_id": voicemail.call_id,
        "voicemail_id": voicemail.id,
    }
