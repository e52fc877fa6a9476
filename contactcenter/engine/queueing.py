"""A call in a queue: it enters, hears music, is offered to an agent or waits; and the
queue's actions for a call it will not keep (overflow, timeout, nobody signed in).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from contactcenter.announcements import key_parts
from contactcenter.callbacks import is_e164
from contactcenter.engine.alerts import Alerts
from contactcenter.engine.codecs import Purpose
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.endings import Endings
from contactcenter.engine.leaving import Departures
from contactcenter.engine.offers import Offers
from contactcenter.engine.prompts import Prompts, Slot, can_call_back, prompt_ids
from contactcenter.engine.settings import TRIGGER_OUTCOMES, ActionTrigger
from contactcenter.engine.store import CallStore
from contactcenter.engine.timing import close_offer, waiting_due
from contactcenter.media import StandardPrompt
from contactcenter.model import (
    ActionKind,
    Call,
    CallOutcome,
    CallState,
    LeaveStep,
    Leaving,
    Party,
    PartyKind,
    Queue,
    QueueAction,
)
from contactcenter.ports import OfferEnd
from contactcenter.repository import StaleVersion, Versioned
from contactcenter.routing import rank_agents

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ActionContext:
    """A call the queue will not keep, and the action configured for it."""

    current: Versioned[Call]
    call: Call
    queue: Queue
    action: QueueAction
    trigger: ActionTrigger
    now: datetime
    key: str | None


ActionHandler = Callable[[ActionContext], Awaitable[None]]


def in_queue(call: Call, queue: Queue, boost: int) -> Call:
    """Return the call with the terms a queue sets when the call enters it."""
    return replace(
        call,
        queue_id=queue.id,
        priority=queue.priority + boost,
        vip=boost > 0,
        required_skills=dict(queue.required_skills),
        queue_name=queue.name,
        service_level_threshold_s=queue.service_level_threshold_s,
        wrap_up_s=queue.wrap_up_s,
        wrap_up_extension_s=queue.wrap_up_extension_s,
        language=queue.language,
    )


def action_party(action: QueueAction) -> Party | None:
    """Return whom a redirect action sends the call to (None if its target is unusable)."""
    target = action.target
    if not target:
        return None
    if action.kind is ActionKind.REDIRECT_NUMBER:
        return Party(PartyKind.PHONE, target) if is_e164(target) else None
    return Party(PartyKind.USER, target)


@dataclass(slots=True)
class Queueing:
    """Puts calls in queues, offers or keeps them, and runs the queues' actions."""

    ctx: EngineContext
    store: CallStore
    prompts: Prompts
    alerts: Alerts
    endings: Endings
    offers: Offers
    departures: Departures
    # What each kind of queue action does (replaceable, e.g. by a test).
    action_handlers: dict[ActionKind, ActionHandler] = field(init=False)

    def __post_init__(self) -> None:
        self.action_handlers = {
            ActionKind.DISCONNECT: self._action_disconnect,
            ActionKind.QUEUE: self._action_move_to_queue,
            ActionKind.REDIRECT_USER: self._action_transfer,
            ActionKind.REDIRECT_NUMBER: self._action_transfer,
            ActionKind.VOICEMAIL: self._action_voicemail,
            ActionKind.CALLBACK: self._action_offer_callback,
        }

    # ------------------------------------------------------------ entering
    async def start_queueing(
        self,
        current: Versioned[Call],
        now: datetime,
        key: str | None,
        *,
        base: Call | None = None,
        queue: Queue | None = None,
        greeting: bool = True,
    ) -> None:
        """Put the call in its queue (``base``: what was decided about it so far)."""
        call = base or current.value
        if queue is None:
            queue = await self.store.queue(call.tenant_id, call.queue_id)
        if queue is None:
            await self.endings.finish(current, CallOutcome.FAILED, "queue deleted", now, key=key)
            return
        waiting = replace(
            call,
            state=CallState.WAITING,
            offered_at=now,
            queued_at=now,
            due_at=None,
            menu_id=None,
        )
        waiting = self.with_hold(waiting, queue, now)
        saved = await self.enqueue(current, waiting, queue, now, key)
        if saved is not None:
            await self.start_hold(saved.value, queue, greeting=greeting, subscribe=not call.tones)

    def with_hold(self, call: Call, queue: Queue, now: datetime) -> Call:
        """Return the call with its hold media started (next prompt operation, comfort timer)."""
        if not self.ctx.media_on:
            return call
        comfort = None
        if queue.comfort_interval_s > 0:
            comfort = now + timedelta(seconds=queue.comfort_interval_s)
        return replace(
            call,
            media_seq=call.media_seq + 1,
            next_comfort_at=comfort,
            tones=call.tones or self._wants_tones(call, queue),
        )

    @staticmethod
    def _wants_tones(call: Call, queue: Queue) -> bool:
        """Return whether the call must hear key presses while it waits (callbacks)."""
        if not can_call_back(call):
            return False
        actions = (queue.overflow_action, queue.timeout_action, queue.no_agent_action)
        return queue.callback.offered or any(a.kind is ActionKind.CALLBACK for a in actions)

    async def start_hold(
        self, call: Call, queue: Queue, *, greeting: bool, subscribe: bool, intro: bool = False
    ) -> None:
        """Play the greeting and music on hold (after the write that decided it)."""
        if not self.ctx.media_on:
            return
        if subscribe and call.tones:
            await self.prompts.subscribe_tones(call)
        slots = self.prompts.hold_slots(queue, greeting=greeting)
        if intro:
            slots.insert(0, Slot(StandardPrompt.CALLBACK_INTRO))
        await self.prompts.play(call, slots, Purpose.HOLD)

    async def enqueue(
        self, current: Versioned[Call], call: Call, queue: Queue, now: datetime, key: str | None
    ) -> Versioned[Call] | None:
        """Place a call that has just entered ``queue``: ring an agent, or let it wait.

        Return the call as written while it stays in the queue; None when a queue action
        took it.
        """
        if queue.max_size <= 0:
            await self.run_action(current, call, queue, ActionTrigger.OVERFLOW, now, key)
            return None
        store = self.store
        idle = await store.idle_agents(call.tenant_id)
        ranked = rank_agents(queue, call, [a.value for a in idle], now, self.ctx.policy)
        if ranked:
            by_id = {a.value.id: a for a in idle}
            result = await self.offers.offer(
                current, call, queue, [by_id[a.id] for a in ranked], now, key
            )
            if result.stale:
                raise StaleVersion
            if result.committed is not None:
                return result.committed
        if await store.waiting_count(call.tenant_id, queue.id) >= queue.max_size:
            await self.run_action(current, call, queue, ActionTrigger.OVERFLOW, now, key)
            return None
        if not ranked and not await store.anyone_signed_in(queue):
            await self.run_action(current, call, queue, ActionTrigger.NO_AGENT, now, key)
            return None
        due = waiting_due(call, queue, now, self.ctx.settings.keep_alive_s)
        saved = await store.commit(current, replace(call, due_at=due), key)
        await self.alerts.queue_changed(call)
        return saved

    # ------------------------------------------------------------- actions
    async def run_action(
        self,
        current: Versioned[Call],
        call: Call,
        queue: Queue,
        trigger: ActionTrigger,
        now: datetime,
        key: str | None,
    ) -> None:
        """Do what the queue says for a call it will not keep."""
        # Actions may act on Graph before they write the call: decided on a read.
        self.store.insist_current(current)
        action = {
            ActionTrigger.OVERFLOW: queue.overflow_action,
            ActionTrigger.TIMEOUT: queue.timeout_action,
            ActionTrigger.NO_AGENT: queue.no_agent_action,
        }[trigger]
        handler = self.action_handlers.get(action.kind, self._action_end_call)
        _LOGGER.info("Queue %s: %s -> %s", queue.name, trigger, action.kind, extra=log_extra(call))
        await handler(ActionContext(current, call, queue, action, trigger, now, key))

    async def _action_disconnect(self, context: ActionContext) -> None:
        reason = f"{context.trigger.value}: disconnected"
        if not self.ctx.media_on:
            await self._end_for_action(context, reason)
            return
        leaving = Leaving(
            TRIGGER_OUTCOMES[context.trigger],
            reason,
            prompt_ids=prompt_ids(context.action.prompt_id),
            standard_prompts=(StandardPrompt.UNAVAILABLE.value,),
        )
        await self._leave(context, context.call, leaving)

    async def _action_end_call(self, context: ActionContext) -> None:
        # An action this engine has no handler for: the outcome is recorded and the caller
        # is released rather than left waiting.
        reason = f"{context.trigger.value}: {context.action.kind.value} not available"
        await self._end_for_action(context, reason)

    async def _end_for_action(self, context: ActionContext, reason: str) -> None:
        await self.endings.finish(
            context.current,
            TRIGGER_OUTCOMES[context.trigger],
            reason,
            context.now,
            base=context.call,
            key=context.key,
            offer_end=OfferEnd.WITHDRAWN,
        )

    async def _leave(self, context: ActionContext, base: Call, leaving: Leaving) -> None:
        await self.departures.start(context.current, base, leaving, context.now, context.key)

    async def _action_transfer(self, context: ActionContext) -> None:
        """Send the caller to a person or a number (the call is answered: a transfer)."""
        party = action_party(context.action)
        if party is None:
            _LOGGER.warning(
                "Cannot transfer to %r: disconnecting",
                context.action.target,
                extra=log_extra(context.call),
            )
            await self._action_disconnect(context)
            return
        leaving = Leaving(
            TRIGGER_OUTCOMES[context.trigger],
            f"{context.trigger.value}: transferred to {party.id}",
            step=LeaveStep.TRANSFER,
            prompt_ids=prompt_ids(context.action.prompt_id),
            standard_prompts=(StandardPrompt.TRANSFERRING.value,),
            transfer_to=party,
        )
        await self._leave(context, context.call, leaving)

    async def _action_voicemail(self, context: ActionContext) -> None:
        """Record a message for the shared voicemail of the target queue (or this one)."""
        leaving = Leaving(
            TRIGGER_OUTCOMES[context.trigger],
            f"{context.trigger.value}: voicemail",
            prompt_ids=prompt_ids(context.action.prompt_id),
            standard_prompts=(StandardPrompt.VOICEMAIL.value,),
            voicemail_queue_id=context.action.target or context.queue.id,
        )
        await self._leave(context, context.call, leaving)

    async def _action_offer_callback(self, context: ActionContext) -> None:
        """Offer to keep the caller's place and call back; without the key, goodbye."""
        call, queue = context.call, context.queue
        if not self.ctx.media_on or not can_call_back(call):
            await self._action_disconnect(context)
            return
        leaving = Leaving(
            TRIGGER_OUTCOMES[context.trigger],
            f"{context.trigger.value}: callback offered, not taken",
            step=LeaveStep.CALLBACK_OFFER,
            prompt_ids=prompt_ids(context.action.prompt_id),
            standard_prompts=(
                StandardPrompt.CALLBACK_OFFER.value,
                *key_parts(queue.callback.key)[1:],
            ),
        )
        subscribe = not call.tones
        await self._leave(context, replace(call, tones=True), leaving)
        if subscribe:
            await self.prompts.subscribe_tones(call)

    async def _action_move_to_queue(self, context: ActionContext) -> None:
        call, queue = context.call, context.queue
        target_id = context.action.target
        hops = (*call.queue_hops, queue.id)
        target = None
        if target_id and target_id not in hops:
            target = await self.store.queue(call.tenant_id, target_id)
        if target is None:
            _LOGGER.warning(
                "Cannot move to queue %s: disconnecting", target_id, extra=log_extra(call)
            )
            await self._end_for_action(context, f"{context.trigger.value}: no queue to move to")
            return
        current = context.current
        moved, offer = close_offer(
            current.value,
            replace(
                call,
                state=CallState.WAITING,
                queue_id=target.id,
                queue_hops=hops,
                queued_at=context.now,
                # The caller keeps their place: offered time and priority stay.
                required_skills=dict(target.required_skills),
                queue_name=target.name,
                service_level_threshold_s=target.service_level_threshold_s,
                wrap_up_s=target.wrap_up_s,
                wrap_up_extension_s=target.wrap_up_extension_s,
            ),
            context.now,
        )
        if offer is not None:
            # Record the move first, then release the agents rung in the old queue.
            current = await self.endings.commit_closing_offer(
                current, replace(moved, due_at=context.now), offer, context.now, context.key
            )
        await self.enqueue(current, moved, target, context.now, context.key)
