"""Offering a call: claim agents, record the offer on the call, ring them.

Writes go claim first, then the call: each agent is claimed by compare-and-set on its own
document, then the offer is written on the call (if the call changed meanwhile, the claims
are undone), then the agents are rung, then what ringing them came to is recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from contactcenter.engine.alerts import Alerts
from contactcenter.engine.codecs import invitee_participant_id, offer_context
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.endings import Endings
from contactcenter.engine.store import CallStore
from contactcenter.engine.timing import close_offer, deadline, waiting_due
from contactcenter.errors import CallControlError, Conflict, DomainError, NotFound
from contactcenter.model import (
    Agent,
    AgentActivity,
    AlertingModel,
    Call,
    CallState,
    Offer,
    Party,
    PartyKind,
    Queue,
    RoutingMethod,
)
from contactcenter.ports import Invitation, OfferEnd
from contactcenter.repository import StaleVersion, Versioned

_LOGGER = logging.getLogger(__name__)

# Graph's answer to an invitation the bot's app has no permission for.
_FORBIDDEN = 403
# Refusals that do not say Graph rings one invitee at a time: no permission, no call,
# a timeout, throttling.
_NOT_ONE_AT_A_TIME = frozenset({_FORBIDDEN, 404, 408, 429})


def refuses_parallel_invites(err: DomainError) -> bool:
    """Tell whether a refused invitation says Graph rings one invitee at a time.

    Asked only when another invitation of the same offer rings already: Graph documents
    no answer to a second single-person invitation on a peer-to-peer call, so a refusal of
    the request itself (a 4xx) is read that way, whatever its code
    (docs/decisions/0020-graph-silent-points.md).
    """
    status = err.status if isinstance(err, CallControlError) else None
    return status is not None and 400 <= status < 500 and status not in _NOT_ONE_AT_A_TIME


def invites_forbidden(err: DomainError) -> bool:
    """Tell whether an invitation was refused for want of permission (``Calls.InitiateGroupCall.All``)."""
    return isinstance(err, CallControlError) and err.status == _FORBIDDEN


@dataclass(slots=True)
class OfferResult:
    """What trying to offer a call to a list of candidates came to."""

    committed: Versioned[Call] | None = None
    claimed: list[str] = field(default_factory=list)
    # Agents whose documents changed under us: the snapshots we held are no longer good.
    lost: list[str] = field(default_factory=list)
    stale: bool = False


class Ringer(Protocol):
    """Rings the agents claimed for one kind of call, once its offer is written."""

    async def ring(
        self, saved: Versioned[Call], agents: Sequence[Agent], now: datetime
    ) -> None: ...


@dataclass(slots=True)
class Offers:
    """Claims agents for calls and rings them; a queue call's agents are invited into it."""

    ctx: EngineContext
    store: CallStore
    alerts: Alerts
    endings: Endings
    # How a callback is rung (it reserves one agent and places a call): set by the engine
    # when it wires its layers.
    callback_ringer: Ringer = field(init=False)

    async def offer(
        self,
        current: Versioned[Call],
        call: Call,
        queue: Queue,
        candidates: Sequence[Versioned[Agent]],
        now: datetime,
        key: str | None,
    ) -> OfferResult:
        """Claim agents from ``candidates`` (in order) and ring them for the call."""
        result = OfferResult()
        if not candidates:
            return result
        # A callback reserves one agent, who is called (or joins the caller) when reached.
        ring_all = (
            queue.routing_method is RoutingMethod.ATTENDANT
            and call.callback is None
            and not self.ctx.ring_one_at_a_time
        )
        limit = self.ctx.settings.max_ring_agents if ring_all else 1
        expires = now + timedelta(seconds=queue.alert_time_s)
        claimed: list[Versioned[Agent]] = []
        before: dict[str, Agent] = {}
        for candidate in candidates:
            agent = candidate.value
            offered = dict(agent.last_offered_at)
            offered[queue.id] = now
            claim = replace(
                agent,
                activity=AgentActivity.RINGING,
                current_call_id=call.id,
                due_at=expires + timedelta(seconds=self.ctx.settings.claim_grace_s),
                last_offered_at=offered,
            )
            try:
                claimed.append(await self.ctx.repository.agents.save(claim, etag=candidate.etag))
            except (Conflict, NotFound):
                result.lost.append(agent.id)
                continue
            before[agent.id] = agent
            if len(claimed) >= limit:
                break
        if not claimed:
            return result
        attempt = call.offers_made + 1
        card_first = queue.alerting_model is AlertingModel.CARD_FIRST and call.callback is None
        agent_ids = tuple(a.value.id for a in claimed)
        offer = Offer(
            agent_ids=agent_ids,
            started_at=now,
            expires_at=expires,
            attempt=attempt,
            card_first=card_first,
            # Invitations name their participants in advance: written with the offer, what
            # Graph answers needs no second write unless it names others.
            participant_ids=(
                {}
                if card_first or call.callback is not None
                else {a: invitee_participant_id(call.id, attempt, a) for a in agent_ids}
            ),
        )
        ends = deadline(call, queue)
        ringing = replace(
            call,
            state=CallState.RINGING,
            offer=offer,
            offers_made=attempt,
            due_at=min(expires, ends) if ends is not None else expires,
        )
        try:
            saved = await self.store.commit(current, ringing, key)
        except StaleVersion:
            for held in claimed:
                await self._unclaim(held, before[held.value.id])
            result.stale = True
            return result
        for held in claimed:
            self.store.hint_agent(held.value)
        result.committed = saved
        result.claimed = [a.value.id for a in claimed]
        _LOGGER.info(
            "Offering call to %s (attempt %s)",
            ", ".join(result.claimed),
            attempt,
            extra=log_extra(call),
        )
        await self._ring(saved, [a.value for a in claimed], now)
        return result

    async def _unclaim(self, claimed: Versioned[Agent], before: Agent) -> None:
        """Undo a claim whose call changed before the offer was recorded."""
        try:
            await self.ctx.repository.agents.save(before, etag=claimed.etag)
        except (Conflict, NotFound):
            # Changed again since: release it the careful way.
            await self.store.release(claimed.value.tenant_id, claimed.value.id, before.id, None)

    async def _ring(self, saved: Versioned[Call], agents: Sequence[Agent], now: datetime) -> None:
        """Invite the claimed agents (or, card-first, send them the card)."""
        call = saved.value
        offer = call.offer
        assert offer is not None
        if call.callback is not None:
            await self.callback_ringer.ring(saved, agents, now)
            return
        if offer.card_first:
            for agent in agents:
                await self.alerts.offer_started(call, agent.id, now, card_first=True)
            return
        participant_ids: dict[str, str] = {}
        failed: list[str] = []
        one_at_a_time = False
        for index, agent in enumerate(agents):
            if one_at_a_time:
                failed.append(agent.id)  # their turn comes if this offer lapses
                continue
            try:
                invitation = await self.invite(call, offer, agent.id, agent.display_name)
            except NotFound:
                # Graph no longer knows the call: nobody is left to ring for.
                _LOGGER.warning("Call vanished while inviting", extra=log_extra(call))
                await self.endings.end_vanished(call.tenant_id, call.id)
                return
            except DomainError as err:
                if not participant_ids and invites_forbidden(err):
                    rest = [a.id for a in agents[index + 1 :]]
                    await self.transfer_instead(saved, agent, rest, now, err)
                    return
                if participant_ids and refuses_parallel_invites(err):
                    _LOGGER.warning(
                        "Graph rings one invitee at a time (%s): ringing agents one by one",
                        err,
                        extra=log_extra(call),
                    )
                    self.ctx.ring_one_at_a_time = one_at_a_time = True
                else:
                    _LOGGER.warning("Inviting %s failed: %s", agent.id, err, extra=log_extra(call))
                failed.append(agent.id)
                continue
            participant_ids[agent.id] = invitation.participant_id or ""
            await self.alerts.offer_started(call, agent.id, now, card_first=False)
        await self.record_invitations(
            saved, offer.attempt, participant_ids, failed, now, match=one_at_a_time
        )

    async def transfer_instead(
        self,
        saved: Versioned[Call],
        agent: Agent,
        others: Sequence[str],
        now: datetime,
        refusal: DomainError,
    ) -> None:
        """Ring the agent by transferring the call to them: the bot may not invite.

        A transfer takes one target: the offer's other agents are let go. Graph's answer
        (``transferAccepted``, or the call back with the bot) settles the offer; its expiry
        waits for Teams to give up ringing (``transfer_timeout_s``), since a transfer
        cannot be withdrawn.
        """
        call = saved.value
        offer = call.offer
        assert offer is not None
        _LOGGER.warning(
            "Inviting agents is not permitted (%s): transferring the call to %s",
            refusal,
            agent.id,
            extra=log_extra(call),
        )
        self.ctx.ring_one_at_a_time = True
        target = Party(PartyKind.USER, agent.id, agent.display_name, call.tenant_id)
        try:
            await self.ctx.call_control.transfer(call.id, target)
        except NotFound:
            await self.endings.end_vanished(call.tenant_id, call.id)
            return
        except DomainError as err:
            _LOGGER.warning("Transferring to %s failed: %s", agent.id, err, extra=log_extra(call))
            await self.record_invitations(
                saved, offer.attempt, {}, [agent.id, *others], now, match=True
            )
            return
        await self.alerts.offer_started(call, agent.id, now, card_first=False)
        expires = now + timedelta(seconds=self.ctx.settings.transfer_timeout_s)
        queue = await self.store.queue(call.tenant_id, call.queue_id)
        ends = deadline(call, queue) if queue is not None else None

        def by_transfer(current: Call) -> Call | None:
            ringing = current.offer
            if (
                current.state is not CallState.RINGING
                or ringing is None
                or ringing.attempt != offer.attempt
            ):
                return None
            transferring = replace(
                ringing,
                agent_ids=(agent.id,),
                participant_ids={},
                by_transfer=True,
                expires_at=expires,
            )
            return replace(
                current,
                offer=transferring,
                due_at=min(expires, ends) if ends is not None else expires,
            )

        await self.store.update_call(call.tenant_id, call.id, by_transfer, first=saved)
        freed: list[Versioned[Agent]] = []
        for other in others:
            released = await self.store.release(call.tenant_id, other, call.id, None)
            if released is not None:
                freed.append(released)
        if freed:
            await self.endings.matcher.match(call.tenant_id, freed, now)

    async def invite(
        self, call: Call, offer: Offer, agent_id: str, display_name: str
    ) -> Invitation:
        """Invite an agent into the call for an offer (the participant id derives from it)."""
        return await self.ctx.call_control.invite(
            call.id,
            Party(PartyKind.USER, agent_id, display_name, call.tenant_id),
            client_context=offer_context(call.id, offer.attempt, agent_id),
            participant_id=invitee_participant_id(call.id, offer.attempt, agent_id),
        )

    async def record_invitations(
        self,
        saved: Versioned[Call],
        attempt: int,
        participant_ids: Mapping[str, str],
        failed: Sequence[str],
        now: datetime,
        *,
        carded: bool = False,
        match: bool = False,
    ) -> None:
        """Keep the participant ids (to cancel invitations) and drop failed invitations.

        ``carded``: the agents whose invitation failed have an offer card to update;
        ``match``: they were not at fault, and may take other waiting calls at once.
        """
        written = saved.value.offer.participant_ids if saved.value.offer is not None else {}
        participant_ids = {a: p for a, p in participant_ids.items() if p and p != written.get(a)}
        if not failed and not participant_ids:
            return
        call_id, tenant_id = saved.value.id, saved.value.tenant_id
        dropped: list[str] = []

        async def record(call: Call) -> Call | None:
            nonlocal dropped
            offer = call.offer
            if call.state is not CallState.RINGING or offer is None or offer.attempt != attempt:
                return None
            ids = dict(offer.participant_ids)
            ids.update({a: p for a, p in participant_ids.items() if a in offer.agent_ids})
            dropped = [a for a in failed if a in offer.agent_ids]
            remaining = tuple(a for a in offer.agent_ids if a not in dropped)
            if remaining:
                ids = {a: p for a, p in ids.items() if a in remaining}
                return replace(call, offer=replace(offer, agent_ids=remaining, participant_ids=ids))
            # Nobody could be invited: wait, and ring again a little later.
            queue = await self.store.queue(tenant_id, call.queue_id)
            due = now + timedelta(seconds=self.ctx.settings.ring_retry_s)
            if queue is not None:
                due = min(due, waiting_due(call, queue, now, self.ctx.settings.keep_alive_s))
            waiting, _ = close_offer(call, replace(call, state=CallState.WAITING, due_at=due), now)
            return waiting

        await self.store.update_call(tenant_id, call_id, record, first=saved)
        freed: list[Versioned[Agent]] = []
        for agent_id in dropped:
            # Not the agent's fault: no missed offer. The agent is not offered the call at
            # once again, so a failing invitation cannot loop.
            released = await self.store.release(tenant_id, agent_id, call_id, None)
            if released is not None:
                freed.append(released)
            if carded:
                await self.alerts.offer_ended(saved.value, agent_id, OfferEnd.WITHDRAWN, now)
        if match and freed:
            await self.endings.matcher.match(tenant_id, freed, now)
