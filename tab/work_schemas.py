"""The JSON shapes of the agent's call at hand and after-call work: notes, transfers, callbacks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, StringConstraints, model_validator

from contactcenter.dispositions import MAX_NOTE_CHARS, note_line_ends
from contactcenter.model import CallOutcome
from tab.schemas import MULTI_LINE, ApiModel, Identifier, PartyView, RequestModel


def _line_ends(value: object) -> object:
    return note_line_ends(value) if isinstance(value, str) else value


NoteText = Annotated[
    str,
    BeforeValidator(_line_ends),
    StringConstraints(strip_whitespace=True, max_length=MAX_NOTE_CHARS),
    MULTI_LINE,
]
"""A note: plain text over several lines (line breaks and tabs), blank ends stripped."""


class DispositionBody(RequestModel):
    """What a call was about: one of its queue's codes, and a note."""

    code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = Field(
        default=None,
        description="One of the queue's disposition codes; null (or empty) when the queue "
        "has none.",
    )
    note: NoteText = ""


CallbackProgress = Literal[
    "scheduled", "waiting", "reserved", "dialing", "connected", "failed", "cancelled"
]


class CallbackAttemptView(ApiModel):
    number: int
    started_at: datetime
    ended_at: datetime | None
    result: str
    agent_id: str


class MyCallbackView(ApiModel):
    id: str
    queue_id: str
    queue_name: str
    number: PartyView
    requested_at: datetime
    status: CallbackProgress = Field(
        description="scheduled: waiting for its (next) attempt; waiting: in line; reserved: "
        "an agent is being held for it; dialing: the call back is ringing; then how it ended."
    )
    position: int | None = Field(
        description="Place in the queue's line (1 = next): where it is, or where it goes "
        "back to when scheduled; null once an agent is reserved or it has ended."
    )
    attempts: list[CallbackAttemptView]
    max_attempts: int | None = Field(description="Attempts allowed; null once ended.")
    next_attempt_at: datetime | None
    ended_at: datetime | None
    assigned_to_me: bool = Field(description="I am (or was) the agent reserved for it.")


class MyCallbacksView(ApiModel):
    waiting: list[MyCallbackView] = Field(
        description="Callbacks not yet done in my queues, in the order they are served."
    )
    recent: list[MyCallbackView] = Field(
        description="Callbacks of my queues that ended in the last day, newest first."
    )


# ------------------------------------------------------------------ the call at hand
class NotesBody(RequestModel):
    """Notes as typed, and a code if one is picked: saved as they are, code or not."""

    code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = Field(
        default=None, description="One of the queue's disposition codes; null: none picked yet."
    )
    note: NoteText = Field(
        default="",
        description=f"Plain text over several lines (line breaks and tabs), at most "
        f"{MAX_NOTE_CHARS} characters once blank ends are stripped.",
    )


class NotesView(ApiModel):
    """A call's notes and code as saved: a draft of the call at hand, or on its record."""

    call_id: str
    note: str
    code: str | None
    codes: list[str] = Field(description="The queue's codes to pick from (empty: a note only).")
    saved_at: datetime | None
    saved_to: Literal["draft", "record"] | None = Field(
        description="draft: kept with me until my wrap-up ends, then on the record."
    )


class TransferBody(RequestModel):
    """Whom to hand my call to: a queue, or an agent (exactly one)."""

    queue_id: Identifier | None = None
    agent_id: Identifier | None = None

    @model_validator(mode="after")
    def _one_target(self) -> TransferBody:
        if (self.queue_id is None) == (self.agent_id is None):
            raise ValueError("name either a queue or an agent")
        return self


class TransferQueueView(ApiModel):
    id: str
    name: str


class TransferAgentView(ApiModel):
    id: str
    name: str
    free: bool = Field(description="Available and not on a call: can take a transfer now.")


class TransferTargetsView(ApiModel):
    queues: list[TransferQueueView]
    agents: list[TransferAgentView]


class CallerCallView(ApiModel):
    """One of a caller's earlier calls, as the agent on the line sees it."""

    id: str
    queue_name: str
    ended_at: datetime
    outcome: CallOutcome
    agent_name: str
    disposition_code: str | None
    disposition_note: str


class CallerHistoryView(ApiModel):
    caller: PartyView
    calls: list[CallerCallView] = Field(description="Newest first, at most five.")


class CallbackAskedView(ApiModel):
    """The callback an agent asked for: it waits in the queue's line."""

    id: str
    queue_id: str
    queue_name: str
    number: PartyView
