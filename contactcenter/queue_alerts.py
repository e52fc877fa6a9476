"""Threshold alerts on queues: service level below target, longest wait or queue too long.

A queue's rule (``queueAlertRules``, one document per queue, id = the queue's id) names up
to three thresholds. A queue without one has the default rule, from its service-level
target: today's service level below 80 % (the usual 80/20 goal) and a caller waiting
longer than the target itself; saving a rule replaces the defaults. The wallboard evaluates them against each live reading of the queue:
an alert is raised when its condition starts to hold and cleared when it stops. A queue
that takes no calls now (after hours, a holiday, closed now) raises none. Readings
are the same on every host, so every host raises and clears the same alerts; the time an
alert was raised is what the host that shows it saw.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from contactcenter.model import Queue

RULES = "queueAlertRules"
_RECENT_KEPT = 50
# The service level most contact centers aim at with their target time (80 % in 20 s).
DEFAULT_SERVICE_LEVEL_GOAL = 0.8


class AlertKind(StrEnum):
    SERVICE_LEVEL = "service-level"
    LONGEST_WAIT = "longest-wait"
    QUEUE_LENGTH = "queue-length"


@dataclass(frozen=True, slots=True)
class QueueAlertRule:
    """A queue's alert thresholds (None: that alert is off)."""

    id: str
    tenant_id: str
    # Today's SL1 (answered within the queue's target / answered) below this fraction.
    service_level_below: float | None = None
    # The oldest waiting call older than this many seconds.
    longest_wait_above_s: int | None = None
    # More than this many callers waiting (queued or ringing an agent).
    waiting_above: int | None = None
    updated_at: datetime | None = None
    updated_by: str = ""


def default_rule(queue: Queue) -> QueueAlertRule:
    """Return the thresholds a queue has until its supervisors set their own."""
    return QueueAlertRule(
        id=queue.id,
        tenant_id=queue.tenant_id,
        service_level_below=DEFAULT_SERVICE_LEVEL_GOAL,
        longest_wait_above_s=queue.service_level_threshold_s,
    )


def rule_for(queue: Queue, stored: QueueAlertRule | None) -> QueueAlertRule:
    """Return the queue's rule: the one saved, else the default."""
    return stored if stored is not None else default_rule(queue)


@dataclass(frozen=True, slots=True)
class QueueReading:
    """A queue's live numbers, as alert rules see them."""

    queue_id: str
    queue_name: str
    waiting: int
    longest_wait_s: float
    # Today's SL1 at the queue's own target; None while nothing was answered today.
    service_level: float | None
    # False after hours, on a holiday or while closed now: no alert holds.
    is_open: bool = True


@dataclass(frozen=True, slots=True)
class Alert:
    """A rule's condition that holds now."""

    queue_id: str
    queue_name: str
    kind: AlertKind
    value: float
    threshold: float
    raised_at: datetime


class AlertChangeKind(StrEnum):
    RAISED = "raised"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An alert raised or cleared, and when."""

    alert: Alert
    change: AlertChangeKind
    at: datetime


def breaches(rule: QueueAlertRule, reading: QueueReading) -> dict[AlertKind, tuple[float, float]]:
    """Return each of the rule's conditions that holds, with the value and the threshold."""
    found: dict[AlertKind, tuple[float, float]] = {}
    if not reading.is_open:
        return found
    level = reading.service_level
    below = rule.service_level_below
    if below is not None and level is not None and level < below:
        found[AlertKind.SERVICE_LEVEL] = (level, below)
    if rule.longest_wait_above_s is not None and reading.longest_wait_s > rule.longest_wait_above_s:
        found[AlertKind.LONGEST_WAIT] = (reading.longest_wait_s, float(rule.longest_wait_above_s))
    if rule.waiting_above is not None and reading.waiting > rule.waiting_above:
        found[AlertKind.QUEUE_LENGTH] = (float(reading.waiting), float(rule.waiting_above))
    return found


class AlertBoard:
    """The alerts that hold now, per tenant, and the latest changes."""

    def __init__(self) -> None:
        self._active: dict[str, dict[tuple[str, AlertKind], Alert]] = {}
        self._recent: dict[str, deque[AlertChange]] = {}

    def update(
        self,
        tenant_id: str,
        readings: Sequence[QueueReading],
        rules: Mapping[str, QueueAlertRule],
        now: datetime,
    ) -> list[AlertChange]:
        """Evaluate the rules on these readings; return the alerts raised and cleared.

        Queues not among ``readings`` keep their alerts (another page may watch them).
        """
        active = self._active.setdefault(tenant_id, {})
        recent = self._recent.setdefault(tenant_id, deque(maxlen=_RECENT_KEPT))
        changes: list[AlertChange] = []
        for reading in readings:
            rule = rules.get(reading.queue_id)
            holding = breaches(rule, reading) if rule is not None else {}
            for kind, (value, threshold) in holding.items():
                key = (reading.queue_id, kind)
                known = active.get(key)
                raised_at = known.raised_at if known is not None else now
                alert = Alert(
                    reading.queue_id, reading.queue_name, kind, value, threshold, raised_at
                )
                active[key] = alert
                if known is None:
                    changes.append(AlertChange(alert, AlertChangeKind.RAISED, now))
            for key in [k for k in active if k[0] == reading.queue_id and k[1] not in holding]:
                cleared = active.pop(key)
                changes.append(AlertChange(cleared, AlertChangeKind.CLEARED, now))
        recent.extend(changes)
        return changes

    def active(self, tenant_id: str, queue_ids: Sequence[str] | None = None) -> list[Alert]:
        """Return the alerts that hold now (of these queues), oldest first."""
        alerts = self._active.get(tenant_id, {}).values()
        wanted = None if queue_ids is None else set(queue_ids)
        return sorted(
            (a for a in alerts if wanted is None or a.queue_id in wanted),
            key=lambda a: (a.raised_at, a.queue_name, a.kind.value),
        )

    def recent(self, tenant_id: str, queue_ids: Sequence[str] | None = None) -> list[AlertChange]:
        """Return the latest raised and cleared alerts (of these queues), newest first."""
        wanted = None if queue_ids is None else set(queue_ids)
        return [
            c
            for c in reversed(self._recent.get(tenant_id, ()))
            if wanted is None or c.alert.queue_id in wanted
        ]
