"""Key performance indicators, with the published definitions (docs/kpis.md).

Two sources give the same numbers: the call records themselves, and the interval aggregates
kept from them (``contactcenter/aggregates.py``). Both reduce to :class:`CallTotals`, and
every KPI is a function of those totals (occupancy also needs the agents' available idle
time). A KPI whose denominator is zero is ``None``: undefined, not zero.

* offered: calls accepted into a queue; each ends in exactly one of the outcomes in
  :data:`OFFERED_OUTCOMES`. Calls rejected before a queue, or failed, are not offered.
* abandonment rate = abandoned / offered
* ASA = total wait of answered calls / answered
* SL1 = answered within T / answered
* SL2 = answered within T / (offered - abandoned within T)
* SL3 = (answered within T + abandoned within T) / offered
* SL4 = answered within T / offered
* AHT = (talk + hold + wrap-up) / answered
* occupancy = (talk + hold + wrap-up) / (talk + hold + wrap-up + available idle time)
* longest wait = age of the oldest call now waiting (waiting or ringing)

"Within T" means a wait of at most T seconds; a caller's wait runs from offered to
connected (answered calls) or to hanging up (abandoned calls).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from contactcenter.model import Call, CallOutcome, CallRecord, CallState, WrapUp

DEFAULT_THRESHOLD_S = 20
"""T, the service-level threshold, unless a report asks for another."""

MAX_THRESHOLD_S = 600
"""The largest T aggregates answer exactly (a queue's target is at most this)."""

OFFERED_OUTCOMES: frozenset[CallOutcome] = frozenset(
    {
        CallOutcome.ANSWERED,
        CallOutcome.ABANDONED,
        CallOutcome.OVERFLOWED,
        CallOutcome.TIMED_OUT,
        CallOutcome.NO_AGENT,
        CallOutcome.VOICEMAIL,
        CallOutcome.CALLBACK_REQUESTED,
    }
)
"""The outcomes of an offered call: every offered call ends in exactly one of these."""

_WAITING_STATES = frozenset({CallState.WAITING, CallState.RINGING})


def is_offered(record: CallRecord) -> bool:
    """Tell whether the record is of a call that was offered to a queue."""
    return (
        record.queue_id is not None
        and record.offered_at is not None
        and record.outcome in OFFERED_OUTCOMES
    )


def wait_bucket(wait_s: float) -> int:
    """Return the whole second a wait falls in, as aggregates count waits.

    For a whole-second T, ``wait <= T`` exactly when ``wait_bucket(wait) <= T``, so a
    histogram of buckets answers "within T" exactly for every T up to
    :data:`MAX_THRESHOLD_S`; longer waits share the bucket ``MAX_THRESHOLD_S + 1``.
    """
    return min(max(0, math.ceil(wait_s)), MAX_THRESHOLD_S + 1)


def check_threshold(threshold_s: int) -> int:
    """Return ``threshold_s`` if aggregates can answer for it; raise ValueError otherwise."""
    if isinstance(threshold_s, bool) or not isinstance(threshold_s, int):
        raise TypeError(f"the service-level threshold must be whole seconds, got {threshold_s!r}")
    if not 0 <= threshold_s <= MAX_THRESHOLD_S:
        raise ValueError(f"the service-level threshold must be 0..{MAX_THRESHOLD_S} s")
    return threshold_s


def within(histogram: Mapping[str, int], threshold_s: int) -> int:
    """Return how many waits of a bucket histogram are at most ``threshold_s``."""
    limit = check_threshold(threshold_s)
    return sum(count for bucket, count in histogram.items() if int(bucket) <= limit)


@dataclass(frozen=True, slots=True)
class CallTotals:
    """Counts and sums over a set of calls, at one threshold T."""

    threshold_s: float = DEFAULT_THRESHOLD_S
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    overflowed: int = 0
    timed_out: int = 0
    no_agent: int = 0
    voicemail: int = 0
    callback_requested: int = 0
    answered_within_t: int = 0
    abandoned_within_t: int = 0
    wait_answered_s: float = 0.0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrap_up_s: float = 0.0
    # The longest wait of any offered call (a report's "max wait", not "longest wait").
    max_wait_s: float = 0.0

    @property
    def handle_s(self) -> float:
        """Talk, hold and wrap-up time of the answered calls."""
        return self.talk_s + self.hold_s + self.wrap_up_s

    def __add__(self, other: CallTotals) -> CallTotals:
        if self.threshold_s != other.threshold_s:
            raise ValueError("totals at different thresholds cannot be added")
        return CallTotals(
            threshold_s=self.threshold_s,
            offered=self.offered + other.offered,
            answered=self.answered + other.answered,
            abandoned=self.abandoned + other.abandoned,
            overflowed=self.overflowed + other.overflowed,
            timed_out=self.timed_out + other.timed_out,
            no_agent=self.no_agent + other.no_agent,
            voicemail=self.voicemail + other.voicemail,
            callback_requested=self.callback_requested + other.callback_requested,
            answered_within_t=self.answered_within_t + other.answered_within_t,
            abandoned_within_t=self.abandoned_within_t + other.abandoned_within_t,
            wait_answered_s=self.wait_answered_s + other.wait_answered_s,
            talk_s=self.talk_s + other.talk_s,
            hold_s=self.hold_s + other.hold_s,
            wrap_up_s=self.wrap_up_s + other.wrap_up_s,
            max_wait_s=max(self.max_wait_s, other.max_wait_s),
        )


_OUTCOME_FIELDS: Mapping[CallOutcome, str] = {
    CallOutcome.ANSWERED: "answered",
    CallOutcome.ABANDONED: "abandoned",
    CallOutcome.OVERFLOWED: "overflowed",
    CallOutcome.TIMED_OUT: "timed_out",
    CallOutcome.NO_AGENT: "no_agent",
    CallOutcome.VOICEMAIL: "voicemail",
    CallOutcome.CALLBACK_REQUESTED: "callback_requested",
}


def outcome_field(outcome: CallOutcome) -> str:
    """Return the name of the counter an offered call's outcome adds to."""
    return _OUTCOME_FIELDS[outcome]


def totals_from_records(
    records: Iterable[CallRecord], threshold_s: float = DEFAULT_THRESHOLD_S
) -> CallTotals:
    """Return the totals of the offered calls among ``records``."""
    if not math.isfinite(threshold_s) or threshold_s < 0:
        raise ValueError("the service-level threshold must be a number of seconds >= 0")
    counts = dict.fromkeys(_OUTCOME_FIELDS.values(), 0)
    answered_within = abandoned_within = 0
    wait_answered = talk = hold = wrap_up = longest = 0.0
    for record in records:
        if not is_offered(record):
            continue
        counts[_OUTCOME_FIELDS[record.outcome]] += 1
        longest = max(longest, record.wait_s)
        if record.outcome is CallOutcome.ANSWERED:
            wait_answered += record.wait_s
            talk += record.talk_s
            hold += record.hold_s
            wrap_up += record.wrap_up_s
            if record.wait_s <= threshold_s:
                answered_within += 1
        elif record.outcome is CallOutcome.ABANDONED and record.wait_s <= threshold_s:
            abandoned_within += 1
    return CallTotals(
        threshold_s=threshold_s,
        offered=sum(counts.values()),
        answered_within_t=answered_within,
        abandoned_within_t=abandoned_within,
        wait_answered_s=wait_answered,
        talk_s=talk,
        hold_s=hold,
        wrap_up_s=wrap_up,
        max_wait_s=longest,
        **counts,
    )


class QueueCounters(Protocol):
    """What :func:`totals_from_aggregates` reads from an interval aggregate."""

    @property
    def answered(self) -> int: ...
    @property
    def abandoned(self) -> int: ...
    @property
    def overflowed(self) -> int: ...
    @property
    def timed_out(self) -> int: ...
    @property
    def no_agent(self) -> int: ...
    @property
    def voicemail(self) -> int: ...
    @property
    def callback_requested(self) -> int: ...
    @property
    def answered_waits(self) -> Mapping[str, int]: ...
    @property
    def abandoned_waits(self) -> Mapping[str, int]: ...
    @property
    def wait_answered_s(self) -> float: ...
    @property
    def talk_s(self) -> float: ...
    @property
    def hold_s(self) -> float: ...
    @property
    def wrap_up_s(self) -> float: ...
    @property
    def max_wait_s(self) -> float: ...


def totals_from_aggregates(
    aggregates: Iterable[QueueCounters], threshold_s: int = DEFAULT_THRESHOLD_S
) -> CallTotals:
    """Return the totals of the calls counted in these interval aggregates."""
    check_threshold(threshold_s)
    total = CallTotals(threshold_s=threshold_s)
    for item in aggregates:
        offered = (
            item.answered
            + item.abandoned
            + item.overflowed
            + item.timed_out
            + item.no_agent
            + item.voicemail
            + item.callback_requested
        )
        total = total + CallTotals(
            threshold_s=threshold_s,
            offered=offered,
            answered=item.answered,
            abandoned=item.abandoned,
            overflowed=item.overflowed,
            timed_out=item.timed_out,
            no_agent=item.no_agent,
            voicemail=item.voicemail,
            callback_requested=item.callback_requested,
            answered_within_t=within(item.answered_waits, threshold_s),
            abandoned_within_t=within(item.abandoned_waits, threshold_s),
            wait_answered_s=item.wait_answered_s,
            talk_s=item.talk_s,
            hold_s=item.hold_s,
            wrap_up_s=item.wrap_up_s,
            max_wait_s=item.max_wait_s,
        )
    return total


def totals_of_live_calls(
    calls: Iterable[Call],
    *,
    since: datetime,
    threshold_s: float = DEFAULT_THRESHOLD_S,
    exclude: frozenset[str] = frozenset(),
    wrapping_up: Iterable[WrapUp] = (),
) -> CallTotals:
    """Return the totals of calls still in progress that were offered at or after ``since``.

    A live call counts as offered, and as answered from the moment an agent connected
    (its wait is known then); it has no outcome yet otherwise. Talk time is not counted
    until the call ends, so these totals serve SL1 and ASA, not AHT. ``exclude`` names
    calls already counted elsewhere (their record exists). ``wrapping_up`` are the agents'
    wrap-ups: their calls ended answered, and are counted once their wrap-up ends.
    """
    offered = answered = answered_within = 0
    wait_answered = 0.0
    talks: list[tuple[datetime, datetime | None]] = []
    for call in calls:
        if call.id in exclude or call.queue_id is None or call.offered_at is None:
            continue
        if call.state is CallState.ENDED:
            continue
        if call.state not in _WAITING_STATES and call.state is not CallState.CONNECTED:
            continue
        offered_at = call.transferred_at or call.offered_at
        if offered_at < since:
            continue
        answered_at = call.answered_at if call.state is CallState.CONNECTED else None
        talks.append((offered_at, answered_at))
    for wrap_up in wrapping_up:
        if wrap_up.record_id in exclude or wrap_up.offered_at is None:
            continue
        if wrap_up.offered_at >= since:
            talks.append((wrap_up.offered_at, wrap_up.answered_at))
    for offered_at, answered_at in talks:
        offered += 1
        if answered_at is not None:
            wait = max(0.0, (answered_at - offered_at).total_seconds())
            answered += 1
            wait_answered += wait
            if wait <= threshold_s:
                answered_within += 1
    return CallTotals(
        threshold_s=threshold_s,
        offered=offered,
        answered=answered,
        answered_within_t=answered_within,
        wait_answered_s=wait_answered,
    )


# ------------------------------------------------------------------------ KPIs
def ratio(numerator: float, denominator: float) -> float | None:
    """Return numerator / denominator, or None when the denominator is not positive."""
    return numerator / denominator if denominator > 0 else None


def abandonment_rate(totals: CallTotals) -> float | None:
    """abandoned / offered."""
    return ratio(totals.abandoned, totals.offered)


def average_speed_of_answer(totals: CallTotals) -> float | None:
    """Total wait of answered calls / answered, in seconds."""
    return ratio(totals.wait_answered_s, totals.answered)


def service_level_1(totals: CallTotals) -> float | None:
    """SL1 = answered within T / answered."""
    return ratio(totals.answered_within_t, totals.answered)


def service_level_2(totals: CallTotals) -> float | None:
    """SL2 = answered within T / (offered - abandoned within T)."""
    return ratio(totals.answered_within_t, totals.offered - totals.abandoned_within_t)


def service_level_3(totals: CallTotals) -> float | None:
    """SL3 = (answered within T + abandoned within T) / offered."""
    return ratio(totals.answered_within_t + totals.abandoned_within_t, totals.offered)


def service_level_4(totals: CallTotals) -> float | None:
    """SL4 = answered within T / offered."""
    return ratio(totals.answered_within_t, totals.offered)


def average_handle_time(totals: CallTotals) -> float | None:
    """(talk + hold + wrap-up) / answered, in seconds."""
    return ratio(totals.handle_s, totals.answered)


def occupancy(handle_s: float, available_idle_s: float) -> float | None:
    """(talk + hold + wrap-up) / (talk + hold + wrap-up + available idle time)."""
    return ratio(handle_s, handle_s + available_idle_s)


def longest_wait(calls: Iterable[Call], now: datetime, queue_id: str | None = None) -> float:
    """Return the age in seconds of the oldest call now waiting (0 when none waits).

    A call waits while it is queued or ringing an agent; its age counts from when it was
    offered, as its wait does. ``queue_id`` limits the answer to one queue.
    """
    oldest = 0.0
    for call in calls:
        if call.state not in _WAITING_STATES or call.offered_at is None:
            continue
        if queue_id is not None and call.queue_id != queue_id:
            continue
        oldest = max(oldest, (now - call.offered_at).total_seconds())
    return oldest


@dataclass(frozen=True, slots=True)
class Kpis:
    """Every published KPI of a set of calls (None: undefined, nothing to divide by)."""

    threshold_s: float
    offered: int
    answered: int
    abandoned: int
    overflowed: int
    timed_out: int
    no_agent: int
    voicemail: int
    callback_requested: int
    abandonment_rate: float | None
    asa_s: float | None
    service_level_1: float | None
    service_level_2: float | None
    service_level_3: float | None
    service_level_4: float | None
    aht_s: float | None
    occupancy: float | None
    max_wait_s: float


def kpis(totals: CallTotals, *, available_idle_s: float | None = None) -> Kpis:
    """Return every KPI of ``totals``; occupancy needs the agents' available idle time."""
    return Kpis(
        threshold_s=totals.threshold_s,
        offered=totals.offered,
        answered=totals.answered,
        abandoned=totals.abandoned,
        overflowed=totals.overflowed,
        timed_out=totals.timed_out,
        no_agent=totals.no_agent,
        voicemail=totals.voicemail,
        callback_requested=totals.callback_requested,
        abandonment_rate=abandonment_rate(totals),
        asa_s=average_speed_of_answer(totals),
        service_level_1=service_level_1(totals),
        service_level_2=service_level_2(totals),
        service_level_3=service_level_3(totals),
        service_level_4=service_level_4(totals),
        aht_s=average_handle_time(totals),
        occupancy=(
            None if available_idle_s is None else occupancy(totals.handle_s, available_idle_s)
        ),
        max_wait_s=totals.max_wait_s,
    )
