"""Calls as the simulated cloud sees them, and the book that holds them."""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from simulator.timers import TimerHandle


class GraphCallState(StrEnum):
    """Graph's ``callState`` values the simulator uses so far."""

    INCOMING = "incoming"
    ESTABLISHING = "establishing"
    ESTABLISHED = "established"
    HOLD = "hold"
    TRANSFERRING = "transferring"
    TRANSFER_ACCEPTED = "transferAccepted"
    REDIRECTING = "redirecting"
    TERMINATING = "terminating"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class ResultInfo:
    """Why a call ended, as Graph's ``resultInfo`` carries it."""

    code: int
    subcode: int
    message: str

    def to_json(self, *, as_text: bool = False, subcode_key: str = "subcode") -> dict[str, Any]:
        """Return Graph's JSON for it.

        The resultInfo resource documents numbers; the delete-call page's terminated
        notification writes them as strings (``as_text``), and the transfer page spells
        the subcode ``subCode`` (``subcode_key``): the simulator writes each notification
        as the page documenting it does.
        """
        return {
            "@odata.type": "#microsoft.graph.resultInfo",
            "code": str(self.code) if as_text else self.code,
            subcode_key: str(self.subcode) if as_text else self.subcode,
            "message": self.message,
        }


IDENTITY_SET = "#microsoft.graph.identitySet"
IDENTITY = "#microsoft.graph.identity"


