"""Graph's notifications about a call, each turned into a decision on its live document.

Every notification may arrive twice or out of order: each decision checks the state it
finds (and the keys of the notifications already applied), so a redelivery or a stale
notification changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contactcenter.end_reasons import EndReason, end_reason, unanswered_outcome
from contactcenter.engine.answers import Answers
from contactcenter.engine.callbacks import Callbacks
from contactcenter.engine.codecs import (
    CALLBACK_INVITE,
    Purpose,
    parse_media_context,
    parse_offer_context,
    parse_transfer_context,
)
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.endings import Decide, Endings
from contactcenter.engine.handover import Handover, rings_by_transfer
from contactcenter.engine.incoming import Incoming
from contactcenter.engine.leaving import Departures
from contactcenter.engine.menus import Menus
from contactcenter.engine.prompts import SILENT, Prompts, can_call_back
from contactcenter.engine.queueing import Queueing
from contactcenter.engine.reconciling import Reconciler, by_person
from contactcenter.engine.settings import CANCELLED_MEDIA_SUBCODE, DECLINED_CODE
from contactcenter.engine.store import CallStore
from contactcenter.engine.transfers import Transfers
from contactcenter.engine.unknown import UnknownCalls
from contactcenter.engine.voicemail import VoicemailRecorder
from contactcenter.events import (
    CallEvent,
    CallStateChanged,
    GraphCallState,
    IncomingCall,
    OperationFinished,
    OperationKind,
    OperationStatus,
    RosterUpdated,
    ToneReceived,
)
from contactcenter.ivr import find_menu, on_key
from contactcenter.model import Call, CallOutcome, CallState, LeaveStep
from contactcenter.ports import OfferEnd
from contactcenter.repository import Versioned

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class Events:
    """Applies call events: incoming, state changes, operations, rosters and key presses."""

    ctx: EngineContext
    store: CallStore
    prompts: Prompts
    endings: Endings
    departures: Departures
    voicemail: VoicemailRecorder
    queueing: Queueing
    answers: Answers
    callbacks: Callbacks
    menus: Menus
    incoming: Incoming
    handover: Handover
    reconciler: Reconciler
    unknown: UnknownCalls
    transfers: Transfers

    async def handle(self, event: CallEvent) -> None:
        """Apply one call event; duplicates and stale events change nothing."""
        if self.store.is_ended(event.tenant_id, event.call_id):
            return
        if isinstance(event, IncomingCall):
            async with self.store.lock(event.call_id):
                await self.incoming.handle(event)
            return
        decide = self._decision(event)
        if decide is None:
            return
        remembered = self._writes_first(event)
        if not await self.endings.with_call(
            event.tenant_id, event.call_id, decide, remembered=remembered
        ):
            await self.unknown.notified(event)

    @staticmethod
    def _writes_first(event: CallEvent) -> bool:
        """Tell whether the event's decision may start from the call as last known here.

        Those decisions write the call before they act on Graph (queueing the caller,
        connecting the agent, ending the talk), so a write that wins proves the version
        they decided on; what acts first insists on a read (``CallStore.insist_current``).
        """
        if isinstance(event, RosterUpdated):
            return True
        if isinstance(event, CallStateChanged):
            return event.state is GraphCallState.ESTABLISHED
        return (
            isinstance(event, OperationFinished)
            and event.kind is OperationKind.INVITE
            and not event.client_context.startswith(CALLBACK_INVITE)
            and parse_transfer_context(event.client_context) is None
        )

    def _decision(self, event: CallEvent) -> Decide | None:
        """Return what the event decides on its call's document (None: nothing to do)."""
        if isinstance(event, CallStateChanged):
            if event.state is GraphCallState.ESTABLISHED:
                return self._established(event)
            if event.state is GraphCallState.TERMINATED:
                return self._terminated(event)
            if event.state is GraphCallState.TRANSFER_ACCEPTED:
                return self._transfer_accepted(event)
            # establishing, terminating, hold...: nothing to do; a late ``establishing``
            # after ``established`` is ignored like every other state we do not act on.
            return None
        if isinstance(event, OperationFinished):
            return self._operation(event)
        if isinstance(event, RosterUpdated):
            return self._roster(event)
        if isinstance(event, ToneReceived):
            return self._tone(event)
        return None

    def _operation(self, event: OperationFinished) -> Decide | None:
        if event.kind is OperationKind.INVITE:
            if event.client_context.startswith(CALLBACK_INVITE):
                return self.callbacks.caller_invited(event)
            if parse_transfer_context(event.client_context) is not None:
                return self._transfer_invite(event)
            return self._invite(event)
        if event.kind not in (OperationKind.PLAY_PROMPT, OperationKind.RECORD_RESPONSE):
            return None
        if (
            event.status is OperationStatus.FAILED
            and event.result_subcode == CANCELLED_MEDIA_SUBCODE
        ):
            return None  # media we cancelled ourselves: nothing follows from it
        parsed = parse_media_context(event.client_context)
        if parsed is None:
            return None
        return self._media_done(event, *parsed)

    # ------------------------------------------------------------ states
    def _established(self, event: CallStateChanged) -> Decide:
        async def decide(current: Versioned[Call]) -> None:
            call = current.value
            if (
                call.state is not CallState.ANSWERING
                or call.leaving is not None
                or call.ivr_id is not None
            ):
                # Only queueing is sure to write before it acts: the rest starts on a read.
                self.store.insist_current(current)
            now = self.ctx.clock.now()
            if call.state is CallState.ANSWERING:
                if call.leaving is not None:
                    await self.departures.start(current, call, call.leaving, now, event.key)
                elif call.ivr_id is not None:
                    await self.menus.enter(
                        current, call.menu_id or "", now, event.key, greeting=True
                    )
                else:
                    await self.queueing.start_queueing(current, now, event.key)
            elif call.state is CallState.DIALING:
                await self.callbacks.answered(current, now, event.key)
            elif rings_by_transfer(call) and event.result_code is not None:
                # Back with the bot: the agent did not take the transferred call.
                await self.handover.refused(current, event.result_code, now, event.key)
            elif (
                call.state is CallState.LEAVING
                and call.leaving is not None
                and call.leaving.transferring
                and event.result_code is not None
            ):
                # Back with the bot: the transfer target did not take the call.
                leaving = call.leaving
                await self.endings.finish(
                    current,
                    leaving.outcome,
                    f"{leaving.reason} (transfer failed: {event.result_code})",
                    now,
                    key=None,
                )
            # Otherwise a redelivery, or late.

        return decide

    def _terminated(self, event: CallStateChanged) -> Decide:
        async def decide(current: Versioned[Call]) -> None:
            call = current.value
            if call.state is CallState.ENDED:
                return
            now = self.ctx.clock.now()
            endings = self.endings
            # What Graph said of the end goes on the record, whatever the call's state.
            why = end_reason(event.result_code, event.result_subcode, event.termination_reason)
            resulted = replace(
                call,
                result_code=event.result_code,
                result_subcode=event.result_subcode,
                result_message=event.result_message or event.termination_reason,
            )
            if call.state is CallState.CONNECTED and call.handed_over:
                # The transfer to the agent is complete: the talk goes on without the bot.
                await self.store.commit(current, resulted, event.key)
                return
            if call.state is CallState.CONNECTED:
                await endings.end_talk(
                    current, now, event.key, hang_up=False, reason=why.value, base=resulted
                )
                return
            if rings_by_transfer(call) and why is EndReason.TRANSFERRED:
                # The agent took the transferred call (``transferAccepted`` not seen).
                await self.handover.accepted(current, now, event.key)
                return
            if call.state is CallState.DIALING:
                await self.callbacks.leg_failed(
                    current,
                    f"not answered ({event.result_code or 'ended'})",
                    now,
                    event.key,
                    hang_up=False,
                    base=resulted,
                )
                return
            leaving = call.leaving
            if call.state in (CallState.LEAVING, CallState.VOICEMAIL) and leaving is not None:
                # A caller who asked for a callback keeps their place (Callbacks.after_finish).
                reason = leaving.reason
                if call.state is CallState.VOICEMAIL:
                    reason = f"{reason}: hung up before leaving a message"
                await endings.finish(
                    current,
                    leaving.outcome,
                    reason,
                    now,
                    base=resulted,
                    key=event.key,
                    hang_up=False,
                )
                return
            outcome = unanswered_outcome(why)
            reason = why.value
            if call.state is CallState.MENU and outcome is CallOutcome.ABANDONED:
                reason = "hung up in the IVR"
            await endings.finish(
                current,
                outcome,
                reason,
                now,
                base=resulted,
                key=event.key,
                hang_up=False,
                offer_end=(
                    OfferEnd.CALLER_HUNG_UP
                    if outcome is CallOutcome.ABANDONED
                    else OfferEnd.WITHDRAWN
                ),
            )

        return decide

    def _transfer_accepted(self, event: CallStateChanged) -> Decide:
        async def decide(current: Versioned[Call]) -> None:
            if rings_by_transfer(current.value):
                await self.handover.accepted(current, self.ctx.clock.now(), event.key)

        return decide

    # --------------------------------------------------------- operations
    def _invite(self, event: OperationFinished) -> Decide:
        async def decide(current: Versioned[Call]) -> None:
            if event.status not in (OperationStatus.COMPLETED, OperationStatus.FAILED):
                return
            call = current.value
            if event.key in call.applied_notifications:
                return
            parsed = parse_offer_context(event.client_context)
            if parsed is not None:
                attempt: int | None = parsed[0]
                agent_id = parsed[1]
            elif event.user_ids:
                attempt, agent_id = None, event.user_ids[0]
            else:
                _LOGGER.debug("Invite result without an agent", extra=log_extra(event))
                return
            offer = call.offer
            now = self.ctx.clock.now()
            current_offer = (
                call.state is CallState.RINGING
                and offer is not None
                and agent_id in offer.agent_ids
                and (attempt is None or attempt == offer.attempt)
            )
            if not current_offer:
                if event.status is OperationStatus.COMPLETED and call.agent_id != agent_id:
                    # Joined after the offer was withdrawn: the roster update that follows
                    # names their participant, and they are removed then.
                    _LOGGER.info("Late answer by %s", agent_id, extra=log_extra(event))
                return
            if event.status is OperationStatus.COMPLETED:
                await self.answers.connect(current, agent_id, now, event.key)
                return
            declined = event.result_code == DECLINED_CODE
            await self.answers.lapse(
                current,
                (agent_id,),
                OfferEnd.DECLINED if declined else OfferEnd.MISSED,
                now,
                event.key,
                cancel=False,
            )

        return decide

    def _transfer_invite(self, event: OperationFinished) -> Decide:
        async def decide(current: Versioned[Call]) -> None:
            if event.status not in (OperationStatus.COMPLETED, OperationStatus.FAILED):
                return
            call = current.value
            parsed = parse_transfer_context(event.client_context)
            transfer = call.transfer
            if (
                event.key in call.applied_notifications
                or parsed is None
                or call.state is not CallState.CONNECTED
                or transfer is None
                or (transfer.attempt, transfer.agent_id) != parsed
            ):
                return  # an earlier transfer's, or settled already
            now = self.ctx.clock.now()
            if event.status is OperationStatus.COMPLETED:
                await self.transfers.joined(current, None, now, event.key)
                return
            how = OfferEnd.DECLINED if event.result_code == DECLINED_CODE else OfferEnd.MISSED
            await self.transfers.failed(current, how, now, event.key)

        return decide

    def _media_done(self, event: OperationFinished, seq: int, purpose: Purpose) -> Decide:
        async def decide(current: Versioned[Call]) -> None:
            call = current.value
            if seq != call.media_seq:
                return  # an older operation, or a redelivery
            failed = event.status is OperationStatus.FAILED
            level = call.media_fallback
            if failed:
                level = min(level + 1, SILENT)
                _LOGGER.warning(
                    "Prompt failed (%s/%s: %s): falling back to level %s",
                    event.result_code,
                    event.result_subcode,
                    event.result_message,
                    level,
                    extra=log_extra(call),
                )
            now = self.ctx.clock.now()
            if purpose is Purpose.HOLD:
                await self._next_hold(current, level, now)
            elif purpose is Purpose.MENU:
                await self.menus.prompt_done(current, level, failed, now)
            elif purpose is Purpose.LEAVE:
                await self.departures.prompt_done(current, level, failed, now)
            else:
                await self.voicemail.recording_done(current, event, level, now)

        return decide

    async def _next_hold(self, current: Versioned[Call], level: int, now: datetime) -> None:
        """Music on hold ended: play it again, with a comfort message first when one is due."""
        call = current.value
        if call.state not in (CallState.WAITING, CallState.RINGING):
            return
        queue = await self.store.queue(call.tenant_id, call.queue_id)
        if queue is None:
            return
        prompts = self.prompts
        slots = prompts.hold_slots(queue, greeting=False)
        next_comfort = call.next_comfort_at
        if (
            level < SILENT
            and call.state is CallState.WAITING
            and next_comfort is not None
            and next_comfort <= now
        ):
            slots = [*await prompts.comfort_slots(call, queue, now), *slots]
            next_comfort = now + timedelta(seconds=max(1, queue.comfort_interval_s))
        new = replace(
            call, media_seq=call.media_seq + 1, media_fallback=level, next_comfort_at=next_comfort
        )
        saved = await self.store.commit(current, new)
        if level >= SILENT:
            _LOGGER.warning(
                "No playable prompt: the caller waits in silence", extra=log_extra(call)
            )
            return
        await prompts.play(saved.value, slots, Purpose.HOLD)

    # ----------------------------------------------------- roster and keys
    def _roster(self, event: RosterUpdated) -> Decide:
        async def decide(current: Versioned[Call]) -> None:
            call = current.value
            if event.key in call.applied_notifications:
                return
            users = by_person(event.participants)
            if call.state is CallState.RINGING and call.offer is not None:
                # Graph may list invitees still ringing exactly as those who joined: a
                # roster is no answer (the invitation's completion is). It names the
                # participants, though, and so teaches the ids to cancel invitations by.
                offer = call.offer
                learned = {
                    a: users[a].participant_id
                    for a in offer.agent_ids
                    if a in users and users[a].participant_id and not offer.participant_ids.get(a)
                }
                if learned:
                    ids = {**offer.participant_ids, **learned}
                    new = replace(call, offer=replace(offer, participant_ids=ids))
                    await self.store.commit(current, new, event.key)
                return
            if call.state is CallState.CONNECTED and call.agent_id and not call.handed_over:
                # A transfer's target listed in the roster has not joined yet: like any
                # invitee, they have when their invitation completes.
                now = self.ctx.clock.now()
                await self.reconciler.roster(current, event.participants, now, event.key)

        return decide

    def _tone(self, event: ToneReceived) -> Decide:
        async def decide(current: Versioned[Call]) -> None:
            call = current.value
            if event.key in call.applied_notifications:
                return
            now = self.ctx.clock.now()
            store = self.store
            if call.state is CallState.MENU:
                ivr = await store.ivr(call.tenant_id, call.ivr_id)
                menu = find_menu(ivr, call.menu_id) if ivr is not None else None
                if ivr is None or menu is None:
                    return
                step = on_key(menu, event.tone, call.menu_tries)
                await self.menus.step(
                    current, ivr, menu, step, now, event.key, key_pressed=event.tone
                )
                return
            offer_pending = (
                call.state is CallState.LEAVING
                and call.leaving is not None
                and call.leaving.step is LeaveStep.CALLBACK_OFFER
            )
            waiting = call.state in (CallState.WAITING, CallState.RINGING)
            if not (offer_pending or waiting) or call.callback is not None:
                return
            queue = await store.queue(call.tenant_id, call.queue_id)
            if queue is None or event.tone != queue.callback.key:
                return
            if waiting and not queue.callback.offered:
                return
            if not can_call_back(call):
                _LOGGER.info("Callback asked for by a caller we cannot call", extra=log_extra(call))
                return
            await self.callbacks.request(current, queue, now, event.key)

        return decide
