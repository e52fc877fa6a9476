"""The callback card: a caller of a queue waits to be called back.

The contact center calls back by itself (it reserves the next free agent of the queue
and places the call in the caller's turn), so the card informs and links to the tab; it
is updated in place once the callback ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.cards.adaptive import (
    BodyItem,
    Card,
    OpenUrlAction,
    Spacing,
    TextColor,
    TextWeight,
    text,
)
from bot.cards.caller import caller_facts, caller_header
from bot.cards.units import day_time
from contactcenter.model import CallbackStatus


@dataclass(frozen=True, slots=True)
class CallbackView:
    """What the callback card shows about one request."""

    request_id: str
    queue_name: str
    caller_name: str
    caller_number: str
    requested_at: datetime
    zone: tzinfo
    ivr_path: tuple[str, ...] = ()
    max_attempts: int = 1
    # The agent workspace (None: no link).
    open_url: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackOutcome:
    """How a callback ended."""

    status: CallbackStatus
    ended_at: datetime
    attempts: int
    agent_name: str = ""


def _body(view: CallbackView, *, live: bool) -> list[BodyItem]:
    return [
        caller_header(f"Callback · {view.queue_name}", view.caller_name, live=live),
        caller_facts(
            caller_name=view.caller_name,
            caller_number=view.caller_number,
            queue_name=view.queue_name,
            ivr_path=view.ivr_path,
            about=[("Asked", day_time(view.requested_at, view.zone))],
        ),
    ]


def _open(view: CallbackView) -> list[OpenUrlAction]:
    return [OpenUrlAction("Open in tab", view.open_url)] if view.open_url else []


def callback_waiting_card(view: CallbackView) -> Card:
    """A caller keeps their place in line and waits to be called back."""
    attempts = f"up to {view.max_attempts} tries" if view.max_attempts > 1 else "one try"
    body = _body(view, live=True)
    body.append(
        text(
            "Their place in line is kept. When it is their turn the contact center reserves "
            f"a free agent of the queue and calls them back ({attempts}): stay signed in "
            "and available to take it.",
            subtle=True,
        )
    )
    return Card(
        body=body,
        actions=_open(view),
        fallback_text=f"{view.caller_name} waits for a {view.queue_name} callback",
    )


def callback_ended_line(view: CallbackView, outcome: CallbackOutcome) -> tuple[str, TextColor]:
    """Say how a callback ended."""
    when = day_time(outcome.ended_at, view.zone)
    if outcome.status is CallbackStatus.CONNECTED:
        who = f" with {outcome.agent_name}" if outcome.agent_name else ""
        return f"Called back{who} at {when}.", TextColor.GOOD
    if outcome.status is CallbackStatus.FAILED:
        tries = f"{outcome.attempts} attempt{'s' if outcome.attempts != 1 else ''}"
        return f"Not reached after {tries} (last at {when}).", TextColor.ATTENTION
    return f"Cancelled at {when}.", TextColor.WARNING


def callback_ended_card(view: CallbackView, outcome: CallbackOutcome) -> Card:
    """The same card, updated in place once the callback is over."""
    message, color = callback_ended_line(view, outcome)
    body = _body(view, live=False)
    body.append(text(message, weight=TextWeight.BOLDER, color=color, spacing=Spacing.MEDIUM))
    return Card(
        body=body,
        actions=_open(view),
        fallback_text=f"{view.queue_name} callback for {view.caller_name}: {message}",
    )
