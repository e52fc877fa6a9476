"""The agent's after-call work: my recent calls with their dispositions, and my callbacks.

My recent calls are those I took and those I missed (offered to me, declined or not
answered: ``missedAgentIds`` on the record). The store answers no "list contains"
question, so missed calls are found among the newest records of my queues, at most
:data:`MISSED_SCAN` of each, within the time my own recent calls span.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from contactcenter.callbacks import is_e164
from contactcenter.codec import format_timestamp
from contactcenter.dispositions import (
    DISPOSITION_WINDOW,
    Disposition,
    DispositionClosed,
    NotYourCall,
    can_dispose,
    disposable_until,
    queue_codes,
    record_disposition,
)
from contactcenter.errors import NotFound
from contactcenter.model import (
    Call,
    CallbackAttempt,
    CallbackRequest,
    CallbackStatus,
    CallOutcome,
    CallRecord,
    CallState,
    PartyKind,
    Queue,
)
from contactcenter.ports import Condition, Op
from contactcenter.repository import Repository
from contactcenter.routing import call_order_key
from tab.derived_shapes import fill
from tab.endpoints import ApiError, TabRequest
from tab.live import party_view
from tab.schemas import CallRecordView, CallsView
from tab.work_schemas import (
    CallbackAttemptView,
    CallbackProgress,
    DispositionBody,
    MyCallbacksView,
    MyCallbackView,
)

_LOGGER = logging.getLogger(__name__)

MISSED_SCAN = 200
"""Records of each of my queues looked through for calls I missed."""

RECENT_CALLBACKS = timedelta(days=1)
RECENT_CALLBACKS_SHOWN = 20


# ------------------------------------------------------------------ recent calls
def call_record_view(
    record: CallRecord,
    *,
    agent_id: str,
    codes: Sequence[str],
    now: datetime,
    my_queue: bool = False,
) -> CallRecordView:
    """Return a record as its agent (or an agent who missed it) sees it.

    ``my_queue``: the record's queue is one of the agent's (who may then have it called back).
    """
    mine = record.agent_id == agent_id
    return fill(
        CallRecordView,
        record,
        missed=not mine and agent_id in record.missed_agent_ids,
        disposition_codes=list(codes) if mine else [],
        disposable_until=disposable_until(record) if can_dispose(record, agent_id, now) else None,
        can_call_back=my_queue and may_call_back(record),
    )


def may_call_back(record: CallRecord) -> bool:
    """Tell whether a finished call may be called back: nobody answered it, from a number."""
    return (
        record.outcome is not CallOutcome.ANSWERED
        and record.callback_request_id is None
        and record.caller.kind is PartyKind.PHONE
        and is_e164(record.caller.id)
    )


async def my_recent_records(
    repository: Repository,
    tenant_id: str,
    agent_id: str,
    queues: Iterable[Queue],
    *,
    limit: int,
) -> list[CallRecord]:
    """Return the calls I took and those I missed, newest first, at most ``limit``."""
    newest_first = (("endedAt", True),)
    taken = [
        found.value
        for found in await repository.call_records.find(
            tenant_id, (Condition("agentId", Op.EQ, agent_id),), order_by=newest_first, limit=limit
        )
    ]
    # With a full page of my own calls, older missed calls would not be shown anyway.
    since = (
        (Condition("endedAt", Op.GE, format_timestamp(taken[-1].ended_at)),)
        if len(taken) >= limit
        else ()
    )
    scans = await asyncio.gather(
        *(
            repository.call_records.find(
                tenant_id,
                (Condition("queueId", Op.EQ, queue.id), *since),
                order_by=newest_first,
                limit=MISSED_SCAN,
            )
            for queue in queues
            if agent_id in queue.members
        )
    )
    missed = [
        found.value
        for scan in scans
        for found in scan
        if agent_id in found.value.missed_agent_ids and found.value.agent_id != agent_id
    ]
    merged = {record.id: record for record in (*taken, *missed)}
    return sorted(merged.values(), key=lambda r: (r.ended_at, r.id), reverse=True)[:limit]


async def recent_calls_view(call: TabRequest, limit: int) -> CallsView:
    """Return my most recent calls, newest first: taken (with dispositions) and missed."""
    caller = call.caller
    repository = call.deps.repository
    queues = [found.value for found in await repository.queues.find(caller.tenant_id)]
    codes = {queue.id: queue.disposition_codes for queue in queues}
    mine = {queue.id for queue in queues if caller.user_id in queue.members}
    records = await my_recent_records(
        repository, caller.tenant_id, caller.user_id, queues, limit=limit
    )
    now = call.deps.clock.now()
    return CallsView(
        calls=[
            call_record_view(
                r,
                agent_id=caller.user_id,
                codes=codes.get(r.queue_id or "", ()),
                now=now,
                my_queue=r.queue_id in mine,
            )
            for r in records
        ]
    )


# ------------------------------------------------------------------ dispositions
async def dispose_call(call: TabRequest) -> CallRecordView:
    """Record what my call was about (a code of its queue and a note), or change it."""
    body = call.body(DispositionBody)
    caller = call.caller
    repository = call.deps.repository
    call_id = call.param("callId")
    now = call.deps.clock.now()
    try:
        record = await record_disposition(
            repository,
            caller.tenant_id,
            call_id,
            Disposition(body.code, body.note),
            agent_id=caller.user_id,
            now=now,
        )
    except NotYourCall as err:
        raise _not_your_call() from err
    except DispositionClosed as err:
        raise ApiError(
            409,
            f"this call ended more than {DISPOSITION_WINDOW.total_seconds() / 3600:g} hours "
            "ago: its disposition can no longer change",
            code="dispositionClosed",
        ) from err
    except NotFound:
        raise await _without_record(repository, caller.tenant_id, call_id, caller.user_id) from None
    _LOGGER.info(
        "Disposition recorded",
        extra={"call_id": call_id, "tenant_id": caller.tenant_id},
    )
    codes = await queue_codes(repository, caller.tenant_id, record.queue_id)
    return call_record_view(record, agent_id=caller.user_id, codes=codes, now=now)


def _not_your_call() -> ApiError:
    return ApiError(
        403, "only the agent who took this call can record its disposition", code="notYourCall"
    )


async def _without_record(
    repository: Repository, tenant_id: str, call_id: str, agent_id: str
) -> ApiError:
    """Return why a call without a record cannot be disposed: unknown, not mine, not ended."""
    try:
        live = (await repository.calls.get(tenant_id, call_id)).value
    except NotFound:
        return ApiError(404, "no such call")
    if live.agent_id != agent_id:
        return _not_your_call()
    return ApiError(
        409,
        "this call has no record yet: record its disposition once the call has ended",
        code="callNotEnded",
    )


# --------------------------------------------------------------------- callbacks
async def my_callbacks(call: TabRequest) -> MyCallbacksView:
    """List the callbacks of my queues: those not yet done, in serving order, and recent ones."""
    caller = call.caller
    repository = call.deps.repository
    now = call.deps.clock.now()
    mine = [
        found.value
        for found in await repository.queues.find(caller.tenant_id)
        if caller.user_id in found.value.members
    ]
    since = format_timestamp(now - RECENT_CALLBACKS)
    live_calls, finished = await asyncio.gather(
        asyncio.gather(
            *(
                repository.calls.find(caller.tenant_id, (Condition("queueId", Op.EQ, q.id),))
                for q in mine
            )
        ),
        asyncio.gather(
            *(
                repository.callbacks.find(
                    caller.tenant_id,
                    (Condition("queueId", Op.EQ, q.id), Condition("endedAt", Op.GE, since)),
                    order_by=(("endedAt", True),),
                    limit=RECENT_CALLBACKS_SHOWN,
                )
                for q in mine
            )
        ),
    )
    waiting: list[MyCallbackView] = []
    for queue, found in zip(mine, live_calls, strict=True):
        waiting.extend(_line_views(queue, [f.value for f in found], caller.user_id))
    recent = sorted(
        (_finished_view(f.value, caller.user_id) for scan in finished for f in scan),
        key=lambda v: (v.ended_at or v.requested_at, v.id),
        reverse=True,
    )
    return MyCallbacksView(waiting=waiting, recent=recent[:RECENT_CALLBACKS_SHOWN])


def _line_views(queue: Queue, calls: Sequence[Call], agent_id: str) -> list[MyCallbackView]:
    """Return a queue's callbacks not yet done, in the order the queue serves them."""
    line = sorted((c for c in calls if c.state is CallState.WAITING), key=call_order_key)
    keys_in_line = [call_order_key(c) for c in line]
    views: list[MyCallbackView] = []
    for callback in sorted((c for c in calls if c.callback is not None), key=call_order_key):
        state = callback.callback
        assert state is not None
        status = _progress(callback)
        position: int | None = None
        if status in {"waiting", "scheduled"}:
            # Calls served before it, plus one (a scheduled callback goes back in its place).
            own = call_order_key(callback)
            position = sum(1 for k in keys_in_line if k < own) + 1
        reserved = callback.offer.agent_ids if callback.offer is not None else ()
        views.append(
            MyCallbackView(
                id=callback.id,
                queue_id=queue.id,
                queue_name=queue.name,
                number=party_view(callback.caller),
                requested_at=state.requested_at,
                status=status,
                position=position,
                attempts=_attempt_views(state.attempts),
                max_attempts=state.settings.max_attempts,
                next_attempt_at=callback.due_at if status == "scheduled" else None,
                ended_at=None,
                assigned_to_me=agent_id in reserved and status in {"reserved", "dialing"},
            )
        )
    return views


