"""The Protocols through which the domain reaches the world.

Adapters in ``storage/``, ``graph/`` and ``bot/`` implement these; tests use in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from contactcenter.events import RosterEntry
from contactcenter.model import (
    Agent,
    Call,
    CallbackRequest,
    CallRecord,
    MembershipKind,
    Party,
    Voicemail,
)
from contactcenter.wav import WavAudio


# --------------------------------------------------------------------------- store
@dataclass(frozen=True, slots=True)
class StoredDocument:
    """One JSON document as a store holds it; ``etag`` changes on every write."""

    collection: str
    tenant_id: str
    id: str
    body: Mapping[str, Any]
    etag: str


class Op(StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


@dataclass(frozen=True, slots=True)
class Condition:
    """A filter on a top-level body field (``field`` as stored, i.e. camelCase)."""

    field: str
    op: Op
    value: str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a query; pass ``continuation`` back to get the next."""

    documents: list[StoredDocument]
    continuation: str | None = None


class Store(Protocol):
    """A document store with single-document compare-and-set, and nothing more.

    There are no multi-document transactions: Cosmos DB has none across partitions.
    ``tenant_id`` is the partition; a query with ``tenant_id=None`` crosses tenants and is
    for background work (timers, purges) only.

    Raises :class:`~contactcenter.errors.NotFound` for a missing document and
    :class:`~contactcenter.errors.Conflict` when a create finds the id taken or a
    conditional write finds a different ``etag``.
    """

    async def read(self, collection: str, tenant_id: str, doc_id: str) -> StoredDocument: ...

    async def create(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument: ...

    async def replace(
        self,
        collection: str,
        tenant_id: str,
        doc_id: str,
        body: Mapping[str, Any],
        *,
        if_match: str,
    ) -> StoredDocument: ...

    async def upsert(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument: ...

    async def delete(
        self, collection: str, tenant_id: str, doc_id: str, *, if_match: str | None = None
    ) -> None: ...

    async def query(
        self,
        collection: str,
        tenant_id: str | None,
        where: Sequence[Condition] = (),
        *,
        order_by: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
        continuation: str | None = None,
    ) -> Page:
        """Return documents matching every condition; ``order_by`` is (field, descending)."""
        ...

    async def count(
        self, collection: str, tenant_id: str | None, where: Sequence[Condition] = ()
    ) -> int: ...

    async def close(self) -> None: ...


# ------------------------------------------------------------------- call control
@dataclass(frozen=True, slots=True)
class MediaPrompt:
    """A prompt Graph fetches from our public URL (service-hosted media)."""

    uri: str
    resource_id: str


@dataclass(frozen=True, slots=True)
class Invitation:
    """The result of inviting a participant: the operation and participant ids Graph gave."""

    operation_id: str
    participant_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutboundCall:
    """What Graph returned when we placed a call."""

    call_id: str
    state: str


class RejectReason(StrEnum):
    NONE = "none"
    BUSY = "busy"
    FORBIDDEN = "forbidden"


class CallControl(Protocol):
    """Graph's cloud-communications actions on a call, as the domain needs them.

    Errors come back as :class:`~contactcenter.errors.CallControlError`,
    :class:`~contactcenter.errors.NotFound`, :class:`~contactcenter.errors.Throttled`
    (after retries) or :class:`~contactcenter.errors.Unavailable`.
    """

    async def answer(
        self, call_id: str, *, callback_uri: str, prefetch: Sequence[MediaPrompt] = ()
    ) -> None: ...

    async def reject(self, call_id: str, reason: RejectReason = RejectReason.NONE) -> None: ...

    async def redirect(
        self, call_id: str, target: Party, *, timeout_s: int = 60, callback_uri: str
    ) -> None: ...

    async def transfer(self, call_id: str, target: Party) -> None: ...

    async def play_prompt(
        self, call_id: str, prompts: Sequence[MediaPrompt], *, client_context: str
    ) -> str:
        """Start playing; return the operation id whose completion Graph notifies."""
        ...

    async def cancel_media_processing(self, call_id: str, *, client_context: str) -> None: ...

    async def subscribe_to_tone(self, call_id: str, *, client_context: str) -> None: ...

    async def record_response(
        self,
        call_id: str,
        *,
        prompt: MediaPrompt | None,
        max_duration_s: int,
        client_context: str,
    ) -> str: ...

    async def invite(
        self,
        call_id: str,
        agent: Party,
        *,
        client_context: str,
        replaces_call_id: str | None = None,
        participant_id: str | None = None,
    ) -> Invitation: ...

    async def remove_participant(self, call_id: str, participant_id: str) -> None: ...

    async def other_participants(self, call_id: str) -> list[str]:
        """Return the participant ids of everyone in the call but our bot."""
        ...

    async def roster(self, call_id: str) -> list[RosterEntry]:
        """Return who is in the call now, our bot included, as a roster update names them.

        Raises :class:`~contactcenter.errors.NotFound` once Graph no longer knows the call.
        """
        ...

    async def hang_up(self, call_id: str) -> None:
        """Leave the call: for a group call only our leg ends, the others talk on."""
        ...

    async def keep_alive(self, call_id: str) -> None: ...

    async def place_call(
        self,
        *,
        tenant_id: str,
        source_application_instance_id: str,
        target: Party,
        callback_uri: str,
        prefetch: Sequence[MediaPrompt] = (),
    ) -> OutboundCall: ...


# ------------------------------------------------------------------------ presence
@dataclass(frozen=True, slots=True)
class PresenceReading:
    """A user's Teams presence as Graph reports it."""

    user_id: str
    availability: str
    activity: str


class Presence(Protocol):
    """Teams presence of many users at once (Graph: at most 650 ids per request)."""

    async def get_presences(
        self, tenant_id: str, user_ids: Sequence[str]
    ) -> list[PresenceReading]: ...


# ------------------------------------------------------------------------ notifier
class OfferEnd(StrEnum):
    """Why an offer to an agent ended, for updating the alert card in place."""

    ANSWERED = "answered"
    TAKEN_BY_OTHER = "taken-by-other"
    CALLER_HUNG_UP = "caller-hung-up"
    MISSED = "missed"
    DECLINED = "declined"
    SET_AWAY = "set-away"
    # The call left the queue (timed out, moved on) or the invitation could not be sent.
    WITHDRAWN = "withdrawn"
    # The talk the agent answered is over (the card follows it into wrap-up).
    TALK_ENDED = "talk-ended"


@dataclass(frozen=True, slots=True)
class OfferAlert:
    """What an agent is told about an incoming offer."""

    tenant_id: str
    call_id: str
    agent_id: str
    queue_id: str
    queue_name: str
    caller: Party
    waited_s: float
    card_first: bool = False
    ivr_path: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class CallAtHand:
    """The agent's call as the engine just wrote it, for the card that follows the call.

    ``agent`` is the agent's document as written with it (on the call, or wrapping it up),
    ``call`` the live call, ``record`` its record once the talk ended (None while it goes
    on); ``time_zone`` is the tenant's (IANA name), from the engine's configuration cache.
    ``disposition_codes`` are the call's queue's once the talk ended (None: not passed).
    """

    agent: Agent
    call: Call
    time_zone: str
    record: CallRecord | None = None
    disposition_codes: tuple[str, ...] | None = None


class Notifier(Protocol):
    """Tells agents and supervisors what happens (Teams cards in production)."""

    async def offer_started(self, alert: OfferAlert) -> None: ...

    async def offer_ended(
        self, alert: OfferAlert, how: OfferEnd, *, at_hand: CallAtHand | None = None
    ) -> None:
        """Tell the agent how their offer ended; ``at_hand`` when they answered or talked.

        With ``at_hand`` the card of the call at hand needs no store reads for what it holds.
        """
        ...

    async def queue_changed(self, tenant_id: str, queue_id: str) -> None: ...

    async def voicemail_left(self, voicemail: Voicemail, agent_ids: Sequence[str]) -> None:
        """Tell the agents of the voicemail's queue that a message waits for them."""
        ...

    async def voicemail_handled(self, voicemail: Voicemail) -> None:
        """Tell the agents who were told of the voicemail who handled it, and when."""
        ...

    async def callback_waiting(self, line: Call, agent_ids: Sequence[str]) -> None:
        """Tell the queue's agents that a caller waits for a callback (the line is new)."""
        ...

    async def callback_ended(self, request: CallbackRequest) -> None:
        """Tell the agents who were told of a callback how it ended."""
        ...


# --------------------------------------------------------------------------- media
class MediaStore(Protocol):
    """Media blobs (uploaded prompts, voicemail recordings), per tenant, by id.

    ``get`` raises :class:`~contactcenter.errors.NotFound` for a missing blob; writes
    replace the blob whole (readers never see half a file).
    """

    async def put(self, tenant_id: str, media_id: str, data: bytes) -> None: ...

    async def get(self, tenant_id: str, media_id: str) -> bytes: ...

    async def delete(self, tenant_id: str, media_id: str) -> None: ...

    async def close(self) -> None: ...


class PromptConverter(Protocol):
    """Turns the audio of an uploaded WAV file into what Graph plays.

    Returns 16 kHz mono 16-bit little-endian PCM samples (no header): channels mixed
    down by averaging, resampled with a proper low-pass filter.
    """

    async def to_prompt_samples(self, audio: WavAudio) -> bytes: ...


class RecordingSource(Protocol):
    """Downloads what ``recordResponse`` recorded, with the access token Graph gave.

    Raises :class:`~contactcenter.errors.Unavailable` when the recording cannot be fetched.
    """

    async def fetch(self, location: str, access_token: str) -> bytes: ...


# -------------------------------------------------------------------------- timers
class TimerSchedule(Protocol):
    """Hears about durable due-times as the engine writes them.

    The due-times themselves live on the documents (any host fires them); this only lets
    a timer loop wake when something becomes due instead of polling, and lets a simulation
    schedule its timer events. ``due_at`` None means the document has nothing due.
    """

    def due_changed(
        self, collection: str, tenant_id: str, doc_id: str, due_at: datetime | None
    ) -> None: ...


# ----------------------------------------------------------------------- directory
@dataclass(frozen=True, slots=True)
class DirectoryPerson:
    """A person of the organization's directory (Entra ID), as the admin picks them."""

    id: str
    display_name: str
    mail: str = ""
    upn: str = ""


@dataclass(frozen=True, slots=True)
class PeoplePage:
    """One page of people; pass ``next_page`` back for the next (None: the last page)."""

    people: tuple[DirectoryPerson, ...]
    next_page: str | None = None


@dataclass(frozen=True, slots=True)
class DirectoryGroup:
    """A group of the directory; ``team``: it has a Teams team (same id)."""

    id: str
    display_name: str
    team: bool = False


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """One service plan of a licence a user holds (Graph's ``servicePlanInfo``)."""

    name: str
    provisioning_status: str
    sku: str = ""
    plan_id: str = ""


class Directory(Protocol):
    """The organization's directory: people, the members of teams and groups, licences.

    Errors come back as :class:`~contactcenter.errors.NotFound` (no such person, team,
    channel or group), :class:`~contactcenter.errors.Throttled` (after retries) or
    :class:`~contactcenter.errors.Unavailable`.
    """

    async def search_people(
        self, tenant_id: str, text: str, *, limit: int = 25, next_page: str | None = None
    ) -> PeoplePage:
        """Return people whose name, mail or sign-in name starts with a word of ``text``."""
        ...

    async def search_groups(self, tenant_id: str, text: str) -> list[DirectoryGroup]:
        """Return the groups and teams whose name starts with a word of ``text`` (a page)."""
        ...

    async def person(self, tenant_id: str, user_id: str) -> DirectoryPerson:
        """Return one person by their object id; raise NotFound when the directory has none."""
        ...

    async def members(
        self, tenant_id: str, kind: MembershipKind, source_id: str
    ) -> list[DirectoryPerson]:
        """Return every person who is a member of a team, channel ("team/channel") or group."""
        ...

    async def service_plans(self, tenant_id: str, user_id: str) -> list[ServicePlan]:
        """Return the service plans of every licence the person holds."""
        ...
