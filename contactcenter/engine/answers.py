"""What an offer comes to: an agent answers (connect), or the offer lapses for some agents
(declined, missed, the alert time over) and the call is routed on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contactcenter.engine.alerts import Alerts
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.endings import Endings
from contactcenter.engine.matching import Matching
from contactcenter.engine.prompts import Prompts
from contactcenter.engine.queueing import Queueing
from contactcenter.engine.settings import ActionTrigger
from contactcenter.engine.store import CallStore
from contactcenter.engine.timing import (
    close_offer,
    deadline,
    elapsed_s,
    talk_timers,
    waiting_due,
)
from contactcenter.errors import Conflict, NotFound
from contactcenter.model import (
    Agent,
    AgentActivity,
    AgentStatus,
    Call,
    CallOutcome,
    CallState,
)
from contactcenter.ports import OfferEnd
from contactcenter.repository import Versioned

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class Answers:
    """Connects the agent who answered, and routes on a call whose offer lapsed."""

    ctx: EngineContext
    store: CallStore
    prompts: Prompts
    alerts: Alerts
    endings: Endings
    matching: Matching
    queueing: Queueing

    async def connect(
        self,
        current: Versioned[Call],
        agent_id: str,
        now: datetime,
        key: str | None,
        *,
        handed_over: bool = False,
    ) -> None:
        """Connect the call to the agent who answered; withdraw every other invitation.

        ``handed_over``: the agent took the call by a transfer, and the bot is out of it.
        """
        call = current.value
        offer = call.offer
        assert offer is not None
        store = self.store
        agents = self.ctx.repository.agents
        agent = agents.last_known(call.tenant_id, agent_id)
        if agent is None or agent.value.current_call_id != call.id:
            # A claim remembered holds if the call's write below wins (a claim is released
            # only with its offer, or once the call rings no more) and the agent's proves
            # it; its absence is only believed as read now.
            try:
                agent = await agents.get(call.tenant_id, agent_id)
            except NotFound:
                agent = None
        if agent is None or agent.value.current_call_id != call.id:
            # The claim is not there (never written, or released by a racing handler): the
            # agent must not talk to a caller the engine does not route to them.
            _LOGGER.error(
                "Answer by %s without a claim on the call", agent_id, extra=log_extra(call)
            )
            await self.lapse(current, (agent_id,), OfferEnd.MISSED, now, key, cancel=True)
            return
        keep_alive = timedelta(seconds=self.ctx.settings.keep_alive_s)
        connected = talk_timers(
            replace(
                call,
                state=CallState.CONNECTED,
                agent_id=agent_id,
                agent_name=agent.value.display_name,
                answered_at=now,
                ring_s=call.ring_s + elapsed_s(offer.started_at, now),
                handed_over=handed_over,
            ),
            now,
            self.ctx.settings,
        )
        saved = await store.commit(current, connected, key)
        on_call = replace(
            agent.value,
            activity=AgentActivity.ON_CALL,
            missed_in_a_row=0,
            due_at=now + keep_alive,
        )
        talking: Agent | None = on_call
        try:
            await store.save_agent(agent, on_call)
        except (Conflict, NotFound):
            talking = None  # the card reads the agent as the update leaves it
            await store.update_agent(
                call.tenant_id,
                agent_id,
                lambda a: (
                    replace(a, activity=AgentActivity.ON_CALL, missed_in_a_row=0)
                    if a.current_call_id == call.id
                    else None
                ),
            )
        _LOGGER.info("Connected to %s", agent_id, extra=log_extra(call))
        if self.ctx.media_on and not handed_over:
            await self.prompts.cancel_media(call)
        await self.alerts.offer_ended(saved.value, agent_id, OfferEnd.ANSWERED, now, agent=talking)
        others = [a for a in offer.agent_ids if a != agent_id]
        await self.endings.withdraw(call, offer, others, OfferEnd.TAKEN_BY_OTHER, now, match=True)

    async def lapse(
        self,
        current: Versioned[Call],
        agent_ids: Sequence[str],
        how: OfferEnd,
        now: datetime,
        key: str | None,
        *,
        cancel: bool,
    ) -> None:
        """End these agents' offers unanswered (a missed offer each) and route the call on.

        A decline is a missed offer too, and is also recorded as declined.
        """
        call = current.value
        offer = call.offer
        assert offer is not None
        ended = [a for a in offer.agent_ids if a in agent_ids]
        if not ended:
            return
        store = self.store
        remaining = tuple(a for a in offer.agent_ids if a not in ended)
        missed = (*call.missed_agent_ids, *ended)
        declined = call.declined_agent_ids
        if how is OfferEnd.DECLINED:
            declined = (*declined, *ended)
        queue = await store.queue(call.tenant_id, call.queue_id)
        if remaining:
            ids = {a: p for a, p in offer.participant_ids.items() if a in remaining}
            new = replace(
                call,
                missed_agent_ids=missed,
                declined_agent_ids=declined,
                offer=replace(offer, agent_ids=remaining, participant_ids=ids),
            )
        else:
            due = (
                waiting_due(call, queue, now, self.ctx.settings.keep_alive_s)
                if queue is not None
                else now
            )
            new, _ = close_offer(
                call,
                replace(
                    call,
                    state=CallState.WAITING,
                    missed_agent_ids=missed,
                    declined_agent_ids=declined,
                    due_at=due,
                ),
                now,
            )
        saved = await store.commit(current, new, key)
        freed: list[Versioned[Agent]] = []
        for agent_id in ended:
            if cancel:
                await self.endings.cancel_invitation(call, offer, agent_id)
            released = await store.release(call.tenant_id, agent_id, call.id, queue, miss=True)
            if released is not None and released.value.status is not AgentStatus.AVAILABLE:
                await self.alerts.offer_ended(call, agent_id, OfferEnd.SET_AWAY, now)
            else:
                await self.alerts.offer_ended(call, agent_id, how, now)
            if released is not None:
                freed.append(released)
        _LOGGER.info("Offer %s for %s", how.value, ", ".join(ended), extra=log_extra(call))
        matching = self.matching
        if remaining:
            if freed:
                await matching.match(call.tenant_id, freed, now)
            return
        if queue is None:
            await self.endings.finish(saved, CallOutcome.FAILED, "queue deleted", now)
            await matching.match(call.tenant_id, freed, now)
            return
        ends = deadline(saved.value, queue)
        if ends is not None and now >= ends:
            await self.queueing.run_action(
                saved, saved.value, queue, ActionTrigger.TIMEOUT, now, None
            )
            await matching.match(call.tenant_id, freed, now)
            return
        await matching.route_on(saved, queue, freed, now)
