"""Callbacks: a caller keeps their place in line, hangs up, and is called back.

A requested callback is a call document of its own (the line), SCHEDULED until its next
attempt, then WAITING in its old place. When an agent is reserved for it (the offer's
ringing strategy for this kind of call), an outbound call is placed: to the caller first
(who then waits for the agent), or to the agent first (who then invites the caller).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contactcenter.callbacks import build_callback_request, callback_id, callback_number
from contactcenter.engine.alerts import Alerts
from contactcenter.engine.codecs import CALLBACK_INVITE
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.endings import Decide, Endings
from contactcenter.engine.leaving import Departures
from contactcenter.engine.matching import Matching
from contactcenter.engine.offers import Offers
from contactcenter.engine.prompts import Prompts, Slot
from contactcenter.engine.queueing import Queueing
from contactcenter.engine.store import CallStore
from contactcenter.engine.timing import talk_timers, waiting_due
from contactcenter.errors import Conflict, DomainError, InvalidInput, NotFound
from contactcenter.events import OperationFinished, OperationStatus
from contactcenter.media import StandardPrompt
from contactcenter.model import (
    Agent,
    AgentActivity,
    Call,
    CallbackAttempt,
    CallbackOrder,
    CallbackSettings,
    CallbackState,
    CallbackStatus,
    CallOutcome,
    CallState,
    LeaveStep,
    Leaving,
    Offer,
    Party,
    PartyKind,
    Queue,
)
from contactcenter.ports import Condition, Op
from contactcenter.repository import KEEP, Decision, StaleVersion, Versioned

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class Callbacks:
    """Keeps callers' places in line and calls them back when an agent is free."""

    ctx: EngineContext
    store: CallStore
    prompts: Prompts
    alerts: Alerts
    endings: Endings
    offers: Offers
    matching: Matching
    departures: Departures
    queueing: Queueing

    # ----------------------------------------------------------- requests
    async def request(
        self, current: Versioned[Call], queue: Queue, now: datetime, key: str | None
    ) -> None:
        """The caller keeps their place in line and hangs up; they are called back."""
        call = current.value
        request_id = callback_id(call.id)
        leaving = Leaving(
            CallOutcome.CALLBACK_REQUESTED,
            "callback requested",
            step=LeaveStep.CALLBACK_CONFIRM,
            standard_prompts=(StandardPrompt.CALLBACK_CONFIRMED.value,),
        )
        base = replace(call, callback_request_id=request_id)
        _LOGGER.info("Callback requested", extra=log_extra(call))
        await self.departures.start(current, base, leaving, now, key)
        await self._ensure_line(base, now)

    async def after_finish(self, ended: Call, now: datetime) -> None:
        """A caller who asked for a callback has left: make sure it keeps their place."""
        if ended.outcome is CallOutcome.CALLBACK_REQUESTED:
            await self._ensure_line(ended, now)

    async def _ensure_line(self, call: Call, now: datetime) -> None:
        """Create the callback that keeps the caller's place (once; a retry finds it)."""
        request_id = call.callback_request_id
        if request_id is None:
            return
        queue = await self.store.queue(call.tenant_id, call.queue_id)
        settings = queue.callback if queue is not None else CallbackSettings()
        line = Call(
            id=request_id,
            tenant_id=call.tenant_id,
            caller=Party(PartyKind.PHONE, call.caller.id, call.caller.display_name),
            target_id=call.target_id,
            state=CallState.SCHEDULED,
            chain_id=call.chain_id,
            direction="callback",
            queue_id=call.queue_id,
            priority=call.priority,
            vip=call.vip,
            required_skills=dict(call.required_skills),
            received_at=now,
            offered_at=call.offered_at,
            queued_at=call.queued_at,
            queue_name=call.queue_name,
            service_level_threshold_s=call.service_level_threshold_s,
            wrap_up_s=call.wrap_up_s,
            wrap_up_extension_s=call.wrap_up_extension_s,
            language=call.language,
            ivr_path=call.ivr_path,
            callback=CallbackState(
                request_id=request_id,
                origin_call_id=call.id,
                requested_at=now,
                settings=settings,
            ),
            due_at=now + timedelta(seconds=self.ctx.settings.callback_start_delay_s),
        )
        try:
            await self.ctx.repository.calls.create(line)
        except Conflict:
            return
        self.store.hint_call(line)
        await self.alerts.callback_waiting(line, queue.members if queue else ())

    async def call_back(
        self, queue: Queue, number: Party, origin_call_id: str, now: datetime
    ) -> Call:
        """Call back a caller an agent picked (a missed call, a voicemail), as the queue does.

        The callback joins the queue's line now and is dialled by the queue's callback
        settings, caller-first or agent-first. One per call: raises Conflict when that call
        has a callback already, InvalidInput when there is no number to call or to call from.
        """
        party = callback_number(number)
        tenant_id = queue.tenant_id
        request_id = callback_id(origin_call_id)
        repository = self.ctx.repository
        with contextlib.suppress(NotFound):
            await repository.callbacks.get(tenant_id, request_id)
            raise Conflict("this call was called back already")
        source = queue.callback.source_application_instance_id or await self._queue_line(queue)
        if not source:
            raise InvalidInput("this queue has no number to call back from", field="queueId")
        line = Call(
            id=request_id,
            tenant_id=tenant_id,
            caller=party,
            target_id=source,
            state=CallState.SCHEDULED,
            direction="callback",
            queue_id=queue.id,
            priority=queue.priority,
            required_skills=dict(queue.required_skills),
            received_at=now,
            offered_at=now,
            queued_at=now,
            queue_name=queue.name,
            service_level_threshold_s=queue.service_level_threshold_s,
            wrap_up_s=queue.wrap_up_s,
            wrap_up_extension_s=queue.wrap_up_extension_s,
            language=queue.language,
            callback=CallbackState(
                request_id=request_id,
                origin_call_id=origin_call_id,
                requested_at=now,
                settings=queue.callback,
            ),
            due_at=now,
        )
        try:
            await repository.calls.create(line)
        except Conflict:
            raise Conflict("a callback for this call is waiting already") from None
        self.store.hint_call(line)
        _LOGGER.info("Callback asked for by an agent", extra=log_extra(line))
        await self.alerts.callback_waiting(line, queue.members)
        return line

    async def _queue_line(self, queue: Queue) -> str:
        """Return a resource account bound to the queue (its calls come from there), or ""."""
        bound = await self.ctx.repository.bindings.find(
            queue.tenant_id,
            (Condition("target", Op.EQ, "queue"), Condition("targetId", Op.EQ, queue.id)),
            limit=1,
        )
        return bound[0].value.id if bound else ""

    # ------------------------------------------------------------- timers
    async def due(self, current: Versioned[Call], now: datetime) -> None:
        """A callback's wait for its next attempt is over: back in line, in its old place."""
        call = current.value
        queue = await self.store.queue(call.tenant_id, call.queue_id)
        if queue is None:
            await self._close_line(
                call.tenant_id, call.id, CallbackStatus.CANCELLED, now, reason="queue deleted"
            )
            return
        waiting = replace(
            call,
            state=CallState.WAITING,
            due_at=waiting_due(call, queue, now, self.ctx.settings.keep_alive_s),
        )
        saved = await self.store.commit(current, waiting)
        await self.alerts.queue_changed(call)
        await self.matching.route_on(saved, queue, [], now)

    async def offer_due(self, current: Versioned[Call], now: datetime) -> None:
        """A callback's reserved agent waited for an attempt that never settled."""
        line = current.value
        offer = line.offer
        state = line.callback
        assert state is not None
        if offer is not None and offer.expires_at > now:
            await self.store.commit(current, replace(line, due_at=offer.expires_at))
            return
        last = state.attempts[-1] if state.attempts else None
        if last is not None and last.ended_at is None:
            if last.call_id:
                with contextlib.suppress(DomainError):
                    await self.ctx.call_control.hang_up(last.call_id)
            await self._attempt_ended(line.tenant_id, line.id, last.call_id, "no result", now)
            return
        # The call was never placed (a crash between the reservation and the dial).
        scheduled = replace(line, state=CallState.SCHEDULED, offer=None, due_at=now)
        await self.store.commit(current, scheduled)
        if offer is not None:
            await self._release_reserved(line, offer, now)

    async def dialing_due(self, current: Versioned[Call], now: datetime) -> None:
        """The outbound callback call was not answered in time."""
        await self.leg_failed(current, "no answer in time", now, None, hang_up=True)

    # ------------------------------------------------------------ dialing
    async def ring(self, saved: Versioned[Call], agents: Sequence[Agent], now: datetime) -> None:
        """An agent is reserved for a callback: place the outbound call."""
        line = saved.value
        agent = agents[0]
        state = line.callback
        assert state is not None
        settings = state.settings
        number = len(state.attempts) + 1
        order = settings.order
        target = (
            line.caller
            if order is CallbackOrder.CALLER_FIRST
            else Party(PartyKind.USER, agent.id, agent.display_name, agent.tenant_id)
        )
        source = settings.source_application_instance_id or line.target_id
        prompts = self.prompts
        prefetch = (
            prompts.media_prompts(
                line,
                [Slot(StandardPrompt.CALLBACK_INTRO), *prompts.hold_slots(None, greeting=False)],
            )
            if order is CallbackOrder.CALLER_FIRST
            else []
        )
        ctx = self.ctx
        ctx.placing += 1
        ctx.placed.clear()
        try:
            try:
                placed = await self.ctx.call_control.place_call(
                    tenant_id=line.tenant_id,
                    source_application_instance_id=source,
                    target=target,
                    callback_uri=self.ctx.settings.callback_uri,
                    prefetch=prefetch,
                )
            except DomainError as err:
                _LOGGER.warning(
                    "Placing callback %s failed: %s", number, err, extra=log_extra(line)
                )
                failed = CallbackAttempt(
                    number, now, agent_id=agent.id, ended_at=now, result=f"not placed: {err}"
                )
                await self._update_line(line.tenant_id, line.id, failed, now, add=True)
                await self._attempt_ended(line.tenant_id, line.id, "", f"not placed: {err}", now)
                return
            leg = replace(
                line,
                id=placed.call_id,
                state=CallState.DIALING,
                chain_id="",
                direction="outbound",
                callback=None,
                callback_request_id=line.id,
                callback_agent_id=agent.id,
                callback_order=order,
                offer=None,
                offers_made=0,
                missed_agent_ids=(),
                declined_agent_ids=(),
                ring_s=0.0,
                applied_notifications=(),
                media_seq=0,
                received_at=now,
                due_at=now + timedelta(seconds=settings.dial_timeout_s),
            )
            try:
                await self.ctx.repository.calls.create(leg)
            except Conflict:
                _LOGGER.warning("Callback call %s known already", leg.id, extra=log_extra(line))
            self.store.hint_call(leg)
        finally:
            ctx.placing -= 1
            if ctx.placing == 0:
                ctx.placed.set()
        _LOGGER.info("Callback attempt %s: calling %s", number, order.value, extra=log_extra(leg))
        attempt = CallbackAttempt(number, now, call_id=leg.id, agent_id=agent.id)
        await self._update_line(
            line.tenant_id,
            line.id,
            attempt,
            now,
            add=True,
            expires=now
            + timedelta(seconds=settings.dial_timeout_s + self.ctx.settings.claim_grace_s),
        )

    async def _update_line(
        self,
        tenant_id: str,
        line_id: str,
        attempt: CallbackAttempt,
        now: datetime,
        *,
        add: bool = False,
        expires: datetime | None = None,
    ) -> None:
        """Add or update an attempt on a callback (compare-and-set, no lock: see match)."""

        def with_attempt(line: Call) -> Decision[Call]:
            state = line.callback
            if state is None:
                return KEEP
            others = tuple(a for a in state.attempts if a.number != attempt.number)
            if not add and len(others) == len(state.attempts):
                return KEEP  # not an attempt of this callback
            attempts = tuple(sorted((*others, attempt), key=lambda a: a.number))
            new = replace(line, callback=replace(state, attempts=attempts))
            if expires is not None and line.state is CallState.RINGING and line.offer is not None:
                new = replace(new, offer=replace(line.offer, expires_at=expires), due_at=expires)
            return new

        await self.store.update_call(tenant_id, line_id, with_attempt)

    # ----------------------------------------------------------- the legs
    async def answered(self, current: Versioned[Call], now: datetime, key: str) -> None:
        """The outbound callback call was answered (by the caller, or agent first)."""
        leg = current.value
        line_id = leg.callback_request_id or ""
        agent_id = leg.callback_agent_id or ""
        if leg.callback_order is CallbackOrder.AGENT_FIRST:
            if leg.agent_id is not None:
                return  # the agent is on; the caller is being invited
            await self._agent_first_answered(current, now, key)
            return
        store, queueing = self.store, self.queueing
        queue = await store.queue(leg.tenant_id, leg.queue_id)
        if queue is None:
            await self.endings.finish(current, CallOutcome.FAILED, "queue deleted", now, key=key)
            await self._close_line(
                leg.tenant_id, line_id, CallbackStatus.CANCELLED, now, reason="queue deleted"
            )
            return
        waiting = queueing.with_hold(
            replace(leg, state=CallState.WAITING, queued_at=now, due_at=None), queue, now
        )
        committed: Versioned[Call] | None = None
        agent = await store.read_agent(leg.tenant_id, agent_id)
        if (
            agent is not None
            and agent.value.current_call_id == line_id
            and agent.value.activity is AgentActivity.RINGING
        ):
            # The reserved agent's claim moves to this call in the compare-and-set.
            result = await self.offers.offer(current, waiting, queue, [agent], now, key)
            if result.stale:
                raise StaleVersion
            committed = result.committed
        if committed is None:
            committed = await queueing.enqueue(current, waiting, queue, now, key)
        await self._close_line(
            leg.tenant_id,
            line_id,
            CallbackStatus.CONNECTED,
            now,
            connected_call_id=leg.id,
            agent_id=agent_id,
            result="answered",
        )
        if committed is not None:
            await queueing.start_hold(
                committed.value, queue, greeting=False, subscribe=True, intro=True
            )

    async def _agent_first_answered(
        self, current: Versioned[Call], now: datetime, key: str
    ) -> None:
        """Agent first: the agent picked up; now invite the caller."""
        leg = current.value
        line_id = leg.callback_request_id or ""
        agent_id = leg.callback_agent_id or ""
        store = self.store
        moved = await store.update_agent(
            leg.tenant_id,
            agent_id,
            lambda a: (
                replace(
                    a,
                    activity=AgentActivity.ON_CALL,
                    current_call_id=leg.id,
                    missed_in_a_row=0,
                    due_at=now + timedelta(seconds=self.ctx.settings.keep_alive_s),
                )
                if a.current_call_id == line_id
                else None
            ),
        )
        if moved is None:
            await self.leg_failed(current, "agent no longer reserved", now, key, hang_up=True)
            return
        line = await store.read_call(leg.tenant_id, line_id)
        dial_s = line.value.callback.settings.dial_timeout_s if line and line.value.callback else 45
        joined = replace(
            leg,
            agent_id=agent_id,
            agent_name=moved.value.display_name,
            due_at=now + timedelta(seconds=dial_s),
        )
        saved = await store.commit(current, joined, key)
        try:
            await self.ctx.call_control.invite(
                leg.id, leg.caller, client_context=f"{CALLBACK_INVITE}{leg.id}"
            )
        except DomainError as err:
            _LOGGER.warning("Inviting the caller failed: %s", err, extra=log_extra(leg))
            await self.leg_failed(saved, f"caller not invited: {err}", now, None, hang_up=True)

    def caller_invited(self, event: OperationFinished) -> Decide:
        """Agent first: what inviting the caller into the agent's call came to."""

        async def decide(current: Versioned[Call]) -> None:
            leg = current.value
            if leg.state is not CallState.DIALING or leg.agent_id is None:
                return
            if event.status not in (OperationStatus.COMPLETED, OperationStatus.FAILED):
                return
            now = self.ctx.clock.now()
            if event.status is OperationStatus.FAILED:
                await self.leg_failed(
                    current,
                    f"caller did not answer ({event.result_code})",
                    now,
                    event.key,
                    hang_up=True,
                )
                return
            connected = talk_timers(
                replace(leg, state=CallState.CONNECTED, answered_at=now, queued_at=now),
                now,
                self.ctx.settings,
            )
            await self.store.commit(current, connected, event.key)
            await self._close_line(
                leg.tenant_id,
                leg.callback_request_id or "",
                CallbackStatus.CONNECTED,
                now,
                connected_call_id=leg.id,
                agent_id=leg.agent_id,
                result="answered",
            )
            await self.alerts.queue_changed(leg)

        return decide

    async def leg_failed(
        self,
        current: Versioned[Call],
        reason: str,
        now: datetime,
        key: str | None,
        *,
        hang_up: bool,
        base: Call | None = None,
    ) -> None:
        """An outbound callback call did not reach the caller: record it, try again later.

        ``base`` is the leg with what Graph said of its end, when that is not written yet.
        """
        leg = current.value
        await self.endings.finish(
            current,
            CallOutcome.FAILED,
            f"callback: {reason}",
            now,
            base=base,
            key=key,
            hang_up=hang_up,
        )
        if leg.callback_order is CallbackOrder.AGENT_FIRST and leg.agent_id is not None:
            freed = await self.store.update_agent(
                leg.tenant_id,
                leg.agent_id,
                lambda a: (
                    replace(a, activity=AgentActivity.IDLE, current_call_id=None, due_at=None)
                    if a.current_call_id == leg.id
                    else None
                ),
            )
            if freed is not None:
                await self.matching.match(leg.tenant_id, [freed], now)
        await self._attempt_ended(leg.tenant_id, leg.callback_request_id or "", leg.id, reason, now)

    # ----------------------------------------------------------- the line
    async def _attempt_ended(
        self, tenant_id: str, line_id: str, leg_id: str, result: str, now: datetime
    ) -> None:
        """Close a callback's current attempt: schedule the next one, or give up."""

        def end_attempt(line: Call) -> Decision[Call]:
            state = line.callback
            if state is None:
                return KEEP
            last = state.attempts[-1] if state.attempts else None
            if last is None or last.call_id != leg_id or line.state is not CallState.RINGING:
                return KEEP  # an attempt that is over already
            attempts = (*state.attempts[:-1], replace(last, ended_at=now, result=result))
            ended_line = replace(line, callback=replace(state, attempts=attempts))
            if len(attempts) >= state.settings.max_attempts:
                return ended_line
            return replace(
                ended_line,
                state=CallState.SCHEDULED,
                offer=None,
                due_at=now + timedelta(seconds=state.settings.retry_s),
            )

        updated = await self.store.update_call(tenant_id, line_id, end_attempt)
        if not updated.changed or updated.before is None or updated.after is None:
            return
        line, after = updated.before.value, updated.after.value
        if after.state is not CallState.SCHEDULED:
            tried = len(after.callback.attempts) if after.callback is not None else 0
            await self._close_line(
                tenant_id,
                line_id,
                CallbackStatus.FAILED,
                now,
                reason=f"not reached after {tried} attempts",
            )
            return
        assert line.callback is not None
        last = line.callback.attempts[-1]
        _LOGGER.info("Callback attempt %s failed: %s", last.number, result, extra=log_extra(line))
        if line.offer is not None:
            await self._release_reserved(line, line.offer, now)

    async def _release_reserved(self, line: Call, offer: Offer, now: datetime) -> None:
        """Free the agents a callback had reserved (not their miss) and give them work."""
        freed = []
        for agent_id in offer.agent_ids:
            released = await self.store.release(line.tenant_id, agent_id, line.id, None)
            if released is not None:
                freed.append(released)
        if freed:
            await self.matching.match(line.tenant_id, freed, now)

    async def _close_line(
        self,
        tenant_id: str,
        line_id: str,
        status: CallbackStatus,
        now: datetime,
        *,
        reason: str = "",
        connected_call_id: str | None = None,
        agent_id: str | None = None,
        result: str = "",
    ) -> None:
        """End a callback: write its request record, remove it from the line."""
        current = await self.store.read_call(tenant_id, line_id)
        if current is None or current.value.callback is None:
            return
        line = current.value
        state = line.callback
        assert state is not None
        attempts = tuple(
            replace(a, ended_at=a.ended_at or now, result=a.result or result)
            if connected_call_id is None or a.call_id == connected_call_id
            else a
            for a in state.attempts
        )
        ended = replace(
            line,
            state=CallState.ENDED,
            ended_at=now,
            offer=None,
            due_at=None,
            callback=replace(state, attempts=attempts),
        )
        record = build_callback_request(
            ended,
            status,
            reason=reason,
            connected_call_id=connected_call_id,
            agent_id=agent_id,
        )
        # The request's record is final once written, and never taken back: a host that
        # finds it written (a retry, another host) only removes the line.
        try:
            await self.ctx.repository.callbacks.create(record)
        except Conflict:
            await self._remove_line(tenant_id, line_id)
            return
        await self._remove_line(tenant_id, line_id)
        await self.alerts.callback_ended(line, record)
        self.store.mark_ended(line)
        self.store.hint(self.ctx.repository.CALLS, tenant_id, line_id, None)
        _LOGGER.info("Callback %s: %s", status.value, reason or result, extra=log_extra(line))
        await self.alerts.queue_changed(line)
        if line.state is CallState.RINGING and line.offer is not None:
            await self._release_reserved(line, line.offer, now)

    async def _remove_line(self, tenant_id: str, line_id: str) -> None:
        with contextlib.suppress(NotFound):
            await self.ctx.repository.calls.delete(tenant_id, line_id)
