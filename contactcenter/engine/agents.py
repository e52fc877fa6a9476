"""What agents do: sign in and out, set their status, accept or decline an offer.

An agent who becomes free for calls (available, signed in, wrap-up over) is offered the
best waiting call at once: nothing else would tell the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contactcenter.engine.answers import Answers
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.endings import Endings
from contactcenter.engine.handover import Handover
from contactcenter.engine.matching import Matching
from contactcenter.engine.offers import Offers, invites_forbidden
from contactcenter.engine.store import CallStore
from contactcenter.engine.timing import deadline
from contactcenter.engine.wrapups import WrapUps
from contactcenter.errors import DomainError, InvalidInput, NotFound
from contactcenter.model import Agent, AgentActivity, AgentStatus, Call, CallState
from contactcenter.ports import OfferEnd
from contactcenter.repository import Versioned

_LOGGER = logging.getLogger(__name__)

# An agent's Teams activities that say more than their availability Busy.
_TELLING_ACTIVITIES = frozenset({"InAMeeting", "InACall", "Presenting"})


def _became_available(agent: Agent, now: datetime) -> Agent:
    if agent.activity is AgentActivity.IDLE:
        return replace(agent, idle_since=now)
    return agent


@dataclass(slots=True)
class AgentActions:
    """Changes agents' own state, and settles card-first offers they accept or decline."""

    ctx: EngineContext
    store: CallStore
    endings: Endings
    offers: Offers
    matching: Matching
    answers: Answers
    handover: Handover
    wrapups: WrapUps

    async def sign_in(self, tenant_id: str, agent_id: str, queue_id: str) -> Agent:
        """Sign the agent in to a queue they are a member of (available if they were offline)."""
        self.ctx.queues.forget((tenant_id, queue_id))  # membership must be current
        queue = await self.store.queue(tenant_id, queue_id)
        if queue is None or agent_id not in queue.members:
            raise InvalidInput(f"{agent_id} is not a member of queue {queue_id}", field="queueId")
        now = self.ctx.clock.now()

        def signed_in(agent: Agent) -> Agent | None:
            if queue_id in agent.signed_in_queue_ids and agent.status is not AgentStatus.OFFLINE:
                return None
            new = replace(agent, signed_in_queue_ids=agent.signed_in_queue_ids | {queue_id})
            if agent.status is AgentStatus.OFFLINE:
                new = replace(new, status=AgentStatus.AVAILABLE, not_ready_reason=None)
                new = _became_available(new, now)
            return new

        return await self._change(tenant_id, agent_id, signed_in, now)

    async def sign_out(self, tenant_id: str, agent_id: str, queue_id: str | None = None) -> Agent:
        """Sign the agent out of one queue, or out of every queue (and offline)."""
        now = self.ctx.clock.now()

        def signed_out(agent: Agent) -> Agent | None:
            if queue_id is None:
                return replace(
                    agent,
                    signed_in_queue_ids=frozenset(),
                    status=AgentStatus.OFFLINE,
                    not_ready_reason=None,
                )
            if queue_id not in agent.signed_in_queue_ids:
                return None
            return replace(agent, signed_in_queue_ids=agent.signed_in_queue_ids - {queue_id})

        return await self._change(tenant_id, agent_id, signed_out, now)

    async def set_status(
        self, tenant_id: str, agent_id: str, status: AgentStatus, reason: str | None = None
    ) -> Agent:
        """Set what the agent chose (available, away...); available agents get waiting calls."""
        now = self.ctx.clock.now()

        def with_status(agent: Agent) -> Agent | None:
            if agent.status is status and agent.not_ready_reason == reason:
                return None
            new = replace(agent, status=status, not_ready_reason=reason)
            if status is AgentStatus.AVAILABLE and agent.status is not AgentStatus.AVAILABLE:
                new = _became_available(replace(new, missed_in_a_row=0), now)
            return new

        return await self._change(tenant_id, agent_id, with_status, now)

    async def update_presence(
        self, tenant_id: str, agent_id: str, availability: str, *, activity: str | None = None
    ) -> Agent:
        """Record the agent's Teams presence; one that now allows calls gets waiting calls."""
        now = self.ctx.clock.now()
        # An activity such as InAMeeting says more than the availability Busy.
        presence = activity if activity in _TELLING_ACTIVITIES else None
        value = presence or availability

        def with_presence(agent: Agent) -> Agent | None:
            if agent.presence == value:
                return None
            return replace(agent, presence=value, presence_at=now)

        before, after = await self._apply(tenant_id, agent_id, with_presence, now)
        if before is not None:
            # A talk handed over by a transfer ends as the agent's presence leaves the call.
            await self.handover.presence_changed(before, after)
        return after

    async def end_wrap_up(self, tenant_id: str, agent_id: str) -> Agent:
        """End the agent's wrap-up now (they are ready before the queue's wrap-up time).

        The record gets the wrap-up time taken until now, not the queue's.
        """
        now = self.ctx.clock.now()
        saved = await self.wrapups.finish(tenant_id, agent_id, now)
        if saved is None:
            found = await self.store.read_agent(tenant_id, agent_id)
            if found is None:
                raise InvalidInput(f"no agent {agent_id}", field="agentId")
            return found.value
        return await self._offer_if_free(tenant_id, saved, now)

    async def extend_wrap_up(self, tenant_id: str, agent_id: str) -> Agent:
        """Give the agent their queue's extra wrap-up time, once per wrap-up."""
        try:
            return await self.wrapups.extend(tenant_id, agent_id)
        except NotFound:
            raise InvalidInput(f"no agent {agent_id}", field="agentId") from None

    async def _change(
        self,
        tenant_id: str,
        agent_id: str,
        change: Callable[[Agent], Agent | None],
        now: datetime,
    ) -> Agent:
        """Apply an agent's own change; if it made them free for calls, offer them one."""
        _, agent = await self._apply(tenant_id, agent_id, change, now)
        return agent

    async def _apply(
        self,
        tenant_id: str,
        agent_id: str,
        change: Callable[[Agent], Agent | None],
        now: datetime,
    ) -> tuple[Agent | None, Agent]:
        """Apply an agent's own change; return them as it found them (None: unchanged) and now."""
        store = self.store

        def stamped(agent: Agent) -> Agent | None:
            new = change(agent)
            return None if new is None else new.with_status_since(agent, now)

        try:
            updated = await self.ctx.repository.agents.apply(
                tenant_id, agent_id, stamped, after_save=store.agent_saved
            )
        except NotFound:
            raise InvalidInput(f"no agent {agent_id}", field="agentId") from None
        saved = updated.after
        assert saved is not None
        if not updated.changed or updated.before is None:
            return None, saved.value
        return updated.before.value, await self._offer_if_free(tenant_id, saved, now)

    async def _offer_if_free(self, tenant_id: str, saved: Versioned[Agent], now: datetime) -> Agent:
        """Offer an agent who is now free for calls the best waiting call; return them."""
        agent = saved.value
        if agent.activity is AgentActivity.IDLE and agent.status is AgentStatus.AVAILABLE:
            await self.matching.match(tenant_id, [saved], now)
            reread = await self.store.read_agent(tenant_id, agent.id)
            if reread is not None:
                return reread.value
        return agent

    async def route_waiting_calls(self, tenant_id: str, queue_id: str) -> None:
        """Offer the queue's waiting calls to its idle agents (after a configuration change)."""
        self.ctx.queues.forget((tenant_id, queue_id))
        queue = await self.store.queue(tenant_id, queue_id)
        if queue is None:
            return
        await self.matching.offer_to_eligible(tenant_id, queue, self.ctx.clock.now())

    # --------------------------------------------------- card-first offers
    async def accept_offer(self, tenant_id: str, call_id: str, agent_id: str) -> bool:
        """Accept a card-first offer: ring the agent's Teams client; False if it is gone."""
        accepted = False

        async def decide(current: Versioned[Call]) -> None:
            nonlocal accepted
            call = current.value
            offer = call.offer
            now = self.ctx.clock.now()
            if (
                call.state is not CallState.RINGING
                or offer is None
                or agent_id not in offer.agent_ids
                or not offer.card_first
                or agent_id in offer.participant_ids
                or offer.expires_at <= now
            ):
                return
            store = self.store
            alert_time = offer.expires_at - offer.started_at
            others = [a for a in offer.agent_ids if a != agent_id]
            ringing = replace(
                offer,
                agent_ids=(agent_id,),
                expires_at=now + alert_time,
                participant_ids={agent_id: ""},
            )
            queue = await store.queue(call.tenant_id, call.queue_id)
            ends = deadline(call, queue) if queue is not None else None
            due = ringing.expires_at if ends is None else min(ringing.expires_at, ends)
            saved = await store.commit(current, replace(call, offer=ringing, due_at=due), None)
            accepted = True
            await self.endings.withdraw(
                call, offer, others, OfferEnd.TAKEN_BY_OTHER, now, match=True
            )
            grace = timedelta(seconds=self.ctx.settings.claim_grace_s)
            await store.update_agent(
                tenant_id,
                agent_id,
                lambda a: (
                    replace(a, due_at=ringing.expires_at + grace)
                    if a.current_call_id == call_id
                    else None
                ),
            )
            agent = await store.read_agent(tenant_id, agent_id)
            display_name = agent.value.display_name if agent is not None else ""
            offers = self.offers
            try:
                invitation = await offers.invite(call, offer, agent_id, display_name)
            except NotFound:
                await self.endings.end_vanished(tenant_id, call_id)
                return
            except DomainError as err:
                if invites_forbidden(err) and agent is not None:
                    await offers.transfer_instead(saved, agent.value, (), now, err)
                    return
                _LOGGER.warning("Inviting %s failed: %s", agent_id, err, extra=log_extra(call))
                await offers.record_invitations(
                    saved, offer.attempt, {}, [agent_id], now, carded=True
                )
                return
            await offers.record_invitations(
                saved, offer.attempt, {agent_id: invitation.participant_id or ""}, [], now
            )

        await self.endings.with_call(tenant_id, call_id, decide)
        return accepted

    async def decline_offer(self, tenant_id: str, call_id: str, agent_id: str) -> bool:
        """Decline an offer from the card: release the agent and ring the next one."""
        declined = False

        async def decide(current: Versioned[Call]) -> None:
            nonlocal declined
            call = current.value
            offer = call.offer
            if call.state is not CallState.RINGING or offer is None:
                return
            if agent_id not in offer.agent_ids:
                return
            declined = True
            await self.answers.lapse(
                current, (agent_id,), OfferEnd.DECLINED, self.ctx.clock.now(), None, cancel=True
            )

        await self.endings.with_call(tenant_id, call_id, decide)
        return declined
