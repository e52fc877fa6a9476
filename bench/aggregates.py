"""15-minute interval aggregates per queue, and the queue report computed two ways.

The product does not keep interval aggregates yet (``contactcenter/aggregates.py`` is to
come); this is the minimal form a queue report needs, so that the benchmark can compare a
report read from aggregates with the straightforward scan of raw call records:

- one document per (tenant, queue, interval) in the ``queueIntervals`` collection, the
  interval being the 15 minutes in which the call ended (its record is written then);
- offered, answered, abandoned and other outcomes; wait time of answered and of
  abandoned calls; answered calls within the service level; talk time.

:func:`fold` adds one call record (as stored) to running totals: the product would apply
it when it writes a record; the benchmark's bulk load does the same sums in SQL.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

INTERVALS = "queueIntervals"
INTERVAL_MINUTES = 15


def interval_start(timestamp: str) -> str:
    """Return the start of the 15-minute interval of a stored timestamp.

    ``2026-02-01T13:52:07.123456Z`` → ``2026-02-01T13:45:00.000000Z`` (the store's fixed
    width format, so that intervals compare as strings).
    """
    minute = int(timestamp[14:16]) // INTERVAL_MINUTES * INTERVAL_MINUTES
    return f"{timestamp[:14]}{minute:02d}:00.000000Z"


@dataclass(slots=True)
class QueueTotals:
    """What a queue report shows for one queue over a period."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    other: int = 0
    answered_wait_s: float = 0.0
    abandoned_wait_s: float = 0.0
    met_service_level: int = 0
    talk_s: float = 0.0

    def add_record(self, body: Mapping[str, Any]) -> None:
        """Count one stored call record."""
        self.offered += 1
        outcome = body.get("outcome")
        wait = float(body.get("waitS") or 0.0)
        if outcome == "answered":
            self.answered += 1
            self.answered_wait_s += wait
            self.talk_s += float(body.get("talkS") or 0.0)
            if body.get("metServiceLevel"):
                self.met_service_level += 1
        elif outcome == "abandoned":
            self.abandoned += 1
            self.abandoned_wait_s += wait
        else:
            self.other += 1

    def add_interval(self, body: Mapping[str, Any]) -> None:
        """Add one interval aggregate document."""
        self.offered += int(body["offered"])
        self.answered += int(body["answered"])
        self.abandoned += int(body["abandoned"])
        self.other += int(body["other"])
        self.answered_wait_s += float(body["answeredWaitS"])
        self.abandoned_wait_s += float(body["abandonedWaitS"])
        self.met_service_level += int(body["metServiceLevel"])
        self.talk_s += float(body["talkS"])

    def kpis(self) -> dict[str, Any]:
        """Return the report's row: counts and the KPIs derived from them."""

        def ratio(part: float, whole: float) -> float | None:
            return round(part / whole, 6) if whole else None

        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "other": self.other,
            "serviceLevel": ratio(self.met_service_level, self.answered),
            "asaSeconds": ratio(self.answered_wait_s, self.answered),
            "averageAbandonWaitSeconds": ratio(self.abandoned_wait_s, self.abandoned),
            "averageTalkSeconds": ratio(self.talk_s, self.answered),
            "abandonRate": ratio(self.abandoned, self.offered),
        }

    def matches(self, other: QueueTotals) -> bool:
        """Tell whether two totals agree (counts exactly, sums to a relative 1e-9)."""
        return (
            (self.offered, self.answered, self.abandoned, self.other, self.met_service_level)
            == (
                other.offered,
                other.answered,
                other.abandoned,
                other.other,
                other.met_service_level,
            )
            and math.isclose(
                self.answered_wait_s, other.answered_wait_s, rel_tol=1e-9, abs_tol=1e-6
            )
            and math.isclose(
                self.abandoned_wait_s, other.abandoned_wait_s, rel_tol=1e-9, abs_tol=1e-6
            )
            and math.isclose(self.talk_s, other.talk_s, rel_tol=1e-9, abs_tol=1e-6)
        )


@dataclass(slots=True)
class QueueReport:
    """A queue report: totals per queue over a period."""

    queues: dict[str, QueueTotals] = field(default_factory=dict)
    documents_read: int = 0

    def queue(self, queue_id: str) -> QueueTotals:
        totals = self.queues.get(queue_id)
        if totals is None:
            totals = self.queues[queue_id] = QueueTotals()
        return totals

    def matches(self, other: QueueReport) -> bool:
        """Tell whether two reports show the same numbers for the same queues."""
        return self.queues.keys() == other.queues.keys() and all(
            totals.matches(other.queues[queue_id]) for queue_id, totals in self.queues.items()
        )

    def to_json(self) -> dict[str, Any]:
        return {queue_id: t.kpis() for queue_id, t in sorted(self.queues.items())}

    def add_records(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Count raw call records (the straightforward scan)."""
        for body in records:
            self.documents_read += 1
            queue_id = body.get("queueId")
            if queue_id:
                self.queue(str(queue_id)).add_record(body)

    def add_intervals(self, intervals: Iterable[Mapping[str, Any]]) -> None:
        """Add interval aggregate documents."""
        for body in intervals:
            self.documents_read += 1
            self.queue(str(body["queueId"])).add_interval(body)


def fold(intervals: dict[tuple[str, str], QueueTotals], body: Mapping[str, Any]) -> None:
    """Add one call record to the totals of its (queue, interval)."""
    queue_id = body.get("queueId")
    ended = body.get("endedAt")
    if not queue_id or not isinstance(ended, str):
        return
    key = (str(queue_id), interval_start(ended))
    totals = intervals.get(key)
    if totals is None:
        totals = intervals[key] = QueueTotals()
    totals.add_record(body)


def interval_document(
    tenant_id: str, queue_id: str, start: str, totals: QueueTotals
) -> dict[str, Any]:
    """Return the aggregate document of one queue's interval."""
    return {
        "id": f"{queue_id}:{start}",
        "tenantId": tenant_id,
        "queueId": queue_id,
        "intervalStart": start,
        "intervalMinutes": INTERVAL_MINUTES,
        "offered": totals.offered,
        "answered": totals.answered,
        "abandoned": totals.abandoned,
        "other": totals.other,
        "answeredWaitS": totals.answered_wait_s,
        "abandonedWaitS": totals.abandoned_wait_s,
        "metServiceLevel": totals.met_service_level,
        "talkS": totals.talk_s,
    }
