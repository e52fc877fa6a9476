"""The verbs of the cards' ``Action.Execute`` buttons, and the data they carry.

The bot's ``adaptiveCard/action`` handler dispatches on these; a card built here and the
handler that answers it can never disagree on a spelling.
"""

from __future__ import annotations

from enum import StrEnum


class Verb(StrEnum):
    """What an ``Action.Execute`` button asks the bot to do."""

    ACCEPT = "accept"
    DECLINE = "decline"
    REFRESH = "refresh"
    AVAILABLE = "available"
    AWAY = "away"
    SIGN_IN = "signIn"
    SIGN_OUT = "signOut"
    # Mark a voicemail handled (data: VOICEMAIL_ID).
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"


class RefreshKind(StrEnum):
    """Which card a ``refresh`` is for."""

    OFFER = "offer"
    QUEUE = "queue"
    VOICEMAIL = "voicemail"


# Keys of the action data (camelCase, as the client sends them back).
CALL_ID = "callId"
QUEUE_ID = "queueId"
VOICEMAIL_ID = "voicemailId"
KIND = "kind"
# Ids of the inputs whose values arrive merged into the action data.
REASON_INPUT = "reason"
QUEUE_INPUT = "queueId"