def documented_identity_set(identity: dict[str, Any]) -> dict[str, Any]:
    """Return an identitySet as Graph's notifications write it: typed, set and members."""
    typed: dict[str, Any] = {"@odata.type": IDENTITY_SET}
    for kind, member in identity.items():
        if kind.startswith("@") or not isinstance(member, dict):
            continue
        typed[kind] = {"@odata.type": IDENTITY, **member}
    return typed


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request the bot made on a call, kept so tests can assert on it."""

    method: str
    path: str
    body: Any
    status: int
    at: datetime

    def to_json(self) -> dict[str, Any]:
        """Return the control API's JSON for it."""
        return {
            "method": self.method,
            "path": self.path,
            "body": self.body,
            "status": self.status,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class DeliveredNotification:
    """A notification the simulator posted about a call, and how the bot answered it."""

    change_type: str
    resource_url: str
    state: str | None
    url: str
    status: int | None
    error: str | None
    at: datetime

    def to_json(self) -> dict[str, Any]:
        """Return the control API's JSON for it."""
        return {
            "changeType": self.change_type,
            "resourceUrl": self.resource_url,
            "state": self.state,
            "url": self.url,
            "status": self.status,
            "error": self.error,
            "at": self.at.isoformat(),
        }


class ParticipantRole(StrEnum):
    """Why a participant is on the call."""

    BOT = "bot"
    # The remote party the call was made with: who called in, or whom the bot called.
    CALLER = "caller"
    CALLEE = "callee"
    INVITEE = "invitee"
    TRANSFER_TARGET = "transferTarget"
    REDIRECT_TARGET = "redirectTarget"


class ParticipantStatus(StrEnum):
    """Where a participant is: ringing, in the call, or done one way or another."""

    RINGING = "ringing"
    JOINED = "joined"
    DECLINED = "declined"
    TIMED_OUT = "timedOut"
    CANCELLED = "cancelled"
    LEFT = "left"


@dataclass(slots=True)
class SimParticipant:
    """Someone in a call, or being rung to join it."""

    id: str
    role: ParticipantRole
    # Graph's identitySet, e.g. {"user": {"id", "displayName", "tenantId"}}.
    identity: dict[str, Any]
    status: ParticipantStatus
    created_at: datetime
    operation_id: str | None = None
    replaces_call_id: str | None = None
    joined_at: datetime | None = None
    ended_at: datetime | None = None
    result_info: ResultInfo | None = None
    # A transfer or redirect target goes on talking with the caller once the bot is gone.
    outlives_call: bool = False
    # The audio stream's source id in the call's mixer.
    source_id: int = 0
    timers: list[TimerHandle] = field(default_factory=list)

    @property
    def user_id(self) -> str | None:
        """Return the Teams user id, if the participant is a user."""
        user = self.identity.get("user")
        return str(user["id"]) if isinstance(user, dict) and user.get("id") else None

    @property
    def phone(self) -> str | None:
        """Return the phone number, if the participant is a phone."""
        phone = self.identity.get("phone")
        return str(phone["id"]) if isinstance(phone, dict) and phone.get("id") else None

    @property
    def is_remote(self) -> bool:
        """Return whether this is the party the call was made with."""
        return self.role in {ParticipantRole.CALLER, ParticipantRole.CALLEE}

    def matches(self, ref: str) -> bool:
        """Return whether ``ref`` names this participant: its id, user id or phone number."""
        wanted = ref.lower()
        return wanted in {
            value.lower() for value in (self.id, self.user_id, self.phone) if value is not None
        }

    def cancel_timers(self) -> None:
        """Stop whatever this participant was about to do."""
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()

    def graph_resource(self) -> dict[str, Any]:
        """Return Graph's ``participant`` JSON, as roster updates carry it."""
        # A roster names people and bots by id and display name, phones by number only.
        members: dict[str, Any] = {}
        for kind, member in self.identity.items():
            if not isinstance(member, dict):
                continue
            if kind == "phone":
                members[kind] = {"id": member.get("id")}
            else:
                members[kind] = {
                    "displayName": member.get("displayName") or "",
                    "id": member.get("id"),
                }
        return {
            "@odata.type": "#microsoft.graph.participant",
            "id": self.id,
            "info": {
                "@odata.type": "#microsoft.graph.participantInfo",
                "identity": documented_identity_set(members),
                "endpointType": "default",
            },
            "mediaStreams": [
                {
                    "@odata.type": "#microsoft.graph.mediaStream",
                    "mediaType": "audio",
                    "sourceId": str(self.source_id),
                    "direction": "sendReceive",
                    "serverMuted": False,
                }
            ],
            "isMuted": False,
            "isInLobby": False,
        }

    def view(self) -> dict[str, Any]:
        """Return the control API's JSON for it."""
        return {
            "id": self.id,
            "role": self.role.value,
            "status": self.status.value,
            "identity": self.identity,
            "operationId": self.operation_id,
            "createdAt": self.created_at.isoformat(),
            "joinedAt": self.joined_at.isoformat() if self.joined_at else None,
            "endedAt": self.ended_at.isoformat() if self.ended_at else None,
            "resultInfo": self.result_info.to_json() if self.result_info else None,
        }


@dataclass(frozen=True, slots=True)
class RecordSpec:
    """What a recordResponse asked for."""

    max_duration_s: int
    stop_tones: frozenset[str]


@dataclass(slots=True)
class MediaJob:
    """A prompt or recording in a call's media queue, and what it is waiting on."""

    # mediaInfo objects: {"uri", "resourceId"}.
    prompts: list[dict[str, Any]]
    # The simulator's own origin, for the recording's download URL.
    origin: str
    record: RecordSpec | None = None
    started_at: float | None = None
    # Set once its prompts were fetched and it plays (or records) for real.
    playing: bool = False
    task: asyncio.Task[None] | None = None
    timer: TimerHandle | None = None

    def stop(self) -> None:
        """Stop fetching and timing; the operation's outcome is decided by the caller."""
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
        if self.timer is not None:
            self.timer.cancel()


PLAY_PROMPT_OPERATION = "#microsoft.graph.playPromptOperation"
RECORD_OPERATION = "#microsoft.graph.recordOperation"
INVITE_OPERATION = "#microsoft.graph.inviteParticipantsOperation"


class OperationStatus(StrEnum):
    """Graph's ``operationStatus``."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(slots=True)
class SimOperation:
    """A ``commsOperation`` the bot started: an invite, a prompt, a recording..."""

    id: str
    # "#microsoft.graph.playPromptOperation" and so on.
    odata_type: str
    client_context: str | None
    created_at: datetime
    status: OperationStatus = OperationStatus.RUNNING
    result_info: ResultInfo | None = None
    # The type's own properties: participants, recordingLocation, completionReason...
    fields: dict[str, Any] = field(default_factory=dict)
    participant_ids: list[str] = field(default_factory=list)
    media: MediaJob | None = None
    ended_at: datetime | None = None

    def graph_resource(self, call: SimCall) -> dict[str, Any]:
        """Return the operation's Graph JSON."""
        return {
            "@odata.type": self.odata_type,
            "@odata.id": f"{call.resource_url}/operations/{self.id}",
            "id": self.id,
            "status": self.status.value,
            "clientContext": self.client_context,
            "resultInfo": self.result_info.to_json() if self.result_info else None,
            **self.fields,
        }

    def notification_resource(self, url: str, etag: str) -> dict[str, Any]:
        """Return the operation as its completion notification carries it.

        Each kind as the page documenting it writes it: playPrompt names the operation
        only in its URL; recordResponse adds the recording (and, failed, why); an
        invitation lists whom it invited.
        """
        result = self.result_info.to_json() if self.result_info is not None else None
        if self.odata_type == PLAY_PROMPT_OPERATION:
            return {
                "@odata.type": self.odata_type,
                "@odata.id": url,
                "@odata.etag": etag,
                "resultInfo": result,
                "clientContext": self.client_context,
                "status": self.status.value,
            }
        if self.odata_type == RECORD_OPERATION:
            resource = {
                "@odata.type": self.odata_type,
                "@odata.id": url,
                "@odata.etag": etag,
                "id": self.id,
                "clientContext": self.client_context,
                "status": self.status.value,
                "resultInfo": result,
                "recordingLocation": self.fields.get("recordingLocation") or "",
                "recordingAccessToken": self.fields.get("recordingAccessToken") or "",
            }
            if self.status is OperationStatus.FAILED:
                resource["completionReason"] = self.fields.get("completionReason")
            return resource
        if self.odata_type == INVITE_OPERATION:
            resource = {
                "@odata.type": self.odata_type,
                "participants": [
                    {
                        "@odata.type": "#microsoft.graph.invitationParticipantInfo",
                        "identity": documented_identity_set(
                            {
                                kind: {
                                    name: value
                                    for name, value in member.items()
                                    if name in {"id", "displayName"}
                                }
                                for kind, member in info["identity"].items()
                                if isinstance(member, dict)
                            }
                        ),
                    }
                    for info in self.fields.get("participants", ())
                ],
                "status": self.status.value,
                "clientContext": self.client_context,
                "id": self.id,
            }
            if result is not None:
                resource["resultInfo"] = result
            return resource
        return {
            "@odata.type": self.odata_type,
            "@odata.id": url,
            "id": self.id,
            "status": self.status.value,
            "clientContext": self.client_context,
            "resultInfo": result,
        }

    def view(self) -> dict[str, Any]:
        """Return the control API's JSON for it."""
        return {
            "id": self.id,
            "type": self.odata_type.removeprefix("#microsoft.graph."),
            "status": self.status.value,
            "clientContext": self.client_context,
            "resultInfo": self.result_info.to_json() if self.result_info else None,
            "participantIds": list(self.participant_ids),
            "createdAt": self.created_at.isoformat(),
            "endedAt": self.ended_at.isoformat() if self.ended_at else None,
            **{key: value for key, value in self.fields.items() if key != "participants"},
        }


@dataclass(slots=True)
class SimCall:
    """One call leg of the bot, with everything the simulator knows about it."""

    id: str
    tenant_id: str
    call_chain_id: str
    direction: str
    source: dict[str, Any]
    targets: list[dict[str, Any]]
    requested_modalities: list[str]
    created_at: datetime
    state: GraphCallState = GraphCallState.INCOMING
    callback_uri: str | None = None
    prefetched: list[dict[str, Any]] = field(default_factory=list)
    result_info: ResultInfo | None = None
    ended_at: datetime | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    notifications: list[DeliveredNotification] = field(default_factory=list)
    participants: dict[str, SimParticipant] = field(default_factory=dict)
    operations: dict[str, SimOperation] = field(default_factory=dict)
    # Prompts and recordings play one after another; the first one is the one playing.
    media_queue: deque[str] = field(default_factory=deque)
    tones_subscribed: bool = False
    tone_sequence: int = 0
    # A peer-to-peer call becomes a group call once a third participant joins, for good.
    group_call: bool = False
    answer_deadline: TimerHandle | None = None
    keep_alive_deadline: TimerHandle | None = None
    # The bot's participant id in the call (Graph's ``myParticipantId``), known from the start.
    my_participant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Graph's examples carry an ``@odata.etag`` that grows with every change of the call.
    etag: int = 0

    @property
    def resource_url(self) -> str:
        """Return the call's Graph resource path."""
        return f"/communications/calls/{self.id}"

    @property
    def ended(self) -> bool:
        """Return whether the call is over (Graph forgets it then)."""
        return self.state is GraphCallState.TERMINATED

    def add_participant(self, participant: SimParticipant) -> SimParticipant:
        """Put a participant on the call (ringing or joined), giving it an audio source id."""
        participant.source_id = len(self.participants) + 1
        self.participants[participant.id] = participant
        return participant

    def joined(self) -> list[SimParticipant]:
        """Return the participants in the call now, in the order they came."""
        return [p for p in self.participants.values() if p.status is ParticipantStatus.JOINED]

    def participant(self, ref: str) -> SimParticipant | None:
        """Find a participant by id, user id or phone number; the latest one wins."""
        by_id = self.participants.get(ref) or self.participants.get(ref.lower())
        if by_id is not None:
            return by_id
        found = [p for p in self.participants.values() if p.matches(ref)]
        return found[-1] if found else None

    def next_etag(self) -> str:
        """Return a new ``@odata.etag`` for the call's next notification."""
        self.etag += 1
        return f'W/"{self.etag}"'

    def stop_timers(self) -> None:
        """Cancel the call's own deadlines."""
        for timer in (self.answer_deadline, self.keep_alive_deadline):
            if timer is not None:
                timer.cancel()
        self.answer_deadline = self.keep_alive_deadline = None

    def graph_resource(self) -> dict[str, Any]:
        """Return the call as Graph's ``call`` resource JSON."""
        resource: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.call",
            "@odata.id": self.resource_url,
            "id": self.id,
            "state": self.state.value,
            "direction": self.direction,
            "callChainId": self.call_chain_id,
            "tenantId": self.tenant_id,
            "source": self.source,
            "targets": self.targets,
            "requestedModalities": self.requested_modalities,
            "myParticipantId": self.my_participant_id,
        }
        if self.callback_uri is not None:
            resource["callbackUri"] = self.callback_uri
        if self.result_info is not None:
            resource["resultInfo"] = self.result_info.to_json()
        return resource

    def view(self) -> dict[str, Any]:
        """Return the simulator's view: the resource plus what the bot did and was told."""
        return {
            "id": self.id,
            "tenantId": self.tenant_id,
            "callChainId": self.call_chain_id,
            "state": self.state.value,
            "direction": self.direction,
            "source": self.source,
            "targets": self.targets,
            "requestedModalities": self.requested_modalities,
            "callbackUri": self.callback_uri,
            "prefetched": self.prefetched,
            "resultInfo": self.result_info.to_json() if self.result_info else None,
            "createdAt": self.created_at.isoformat(),
            "endedAt": self.ended_at.isoformat() if self.ended_at else None,
            "groupCall": self.group_call,
            "tonesSubscribed": self.tones_subscribed,
            "participants": [p.view() for p in self.participants.values()],
            "operations": [op.view() for op in self.operations.values()],
            "requests": [request.to_json() for request in self.requests],
            "notifications": [note.to_json() for note in self.notifications],
        }


class CallBook:
    """Every call the simulator knows, with a way to wait for one to change."""

    def __init__(self, *, max_ended_calls: int) -> None:
        self._calls: dict[str, SimCall] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._max_ended = max_ended_calls
        self._changed = asyncio.Event()

    def add(self, call: SimCall) -> None:
        """Start keeping a call."""
        self._calls[call.id] = call
        self.touch()

    def get(self, call_id: str) -> SimCall | None:
        """Return a call, ended or not, or None."""
        return self._calls.get(call_id)

    def all(self) -> list[SimCall]:
        """Return every call kept, oldest first."""
        return list(self._calls.values())

    def mark_ended(self, call: SimCall) -> None:
        """Note that a call ended, forgetting the oldest ended calls beyond the limit."""
        self._ended[call.id] = None
        while len(self._ended) > self._max_ended:
            oldest, _ = self._ended.popitem(last=False)
            self._calls.pop(oldest, None)
        self.touch()

    def touch(self) -> None:
        """Wake everyone waiting for a change."""
        # Swap the event rather than clear it: a waiter woken by this change must not miss
        # the next one while it re-checks its condition.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate`` holds, re-checking after every change."""
        while not predicate():
            await self._changed.wait()
