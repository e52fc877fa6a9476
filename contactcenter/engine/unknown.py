"""Calls no host knows: a notification about a call without a live document.

The incoming notification of such a call never reached a host that kept it (a host down
or restarting, another host's crash before it wrote the call), and what follows is all
the contact center hears of it. Left alone, the call would be in no report, and, still up
at Graph, leave its caller hearing nobody. So the first notification about it records it
(outcome and Graph's reason when Graph ended it, else failed: nobody handled it) and a
call Graph still holds is hung up. The record's id is the call's, as every record's: a
call ended, redirected or rejected by the contact center has its record already, and a
redelivery or the next notification finds it, so this happens once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from contactcenter.end_reasons import end_reason, unanswered_outcome
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.store import CallStore
from contactcenter.errors import Conflict, DomainError
from contactcenter.events import CallEvent, CallStateChanged, GraphCallState
from contactcenter.model import Call, CallOutcome, CallState, Party, PartyKind
from contactcenter.records import build_call_record

_LOGGER = logging.getLogger(__name__)

# The leave reason of a call no host knew, before what ended it.
UNKNOWN_CALL = "no host knew the call"


@dataclass(slots=True)
class UnknownCalls:
    """Records, once, a call that is notified about but that no host knows."""

    ctx: EngineContext
    store: CallStore

    async def notified(self, event: CallEvent) -> None:
        """Record the call a notification is about (and hang it up if Graph still holds it)."""
        terminated = (
            isinstance(event, CallStateChanged) and event.state is GraphCallState.TERMINATED
        )
        if isinstance(event, CallStateChanged) and terminated:
            why = end_reason(event.result_code, event.result_subcode, event.termination_reason)
            outcome = unanswered_outcome(why)
            reason = f"{UNKNOWN_CALL}: {why.value}"
            result = (
                event.result_code,
                event.result_subcode,
                event.result_message or event.termination_reason,
            )
        else:
            outcome, reason, result = (
                CallOutcome.FAILED,
                f"{UNKNOWN_CALL}: hung up",
                (None, None, ""),
            )
        now = self.ctx.clock.now()
        call = Call(
            id=event.call_id,
            tenant_id=event.tenant_id,
            # The incoming notification named the caller and the line; it is what was lost.
            caller=Party(PartyKind.ANONYMOUS),
            target_id="",
            state=CallState.ENDED,
            received_at=now,
            ended_at=now,
            outcome=outcome,
            leave_reason=reason,
            result_code=result[0],
            result_subcode=result[1],
            result_message=result[2],
        )
        try:
            created = await self.ctx.repository.call_records.create(
                build_call_record(call, ttl=await self.store.record_ttl(call.tenant_id))
            )
        except Conflict:
            return  # recorded already: by whoever ended it, or by an earlier notification
        self.store.mark_ended(call)
        _LOGGER.warning(
            "A call no host knew was recorded (%s): %s",
            outcome.value,
            reason,
            extra=log_extra(event),
        )
        if not terminated:
            # Graph still holds it, and nobody here will handle it.
            try:
                await self.ctx.call_control.hang_up(call.id)
            except DomainError as err:
                _LOGGER.info("Hang-up: %s", err, extra=log_extra(event))
        if self.ctx.on_record is not None:
            await self.ctx.on_record(created.value)
