"""The voicemail card: a message left in a queue's shared voicemail, and who handled it.

Every agent of the queue gets a copy; when one of them handles it (here or in the tab)
every copy is updated in place to say by whom and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.cards.adaptive import (
    Action,
    ActionStyle,
    BodyItem,
    Card,
    ExecuteAction,
    OpenUrlAction,
    Refresh,
    Spacing,
    TextColor,
    TextWeight,
    text,
)
from bot.cards.caller import caller_facts, caller_header
from bot.cards.units import day_time, duration
from bot.cards.verbs import KIND, VOICEMAIL_ID, RefreshKind, Verb


@dataclass(frozen=True, slots=True)
class VoicemailView:
    """What the voicemail card shows."""

    voicemail_id: str
    queue_name: str
    caller_name: str
    caller_number: str
    recorded_at: datetime
    zone: tzinfo
    duration_s: float
    ivr_path: tuple[str, ...] = ()
    has_recording: bool = True
    # Where "Listen" leads: the tab, opened on this voicemail (None: no link).
    listen_url: str | None = None
    handled_by_name: str | None = None
    handled_at: datetime | None = None
    # The agent's Teams user id (MRI), so that their client refreshes the card on display.
    agent_mri: str = ""

    @property
    def handled(self) -> bool:
        return self.handled_by_name is not None

    def handled_line(self) -> str:
        """Say who handled the voicemail and when."""
        when = f" at {day_time(self.handled_at, self.zone)}" if self.handled_at else ""
        return f"Handled by {self.handled_by_name}{when}."


def _details(view: VoicemailView) -> BodyItem:
    return caller_facts(
        caller_name=view.caller_name,
        caller_number=view.caller_number,
        queue_name=view.queue_name,
        ivr_path=view.ivr_path,
        about=[
            ("Left", day_time(view.recorded_at, view.zone)),
            ("Length", duration(view.duration_s)),
        ],
    )


def voicemail_card(view: VoicemailView, *, note: str | None = None) -> Card:
    """The voicemail as it is: waiting, with Mark handled and Listen, or handled.

    ``note`` (bold, on top) answers the agent who pressed a button, e.g. that someone
    else handled the message first.
    """
    body: list[BodyItem] = []
    if note is not None:
        body.append(text(note, weight=TextWeight.BOLDER, color=TextColor.WARNING))
    body.append(
        caller_header(f"Voicemail · {view.queue_name}", view.caller_name, live=not view.handled)
    )
    body.append(_details(view))
    actions: list[Action] = []
    refresh: Refresh | None = None
    if view.handled:
        body.append(
            text(
                view.handled_line(),
                weight=TextWeight.BOLDER,
                color=TextColor.GOOD,
                spacing=Spacing.MEDIUM,
            )
        )
    else:
        data = {VOICEMAIL_ID: view.voicemail_id}
        actions.append(
            ExecuteAction("Mark handled", Verb.VOICEMAIL, data, style=ActionStyle.POSITIVE)
        )
        if view.caller_number:
            # The queue calls back, as its callbacks go
            # (docs/decisions/0023-transfers-and-calling-back.md).
            actions.append(ExecuteAction("Call back", Verb.CALL_BACK, data))
        body.append(
            text(
                "Any agent of the queue may call back and mark it handled.",
                subtle=True,
            )
        )
        refresh = Refresh(
            ExecuteAction("Refresh", Verb.REFRESH, {KIND: RefreshKind.VOICEMAIL, **data}),
            user_ids=(view.agent_mri,) if view.agent_mri else (),
        )
    if not view.has_recording:
        body.append(text("The recording could not be saved.", color=TextColor.WARNING))
    elif view.listen_url:
        actions.append(OpenUrlAction("Listen", view.listen_url))
    status = view.handled_line() if view.handled else "waiting"
    return Card(
        body=body,
        actions=actions,
        refresh=refresh,
        fallback_text=f"Voicemail from {view.caller_name} ({view.queue_name}): {status}",
    )
