"""When a queued call needs attention, and what ringing it has cost: pure rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from contactcenter.engine.settings import EngineSettings
from contactcenter.model import Call, CallState, Offer, Queue
from contactcenter.routing import widening_at


def elapsed_s(start: datetime | None, end: datetime) -> float:
    """Return the seconds from ``start`` to ``end`` (0 without a start, never negative)."""
    return 0.0 if start is None else max(0.0, (end - start).total_seconds())


def deadline(call: Call, queue: Queue) -> datetime | None:
    """Return when the call's maximum wait in its queue is over (None: never)."""
    if call.callback is not None:
        return None  # a callback keeps its place however long it takes
    start = call.queued_at
    return None if start is None else start + timedelta(seconds=queue.max_wait_s)


def waiting_due(call: Call, queue: Queue, now: datetime, keep_alive_s: float) -> datetime:
    """Return the next time a waiting call needs attention."""
    if call.callback is not None:
        # Nobody is on the line: no keepAlive, no maximum wait; look again now and then.
        return now + timedelta(seconds=keep_alive_s)
    start = call.queued_at or now
    candidates = [
        start + timedelta(seconds=queue.max_wait_s),
        now + timedelta(seconds=keep_alive_s),
    ]
    widen = widening_at(call, queue)
    if widen is not None and widen > now:
        candidates.append(widen)
    return min(candidates)


def talk_timers(call: Call, now: datetime, settings: EngineSettings) -> Call:
    """Return a talk whose timers start at ``now``.

    Who is in the talk is read when it is due (at least every ``reconcile_s``); a
    keepAlive goes with the first reading after ``keep_alive_at``.
    """
    keep_alive = now + timedelta(seconds=settings.keep_alive_s)
    reconcile = now + timedelta(seconds=settings.reconcile_s)
    return replace(call, due_at=min(reconcile, keep_alive), keep_alive_at=keep_alive)


def talk_timers_kept(call: Call, now: datetime, settings: EngineSettings) -> Call:
    """Return a talk going on after a change: read who is in it next, keepAlive kept as due."""
    if call.keep_alive_at is None:
        return talk_timers(call, now, settings)
    reconcile = now + timedelta(seconds=settings.reconcile_s)
    return replace(call, due_at=min(reconcile, call.keep_alive_at))


def close_offer(stored: Call, new: Call, now: datetime) -> tuple[Call, Offer | None]:
    """Return ``new`` with the offer ringing on ``stored`` closed, and that offer.

    A closed offer is cleared and its ring time counted; the agents it rang are the
    caller's to release (once ``new`` is written).
    """
    offer = stored.offer if stored.state is CallState.RINGING else None
    if offer is None:
        return replace(new, offer=None), None
    return replace(new, offer=None, ring_s=new.ring_s + elapsed_s(offer.started_at, now)), offer
