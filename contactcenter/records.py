"""Call records: what a finished call leaves behind for reports and exports."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from contactcenter.model import Call, CallOutcome, CallRecord


def _seconds(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None:
        return 0.0
    return max(0.0, (end - start).total_seconds())


def _came_from(call: Call) -> str:
    """Return where the call came to its last queue from: a queue, or the IVR."""
    if call.queue_hops:
        return call.queue_hops[-1]
    if call.ivr_id is not None:
        return f"ivr:{call.ivr_id}"
    return ""


def leg_record_id(call_id: str, leg: int) -> str:
    """Return the record id of a transferred call's ``leg``-th leg (the last has the call's)."""
    return f"{call_id}.leg{leg}"


def is_record_of(call_id: str, record_id: str) -> bool:
    """Tell whether ``record_id`` records the call ``call_id`` (its last leg or an earlier one)."""
    return record_id == call_id or record_id.startswith(f"{call_id}.leg")


def build_call_record(call: Call, *, ttl: int | None = None) -> CallRecord:
    """Return the record of a call that has ended (``outcome`` and ``ended_at`` set).

    An answered call's agent wraps up after it: the record says so (``wrap_up_pending``)
    and gets the wrap-up time the agent actually took when the wrap-up ends.
    """
    if call.outcome is None or call.ended_at is None:
        raise ValueError(f"call {call.id} has not ended")
    return _record(call, call.id, call.outcome, call.ended_at, ttl)


def build_leg_record(
    call: Call, ended_at: datetime, reason: str, *, ttl: int | None = None
) -> CallRecord:
    """Return the record of a talk an agent handed on (to a queue or another agent).

    The call goes on as a new leg; this one ended answered when the transfer took it over.
    """
    leg = replace(
        call, leave_reason=reason, result_code=None, result_subcode=None, result_message=""
    )
    return _record(leg, leg_record_id(call.id, call.legs + 1), CallOutcome.ANSWERED, ended_at, ttl)


def _record(
    call: Call, record_id: str, outcome: CallOutcome, ended_at: datetime, ttl: int | None
) -> CallRecord:
    answered = outcome is CallOutcome.ANSWERED and call.answered_at is not None
    # The current leg was offered when the call came in, or when an agent transferred it.
    offered_at = call.transferred_at or call.offered_at
    # A caller's wait runs from offered to connected, ring time included; for a call that
    # was never answered, until it left.
    wait_s = _seconds(offered_at, call.answered_at if answered else ended_at)
    wraps_up = answered and call.agent_id is not None and call.wrap_up_s > 0
    return CallRecord(
        id=record_id,
        tenant_id=call.tenant_id,
        chain_id=call.chain_id,
        direction=call.direction,
        caller=call.caller,
        queue_id=call.queue_id,
        queue_name=call.queue_name,
        offered_at=offered_at,
        ended_at=ended_at,
        outcome=outcome,
        came_from=_came_from(call),
        answered_at=call.answered_at if answered else None,
        wait_s=wait_s,
        ring_s=call.ring_s,
        talk_s=_seconds(call.answered_at, ended_at) if answered else 0.0,
        wrap_up_s=0.0,
        wrap_up_pending=wraps_up,
        met_service_level=answered and wait_s <= call.service_level_threshold_s,
        agent_id=call.agent_id if answered else None,
        agent_name=call.agent_name if answered else "",
        missed_agent_ids=call.missed_agent_ids,
        declined_agent_ids=call.declined_agent_ids,
        callback_request_id=call.callback_request_id,
        voicemail_id=call.voicemail_id,
        leave_reason=call.leave_reason,
        result_code=call.result_code,
        result_subcode=call.result_subcode,
        result_message=call.result_message,
        ivr_path=call.ivr_path,
        ttl=ttl,
    )
