"""Durable timers: due times kept on call and agent documents, fired by any host.

Firing is at-least-once: each document is re-checked (still due, still in the state the
timer was set for) and changed by compare-and-set, so a timer fired twice, or by two
hosts, acts once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from contactcenter.codec import format_timestamp
from contactcenter.engine.answers import Answers
from contactcenter.engine.callbacks import Callbacks
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.endings import Decide, Endings
from contactcenter.engine.leaving import Departures
from contactcenter.engine.matching import Matching
from contactcenter.engine.menus import Menus
from contactcenter.engine.queueing import Queueing
from contactcenter.engine.reconciling import Reconciler
from contactcenter.engine.settings import ActionTrigger
from contactcenter.engine.store import CallStore
from contactcenter.engine.timing import deadline, waiting_due
from contactcenter.engine.transfers import Transfers
from contactcenter.engine.voicemail import VoicemailRecorder
from contactcenter.engine.wrapups import WrapUps
from contactcenter.errors import DomainError, NotFound
from contactcenter.model import Agent, AgentActivity, Call, CallOutcome, CallState
from contactcenter.ports import Condition, OfferEnd, Op
from contactcenter.repository import Repository, Versioned
from contactcenter.routing import rank_agents

_LOGGER = logging.getLogger(__name__)

# Due documents read per timer query.
_TIMER_BATCH = 100

StateTimer = Callable[[Versioned[Call], datetime], Awaitable[None]]


@dataclass(slots=True)
class Timers:
    """Fires due call and agent timers, in the order they fell due."""

    ctx: EngineContext
    store: CallStore
    endings: Endings
    matching: Matching
    departures: Departures
    voicemail: VoicemailRecorder
    queueing: Queueing
    answers: Answers
    callbacks: Callbacks
    menus: Menus
    reconciler: Reconciler
    wrapups: WrapUps
    transfers: Transfers
    # What a due timer does for the states that have their own (see _call_due).
    _state_timers: Mapping[CallState, StateTimer] = field(init=False)

    def __post_init__(self) -> None:
        self._state_timers = {
            CallState.MENU: self.menus.due,
            CallState.LEAVING: self.departures.due,
            CallState.VOICEMAIL: self.voicemail.due,
            CallState.SCHEDULED: self.callbacks.due,
            CallState.DIALING: self.callbacks.dialing_due,
        }

    async def fire_due(self, now: datetime | None = None) -> int:
        """Handle every call and agent timer due by ``now``; return how many were due."""
        when = now or self.ctx.clock.now()
        due = (Condition("dueAt", Op.LE, format_timestamp(when)),)
        by_due = (("dueAt", False),)
        fired = 0
        seen: set[tuple[str, str, str]] = set()
        while True:
            calls = await self.ctx.repository.calls.find(
                None, due, order_by=by_due, limit=_TIMER_BATCH
            )
            agents = await self.ctx.repository.agents.find(
                None, due, order_by=by_due, limit=_TIMER_BATCH
            )
            timers: list[tuple[datetime, str, str, Versioned[Call] | Versioned[Agent]]] = []
            for found_call in calls:
                if found_call.value.due_at is not None:
                    timers.append(
                        (found_call.value.due_at, "calls", found_call.value.id, found_call)
                    )
            for found_agent in agents:
                if found_agent.value.due_at is not None:
                    timers.append(
                        (found_agent.value.due_at, "agents", found_agent.value.id, found_agent)
                    )
            timers.sort(key=lambda timer: timer[:3])
            progress = False
            for _, kind, _, found in timers:
                ident = (kind, found.value.tenant_id, found.value.id)
                if ident in seen:
                    continue
                seen.add(ident)
                progress = True
                fired += 1
                if isinstance(found.value, Call):
                    await self.endings.with_call(
                        found.value.tenant_id,
                        found.value.id,
                        self._call_due(when),
                        first=found,
                    )
                else:
                    await self._agent_due(found, when)
            if not progress or (len(calls) < _TIMER_BATCH and len(agents) < _TIMER_BATCH):
                return fired

    async def fire_own(self, now: datetime | None = None) -> int:
        """Handle the timers this instance set that fell due by ``now``; return how many.

        Each document is read by its id rather than found by the sweep's queries, then
        handled as :meth:`fire_due` handles it (so a timer another host fired meanwhile
        does nothing). Other hosts' timers, and any this instance forgot, are the sweep's.
        """
        when = now or self.ctx.clock.now()
        store = self.store
        fired = 0
        for collection, tenant_id, doc_id in store.own_due(when):
            if collection == Repository.CALLS:
                call = await store.read_call(tenant_id, doc_id)
                if call is None or call.value.due_at is None or call.value.due_at > when:
                    continue
                fired += 1
                await self.endings.with_call(tenant_id, doc_id, self._call_due(when), first=call)
            else:
                agent = await store.read_agent(tenant_id, doc_id)
                if agent is None or agent.value.due_at is None or agent.value.due_at > when:
                    continue
                fired += 1
                await self._agent_due(agent, when)
        return fired

    # -------------------------------------------------------------- calls
    def _call_due(self, now: datetime) -> Decide:
        async def decide(current: Versioned[Call]) -> None:
            call = current.value
            if call.due_at is None or call.due_at > now:
                return  # handled meanwhile
            if call.state is CallState.ANSWERING:
                # ``established`` never came: queue the caller rather than drop them.
                _LOGGER.warning("No established notification; queueing", extra=log_extra(call))
                await self.queueing.start_queueing(current, now, f"{call.id}:answer-timeout")
                return
            if call.state is CallState.CONNECTED:
                transfer = call.transfer
                if transfer is not None and transfer.expires_at <= now:
                    # The agent the talk was handed to did not answer in time.
                    await self.transfers.failed(current, OfferEnd.MISSED, now, None)
                    return
                await self.reconciler.due(current, now)
                return
            state_timer = self._state_timers.get(call.state)
            if state_timer is not None:
                await state_timer(current, now)
                return
            store = self.store
            queue = await store.queue(call.tenant_id, call.queue_id)
            if queue is None:
                await self.endings.finish(current, CallOutcome.FAILED, "queue deleted", now)
                return
            ends = deadline(call, queue)
            timed_out = ends is not None and now >= ends
            if call.state is CallState.RINGING and call.callback is not None:
                await self.callbacks.offer_due(current, now)
                return
            if call.state is CallState.RINGING and call.offer is not None:
                offer = call.offer
                if timed_out:
                    await self.queueing.run_action(
                        current, call, queue, ActionTrigger.TIMEOUT, now, None
                    )
                elif offer.expires_at <= now:
                    # A transfer cannot be withdrawn: its expiry only waits out Teams' ringing.
                    await self.answers.lapse(
                        current,
                        offer.agent_ids,
                        OfferEnd.MISSED,
                        now,
                        None,
                        cancel=not offer.by_transfer,
                    )
                else:
                    await store.commit(current, replace(call, due_at=offer.expires_at), None)
                return
            if call.state is not CallState.WAITING:
                return
            if timed_out:
                await self.queueing.run_action(
                    current, call, queue, ActionTrigger.TIMEOUT, now, None
                )
                return
            if call.callback is None and not await self._keep_alive_waiting(call):
                # The terminated notification was lost: the caller is gone.
                await self.endings.finish(
                    current, CallOutcome.ABANDONED, "call no longer exists", now, hang_up=False
                )
                return
            # Skills widened, or an invitation is to be retried: the agents who may now take
            # the call look for their best call (this one, or one waiting longer).
            idle = await store.idle_agents(call.tenant_id)
            ranked = rank_agents(queue, call, [a.value for a in idle], now, self.ctx.policy)
            if ranked:
                by_id = {a.value.id: a for a in idle}
                await self.matching.match(call.tenant_id, [by_id[a.id] for a in ranked], now)
                reread = await store.read_call(call.tenant_id, call.id)
                if reread is None or reread.value.state is not CallState.WAITING:
                    return
                current, call = reread, reread.value
            due = waiting_due(call, queue, now, self.ctx.settings.keep_alive_s)
            await store.commit(current, replace(call, due_at=due))

        return decide

    async def _keep_alive_waiting(self, call: Call) -> bool:
        """Keep a waiting call alive at Graph; return False if Graph no longer knows it."""
        try:
            await self.ctx.call_control.keep_alive(call.id)
        except NotFound:
            return False
        except DomainError as err:
            _LOGGER.warning("keepAlive failed: %s", err, extra=log_extra(call))
        return True

    # ------------------------------------------------------------- agents
    async def _agent_due(self, found: Versioned[Agent], now: datetime) -> None:
        agent = found.value
        if agent.due_at is None or agent.due_at > now:
            return
        store = self.store
        if agent.activity is AgentActivity.WRAP_UP:
            if agent.wrap_up_until is not None and agent.wrap_up_until > now:
                await store.save_agent_quietly(found, replace(agent, due_at=agent.wrap_up_until))
                return
            # The record gets the wrap-up as it was planned (or extended) to end.
            end = agent.wrap_up_until or now
            saved = await self.wrapups.finish(agent.tenant_id, agent.id, end, first=found)
            if saved is not None:
                await self.matching.match(agent.tenant_id, [saved], now)
            return
        if agent.activity is AgentActivity.IDLE or agent.current_call_id is None:
            await store.save_agent_quietly(found, replace(agent, due_at=None))
            return
        await self._check_claim(found, now)

    async def _check_claim(self, found: Versioned[Agent], now: datetime) -> None:
        """Reconcile a ringing or on-call agent with the call they are claimed for."""
        agent = found.value
        assert agent.current_call_id is not None
        store = self.store
        call = await store.read_call(agent.tenant_id, agent.current_call_id)
        value = call.value if call is not None else None
        if (
            value is not None
            and value.state is CallState.RINGING
            and value.offer is not None
            and agent.id in value.offer.agent_ids
        ):
            grace = timedelta(seconds=self.ctx.settings.claim_grace_s)
            # The call's own ring timer settles the offer; look again after it.
            recheck = max(value.offer.expires_at, now) + grace
            await store.save_agent_quietly(found, replace(agent, due_at=recheck))
            return
        transfer = value.transfer if value is not None else None
        if transfer is not None and transfer.agent_id == agent.id:
            # Invited to take over a talk: the call's own timer settles the transfer.
            grace = timedelta(seconds=self.ctx.settings.claim_grace_s)
            recheck = max(transfer.expires_at, now) + grace
            await store.save_agent_quietly(found, replace(agent, due_at=recheck))
            return
        if (
            value is not None
            and value.state in (CallState.CONNECTED, CallState.DIALING)
            and value.agent_id == agent.id
        ):
            recheck = now + timedelta(seconds=self.ctx.settings.keep_alive_s)
            await store.save_agent_quietly(
                found, replace(agent, activity=AgentActivity.ON_CALL, due_at=recheck)
            )
            return
        _LOGGER.warning(
            "Releasing %s: claim on call %s is orphaned",
            agent.id,
            agent.current_call_id,
            extra={"tenant_id": agent.tenant_id, "agent_id": agent.id},
        )
        released = replace(agent, activity=AgentActivity.IDLE, current_call_id=None, due_at=None)
        saved = await store.save_agent_quietly(found, released)
        if saved is not None:
            await self.matching.match(agent.tenant_id, [saved], now)
