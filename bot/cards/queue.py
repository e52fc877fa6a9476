"""The supervisor's live queue card, posted in a Teams channel and updated in place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.cards.adaptive import (
    Alignment,
    BodyItem,
    Card,
    Column,
    ContainerStyle,
    ExecuteAction,
    Spacing,
    TextColor,
    TextSize,
    TextWeight,
    columns,
    container,
    facts,
    text,
)
from bot.cards.units import NO_FIGURE, clock_time, duration, percent, seconds_or_dash
from bot.cards.verbs import KIND, QUEUE_ID, RefreshKind, Verb


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """A queue's numbers right now and for today so far (KPI definitions: docs/)."""

    queue_id: str
    queue_name: str
    waiting: int
    longest_wait_s: float
    agents_available: int
    agents_on_call: int
    agents_wrap_up: int
    agents_away: int
    offered: int
    answered: int
    abandoned: int
    # Answered within the threshold / answered (SL1); None before the first answer.
    service_level: float | None
    service_level_threshold_s: int
    # Mean wait of answered calls; None before the first answer.
    asa_s: float | None
    as_of: datetime
    zone: tzinfo
    # The queue's threshold alerts that hold now, in words (the wallboard's rules).
    alerts: tuple[str, ...] = ()
    # Seconds until the longest waiting caller passes the longest-wait threshold, if
    # they will (the card is looked at again then); not shown.
    alert_due_in_s: float | None = None

    def numbers(self) -> tuple[object, ...]:
        """Return what the card shows, apart from the time it was made."""
        return (
            self.queue_name,
            self.waiting,
            round(self.longest_wait_s),
            self.agents_available,
            self.agents_on_call,
            self.agents_wrap_up,
            self.agents_away,
            self.offered,
            self.answered,
            self.abandoned,
            None if self.service_level is None else round(self.service_level, 3),
            self.service_level_threshold_s,
            None if self.asa_s is None else round(self.asa_s),
            self.alerts,
        )


def _tile(label: str, value: str, *, color: TextColor | None = None) -> Column:
    return Column(
        items=[
            text(value, size=TextSize.EXTRA_LARGE, weight=TextWeight.BOLDER, color=color),
            text(label, subtle=True, spacing=Spacing.NONE),
        ],
        width="stretch",
    )


def _service_level(snapshot: QueueSnapshot) -> str:
    if snapshot.service_level is None:
        return NO_FIGURE
    return f"{percent(snapshot.service_level)} within {snapshot.service_level_threshold_s} s"


def _speed_of_answer(snapshot: QueueSnapshot) -> str:
    return NO_FIGURE if snapshot.asa_s is None else f"{seconds_or_dash(snapshot.asa_s)} on average"


def queue_card(snapshot: QueueSnapshot) -> Card:
    """Show who waits, who is free, and how today went."""
    late = snapshot.waiting > 0 and snapshot.longest_wait_s > snapshot.service_level_threshold_s
    tiles = columns(
        [
            _tile("Waiting", str(snapshot.waiting), color=TextColor.ATTENTION if late else None),
            _tile(
                "Longest wait",
                duration(snapshot.longest_wait_s) if snapshot.waiting else NO_FIGURE,
                color=TextColor.ATTENTION if late else None,
            ),
            _tile(
                "Available",
                str(snapshot.agents_available),
                color=TextColor.GOOD if snapshot.agents_available else TextColor.WARNING,
            ),
        ],
        spacing=Spacing.MEDIUM,
    )
    header: list[BodyItem] = [
        columns(
            [
                Column(
                    [
                        text(
                            f"{snapshot.queue_name} queue",
                            size=TextSize.LARGE,
                            weight=TextWeight.BOLDER,
                        )
                    ]
                ),
                Column(
                    [
                        text(
                            f"Updated {clock_time(snapshot.as_of, snapshot.zone)}",
                            subtle=True,
                            align=Alignment.RIGHT,
                        )
                    ],
                    width="auto",
                ),
            ]
        ),
        tiles,
    ]
    agents = facts(
        [
            ("On a call", str(snapshot.agents_on_call)),
            ("Wrap-up", str(snapshot.agents_wrap_up)),
            ("Away", str(snapshot.agents_away)),
        ]
    )
    today = facts(
        [
            ("Offered", str(snapshot.offered)),
            ("Answered", str(snapshot.answered)),
            ("Abandoned", str(snapshot.abandoned)),
            ("Service level", _service_level(snapshot)),
            ("Speed of answer", _speed_of_answer(snapshot)),
        ]
    )
    body: list[BodyItem] = [
        container(
            header, style=ContainerStyle.ATTENTION if late else ContainerStyle.EMPHASIS, bleed=True
        ),
    ]
    if snapshot.alerts:
        body.append(
            container(
                [
                    text("Alerts", weight=TextWeight.BOLDER, color=TextColor.ATTENTION),
                    *(
                        text(line, color=TextColor.ATTENTION, spacing=Spacing.SMALL)
                        for line in snapshot.alerts
                    ),
                ],
                style=ContainerStyle.ATTENTION,
                spacing=Spacing.MEDIUM,
            )
        )
    body += [
        text("Agents", weight=TextWeight.BOLDER, spacing=Spacing.MEDIUM),
        agents,
        text("Today", weight=TextWeight.BOLDER, spacing=Spacing.MEDIUM),
        today,
    ]
    return Card(
        body=body,
        actions=[
            ExecuteAction(
                "Refresh",
                Verb.REFRESH,
                {KIND: RefreshKind.QUEUE, QUEUE_ID: snapshot.queue_id},
            )
        ],
        fallback_text=(
            f"{snapshot.queue_name}: {snapshot.waiting} waiting, "
            f"{snapshot.agents_available} agents available"
        ),
    )
