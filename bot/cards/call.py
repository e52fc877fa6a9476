"""The agent's card for the call at hand: the alert, updated in place once they answer.

While the call lasts it shows who calls from which queue, how long they waited, when the
talk began (a card cannot tick: the workspace has the running timer), this caller's last
calls, the notes and disposition as saved so far, and hands the call to a queue or an
agent. Once the talk ends it shows when, and keeps the notes open through the wrap-up,
which it can end or extend. Like every card's, its text is plain text runs
(:func:`bot.cards.adaptive.text`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.cards.adaptive import (
    Action,
    ActionStyle,
    BodyItem,
    Card,
    Choice,
    ChoiceSetInput,
    ContainerStyle,
    ExecuteAction,
    Refresh,
    Spacing,
    TextColor,
    TextInput,
    TextSize,
    TextWeight,
    action_set,
    container,
    facts,
    text,
)
from bot.cards.units import clock_time, day_time, duration
from bot.cards.verbs import (
    CALL_ID,
    CODE_INPUT,
    KIND,
    NOTE_INPUT,
    RECORD_ID,
    TRANSFER_AGENT_INPUT,
    TRANSFER_QUEUE_INPUT,
    RefreshKind,
    Verb,
)
from contactcenter.dispositions import MAX_NOTE_CHARS

# What the card says of hold time: Graph does not report it for a bot-hosted call.
HOLD_NOT_MEASURED = "Not measured"


@dataclass(frozen=True, slots=True)
class EarlierCall:
    """One of the caller's earlier calls, as the card lists it."""

    ended_at: datetime
    queue_name: str
    agent_name: str
    code: str | None


@dataclass(frozen=True, slots=True)
class CallPanelView:
    """What the agent's card shows of the call they are on, or have just ended."""

    call_id: str
    # Where the notes go: the call's id while it lasts, its record's once it ended.
    record_id: str
    queue_name: str
    caller_name: str
    caller_number: str
    waited_s: float
    answered_at: datetime | None
    zone: tzinfo
    # The talk ended then (None: it goes on), and lasted this long.
    ended_at: datetime | None = None
    talk_s: float = 0.0
    note: str = ""
    code: str | None = None
    codes: tuple[str, ...] = ()
    earlier: tuple[EarlierCall, ...] = ()
    # Where the call may be handed: (id, name) of the other queues, and of agents free now.
    queues: tuple[tuple[str, str], ...] = ()
    agents: tuple[tuple[str, str], ...] = ()
    transfer_to: str = ""
    # Wrap-up: until when, and how much more time the agent may still take (0: none).
    wrap_up_until: datetime | None = None
    extension_s: int = 0
    agent_mri: str = ""
    saved_at: datetime | None = None
    # What went wrong with the button just pressed (the card stays as it was otherwise).
    problem: str = ""


def _header(view: CallPanelView) -> BodyItem:
    live = view.ended_at is None
    title = f"On a call · {view.queue_name}" if live else f"Call ended · {view.queue_name}"
    return container(
        [
            text(title, weight=TextWeight.BOLDER, color=TextColor.GOOD if live else None),
            text(view.caller_name, weight=TextWeight.BOLDER, size=TextSize.LARGE),
        ],
        style=ContainerStyle.EMPHASIS if live else None,
        bleed=live,
    )


def _facts(view: CallPanelView) -> BodyItem:
    pairs: list[tuple[str, str]] = []
    if view.caller_number and view.caller_number != view.caller_name:
        pairs.append(("Number", view.caller_number))
    pairs.append(("Queue", view.queue_name))
    pairs.append(("Waited", duration(view.waited_s)))
    if view.answered_at is not None:
        pairs.append(("Answered", clock_time(view.answered_at, view.zone)))
    if view.ended_at is not None:
        pairs.append(("Ended", day_time(view.ended_at, view.zone)))
        pairs.append(("Talked", duration(view.talk_s)))
    pairs.append(("Hold", HOLD_NOT_MEASURED))
    return facts(pairs, spacing=Spacing.MEDIUM)


