"""One example of every kind of card the bot sends, for snapshots, validation and rendering."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.cards.adaptive import Card
from bot.cards.agent import (
    AgentStatsView,
    AgentStatusView,
    CommandHelp,
    QueueMembership,
    help_card,
    stats_card,
    status_card,
)
from bot.cards.call import CallPanelView, EarlierCall, call_panel_card
from bot.cards.callbacks import (
    CallbackOutcome,
    CallbackView,
    callback_ended_card,
    callback_waiting_card,
)
from bot.cards.links import TabLinks
from bot.cards.notices import error_card, notice_card
from bot.cards.offers import (
    OfferView,
    missed_call_card,
    offer_accepted_card,
    offer_card,
    offer_ended_card,
)
from bot.cards.queue import QueueSnapshot, queue_card
from bot.cards.voicemail import VoicemailView, voicemail_card
from contactcenter.model import AgentActivity, AgentStatus, CallbackStatus
from contactcenter.ports import OfferEnd

NEW_YORK = ZoneInfo("America/New_York")
LINKS = TabLinks(
    web_url="https://contoso.example/tab/", teams_app_id="6d3c1f6e-2c1a-4e5b-9a51-0c0ffee0d3d0"
)
VOICEMAIL = VoicemailView(
    voicemail_id="vm-3f1c2a9e-0000-4000-8000-000000000003",
    queue_name="Support",
    caller_name="+1 425 555 0142",
    caller_number="+14255550142",
    recorded_at=datetime(2026, 3, 2, 18, 47, tzinfo=UTC),
    zone=NEW_YORK,
    duration_s=37.6,
    ivr_path=("Main menu", "Support"),
    listen_url=LINKS.voicemail("vm-3f1c2a9e-0000-4000-8000-000000000003"),
    agent_mri="29:1a2b3c",
)
ON_CALL = CallPanelView(
    call_id="491f0b00-6f43-4c6e-9a4d-1f2e3d4c5b6a",
    record_id="491f0b00-6f43-4c6e-9a4d-1f2e3d4c5b6a",
    queue_name="Sales",
    caller_name="Megan Bowen",
    caller_number="+14255550123",
    waited_s=18.4,
    answered_at=datetime(2026, 3, 2, 15, 18, tzinfo=UTC),
    zone=NEW_YORK,
    note="Wants a quote\nfor three seats",
    code=None,
    codes=("Sale", "Question", "Complaint"),
    earlier=(
        EarlierCall(datetime(2026, 2, 27, 14, 2, tzinfo=UTC), "Support", "Dev Patel", "Question"),
        EarlierCall(datetime(2026, 2, 20, 21, 40, tzinfo=UTC), "Sales", "", None),
    ),
    queues=(("q-support", "Support"),),
    agents=(("b0b0b0b0-0000-4000-8000-000000000002", "Ben Okafor"),),
    agent_mri="29:1a2b3c",
    saved_at=datetime(2026, 3, 2, 15, 19, tzinfo=UTC),
)
ENDED = replace(
    ON_CALL,
    ended_at=datetime(2026, 3, 2, 15, 22, 30, tzinfo=UTC),
    talk_s=270,
    code="Sale",
    wrap_up_until=datetime(2026, 3, 2, 15, 23, tzinfo=UTC),
    extension_s=60,
)
HANDLED = replace(
    VOICEMAIL,
    handled_by_name="Ana Ruiz",
    handled_at=datetime(2026, 3, 2, 19, 2, tzinfo=UTC),
    agent_mri="",
)
CALLBACK = CallbackView(
    request_id="callback-3f1c2a9e-0000-4000-8000-000000000004",
    queue_name="Support",
    caller_name="Megan Bowen",
    caller_number="+14255550123",
    requested_at=datetime(2026, 3, 2, 18, 55, tzinfo=UTC),
    zone=NEW_YORK,
    ivr_path=("Main menu", "Support"),
    max_attempts=3,
    open_url=LINKS.workspace(),
)
RING_FIRST = OfferView(
    call_id="3f1c2a9e-0000-4000-8000-000000000001",
    queue_name="Sales",
    caller_name="+1 425 555 0199",
    caller_number="+14255550199",
    previous_calls=2,
    waited_s=42.4,
    ivr_path=("Main menu", "Sales"),
    agent_mri="29:1a2b3c",
)
CARD_FIRST = OfferView(
    call_id="3f1c2a9e-0000-4000-8000-000000000002",
    queue_name="Support",
    caller_name="Megan Bowen",
    caller_number="",
    previous_calls=0,
    waited_s=75.0,
    card_first=True,
    agent_mri="29:1a2b3c",
)
SNAPSHOT = QueueSnapshot(
    queue_id="q-sales",
    queue_name="Sales",
    waiting=3,
    longest_wait_s=48.0,
    agents_available=1,
    agents_on_call=2,
    agents_wrap_up=1,
    agents_away=1,
    offered=57,
    answered=49,
    abandoned=5,
    service_level=0.837,
    service_level_threshold_s=20,
    asa_s=14.2,
    as_of=datetime(2026, 3, 2, 19, 5, tzinfo=UTC),
    zone=ZoneInfo("America/New_York"),
    alerts=("A caller has waited over 0:20",),
)
QUIET = QueueSnapshot(
    queue_id="q-support",
    queue_name="Support",
    waiting=0,
    longest_wait_s=0.0,
    agents_available=0,
    agents_on_call=0,
    agents_wrap_up=0,
    agents_away=2,
    offered=0,
    answered=0,
    abandoned=0,
    service_level=None,
    service_level_threshold_s=20,
    asa_s=None,
    as_of=datetime(2026, 3, 2, 13, 0, tzinfo=UTC),
    zone=ZoneInfo("America/New_York"),
)
COMMANDS = (
    CommandHelp("status", "Show your status and queues"),
    CommandHelp("available", "Take calls again"),
    CommandHelp("away [reason]", "Stop taking calls for now"),
)
STATUS = AgentStatusView(
    display_name="Ana Ruiz",
    status=AgentStatus.AVAILABLE,
    reason=None,
    activity=AgentActivity.IDLE,
    queues=(
        QueueMembership("q-sales", "Sales", signed_in=True),
        QueueMembership("q-support", "Support", signed_in=False),
    ),
)


def every_card() -> dict[str, Card]:
    """Return each card kind by a stable name (the snapshot's file name)."""
    cards: dict[str, Card] = {
        "offer-ring-first": offer_card(RING_FIRST),
        "offer-card-first": offer_card(CARD_FIRST),
        "offer-accepted": offer_accepted_card(CARD_FIRST),
    }
    for how in OfferEnd:
        cards[f"offer-ended-{how.value}"] = offer_ended_card(RING_FIRST, how)
    cards["call-on-a-call"] = call_panel_card(ON_CALL)
    cards["call-transferring"] = call_panel_card(replace(ON_CALL, transfer_to="Ben Okafor"))
    cards["call-ended-wrap-up"] = call_panel_card(ENDED)
    cards["call-ended-note-refused"] = call_panel_card(
        replace(ENDED, wrap_up_until=None, extension_s=0, problem="Not saved: a control character")
    )
    cards.update(
        {
            "missed-call": missed_call_card(
                RING_FIRST, missed_in_a_row=2, away_after=3, open_url=LINKS.workspace()
            ),
            "missed-call-set-away": missed_call_card(
                RING_FIRST,
                missed_in_a_row=3,
                away_after=3,
                open_url=LINKS.workspace(),
                set_away=True,
            ),
            "voicemail": voicemail_card(VOICEMAIL),
            "voicemail-handled": voicemail_card(HANDLED),
            "voicemail-already-handled": voicemail_card(
                HANDLED,
                note=f"Already handled: {HANDLED.handled_line()} Nothing was changed.",
            ),
            "voicemail-no-recording": voicemail_card(
                replace(VOICEMAIL, has_recording=False, ivr_path=())
            ),
            "callback-waiting": callback_waiting_card(CALLBACK),
            "callback-connected": callback_ended_card(
                CALLBACK,
                CallbackOutcome(
                    CallbackStatus.CONNECTED,
                    datetime(2026, 3, 2, 19, 10, tzinfo=UTC),
                    attempts=1,
                    agent_name="Chloe Martin",
                ),
            ),
            "callback-failed": callback_ended_card(
                CALLBACK,
                CallbackOutcome(
                    CallbackStatus.FAILED, datetime(2026, 3, 2, 19, 40, tzinfo=UTC), attempts=3
                ),
            ),
            "queue": queue_card(SNAPSHOT),
            "queue-quiet": queue_card(QUIET),
            "help": help_card(COMMANDS),
            "help-not-understood": help_card(COMMANDS, not_understood="make coffee"),
            "status-available": status_card(STATUS, note="You are signed in to Sales."),
            "status-away": status_card(
                AgentStatusView(
                    display_name="Ben Okafor",
                    status=AgentStatus.AWAY,
                    reason="Lunch",
                    activity=AgentActivity.WRAP_UP,
                    queues=(),
                    has_seat=False,
                )
            ),
            "stats": stats_card(
                AgentStatsView(
                    display_name="Ana Ruiz",
                    answered=12,
                    talk_s=3725.0,
                    missed_offers=1,
                    longest_call_s=911.0,
                )
            ),
            "error": error_card(
                "Unknown action",
                "This card asked for “dance”, which I do not know.",
                code="badVerb",
            ),
            "notice": notice_card(
                "This call is no longer available", "Another agent took it, or the caller hung up."
            ),
        }
    )
    return cards
