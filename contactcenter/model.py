"""The domain model: tenants, users, queues, agents, calls and call records.

Every document carries ``tenant_id``. Each state change that must be atomic lives in one
document (design: no multi-document transactions), which is why an agent's claim on a call
is on the agent document and a call's current offer is on the call document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class RoutingMethod(StrEnum):
    """How a queue picks among its eligible agents."""

    ATTENDANT = "attendant"
    SERIAL = "serial"
    ROUND_ROBIN = "round-robin"
    LONGEST_IDLE = "longest-idle"


class AlertingModel(StrEnum):
    """Whether the Teams client rings at once (with a card) or only after Accept on the card."""

    RING_FIRST = "ring-first"
    CARD_FIRST = "card-first"


class ActionKind(StrEnum):
    """What happens to a call a queue cannot or will not take."""

    DISCONNECT = "disconnect"
    REDIRECT_USER = "redirect-user"
    REDIRECT_NUMBER = "redirect-number"
    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"


@dataclass(frozen=True, slots=True)
class QueueAction:
    """An overflow, timeout or no-agent action; ``target`` is a queue id, user id or number."""

    kind: ActionKind = ActionKind.DISCONNECT
    target: str | None = None
    prompt_id: str | None = None


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"


class TenantStatus(StrEnum):
    ACTIVE = "active"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class Tenant:
    """An organization using the contact center (an Entra tenant)."""

    id: str
    name: str
    time_zone: str = "UTC"
    seat_count: int = 0
    retention_days: int = 395
    status: TenantStatus = TenantStatus.ACTIVE
    terminated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class User:
    """Someone who signs in to the tab; roles decide what they may see and change."""

    id: str
    tenant_id: str
    display_name: str
    upn: str = ""
    roles: frozenset[Role] = frozenset()
    # Queues a supervisor watches; empty for an admin means every queue.
    supervised_queue_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Queue:
    """A call queue: who may take its calls, how they are picked and what happens otherwise."""

    id: str
    tenant_id: str
    name: str
    routing_method: RoutingMethod = RoutingMethod.LONGEST_IDLE
    # Agent ids in the queue's fixed order (serial routing rings them in this order).
    members: tuple[str, ...] = ()
    alert_time_s: int = 20
    alerting_model: AlertingModel = AlertingModel.RING_FIRST
    wrap_up_s: int = 10
    max_size: int = 50
    max_wait_s: int = 1200
    service_level_threshold_s: int = 20
    priority: int = 0
    # Skill name -> minimum level an agent needs; widened after ``skill_widen_after_s``.
    required_skills: dict[str, int] = field(default_factory=dict)
    skill_widen_after_s: int | None = None
    # Also ring agents whose Teams presence is Busy or In a meeting.
    route_when_busy: bool = False
    # Consecutive missed offers after which an agent is set to away (0 = never).
    missed_offers_to_away: int = 3
    overflow_action: QueueAction = QueueAction()
    timeout_action: QueueAction = QueueAction()
    no_agent_action: QueueAction = QueueAction()
    greeting_prompt_id: str | None = None
    music_prompt_id: str | None = None


class BindingTarget(StrEnum):
    QUEUE = "queue"
    IVR = "ivr"


@dataclass(frozen=True, slots=True)
class Binding:
    """A resource account (application instance) or number bound to a queue or IVR.

    The document id is the called identity, so resolving an incoming call is one point read.
    """

    id: str
    tenant_id: str
    target: BindingTarget
    target_id: str
    display_name: str = ""


class AgentStatus(StrEnum):
    """What the agent chose: whether they want calls at all."""

    AVAILABLE = "available"
    AWAY = "away"
    DO_NOT_DISTURB = "do-not-disturb"
    OFFLINE = "offline"


class AgentActivity(StrEnum):
    """What the agent is doing for the contact center right now."""

    IDLE = "idle"
    RINGING = "ringing"
    ON_CALL = "on-call"
    WRAP_UP = "wrap-up"


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent's routing state. Claiming an agent for a call is a compare-and-set here."""

    id: str
    tenant_id: str
    display_name: str
    has_seat: bool = False
    signed_in_queue_ids: frozenset[str] = frozenset()
    skills: dict[str, int] = field(default_factory=dict)
    status: AgentStatus = AgentStatus.OFFLINE
    not_ready_reason: str | None = None
    activity: AgentActivity = AgentActivity.IDLE
    current_call_id: str | None = None
    # Start of the current idle period: end of the last wrap-up, or becoming available.
    idle_since: datetime | None = None
    wrap_up_until: datetime | None = None
    missed_in_a_row: int = 0
    # Last Teams presence seen (availability, e.g. "Available", "Busy"), and when.
    presence: str = "PresenceUnknown"
    presence_at: datetime | None = None
    # Earliest durable timer on this agent: the end of wrap-up, or when to re-check a
    # ringing / on-call claim against its call (so a claim orphaned by a crash is released).
    due_at: datetime | None = None
    # Queue id -> when this agent was last offered one of its calls (round robin).
    last_offered_at: dict[str, datetime] = field(default_factory=dict)
    # When the agent's last contact-center call ended: Teams presence still saying "Busy"
    # shortly after that is our own call echoing, not a reason to skip the agent.
    last_call_ended_at: datetime | None = None


