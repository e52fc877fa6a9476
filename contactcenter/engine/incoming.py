"""An incoming call: whom it is for, whether it may come in, and answering it.

A call the contact center turns away unanswered (no queue, blocked, closed) gets its
record at once; one it answers gets a live call document first, keyed by the call id, so
a redelivered ``incoming`` finds it and does nothing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contactcenter.callers import CallerVerdict, check_caller
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.endings import Endings
from contactcenter.engine.prompts import Prompts, Slot, prompt_ids
from contactcenter.engine.queueing import action_party, in_queue
from contactcenter.engine.store import CallStore
from contactcenter.errors import Conflict, DomainError, NotFound
from contactcenter.events import IncomingCall
from contactcenter.hours import HoursVerdict, OpenState
from contactcenter.ivr import find_menu
from contactcenter.media import DEFAULT_LANGUAGE, StandardPrompt
from contactcenter.model import (
    ActionKind,
    BindingTarget,
    Call,
    CallOutcome,
    CallState,
    Ivr,
    Leaving,
    Party,
    Queue,
    QueueAction,
)
from contactcenter.ports import MediaPrompt, RejectReason
from contactcenter.records import build_call_record
from contactcenter.repository import StaleVersion

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class Incoming:
    """Admits incoming calls to a queue or an IVR, or turns them away with a record."""

    ctx: EngineContext
    store: CallStore
    prompts: Prompts
    endings: Endings

    async def handle(self, event: IncomingCall) -> None:
        """Admit an incoming call, or turn it away (a redelivery changes nothing)."""
        now = self.ctx.clock.now()
        tenant_id = event.tenant_id
        store = self.store
        binding = await store.binding(tenant_id, event.target_id)
        if binding is None:
            await self._reject(event, now, f"no queue is bound to {event.target_id}")
            return
        try:
            await self.ctx.repository.call_records.get(tenant_id, event.call_id)
        except NotFound:
            pass
        else:
            # The call ended already (its live document is gone): a very late redelivery.
            _LOGGER.info("Incoming call already recorded", extra=log_extra(event))
            return
        verdict = check_caller(await store.caller_list(tenant_id), event.caller)
        if verdict.blocked:
            await self._reject(event, now, f"blocked caller: {verdict.reason}")
            return
        if binding.target is BindingTarget.IVR:
            ivr = await store.ivr(tenant_id, binding.target_id)
            if ivr is None or find_menu(ivr, ivr.root_menu_id) is None:
                await self._reject(event, now, f"IVR {binding.target_id} does not exist")
                return
            await self._admit_to_ivr(event, ivr, verdict, now)
            return
        queue = await store.queue(tenant_id, binding.target_id)
        if queue is None:
            await self._reject(event, now, f"queue {binding.target_id} does not exist")
            return
        await self._admit_to_queue(event, queue, verdict, now)

    def _new_call(self, event: IncomingCall, now: datetime) -> Call:
        return Call(
            id=event.call_id,
            tenant_id=event.tenant_id,
            caller=event.caller,
            target_id=event.target_id,
            state=CallState.ANSWERING,
            chain_id=event.chain_id,
            received_at=now,
            due_at=now + timedelta(seconds=self.ctx.settings.answer_timeout_s),
            applied_notifications=(event.key,),
        )

    async def _admit_to_queue(
        self,
        event: IncomingCall,
        queue: Queue,
        verdict: CallerVerdict,
        now: datetime,
        *,
        closed_hop: bool = False,
    ) -> None:
        """Answer a call for a queue, or apply the queue's closed action."""
        hours = await self.store.hours_verdict(event.tenant_id, queue.hours, now)
        if not hours.is_open and not closed_hop:
            await self._closed(event, hours, verdict, now, queue=queue)
            return
        call = in_queue(self._new_call(event, now), queue, verdict.priority_boost)
        if not await self._create_and_answer(event, call, self.prompts.queue_prompts(queue)):
            return
        _LOGGER.info("Answered call for queue %s", queue.name, extra=log_extra(event))

    async def _admit_to_ivr(
        self, event: IncomingCall, ivr: Ivr, verdict: CallerVerdict, now: datetime
    ) -> None:
        """Answer a call for an IVR, or apply the IVR's closed action."""
        hours = await self.store.hours_verdict(event.tenant_id, ivr.hours, now)
        if not hours.is_open:
            await self._closed(event, hours, verdict, now, queue=None)
            return
        call = replace(
            self._new_call(event, now),
            ivr_id=ivr.id,
            menu_id=ivr.root_menu_id,
            # Until the call enters a queue its priority is the VIP boost alone.
            priority=verdict.priority_boost,
            vip=verdict.vip,
            language=ivr.language,
            ivr_path=(f"ivr:{ivr.id}",),
        )
        menu = find_menu(ivr, ivr.root_menu_id)
        slots = [Slot(StandardPrompt.GREETING, ivr.greeting_prompt_id)] * bool(
            ivr.greeting_prompt_id
        )
        if menu is not None:
            slots.append(Slot(StandardPrompt.CHOOSE, menu.prompt_id))
        prefetch = self.prompts.media_prompts(call, slots)
        if not await self._create_and_answer(event, call, prefetch):
            return
        _LOGGER.info("Answered call for IVR %s", ivr.name, extra=log_extra(event))

    async def _create_and_answer(
        self, event: IncomingCall, call: Call, prefetch: Sequence[MediaPrompt]
    ) -> bool:
        """Create the call document and answer; False if known already or answering failed."""
        try:
            created = await self.ctx.repository.calls.create(call)
        except Conflict:
            _LOGGER.debug("Incoming call already known", extra=log_extra(event))
            return False
        self.store.hint_call(call)
        try:
            await self.ctx.call_control.answer(
                call.id, callback_uri=self.ctx.settings.callback_uri, prefetch=prefetch
            )
        except DomainError as err:
            _LOGGER.warning("Answering failed: %s", err, extra=log_extra(event))
            with contextlib.suppress(StaleVersion):
                await self.endings.finish(
                    created,
                    CallOutcome.FAILED,
                    f"answer failed: {err}",
                    call.received_at or self.ctx.clock.now(),
                    hang_up=False,
                )
            return False
        return True

    async def _closed(
        self,
        event: IncomingCall,
        hours: HoursVerdict,
        verdict: CallerVerdict,
        now: datetime,
        *,
        queue: Queue | None,
    ) -> None:
        """Apply a closed (holiday, closed-now) action to an incoming call."""
        action = hours.action or QueueAction()
        reason = {
            OpenState.CLOSED: "closed",
            OpenState.HOLIDAY: f"holiday: {hours.holiday}",
            OpenState.CLOSED_NOW: "closed now",
        }.get(hours.state, "closed")
        tenant_id = event.tenant_id
        if action.kind is ActionKind.QUEUE and action.target:
            target = await self.store.queue(tenant_id, action.target)
            if target is not None and (queue is None or target.id != queue.id):
                _LOGGER.info("%s: to queue %s", reason, target.name, extra=log_extra(event))
                await self._admit_to_queue(event, target, verdict, now, closed_hop=True)
                return
        if action.kind in (ActionKind.REDIRECT_USER, ActionKind.REDIRECT_NUMBER):
            party = action_party(action)
            if party is not None:
                await self._redirect(event, party, now, f"{reason}: redirected")
                return
        language = queue.language if queue is not None else DEFAULT_LANGUAGE
        if action.kind is ActionKind.VOICEMAIL and self.ctx.can_record():
            box = action.target or (queue.id if queue is not None else None)
            if box is not None:
                leaving = Leaving(CallOutcome.REJECTED, reason, voicemail_queue_id=box)
                call = replace(self._new_call(event, now), leaving=leaving, language=language)
                await self._create_and_answer(event, call, ())
                return
        if not self.ctx.media_on:
            await self._reject(event, now, reason)
            return
        standard = (
            StandardPrompt.HOLIDAY if hours.state is OpenState.HOLIDAY else StandardPrompt.CLOSED
        )
        leaving = Leaving(
            CallOutcome.REJECTED,
            reason,
            prompt_ids=prompt_ids(action.prompt_id),
            standard_prompts=(standard.value,),
        )
        call = replace(self._new_call(event, now), leaving=leaving, language=language)
        await self._create_and_answer(event, call, self.prompts.leave_prompts(call, leaving))

    async def _redirect(
        self, event: IncomingCall, target: Party, now: datetime, reason: str
    ) -> None:
        """Send an incoming call elsewhere without answering it (record first, then redirect)."""
        if not await self._record_unanswered(event, now, f"{reason} to {target.id}"):
            return
        try:
            await self.ctx.call_control.redirect(
                event.call_id, target, callback_uri=self.ctx.settings.callback_uri
            )
        except DomainError as err:
            _LOGGER.warning("Redirect failed (%s): rejecting", err, extra=log_extra(event))
            with contextlib.suppress(DomainError):
                await self.ctx.call_control.reject(event.call_id, RejectReason.NONE)

    async def _reject(self, event: IncomingCall, now: datetime, reason: str) -> None:
        if not await self._record_unanswered(event, now, reason):
            return  # rejected already: a redelivery
        _LOGGER.warning("Rejecting call: %s", reason, extra=log_extra(event))
        try:
            await self.ctx.call_control.reject(event.call_id, RejectReason.NONE)
        except DomainError as err:
            _LOGGER.warning("Reject failed: %s", err, extra=log_extra(event))

    async def _record_unanswered(self, event: IncomingCall, now: datetime, reason: str) -> bool:
        """Record an incoming call turned away unanswered; False if it was recorded already."""
        call = Call(
            id=event.call_id,
            tenant_id=event.tenant_id,
            caller=event.caller,
            target_id=event.target_id,
            state=CallState.ENDED,
            chain_id=event.chain_id,
            received_at=now,
            ended_at=now,
            outcome=CallOutcome.REJECTED,
            leave_reason=reason,
        )
        try:
            await self.ctx.repository.call_records.create(
                build_call_record(call, ttl=await self.store.record_ttl(event.tenant_id))
            )
        except Conflict:
            return False
        return True
