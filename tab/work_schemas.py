"""The JSON shapes of the agent's after-call work: dispositions and callbacks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from contactcenter.dispositions import MAX_NOTE_CHARS
from tab.schemas import MULTI_LINE, ApiModel, PartyView, RequestModel


class DispositionBody(RequestModel):
    """What a call was about: one of its queue's codes, and a note."""

    code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = Field(
        default=None,
        description="One of the queue's disposition codes; null (or empty) when the queue "
        "has none.",
    )
    note: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=MAX_NOTE_CHARS), MULTI_LINE
    ] = ""


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