class PartyKind(StrEnum):
    PHONE = "phone"
    USER = "user"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Party:
    """A caller or callee: a phone number, a Teams user, or anonymous."""

    kind: PartyKind
    id: str = ""
    display_name: str = ""
    tenant_id: str | None = None


class CallState(StrEnum):
    """Where a call is in the contact center's flow."""

    INCOMING = "incoming"
    ANSWERING = "answering"
    WAITING = "waiting"
    RINGING = "ringing"
    CONNECTED = "connected"
    ENDED = "ended"


class CallOutcome(StrEnum):
    """How a call ended; every offered call ends in exactly one of these."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    OVERFLOWED = "overflowed"
    TIMED_OUT = "timed-out"
    NO_AGENT = "no-agent"
    VOICEMAIL = "voicemail"
    CALLBACK_REQUESTED = "callback-requested"
    # Not offered to a queue: unknown target, blocked caller, closed, or a failure before
    # the call reached a queue.
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Offer:
    """The agents currently being rung for a call, and until when."""

    agent_ids: tuple[str, ...]
    started_at: datetime
    expires_at: datetime
    # Graph's participant / operation ids for each rung agent, to cancel the invitation.
    # An agent is listed once invited ("" while Graph has not told us the participant id).
    participant_ids: dict[str, str] = field(default_factory=dict)
    # Counts the offers made for the call; part of the invitation's client context, so a
    # late answer to an earlier offer is recognised.
    attempt: int = 0
    # Card-first alerting: the agents got a card and nobody is invited until one accepts.
    card_first: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    """A live call the contact center handles (one document per Graph call id)."""

    id: str
    tenant_id: str
    caller: Party
    target_id: str
    state: CallState = CallState.INCOMING
    chain_id: str = ""
    direction: str = "incoming"
    queue_id: str | None = None
    priority: int = 0
    required_skills: dict[str, int] = field(default_factory=dict)
    received_at: datetime | None = None
    offered_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    agent_id: str | None = None
    offer: Offer | None = None
    missed_agent_ids: tuple[str, ...] = ()
    # Earliest durable timer on this call (ring timeout, max wait, ...), fired by any host.
    due_at: datetime | None = None
    outcome: CallOutcome | None = None
    leave_reason: str = ""
    # Keys of notifications already applied, so a redelivery changes nothing.
    applied_notifications: tuple[str, ...] = ()
    # When the call entered its current queue (equals ``offered_at`` unless it was moved
    # by a queue action); max wait and skill widening count from here.
    queued_at: datetime | None = None
    # Queues the call was moved out of, oldest first (guards against loops of queue actions).
    queue_hops: tuple[str, ...] = ()
    # The queue's terms when the call was queued, so the record does not depend on later
    # configuration changes.
    queue_name: str = ""
    service_level_threshold_s: int = 20
    wrap_up_s: int = 0
    agent_name: str = ""
    # Time spent ringing agents so far, over every offer.
    ring_s: float = 0.0
    # Offers made so far; the next offer's ``attempt`` is one more.
    offers_made: int = 0


@dataclass(frozen=True, slots=True)
class CallRecord:
    """The finished call: what reports and exports are computed from."""

    id: str
    tenant_id: str
    chain_id: str
    direction: str
    caller: Party
    queue_id: str | None
    queue_name: str
    offered_at: datetime | None
    ended_at: datetime
    outcome: CallOutcome
    came_from: str = ""
    answered_at: datetime | None = None
    wait_s: float = 0.0
    ring_s: float = 0.0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrap_up_s: float = 0.0
    met_service_level: bool = False
    agent_id: str | None = None
    agent_name: str = ""
    missed_agent_ids: tuple[str, ...] = ()
    callback_request_id: str | None = None
    voicemail_id: str | None = None
    leave_reason: str = ""
    ivr_path: tuple[str, ...] = ()
    # Cosmos DB expires the document after this many seconds (the tenant's retention).
    ttl: int | None = None
