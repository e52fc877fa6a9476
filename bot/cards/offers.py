"""The agent's alert card: an offer as it rings, as it ended, and a missed call."""

from __future__ import annotations

from dataclasses import dataclass

from bot.cards.adaptive import (
    ActionStyle,
    BodyItem,
    Card,
    ExecuteAction,
    OpenUrlAction,
    Refresh,
    Spacing,
    TextColor,
    TextSize,
    TextWeight,
    facts,
    text,
)
from bot.cards.caller import caller_facts, caller_header
from bot.cards.units import duration
from bot.cards.verbs import CALL_ID, KIND, RefreshKind, Verb
from contactcenter.model import PartyKind
from contactcenter.ports import OfferAlert, OfferEnd


@dataclass(frozen=True, slots=True)
class OfferView:
    """What the alert card shows about one offer to one agent."""

    call_id: str
    queue_name: str
    caller_name: str
    caller_number: str
    previous_calls: int
    waited_s: float
    ivr_path: tuple[str, ...] = ()
    card_first: bool = False
    # The agent's Teams user id (MRI), so that their client refreshes the card on display.
    agent_mri: str = ""

    @classmethod
    def from_alert(
        cls, alert: OfferAlert, *, previous_calls: int = 0, agent_mri: str = ""
    ) -> OfferView:
        """Describe the offer the engine announced."""
        caller = alert.caller
        number = caller.id if caller.kind is PartyKind.PHONE else ""
        if caller.kind is PartyKind.ANONYMOUS:
            name = "Anonymous caller"
        else:
            name = caller.display_name or caller.id or "Unknown caller"
        return cls(
            call_id=alert.call_id,
            queue_name=alert.queue_name,
            caller_name=name,
            caller_number=number,
            previous_calls=previous_calls,
            waited_s=alert.waited_s,
            ivr_path=alert.ivr_path,
            card_first=alert.card_first,
            agent_mri=agent_mri,
        )


def _previous(count: int) -> str:
    if count <= 0:
        return "First call"
    return f"{count} earlier call{'s' if count != 1 else ''}"


def _header(view: OfferView, *, live: bool) -> BodyItem:
    title = f"Incoming call · {view.queue_name}" if live else f"Call · {view.queue_name}"
    return caller_header(title, view.caller_name, live=live)


def _details(view: OfferView) -> BodyItem:
    return caller_facts(
        caller_name=view.caller_name,
        caller_number=view.caller_number,
        queue_name=view.queue_name,
        ivr_path=view.ivr_path,
        about=[
            ("Waited", duration(view.waited_s)),
            ("History", _previous(view.previous_calls)),
        ],
    )


def offer_card(view: OfferView) -> Card:
    """The alert while the offer is open.

    Ring-first: Teams rings at the same moment; the card offers Decline. Card-first: only
    Accept rings the agent's Teams client.
    """
    data = {CALL_ID: view.call_id}
    decline = ExecuteAction("Decline", Verb.DECLINE, data, style=ActionStyle.DESTRUCTIVE)
    if view.card_first:
        hint = "Accept to ring your Teams client."
        actions = [ExecuteAction("Accept", Verb.ACCEPT, data, style=ActionStyle.POSITIVE), decline]
    else:
        hint = "Your Teams client is ringing: answer there."
        actions = [decline]
    refresh = Refresh(
        ExecuteAction("Refresh", Verb.REFRESH, {KIND: RefreshKind.OFFER, CALL_ID: view.call_id}),
        user_ids=(view.agent_mri,) if view.agent_mri else (),
    )
    return Card(
        body=[_header(view, live=True), _details(view), text(hint, subtle=True)],
        actions=actions,
        refresh=refresh,
        fallback_text=f"Incoming {view.queue_name} call from {view.caller_name}",
    )