def _earlier(view: CallPanelView) -> list[BodyItem]:
    if not view.earlier:
        return [text("First call from this caller in 30 days.", subtle=True)]
    items: list[BodyItem] = [text("This caller's recent calls", weight=TextWeight.BOLDER)]
    for call in view.earlier:
        who = f"with {call.agent_name}" if call.agent_name else "not answered"
        code = f" · {call.code}" if call.code else ""
        items.append(
            text(
                f"{day_time(call.ended_at, view.zone)} · {call.queue_name} · {who}{code}",
                subtle=True,
            )
        )
    return items


def _notes(view: CallPanelView) -> list[BodyItem]:
    items: list[BodyItem] = [
        TextInput(
            NOTE_INPUT,
            label="Notes",
            placeholder="What the call was about",
            max_length=MAX_NOTE_CHARS,
            multiline=True,
            value=view.note,
        )
    ]
    if view.codes:
        items.append(
            ChoiceSetInput(
                CODE_INPUT,
                [Choice(code, code) for code in view.codes],
                label="Disposition",
                value=view.code or None,
                placeholder="Choose a code",
            )
        )
    saved = (
        f"Saved {clock_time(view.saved_at, view.zone)}."
        if view.saved_at is not None
        else "Not saved yet."
    )
    items.append(text(saved, subtle=True, size=TextSize.SMALL))
    data = {CALL_ID: view.call_id, RECORD_ID: view.record_id}
    items.append(action_set([ExecuteAction("Save notes", Verb.SAVE_NOTES, data)]))
    return items


def _transfer(view: CallPanelView) -> list[BodyItem]:
    if view.transfer_to:
        return [text(f"Ringing {view.transfer_to}: you stay on the call until they answer.")]
    data = {CALL_ID: view.call_id}
    items: list[BodyItem] = [text("Transfer", weight=TextWeight.BOLDER, spacing=Spacing.MEDIUM)]
    if view.queues:
        items += [
            ChoiceSetInput(
                TRANSFER_QUEUE_INPUT,
                [Choice(name, queue_id) for queue_id, name in view.queues],
                label="To a queue (the caller goes first in line)",
                placeholder="Choose a queue",
            ),
            action_set([ExecuteAction("Transfer to queue", Verb.TRANSFER_TO_QUEUE, data)]),
        ]
    if view.agents:
        items += [
            ChoiceSetInput(
                TRANSFER_AGENT_INPUT,
                [Choice(name, agent_id) for agent_id, name in view.agents],
                label="To an agent (free now)",
                placeholder="Choose an agent",
            ),
            action_set([ExecuteAction("Transfer to agent", Verb.TRANSFER_TO_AGENT, data)]),
        ]
    else:
        items.append(text("No other agent is free right now.", subtle=True))
    return items


def _wrap_up(view: CallPanelView) -> list[BodyItem]:
    if view.wrap_up_until is None:
        return []
    data = {CALL_ID: view.call_id, RECORD_ID: view.record_id}
    actions: list[Action] = [
        ExecuteAction("End wrap-up", Verb.END_WRAP_UP, data, style=ActionStyle.POSITIVE)
    ]
    if view.extension_s > 0:
        actions.append(
            ExecuteAction(f"More time (+{duration(view.extension_s)})", Verb.EXTEND_WRAP_UP, data)
        )
    return [
        text(
            f"Wrap-up until {clock_time(view.wrap_up_until, view.zone)}: your notes go on "
            "the call's record when it ends.",
            spacing=Spacing.MEDIUM,
        ),
        action_set(actions),
    ]


def call_panel_card(view: CallPanelView) -> Card:
    """The card of the call at hand: on the call, or just ended (wrap-up)."""
    body: list[BodyItem] = []
    if view.problem:
        body.append(text(view.problem, weight=TextWeight.BOLDER))
    body += [_header(view), _facts(view)]
    if view.ended_at is None:
        body += _earlier(view)
    body += _notes(view)
    if view.ended_at is None:
        body += _transfer(view)
    else:
        body += _wrap_up(view)
    refresh = Refresh(
        ExecuteAction("Refresh", Verb.REFRESH, {KIND: RefreshKind.CALL, CALL_ID: view.call_id}),
        user_ids=(view.agent_mri,) if view.agent_mri else (),
    )
    state = "on a call" if view.ended_at is None else "call ended"
    return Card(
        body=body,
        refresh=refresh,
        fallback_text=f"{view.queue_name} · {view.caller_name}: {state}",
    )
