"""Cards that answer an agent's commands: help, their status, their day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.cards.adaptive import (
    ActionStyle,
    BodyItem,
    Card,
    Choice,
    ChoiceSetInput,
    ExecuteAction,
    Spacing,
    TextColor,
    TextInput,
    TextSize,
    TextWeight,
    action_set,
    facts,
    text,
)
from bot.cards.units import duration, seconds_or_dash
from bot.cards.verbs import QUEUE_INPUT, REASON_INPUT, Verb
from contactcenter.model import AgentActivity, AgentStatus


@dataclass(frozen=True, slots=True)
class CommandHelp:
    """One line of the help card."""

    usage: str
    description: str


def help_card(commands: Sequence[CommandHelp], *, not_understood: str | None = None) -> Card:
    """List what the bot understands."""
    body: list[BodyItem] = []
    if not_understood is not None:
        body.append(text(f"I did not understand “{not_understood}”.", color=TextColor.WARNING))
    body.append(text("Contact center commands", size=TextSize.MEDIUM, weight=TextWeight.BOLDER))
    body.append(facts([(command.usage, command.description) for command in commands]))
    return Card(body=body, fallback_text="Contact center commands")


@dataclass(frozen=True, slots=True)
class QueueMembership:
    queue_id: str
    name: str
    signed_in: bool


@dataclass(frozen=True, slots=True)
class AgentStatusView:
    """An agent's routing state as their status card shows it."""

    display_name: str
    status: AgentStatus
    reason: str | None
    activity: AgentActivity
    queues: Sequence[QueueMembership]
    has_seat: bool = True


_STATUS_LABELS = {
    AgentStatus.AVAILABLE: ("Available", TextColor.GOOD),
    AgentStatus.AWAY: ("Away", TextColor.WARNING),
    AgentStatus.DO_NOT_DISTURB: ("Do not disturb", TextColor.ATTENTION),
    AgentStatus.OFFLINE: ("Offline", None),
}

_ACTIVITY_LABELS = {
    AgentActivity.IDLE: "Idle",
    AgentActivity.RINGING: "Ringing",
    AgentActivity.ON_CALL: "On a call",
    AgentActivity.WRAP_UP: "Wrap-up",
}


def status_card(view: AgentStatusView, *, note: str | None = None) -> Card:
    """Show the agent's status and queues, with controls to change them."""
    label, color = _STATUS_LABELS[view.status]
    if view.status is AgentStatus.AWAY and view.reason:
        label = f"{label} ({view.reason})"
    body: list[BodyItem] = []
    if note is not None:
        body.append(text(note, weight=TextWeight.BOLDER, color=TextColor.GOOD))
    body += [
        text(view.display_name, size=TextSize.MEDIUM, weight=TextWeight.BOLDER),
        text(
            label, size=TextSize.LARGE, weight=TextWeight.BOLDER, color=color, spacing=Spacing.NONE
        ),
        facts(
            [
                ("Activity", _ACTIVITY_LABELS[view.activity]),
                *(
                    (queue.name, "Signed in" if queue.signed_in else "Signed out")
                    for queue in view.queues
                ),
            ]
        ),
    ]
    if not view.has_seat:
        body.append(
            text("You hold no contact center seat: ask an admin for one.", color=TextColor.WARNING)
        )
    if view.status is AgentStatus.AVAILABLE:
        body += [
            TextInput(
                REASON_INPUT, label="Away reason", placeholder="Lunch, training…", max_length=100
            ),
            action_set([ExecuteAction("Set away", Verb.AWAY)]),
        ]
    else:
        body.append(
            action_set([ExecuteAction("I'm available", Verb.AVAILABLE, style=ActionStyle.POSITIVE)])
        )
    if view.queues:
        body += [
            ChoiceSetInput(
                QUEUE_INPUT,
                [Choice(queue.name, queue.queue_id) for queue in view.queues],
                label="Queue",
                value=view.queues[0].queue_id,
            ),
            action_set(
                [
                    ExecuteAction("Sign in", Verb.SIGN_IN),
                    ExecuteAction("Sign out", Verb.SIGN_OUT),
                ]
            ),
        ]
    return Card(body=body, fallback_text=f"{view.display_name}: {label}")


@dataclass(frozen=True, slots=True)
class AgentStatsView:
    """An agent's calls today (records of calls that ended today in the tenant's time zone)."""

    display_name: str
    answered: int
    talk_s: float
    missed_offers: int
    longest_call_s: float | None

    @property
    def average_talk_s(self) -> float | None:
        return self.talk_s / self.answered if self.answered else None


def stats_card(view: AgentStatsView) -> Card:
    """Show the agent's own numbers for today."""
    return Card(
        body=[
            text("My day so far", size=TextSize.MEDIUM, weight=TextWeight.BOLDER),
            text(view.display_name, subtle=True, spacing=Spacing.NONE),
            facts(
                [
                    ("Calls answered", str(view.answered)),
                    ("Talk time", duration(view.talk_s)),
                    ("Average talk time", seconds_or_dash(view.average_talk_s)),
                    ("Longest call", seconds_or_dash(view.longest_call_s)),
                    ("Missed offers", str(view.missed_offers)),
                ]
            ),
        ],
        fallback_text=f"{view.answered} calls answered today",
    )