_ENDINGS: dict[OfferEnd, tuple[str, TextColor | None]] = {
    OfferEnd.ANSWERED: ("You answered this call.", TextColor.GOOD),
    OfferEnd.TAKEN_BY_OTHER: ("Another agent took this call.", None),
    OfferEnd.CALLER_HUNG_UP: ("The caller hung up before anyone answered.", TextColor.WARNING),
    OfferEnd.MISSED: ("Missed: the call was not answered in time.", TextColor.ATTENTION),
    OfferEnd.DECLINED: ("You declined this call.", None),
    OfferEnd.SET_AWAY: (
        "Missed, and you were set to away after missing several calls in a row.",
        TextColor.ATTENTION,
    ),
    OfferEnd.WITHDRAWN: ("The call left the queue.", None),
    OfferEnd.TALK_ENDED: ("The call has ended.", None),
}


def offer_ended_card(view: OfferView, how: OfferEnd) -> Card:
    """The same alert, updated in place once the offer is over: no buttons left to press."""
    message, color = _ENDINGS[how]
    actions: list[ExecuteAction] = []
    if how is OfferEnd.SET_AWAY:
        actions.append(ExecuteAction("I'm available", Verb.AVAILABLE, style=ActionStyle.POSITIVE))
    return Card(
        body=[
            _header(view, live=False),
            _details(view),
            text(message, weight=TextWeight.BOLDER, color=color, spacing=Spacing.MEDIUM),
        ],
        actions=actions,
        fallback_text=f"{view.queue_name} call from {view.caller_name}: {message}",
    )


def missed_call_card(
    view: OfferView,
    *,
    missed_in_a_row: int,
    away_after: int,
    open_url: str | None = None,
    set_away: bool = False,
) -> Card:
    """A separate note that the agent missed an offer (an update in place does not notify).

    The call itself went back to the queue: the buttons are about the agent's own
    availability and the workspace (docs/decisions/0013-card-actions.md), and about
    calling the caller back should nobody answer (docs/decisions/0023-transfers-and-calling-back.md).
    """
    pairs = [
        ("Caller", view.caller_name),
        ("Queue", view.queue_name),
        ("Missed in a row", str(missed_in_a_row)),
    ]
    body: list[BodyItem] = [
        text("Missed call", size=TextSize.MEDIUM, weight=TextWeight.BOLDER),
        facts(pairs),
        text("The call went back to the queue for the next agent.", subtle=True),
    ]
    if set_away:
        body.append(
            text(
                "You were set to away, so no calls are offered to you until you are available.",
                color=TextColor.ATTENTION,
            )
        )
    elif away_after > 0:
        left = max(0, away_after - missed_in_a_row)
        body.append(
            text(
                f"After {away_after} missed calls in a row you are set to away"
                + (f" ({left} to go)." if left else "."),
                subtle=True,
            )
        )
    actions: list[ExecuteAction | OpenUrlAction] = []
    if set_away:
        actions.append(ExecuteAction("I'm available", Verb.AVAILABLE, style=ActionStyle.POSITIVE))
    else:
        actions.append(ExecuteAction("Set me away", Verb.AWAY))
    if view.caller_number:
        # Once the call has left the queue unanswered, the queue can call the caller back.
        actions.append(ExecuteAction("Call back", Verb.CALL_BACK, {CALL_ID: view.call_id}))
    if open_url:
        actions.append(OpenUrlAction("Open in tab", open_url))
    return Card(
        body=body,
        actions=actions,
        fallback_text=f"You missed a {view.queue_name} call from {view.caller_name}",
    )


def offer_accepted_card(view: OfferView) -> Card:
    """The alert after Accept (card-first): Teams now rings the agent."""
    return Card(
        body=[
            _header(view, live=True),
            _details(view),
            text(
                "Accepted: your Teams client is ringing. Answer there.",
                weight=TextWeight.BOLDER,
                color=TextColor.GOOD,
                spacing=Spacing.MEDIUM,
            ),
        ],
        fallback_text=f"Accepted the {view.queue_name} call from {view.caller_name}",
    )
