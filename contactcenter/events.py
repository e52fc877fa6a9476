"""Call events: what the domain learns from Graph's notifications, in its own terms.

``graph/`` parses ``commsNotifications`` into these; the engine handles them. Every event
carries a ``key`` that identifies what happened (not the delivery), so a redelivered or
reordered notification can be recognised and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from contactcenter.model import Party


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A new call for one of our resource accounts (Graph state ``incoming``)."""

    tenant_id: str
    call_id: str
    caller: Party
    # The called identity: an application instance id, or a phone number.
    target_id: str
    chain_id: str = ""
    target_display_name: str = ""

    @property
    def key(self) -> str:
        return f"{self.call_id}:incoming"


class GraphCallState(StrEnum):
    """Graph's call states (``callState``), plus ``ringing`` which its SDK enum lacks."""

    INCOMING = "incoming"
    ESTABLISHING = "establishing"
    RINGING = "ringing"
    ESTABLISHED = "established"
    HOLD = "hold"
    TRANSFERRING = "transferring"
    TRANSFER_ACCEPTED = "transferAccepted"
    REDIRECTING = "redirecting"
    TERMINATING = "terminating"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class CallStateChanged:
    """The call moved to ``state``; ``result_*`` come with ``terminated``.

    ``termination_reason`` is what a terminated call says instead of a result when a
    consultative transfer ended it (``AppTransferred``).
    """

    tenant_id: str
    call_id: str
    state: GraphCallState
    result_code: int | None = None
    result_subcode: int | None = None
    result_message: str = ""
    termination_reason: str = ""

    @property
    def key(self) -> str:
        return f"{self.call_id}:state:{self.state.value}"


class OperationKind(StrEnum):
    INVITE = "invite"
    PLAY_PROMPT = "playPrompt"
    RECORD_RESPONSE = "recordResponse"
    SUBSCRIBE_TO_TONE = "subscribeToTone"
    CANCEL_MEDIA_PROCESSING = "cancelMediaProcessing"
    OTHER = "other"


class OperationStatus(StrEnum):
    NOT_STARTED = "notStarted"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OperationFinished:
    """A long-running action (invite, playPrompt, recordResponse...) completed or failed.

    ``operation_id`` is empty when Graph names none (an invitation of several
    participants): the client context then tells the operation.
    """

    tenant_id: str
    call_id: str
    operation_id: str
    kind: OperationKind
    status: OperationStatus
    client_context: str = ""
    result_code: int | None = None
    result_subcode: int | None = None
    result_message: str = ""
    # Invite: the user ids the operation was about.
    user_ids: tuple[str, ...] = ()
    # recordResponse: where to fetch the recording, and the bearer token to fetch it with.
    recording_location: str | None = None
    recording_access_token: str | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return f"{self.call_id}:op:{self.operation_id or self.client_context}:{self.status.value}"


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One participant in a call's roster."""

    participant_id: str
    user_id: str | None = None
    application_id: str | None = None
    phone: str | None = None
    is_in_lobby: bool = False


@dataclass(frozen=True, slots=True)
class RosterUpdated:
    """The call's participants now are exactly ``participants``."""

    tenant_id: str
    call_id: str
    participants: tuple[RosterEntry, ...]

    @property
    def key(self) -> str:
        ids = ",".join(sorted(f"{p.participant_id}/{p.user_id}" for p in self.participants))
        return f"{self.call_id}:roster:{ids}"


@dataclass(frozen=True, slots=True)
class ToneReceived:
    """The caller pressed a key (``tone`` is 0-9, ``*`` or ``#``)."""

    tenant_id: str
    call_id: str
    tone: str
    sequence_id: int

    @property
    def key(self) -> str:
        return f"{self.call_id}:tone:{self.sequence_id}"


CallEvent = IncomingCall | CallStateChanged | OperationFinished | RosterUpdated | ToneReceived
