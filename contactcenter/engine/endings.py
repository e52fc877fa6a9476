"""The end of a call, and the one way a call's notifications are handled.

A call ends in two steps: its live document is marked ENDED (the point of no return, a
compare-and-set like every decision), then the end is completed: the record, the agents'
release, the hang-up and the document's removal follow, each idempotent, so whoever finds
the document ENDED after a crash can complete it. Ending a call frees agents; who gets
them next is the matching layer's, reached through :class:`Matcher`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from contactcenter.end_reasons import EndReason
from contactcenter.engine.alerts import Alerts
from contactcenter.engine.codecs import invitee_participant_id
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.store import CallStore
from contactcenter.engine.timing import close_offer, elapsed_s
from contactcenter.engine.wrapups import WrapUps
from contactcenter.errors import CallControlError, Conflict, DomainError
from contactcenter.model import (
    Agent,
    AgentActivity,
    AgentTransfer,
    Call,
    CallOutcome,
    CallRecord,
    CallState,
    Offer,
)
from contactcenter.ports import OfferEnd
from contactcenter.records import build_call_record
from contactcenter.repository import DELETE, KEEP, GiveUp, Versioned

_LOGGER = logging.getLogger(__name__)

# How long an ending call is left to the host ending it before any host may complete it.
_ENDING_LEASE = timedelta(seconds=30)
# How long a notification for an unknown call waits for callbacks being placed.
_PLACING_WAIT_S = 5.0
# The leave reason of a talk whose end nothing told us of: Graph no longer knows the call.
GONE_AT_GRAPH = "call gone at Graph"

Decide = Callable[[Versioned[Call]], Awaitable[None]]


class Matcher(Protocol):
    """Gives agents who just became free the best waiting calls they may take."""

    async def match(
        self, tenant_id: str, free: Sequence[Versioned[Agent]], now: datetime
    ) -> None: ...


# Told of each call this engine finished unanswered, once its end is complete.
AfterFinish = Callable[[Call, datetime], Awaitable[None]]


@dataclass(slots=True)
class Endings:
    """Ends calls, withdraws their offers, and runs decisions on live call documents."""

    ctx: EngineContext
    store: CallStore
    alerts: Alerts
    wrapups: WrapUps
    # Both are set by the engine when it wires its layers (the upper layers use this one).
    matcher: Matcher = field(init=False)
    after_finish: AfterFinish = field(init=False)

    # ------------------------------------------------------------ handling
    async def with_call(
        self,
        tenant_id: str,
        call_id: str,
        decide: Decide,
        *,
        first: Versioned[Call] | None = None,
        remembered: bool = False,
    ) -> bool:
        """Run ``decide`` on the call's current document until it wins its write.

        With ``remembered``, ``decide`` (one that writes before it acts) is first tried on
        the version this instance last read or wrote, which saves a read: a write that
        wins proves that version current. A decision that wrote nothing on it is checked
        against the call as read now, and made again if the call had changed.
        Return False if there is no document: no host knows the call.
        """
        store = self.store
        if store.is_ended(tenant_id, call_id):
            return True
        async with store.lock(call_id):
            trial = None
            if first is None and remembered:
                first = trial = store.remembered_call(tenant_id, call_id)
            if first is None:
                first = await store.read_call(tenant_id, call_id)
                if first is None and self.ctx.placing:
                    # Perhaps a callback call this instance is placing: Graph can notify
                    # before it has answered us, and so before the call is written.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.ctx.placed.wait(), _PLACING_WAIT_S)
                    first = await store.read_call(tenant_id, call_id)
                if first is None:
                    return False

            read_now = trial is None

            async def live(current: Versioned[Call] | None) -> None:
                nonlocal read_now
                read_now = read_now or current is not trial
                if current is None:
                    return
                if current.value.state is CallState.ENDED:
                    store.insist_current(current)
                    await self.ended_found(current)
                    return
                await decide(current)

            calls = self.ctx.repository.calls
            try:
                await calls.settle(tenant_id, call_id, live, first=first, give_up=GiveUp.WARN)
            finally:
                proved = trial is not None and store.proved(trial)
            if trial is None or read_now or proved:
                return True
            # Nothing written on the remembered version: a decision to leave the call be
            # holds only on the call as it stands.
            fresh = await store.read_call(tenant_id, call_id)
            if fresh is None:
                return False
            if fresh.etag != trial.etag:
                await calls.settle(tenant_id, call_id, live, first=fresh, give_up=GiveUp.WARN)
        return True

    async def ended_found(self, current: Versioned[Call]) -> None:
        """Complete an end another host began, once its lease is over (else leave it be)."""
        now = self.ctx.clock.now()
        due = current.value.due_at
        if due is not None and due > now:
            return
        _LOGGER.warning(
            "Completing the end of a call its host left unfinished", extra=log_extra(current.value)
        )
        await self.complete_end(current, now)

    async def end_vanished(self, tenant_id: str, call_id: str) -> None:
        """End a call Graph no longer knows (called from within the call's own handling)."""

        async def end(current: Versioned[Call] | None) -> None:
            if current is None:
                return
            now = self.ctx.clock.now()
            state = current.value.state
            if state is CallState.ENDED:
                await self.ended_found(current)
            elif state is CallState.CONNECTED:
                await self.end_talk(current, now, None, hang_up=False, reason=GONE_AT_GRAPH)
            elif state in (CallState.WAITING, CallState.RINGING):
                # A queued caller's call gone at Graph: the caller hung up, and the
                # notification saying so has not come yet (it will find no call).
                await self.finish(
                    current,
                    CallOutcome.ABANDONED,
                    "caller hung up (call gone at Graph)",
                    now,
                    hang_up=False,
                    offer_end=OfferEnd.CALLER_HUNG_UP,
                )
            else:
                await self.finish(
                    current, CallOutcome.FAILED, "call vanished at Graph", now, hang_up=False
                )

        await self.ctx.repository.calls.settle(tenant_id, call_id, end, give_up=GiveUp.WARN)

    # ------------------------------------------------------------- offers
    async def commit_closing_offer(
        self,
        current: Versioned[Call],
        new: Call,
        offer: Offer | None,
        now: datetime,
        key: str | None,
    ) -> Versioned[Call]:
        """Write ``new``, whose offer :func:`close_offer` closed; then withdraw that offer."""
        saved = await self.store.commit(current, new, key)
        if offer is not None:
            await self.withdraw(
                current.value, offer, offer.agent_ids, OfferEnd.WITHDRAWN, now, match=True
            )
        return saved

    async def withdraw(
        self,
        call: Call,
        offer: Offer,
        agent_ids: Sequence[str],
        how: OfferEnd,
        now: datetime,
        *,
        match: bool,
    ) -> list[Versioned[Agent]]:
        """Cancel these agents' invitations, release them and tell them (no missed offer)."""
        freed: list[Versioned[Agent]] = []
        for agent_id in agent_ids:
            await self.cancel_invitation(call, offer, agent_id)
            released = await self.store.release(call.tenant_id, agent_id, call.id, None)
            await self.alerts.offer_ended(call, agent_id, how, now)
            if released is not None:
                freed.append(released)
        if match and freed:
            await self.matcher.match(call.tenant_id, freed, now)
        return freed

    async def cancel_invitation(self, call: Call, offer: Offer, agent_id: str) -> None:
        participant_id = offer.participant_ids.get(agent_id)
        if participant_id is None and offer.card_first:
            return  # never invited: the card was not accepted
        if not participant_id:
            # Perhaps invited, Graph's answer not recorded (yet): the id is known anyway.
            participant_id = invitee_participant_id(call.id, offer.attempt, agent_id)
        try:
            await self.ctx.call_control.remove_participant(call.id, participant_id)
        except DomainError as err:
            # Gone already (answered elsewhere, declined, call ended): nothing to cancel.
            _LOGGER.debug("Cancelling %s's invitation: %s", agent_id, err, extra=log_extra(call))

    # ------------------------------------------------------------ endings
    async def finish(
        self,
        current: Versioned[Call],
        outcome: CallOutcome,
        reason: str,
        now: datetime,
        *,
        base: Call | None = None,
        key: str | None = None,
        hang_up: bool = True,
        offer_end: OfferEnd = OfferEnd.WITHDRAWN,
    ) -> None:
        """End a call that was not answered: record it, cancel invitations, free agents.

        ``base`` is what the engine decided about the call so far (offered time, queue),
        when that is not written yet.
        """
        call = base or current.value
        closed, offer = close_offer(current.value, call, now)
        ended = replace(
            closed,
            state=CallState.ENDED,
            outcome=outcome,
            ended_at=now,
            leave_reason=reason,
            # Kept until the end is complete: whoever completes it withdraws the offer.
            offer=offer,
        )
        marked = await self._mark_ending(current, ended, now, key)
        _LOGGER.info("Call ended: %s (%s)", outcome.value, reason, extra=log_extra(call))
        await self.complete_end(marked, now, hang_up=hang_up, offer_end=offer_end)
        await self.after_finish(ended, now)

    async def end_talk(
        self,
        current: Versioned[Call],
        now: datetime,
        key: str | None,
        *,
        hang_up: bool,
        reason: str,
        base: Call | None = None,
    ) -> None:
        """End an answered call: record it, leave it if needed, start the agent's wrap-up.

        ``reason`` is the record's leave reason (an :class:`EndReason` mostly); ``base``
        the call with what Graph said of its end (its result), when that is not written.
        """
        call = base or current.value
        ended = replace(
            call,
            state=CallState.ENDED,
            outcome=CallOutcome.ANSWERED,
            ended_at=now,
            offer=None,
            leave_reason=reason,
        )
        marked = await self._mark_ending(current, ended, now, key)
        _LOGGER.info(
            "Talk ended after %.0f s", elapsed_s(call.answered_at, now), extra=log_extra(call)
        )
        await self.complete_end(marked, now, hang_up=hang_up, offer_end=OfferEnd.WITHDRAWN)

    async def end_talk_now(self, tenant_id: str, call_id: str) -> bool:
        """End a talk from the contact center; return False if the call is not a talk now."""
        ended = False

        async def decide(current: Versioned[Call]) -> None:
            nonlocal ended
            if current.value.state is not CallState.CONNECTED:
                return
            await self.end_talk(
                current,
                self.ctx.clock.now(),
                None,
                hang_up=True,
                reason=EndReason.ENDED_BY_CONTACT_CENTER.value,
            )
            ended = True

        await self.with_call(tenant_id, call_id, decide)
        return ended

    async def _mark_ending(
        self, current: Versioned[Call], ended: Call, now: datetime, key: str | None
    ) -> Versioned[Call]:
        """Write the call's end onto its live document: the point of no return.

        Compare-and-set: if the call changed since ``current`` was read, nothing is written
        and StaleVersion sends the caller back to decide on the new state. Once the
        document says ENDED, the end only ever goes forward: the record, the hang-up, the
        agents' release and the removal of the document follow (:meth:`complete_end`). The
        due time is a lease: should this host die midway, whoever fires the timer after it
        completes the end, and nobody else meddles before.
        """
        return await self.store.commit(current, replace(ended, due_at=now + _ENDING_LEASE), key)

    async def complete_end(
        self,
        marked: Versioned[Call],
        now: datetime,
        *,
        hang_up: bool = True,
        offer_end: OfferEnd = OfferEnd.WITHDRAWN,
    ) -> None:
        """Take an ENDED call document through the steps that follow; each is idempotent.

        The record is created first (a conflict means another host wrote it, which is as
        good: a record, once written, is never taken back), then agents and Graph are told
        (a talk is left by removing everyone else first: :meth:`leave`), and the live
        document goes last, so a crash anywhere leaves something to finish.
        """
        ended = marked.value
        store = self.store
        ttl = await store.record_ttl(ended.tenant_id)
        if ended.previous_leg is not None:
            # A transfer's earlier leg, should the host that recorded it have died first.
            await self.create_record(ended.previous_leg)
        record = build_call_record(ended, ttl=ttl)
        created = await self.create_record(record)
        freed: list[Versioned[Agent]] = []
        if ended.offer is not None:
            freed = await self.withdraw(
                ended, ended.offer, ended.offer.agent_ids, offer_end, now, match=False
            )
        if ended.transfer is not None:
            freed.extend(await self.cancel_transfer(ended, ended.transfer, now))
        unattended = False
        if ended.outcome is CallOutcome.ANSWERED and ended.agent_id is not None:
            # Before Graph hears of it: once the call is gone there, the agent is not on it.
            assert ended.ended_at is not None
            after, wrapping = await self.wrapups.start(ended, ended.id, ended.ended_at)
            if after is not None and after.value.activity is AgentActivity.IDLE:
                freed.append(after)
            unattended = record.wrap_up_pending and not wrapping
            if after is not None:
                await self.alerts.offer_ended(
                    ended,
                    ended.agent_id,
                    OfferEnd.TALK_ENDED,
                    now,
                    agent=after.value,
                    record=created.value if created is not None else None,
                )
        if hang_up:
            if ended.outcome is CallOutcome.ANSWERED:
                await self.leave(ended)
            else:
                await self.hang_up(ended)
        await self._remove_ended(marked)
        store.mark_ended(ended)
        store.hint(self.ctx.repository.CALLS, ended.tenant_id, ended.id, None)
        on_record = self.ctx.on_record
        if unattended:
            await self.wrapups.close_unattended(record)
        elif created is not None and on_record is not None and not record.wrap_up_pending:
            # Interval aggregates and webhook export (contactcenter/finished_calls.py); a
            # record waiting for its wrap-up time goes there once the wrap-up ends.
            await on_record(created.value)
        await self.alerts.queue_changed(ended)
        if freed:
            await self.matcher.match(ended.tenant_id, freed, now)

    async def create_record(self, record: CallRecord) -> Versioned[CallRecord] | None:
        """Create a call record; None if it exists (another host, or a retry, wrote it)."""
        try:
            return await self.ctx.repository.call_records.create(record)
        except Conflict:
            _LOGGER.info(
                "Call already recorded",
                extra={"call_id": record.id, "tenant_id": record.tenant_id},
            )
            return None

    async def cancel_transfer(
        self, call: Call, transfer: AgentTransfer, now: datetime
    ) -> list[Versioned[Agent]]:
        """Cancel a transfer's invitation and release its target; return them if freed."""
        try:
            await self.ctx.call_control.remove_participant(call.id, transfer.participant_id)
        except DomainError as err:
            _LOGGER.debug("Cancelling the transfer: %s", err, extra=log_extra(call))
        released = await self.store.release(call.tenant_id, transfer.agent_id, call.id, None)
        await self.alerts.offer_ended(call, transfer.agent_id, OfferEnd.WITHDRAWN, now)
        return [released] if released is not None else []

    async def _remove_ended(self, marked: Versioned[Call]) -> None:
        """Delete an ENDED live document, whatever wrote it last."""
        await self.store.update_call(
            marked.value.tenant_id,
            marked.value.id,
            lambda call: DELETE if call.state is CallState.ENDED else KEEP,
            first=marked,
        )

    async def leave(self, call: Call) -> None:
        """End a talk for everyone: remove the others from the call, then leave it.

        Once an agent joined, the call is a group call, where hanging up ends only our
        leg: the caller and the agent would go on talking without us.
        """
        control = self.ctx.call_control
        try:
            others = await control.other_participants(call.id)
        except DomainError as err:
            _LOGGER.info("Listing the call's participants: %s", err, extra=log_extra(call))
            others = []
        for participant_id in others:
            try:
                await control.remove_participant(call.id, participant_id)
            except DomainError as err:
                # Gone already (hung up meanwhile), or the call ended with them.
                _LOGGER.debug("Removing %s: %s", participant_id, err, extra=log_extra(call))
        await self.hang_up(call)

    async def hang_up(self, call: Call) -> None:
        """Leave the call (for a peer-to-peer call, end it)."""
        try:
            await self.ctx.call_control.hang_up(call.id)
        except DomainError as err:
            # A call that ended already (the last other party left it) answers 404: expected.
            gone = isinstance(err, CallControlError) and err.status == 404
            _LOGGER.log(
                logging.DEBUG if gone else logging.INFO, "Hang-up: %s", err, extra=log_extra(call)
            )
