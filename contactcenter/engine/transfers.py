"""An agent hands a talk on: to another queue, or to another agent.

Each hand-over ends the agent's leg of the call: it gets a record of its own (the first
agent's talk and wrap-up count as an answered call), and the call goes on as a new leg.

* **To a queue**: the agent is removed from the call and wraps up; the caller hears music
  and waits in the target queue ahead of every caller of the same priority who came later
  (the call keeps ``offered_at``, its place in line), then the queue's agents are offered it.
* **To an agent**: the target is claimed like a rung agent and invited into the call, which
  is a group call once an agent joined; when the target joins, the first agent is removed
  from the call (by participant, as a talk ends: decision 17) and wraps up. If the target
  declines or does not answer within the queue's alert time, nothing changes for the
  caller and the first agent: the invitation is cancelled and the target released.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contactcenter.engine.alerts import Alerts
from contactcenter.engine.codecs import (
    invitee_participant_id,
    transfer_context,
    transfer_participant_id,
)
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.endings import Endings
from contactcenter.engine.prompts import Prompts
from contactcenter.engine.queueing import Queueing
from contactcenter.engine.store import CallStore
from contactcenter.engine.timing import elapsed_s, talk_timers_kept
from contactcenter.engine.wrapups import WrapUps
from contactcenter.errors import Conflict, DomainError, InvalidInput, NotFound
from contactcenter.model import (
    Agent,
    AgentActivity,
    AgentStatus,
    AgentTransfer,
    Call,
    CallRecord,
    CallState,
    Party,
    PartyKind,
    Queue,
)
from contactcenter.ports import OfferEnd
from contactcenter.records import build_leg_record
from contactcenter.repository import StaleVersion, Versioned

_LOGGER = logging.getLogger(__name__)


class NotYourTalk(DomainError):
    """Only the agent talking to the caller may hand the call on."""


def talking_participant(call: Call) -> str | None:
    """Return the participant id of the agent talking to the caller, if known."""
    if call.agent_participant_id:
        return call.agent_participant_id
    offer = call.offer
    agent_id = call.agent_id
    if offer is None or agent_id is None or agent_id not in offer.agent_ids:
        return None
    return offer.participant_ids.get(agent_id) or invitee_participant_id(
        call.id, offer.attempt, agent_id
    )


def _can_take_transfer(agent: Agent) -> bool:
    return (
        agent.has_seat
        and agent.status is AgentStatus.AVAILABLE
        and agent.activity is AgentActivity.IDLE
        and agent.current_call_id is None
    )


@dataclass(slots=True)
class Transfers:
    """Hands talks on to queues and agents, and settles transfers to agents."""

    ctx: EngineContext
    store: CallStore
    prompts: Prompts
    alerts: Alerts
    endings: Endings
    queueing: Queueing
    wrapups: WrapUps

    def _talk(self, call: Call, agent_id: str) -> None:
        if call.state is not CallState.CONNECTED or call.agent_id != agent_id:
            raise NotYourTalk(f"call {call.id} is not {agent_id}'s talk now")
        if call.transfer is not None:
            raise Conflict("the call is being handed to another agent already")

    # ------------------------------------------------------------ to a queue
    async def to_queue(self, tenant_id: str, call_id: str, agent_id: str, queue_id: str) -> None:
        """Send the agent's talk to another queue: the caller waits there, first in line."""
        self.ctx.queues.forget((tenant_id, queue_id))
        target = await self.store.queue(tenant_id, queue_id)
        if target is None:
            raise InvalidInput("no such queue", field="queueId")
        found = False

        async def decide(current: Versioned[Call]) -> None:
            nonlocal found
            found = True
            call = current.value
            self._talk(call, agent_id)
            if call.queue_id == target.id:
                raise InvalidInput("the call is in this queue already", field="queueId")
            await self._move(current, target, self.ctx.clock.now())

        await self.endings.with_call(tenant_id, call_id, decide)
        if not found:
            raise NotFound(f"no call {call_id}")

    async def _move(self, current: Versioned[Call], target: Queue, now: datetime) -> None:
        call = current.value
        ttl = await self.store.record_ttl(call.tenant_id)
        leg = build_leg_record(call, now, f"transferred to queue {target.name}", ttl=ttl)
        moved = replace(
            call,
            state=CallState.WAITING,
            queue_id=target.id,
            queue_name=target.name,
            queue_hops=(*call.queue_hops, call.queue_id or ""),
            required_skills=dict(target.required_skills),
            service_level_threshold_s=target.service_level_threshold_s,
            wrap_up_s=target.wrap_up_s,
            wrap_up_extension_s=target.wrap_up_extension_s,
            language=target.language,
            # The caller keeps their place: ``offered_at`` and priority stay.
            queued_at=now,
            transferred_at=now,
            agent_id=None,
            agent_name="",
            answered_at=None,
            ring_s=0.0,
            missed_agent_ids=(),
            declined_agent_ids=(),
            offer=None,
            legs=call.legs + 1,
            previous_leg=leg,
            agent_participant_id="",
            due_at=now,
        )
        moved = self.queueing.with_hold(moved, target, now)
        # The point of no return: the talk is over, the call waits in the target queue.
        saved = await self.store.commit(current, moved)
        _LOGGER.info(
            "Transferred by %s to queue %s", call.agent_id, target.name, extra=log_extra(call)
        )
        await self._end_leg(call, leg, now)
        participant_id = talking_participant(call)
        if participant_id is not None:
            await self._remove(call, participant_id)
        await self.queueing.start_hold(
            saved.value, target, greeting=False, subscribe=not call.tones
        )
        await self.alerts.queue_changed(call)
        try:
            await self.queueing.enqueue(saved, saved.value, target, now, None)
        except StaleVersion:
            # Changed meanwhile (a timer, the caller hanging up): whoever changed it decides.
            _LOGGER.info("Transferred call changed before it was offered", extra=log_extra(call))

    async def _end_leg(self, talk: Call, leg: CallRecord, now: datetime) -> None:
        """Record the agent's leg and start their wrap-up (the call's end records it again)."""
        created = await self.endings.create_record(leg)
        after, wrapping = await self.wrapups.start(talk, leg.id, now)
        if leg.wrap_up_pending and not wrapping:
            await self.wrapups.close_unattended(leg)
        if after is not None and talk.agent_id is not None:
            await self.alerts.offer_ended(
                talk,
                talk.agent_id,
                OfferEnd.TALK_ENDED,
                now,
                agent=after.value,
                record=created.value if created is not None else None,
            )

    async def _remove(self, call: Call, participant_id: str) -> None:
        try:
            await self.ctx.call_control.remove_participant(call.id, participant_id)
        except DomainError as err:
            # Gone already: they hung up as the transfer went through.
            _LOGGER.info("Removing %s: %s", participant_id, err, extra=log_extra(call))

    # ----------------------------------------------------------- to an agent
    async def to_agent(
        self, tenant_id: str, call_id: str, agent_id: str, target_id: str
    ) -> AgentTransfer:
        """Invite another agent into the talk; they take it over when they join."""
        if target_id == agent_id:
            raise InvalidInput("choose another agent", field="agentId")
        started: AgentTransfer | None = None

        async def decide(current: Versioned[Call]) -> None:
            nonlocal started
            call = current.value
            self._talk(call, agent_id)
            started = await self._invite(current, target_id, self.ctx.clock.now())

        await self.endings.with_call(tenant_id, call_id, decide)
        if started is None:
            raise NotFound(f"no call {call_id}")
        return started

    async def _invite(
        self, current: Versioned[Call], target_id: str, now: datetime
    ) -> AgentTransfer:
        call = current.value
        queue = await self.store.queue(call.tenant_id, call.queue_id)
        alert_s = queue.alert_time_s if queue is not None else 20
        attempt = call.offers_made + 1
        expires = now + timedelta(seconds=alert_s)
        grace = timedelta(seconds=self.ctx.settings.claim_grace_s)

        def claimed(agent: Agent) -> Agent | None:
            if not _can_take_transfer(agent):
                return None
            return replace(
                agent,
                activity=AgentActivity.RINGING,
                current_call_id=call.id,
                due_at=expires + grace,
                last_offered_at={**agent.last_offered_at, call.queue_id or "": now},
            )

        agent = await self.store.update_agent(call.tenant_id, target_id, claimed)
        if agent is None:
            raise InvalidInput(
                "that agent is not free to take a call now (available and not on a call)",
                field="agentId",
            )
        transfer = AgentTransfer(
            agent_id=target_id,
            from_agent_id=call.agent_id or "",
            started_at=now,
            expires_at=expires,
            participant_id=transfer_participant_id(call.id, attempt, target_id),
            attempt=attempt,
            agent_name=agent.value.display_name,
        )
        due = expires if call.due_at is None else min(call.due_at, expires)
        try:
            saved = await self.store.commit(
                current, replace(call, transfer=transfer, offers_made=attempt, due_at=due)
            )
        except StaleVersion:
            await self.store.release(call.tenant_id, target_id, call.id, None)
            raise
        _LOGGER.info("Transferring to agent %s", target_id, extra=log_extra(call))
        await self.alerts.offer_started(saved.value, target_id, now, card_first=False)
        try:
            await self.ctx.call_control.invite(
                call.id,
                Party(PartyKind.USER, target_id, transfer.agent_name, call.tenant_id),
                client_context=transfer_context(call.id, attempt, target_id),
                participant_id=transfer.participant_id,
            )
        except DomainError as err:
            _LOGGER.warning("Inviting %s failed: %s", target_id, err, extra=log_extra(call))
            await self._fail(saved, transfer, OfferEnd.WITHDRAWN, now, None, cancel=False)
        return transfer

    # ------------------------------------------------------ settling a transfer
    async def joined(
        self, current: Versioned[Call], participant_id: str | None, now: datetime, key: str | None
    ) -> None:
        """The target joined: they have the talk now, and the first agent leaves the call."""
        call = current.value
        transfer = call.transfer
        assert transfer is not None
        ttl = await self.store.record_ttl(call.tenant_id)
        reason = f"transferred to {transfer.agent_name or transfer.agent_id}"
        leg = build_leg_record(call, now, reason, ttl=ttl)
        keep_alive = timedelta(seconds=self.ctx.settings.keep_alive_s)
        handed = replace(
            call,
            agent_id=transfer.agent_id,
            agent_name=transfer.agent_name,
            answered_at=now,
            transferred_at=transfer.started_at,
            ring_s=elapsed_s(transfer.started_at, now),
            missed_agent_ids=(),
            declined_agent_ids=(),
            offer=None,
            transfer=None,
            legs=call.legs + 1,
            previous_leg=leg,
            agent_participant_id=participant_id or transfer.participant_id,
        )
        handed = talk_timers_kept(handed, now, self.ctx.settings)
        await self.store.commit(current, handed, key)
        _LOGGER.info("Transferred to agent %s", transfer.agent_id, extra=log_extra(call))
        await self.store.update_agent(
            call.tenant_id,
            transfer.agent_id,
            lambda a: (
                replace(
                    a,
                    activity=AgentActivity.ON_CALL,
                    missed_in_a_row=0,
                    due_at=now + keep_alive,
                )
                if a.current_call_id == call.id
                else None
            ),
        )
        await self._end_leg(call, leg, now)
        first = talking_participant(call)
        if first is not None:
            await self._remove(call, first)
        await self.alerts.offer_ended(handed, transfer.agent_id, OfferEnd.ANSWERED, now)

    async def failed(
        self, current: Versioned[Call], how: OfferEnd, now: datetime, key: str | None
    ) -> None:
        """The target declined or did not answer: the talk goes on as it was."""
        transfer = current.value.transfer
        assert transfer is not None
        await self._fail(current, transfer, how, now, key, cancel=how is OfferEnd.MISSED)

    async def _fail(
        self,
        current: Versioned[Call],
        transfer: AgentTransfer,
        how: OfferEnd,
        now: datetime,
        key: str | None,
        *,
        cancel: bool,
    ) -> None:
        call = current.value
        going_on = talk_timers_kept(replace(call, transfer=None), now, self.ctx.settings)
        try:
            await self.store.commit(current, going_on, key)
        except StaleVersion:
            # Changed meanwhile: clear the transfer on what is there now, if it is still on.
            await self.store.update_call(
                call.tenant_id,
                call.id,
                lambda c: replace(c, transfer=None) if c.transfer == transfer else None,
            )
        _LOGGER.info("Transfer to %s %s", transfer.agent_id, how.value, extra=log_extra(call))
        if cancel:
            await self._remove(call, transfer.participant_id)
        await self.store.release(call.tenant_id, transfer.agent_id, call.id, None)
        await self.alerts.offer_ended(call, transfer.agent_id, how, now)
