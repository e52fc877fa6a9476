"""Supervisor actions on waiting calls: move one to another queue, change its priority.

Both are one compare-and-set on the call document, made only while the call is WAITING
(not while an agent is being rung: the offer owns the call then). A move gives the call
the target queue's terms the way a queue action does (the caller keeps their place:
offered time and priority stay) and makes its timer due at once, so the next timer round
on any host re-routes it under the new queue's rules; the caller of these functions also
asks the engine to offer the queue's waiting calls to its idle agents
(``RoutingEngine.route_waiting_calls``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from contactcenter.errors import DomainError, InvalidInput
from contactcenter.model import Call, CallState, Queue
from contactcenter.repository import KEEP, Decision, Repository

MAX_PRIORITY = 10


class CallNotWaiting(DomainError):
    """The call is not waiting in a queue (being rung, connected or ended): nothing changed."""


@dataclass(frozen=True, slots=True)
class CallChange:
    """A call document before and after a supervisor's change."""

    before: Call
    after: Call


async def _change_waiting(
    repository: Repository, tenant_id: str, call_id: str, change: Callable[[Call], Call]
) -> CallChange:
    """Apply ``change`` to the call by compare-and-set while it waits."""

    def while_waiting(call: Call) -> Decision[Call]:
        if call.state is not CallState.WAITING:
            raise CallNotWaiting(f"call {call_id} is {call.state.value}, not waiting")
        updated = change(call)
        return KEEP if updated == call else updated

    result = await repository.calls.apply(tenant_id, call_id, while_waiting)
    assert result.before is not None
    assert result.after is not None
    return CallChange(result.before.value, result.after.value)


async def move_waiting_call(
    repository: Repository, tenant_id: str, call_id: str, target: Queue, now: datetime
) -> CallChange:
    """Move a waiting call to ``target``; raise CallNotWaiting if it is not waiting."""
    if target.tenant_id != tenant_id:
        raise InvalidInput("no such queue", field="queueId")

    def moved(call: Call) -> Call:
        if call.queue_id == target.id:
            raise InvalidInput("the call is in that queue already", field="queueId")
        hops = (*call.queue_hops, call.queue_id) if call.queue_id else call.queue_hops
        return replace(
            call,
            queue_id=target.id,
            queue_hops=hops,
            queued_at=now,
            required_skills=dict(target.required_skills),
            queue_name=target.name,
            service_level_threshold_s=target.service_level_threshold_s,
            wrap_up_s=target.wrap_up_s,
            wrap_up_extension_s=target.wrap_up_extension_s,
            # Due now: the next timer round re-routes the call under the new queue's
            # rules and sets its next due time (max wait from now, keep-alive).
            due_at=now,
        )

    return await _change_waiting(repository, tenant_id, call_id, moved)


async def set_call_priority(
    repository: Repository, tenant_id: str, call_id: str, priority: int
) -> CallChange:
    """Give a waiting call a priority (0..10; higher is served first)."""
    if not 0 <= priority <= MAX_PRIORITY:
        raise InvalidInput(f"priority must be 0..{MAX_PRIORITY}", field="priority")
    return await _change_waiting(
        repository, tenant_id, call_id, lambda call: replace(call, priority=priority)
    )
