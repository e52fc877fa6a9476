"""A talk handed to the agent by a transfer, where the bot may not invite agents.

A tenant that withholds ``Calls.InitiateGroupCall.All`` refuses every invitation (403);
the engine then transfers the caller to the agent it claimed instead (docs/ringing.md,
:meth:`Offers.transfer_instead`). Graph tells how the transfer went: ``transferAccepted``
and then ``terminated`` (7015) once the agent took the call, ``established`` again (with
603 or 408) when they did not. After that it tells nothing, since the bot is out of the
call: the talk's end is learned from the agent's Teams presence leaving the call. Should
the presence never have shown the call, the talk is taken to be over
``handover_presence_s`` after the transfer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contactcenter.end_reasons import EndReason
from contactcenter.engine.answers import Answers
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.endings import Endings
from contactcenter.engine.settings import DECLINED_CODE
from contactcenter.engine.store import CallStore
from contactcenter.model import Agent, AgentActivity, Call, CallState
from contactcenter.ports import OfferEnd
from contactcenter.repository import Versioned

_LOGGER = logging.getLogger(__name__)

# An agent's presence while in a call, as the agent document keeps it: the activity
# InACall, or the availability Busy for a call the activity does not name.
IN_A_CALL = frozenset({"InACall", "Busy"})


def rings_by_transfer(call: Call) -> bool:
    """Tell whether the call rings its agent by a transfer that Graph has not settled yet."""
    offer = call.offer
    return call.state is CallState.RINGING and offer is not None and offer.by_transfer


@dataclass(slots=True)
class Handover:
    """Connects an agent who took a transferred call, and ends the talk by their presence."""

    ctx: EngineContext
    store: CallStore
    endings: Endings
    answers: Answers

    async def accepted(self, current: Versioned[Call], now: datetime, key: str | None) -> None:
        """The agent took the transferred call: they talk, without the bot."""
        offer = current.value.offer
        assert offer is not None
        await self.answers.connect(current, offer.agent_ids[0], now, key, handed_over=True)

    async def refused(
        self, current: Versioned[Call], code: int | None, now: datetime, key: str | None
    ) -> None:
        """The agent did not take the transferred call (declined, not answered): ring on."""
        offer = current.value.offer
        assert offer is not None
        how = OfferEnd.DECLINED if code == DECLINED_CODE else OfferEnd.MISSED
        await self.answers.lapse(current, offer.agent_ids, how, now, key, cancel=False)

    async def presence_changed(self, before: Agent, after: Agent) -> None:
        """End the handed-over talk of an agent whose presence has just left the call."""
        call_id = after.current_call_id
        if (
            call_id is None
            or after.activity is not AgentActivity.ON_CALL
            or before.presence not in IN_A_CALL
            or after.presence in IN_A_CALL
        ):
            return

        async def decide(current: Versioned[Call]) -> None:
            call = current.value
            if call.state is CallState.CONNECTED and call.handed_over and call.agent_id == after.id:
                await self._end(current, self.ctx.clock.now())

        await self.endings.with_call(after.tenant_id, call_id, decide)

    async def due(self, current: Versioned[Call], now: datetime) -> None:
        """A handed-over talk's timer: end it once the agent's presence shows no call."""
        call = current.value
        agent = await self.store.read_agent(call.tenant_id, call.agent_id or "")
        value = agent.value if agent is not None else None
        answered = call.answered_at or now
        grace_over = now >= answered + timedelta(seconds=self.ctx.settings.handover_presence_s)
        if (
            value is None
            or value.current_call_id != call.id
            or (
                value.presence not in IN_A_CALL
                # A reading since the transfer, or none for too long: no call either way.
                and (
                    grace_over or (value.presence_at is not None and value.presence_at >= answered)
                )
            )
        ):
            await self._end(current, now)
            return
        due = now + timedelta(seconds=self.ctx.settings.reconcile_s)
        await self.store.commit(current, replace(call, due_at=due))

    async def _end(self, current: Versioned[Call], now: datetime) -> None:
        _LOGGER.info(
            "The agent's presence says the handed-over talk is over", extra=log_extra(current.value)
        )
        await self.endings.end_talk(
            current, now, None, hang_up=False, reason=EndReason.TRANSFERRED.value
        )
