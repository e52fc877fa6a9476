"""The strings the engine hands Graph and reads back: client contexts and notification keys.

Graph echoes an operation's ``clientContext`` in the notification that reports it, so the
context says what the operation was for (which prompt, which offer); participant ids of
invitations are derived from their offer, so that any host can cancel one.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

_MEDIA = "media:"
_OFFER = "offer:"
_TRANSFER = "transfer:"
# The prefix of the context of an invitation that brings the caller into a callback call.
CALLBACK_INVITE = "callback:"
# Namespace of the participant ids invitations ask for.
_PARTICIPANTS = uuid.UUID("0c2d6f9e-5b8a-4f0e-9d3c-7a1e2b4c6d80")


class Purpose(StrEnum):
    """What a prompt operation was for (part of its client context)."""

    HOLD = "hold"
    MENU = "menu"
    LEAVE = "leave"
    RECORD = "record"


def media_context(seq: int, purpose: Purpose) -> str:
    """Return the client context of the call's prompt operation number ``seq``."""
    return f"{_MEDIA}{seq}:{purpose.value}"


def parse_media_context(context: str) -> tuple[int, Purpose] | None:
    """Return (sequence, purpose) from a prompt operation's client context, if it is ours."""
    if not context.startswith(_MEDIA):
        return None
    seq, _, purpose = context[len(_MEDIA) :].partition(":")
    if not seq.isdigit():
        return None
    try:
        return int(seq), Purpose(purpose)
    except ValueError:
        return None


def offer_context(call_id: str, attempt: int, agent_id: str) -> str:
    """Return the client context of the invitation that rings an agent for an offer."""
    return f"{_OFFER}{call_id}:{attempt}:{agent_id}"


def invitee_participant_id(call_id: str, attempt: int, agent_id: str) -> str:
    """The participant id an offer's invitation asks Graph to use for the agent.

    Derived from the offer, so any host can cancel an invitation whose answer from Graph
    it never saw (the inviting host died, or the answer is still on its way).
    """
    return str(uuid.uuid5(_PARTICIPANTS, offer_context(call_id, attempt, agent_id)))


def parse_offer_context(context: str) -> tuple[int, str] | None:
    """Return (attempt, agent id) from an invitation's client context, if it is ours."""
    if not context.startswith(_OFFER):
        return None
    parts = context[len(_OFFER) :].rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2]


def transfer_context(call_id: str, attempt: int, agent_id: str) -> str:
    """Return the client context of the invitation that hands a talk to another agent."""
    return f"{_TRANSFER}{call_id}:{attempt}:{agent_id}"


def transfer_participant_id(call_id: str, attempt: int, agent_id: str) -> str:
    """The participant id a transfer's invitation asks for (any host can cancel it)."""
    return str(uuid.uuid5(_PARTICIPANTS, transfer_context(call_id, attempt, agent_id)))


def parse_transfer_context(context: str) -> tuple[int, str] | None:
    """Return (attempt, agent id) from a transfer invitation's client context, if ours."""
    if not context.startswith(_TRANSFER):
        return None
    parts = context[len(_TRANSFER) :].rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2]


def remember_key(keys: tuple[str, ...], key: str | None, kept: int) -> tuple[str, ...]:
    """Return the keys of the notifications applied to a call, with ``key`` added."""
    if key is None or key in keys:
        return keys
    return (*keys, key)[-kept:]
