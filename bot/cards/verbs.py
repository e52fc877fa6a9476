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
    # The call at hand (data: CALL_ID, RECORD_ID; inputs NOTE_INPUT, CODE_INPUT...).
    SAVE_NOTES = "saveNotes"
    TRANSFER_TO_QUEUE = "transferToQueue"
    TRANSFER_TO_AGENT = "transferToAgent"
    END_WRAP_UP = "endWrapUp"
    EXTEND_WRAP_UP = "extendWrapUp"
    # Have the queue call a caller back (data: CALL_ID of a missed call, or VOICEMAIL_ID).
    CALL_BACK = "callBack"


class RefreshKind(StrEnum):
    """Which card a ``refresh`` is for."""

    OFFER = "offer"
    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    # The call an agent is on, or has just ended.
    CALL = "call"


# Keys of the action data (camelCase, as the client sends them back).
CALL_ID = "callId"
QUEUE_ID = "queueId"
VOICEMAIL_ID = "voicemailId"
RECORD_ID = "recordId"
KIND = "kind"
# Ids of the inputs whose values arrive merged into the action data.
REASON_INPUT = "reason"
QUEUE_INPUT = "queueId"
NOTE_INPUT = "note"
CODE_INPUT = "code"
TRANSFER_QUEUE_INPUT = "transferQueueId"
TRANSFER_AGENT_INPUT = "transferAgentId"