def _progress(callback: Call) -> CallbackProgress:
    state = callback.callback
    assert state is not None
    if callback.state is CallState.SCHEDULED:
        return "scheduled"
    if callback.state is CallState.RINGING:
        last = state.attempts[-1] if state.attempts else None
        dialing = last is not None and last.ended_at is None and bool(last.call_id)
        return "dialing" if dialing else "reserved"
    return "waiting"


_ENDED: dict[CallbackStatus, CallbackProgress] = {
    CallbackStatus.CONNECTED: "connected",
    CallbackStatus.FAILED: "failed",
    CallbackStatus.CANCELLED: "cancelled",
}


def _finished_view(request: CallbackRequest, agent_id: str) -> MyCallbackView:
    return MyCallbackView(
        id=request.id,
        queue_id=request.queue_id,
        queue_name=request.queue_name,
        number=party_view(request.number),
        requested_at=request.requested_at,
        status=_ENDED[request.status],
        position=None,
        attempts=_attempt_views(request.attempts),
        max_attempts=None,
        next_attempt_at=None,
        ended_at=request.ended_at,
        assigned_to_me=request.agent_id == agent_id
        or any(a.agent_id == agent_id for a in request.attempts),
    )


def _attempt_views(attempts: Iterable[CallbackAttempt]) -> list[CallbackAttemptView]:
    return [fill(CallbackAttemptView, a) for a in attempts]
