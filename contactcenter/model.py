"""The domain model: tenants, users, queues, agents, calls and call records.

Every document carries ``tenant_id``. Each state change that must be atomic lives in one
document (design: no multi-document transactions), which is why an agent's claim on a call
is on the agent document and a call's current offer is on the call document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


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
    """An overflow, timeout, no-agent or closed action.

    ``target`` is a queue id (queue; voicemail: the shared voicemail box, default the
    queue's own), a Teams user id (redirect-user) or an E.164 number (redirect-number).
    ``prompt_id`` is played first (disconnect: the goodbye message; default the standard
    set's).
    """

    kind: ActionKind = ActionKind.DISCONNECT
    target: str | None = None
    prompt_id: str | None = None


class Weekday(StrEnum):
    MONDAY = "mon"
    TUESDAY = "tue"
    WEDNESDAY = "wed"
    THURSDAY = "thu"
    FRIDAY = "fri"
    SATURDAY = "sat"
    SUNDAY = "sun"


@dataclass(frozen=True, slots=True)
class OpenRange:
    """Open on ``day`` from ``start`` to ``end``, local wall-clock "HH:MM" ("24:00" ends a day)."""

    day: Weekday
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class Holiday:
    """Closed from ``start`` to ``end`` (exclusive), local "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM"."""

    name: str
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class HolidaySet:
    """Named holidays sharing one action (None: the schedule's ``holiday_action``)."""

    name: str
    holidays: tuple[Holiday, ...] = ()
    action: QueueAction | None = None


class HoursMode(StrEnum):
    """Whether a schedule is open around the clock or only at its weekly opening times."""

    ALWAYS_OPEN = "always-open"
    SET_TIMES = "set-times"


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """When a queue or IVR takes calls, in a time zone, and what happens otherwise.

    Always open, or open at the ``weekly`` set times (at least one range); holidays and the
    emergency switch apply in both modes. Validated by
    :func:`contactcenter.hours.validate_hours`.
    """

    mode: HoursMode = HoursMode.ALWAYS_OPEN
    # IANA time zone name; empty: the tenant's.
    time_zone: str = ""
    weekly: tuple[OpenRange, ...] = ()
    holiday_sets: tuple[HolidaySet, ...] = ()
    closed_action: QueueAction = QueueAction()
    holiday_action: QueueAction = QueueAction()
    # The emergency "closed now" switch: closed whatever the schedule says.
    closed_now: bool = False
    # What "closed now" does; None: ``closed_action``.
    closed_now_action: QueueAction | None = None

    @staticmethod
    def upgrade_document(data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Give a schedule stored before the modes its mode: set times if it has any."""
        if "mode" not in data:
            mode = HoursMode.SET_TIMES if data.get("weekly") else HoursMode.ALWAYS_OPEN
            data = {**data, "mode": mode.value}
        return data


class CallbackOrder(StrEnum):
    """Whom a callback rings first once an agent is reserved."""

    CALLER_FIRST = "caller-first"
    AGENT_FIRST = "agent-first"


@dataclass(frozen=True, slots=True)
class CallbackSettings:
    """Whether a queue offers callbacks, and how it calls back."""

    # Offer callbacks in the comfort message (the key below keeps the caller's place).
    offered: bool = False
    key: str = "1"
    order: CallbackOrder = CallbackOrder.CALLER_FIRST
    # Attempts to reach the caller (each rings for ``dial_timeout_s``), ``retry_s`` apart.
    max_attempts: int = 3
    retry_s: int = 300
    dial_timeout_s: int = 45
    # The callback action: how long to wait for the key after offering.
    offer_timeout_s: int = 10
    # The resource account calls come from; empty: the one the caller dialled.
    source_application_instance_id: str = ""


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"


class TenantStatus(StrEnum):
    ACTIVE = "active"
    TERMINATED = "terminated"


DEFAULT_NOT_READY_REASONS: tuple[str, ...] = ("Break", "Lunch", "Meeting", "Training", "Admin work")


@dataclass(frozen=True, slots=True)
class Tenant:
    """An organization using the contact center (an Entra tenant)."""

    id: str
    name: str
    time_zone: str = "UTC"
    seat_count: int = 0
    retention_days: int = 395
    # The reasons an agent may give for being away, as the agent's status picker offers them.
    not_ready_reasons: tuple[str, ...] = DEFAULT_NOT_READY_REASONS
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
    # Queues a supervisor watches (none named: none), or every queue, new ones included.
    # Admins watch every queue whatever these say.
    supervised_queue_ids: frozenset[str] = frozenset()
    supervises_all_queues: bool = False

    def supervises(self, queue_id: str) -> bool:
        """Tell whether the user may watch the queue: admins, and supervisors of it."""
        if Role.ADMIN in self.roles:
            return True
        return Role.SUPERVISOR in self.roles and (
            self.supervises_all_queues or queue_id in self.supervised_queue_ids
        )

    @staticmethod
    def upgrade_document(data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Keep what a supervisor stored before scopes saw: no queue named meant every queue."""
        if "supervisesAllQueues" not in data:
            every = Role.SUPERVISOR.value in data.get("roles", ()) and not data.get(
                "supervisedQueueIds"
            )
            data = {**data, "supervisesAllQueues": every}
        return data


class MembershipKind(StrEnum):
    """Where the agents of a queue fed by the directory come from."""

    TEAM = "team"
    CHANNEL = "channel"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class MembershipSource:
    """A Teams team, a channel of one ("team id/channel id") or an Entra group whose
    members are the queue's agents, kept so by a periodic sync."""

    kind: MembershipKind
    source_id: str
    display_name: str = ""


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
    # How much longer an agent may make one wrap-up, once (0: not allowed).
    wrap_up_extension_s: int = 60
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
    # A comfort message with position and estimated wait this often (0: never).
    comfort_interval_s: int = 60
    announce_position: bool = True
    announce_wait: bool = True
    comfort_prompt_id: str | None = None
    # Language of the standard prompts the queue's announcements use.
    language: str = "en-US"
    hours: BusinessHours | None = None
    callback: CallbackSettings = CallbackSettings()
    # The codes an agent picks from to say what a call was about (empty: none asked for).
    disposition_codes: tuple[str, ...] = ()
    # Members kept in step with a team, channel or group (None: members set by hand).
    membership: MembershipSource | None = None


class MenuActionKind(StrEnum):
    """What a menu option does."""

    QUEUE = "queue"
    MENU = "menu"
    USER = "user"
    NUMBER = "number"
    VOICEMAIL = "voicemail"
    REPEAT = "repeat"
    DISCONNECT = "disconnect"


@dataclass(frozen=True, slots=True)
class MenuOption:
    """A key and what it does; ``target`` is a queue, menu or user id, or an E.164 number."""

    digit: str
    action: MenuActionKind
    target: str | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class Menu:
    """One level of an IVR: a prompt, the keys it offers, and what no (or a bad) key does."""

    id: str
    name: str = ""
    prompt_id: str | None = None
    options: tuple[MenuOption, ...] = ()
    # Seconds to wait for a key once the prompt has played.
    timeout_s: int = 8
    # Times the menu is repeated after no key or an invalid key.
    max_retries: int = 2
    # What happens when the retries are used up; None: goodbye and disconnect.
    fallback: MenuOption | None = None


@dataclass(frozen=True, slots=True)
class Ivr:
    """An auto attendant: menus in front of queues, people and voicemail."""

    id: str
    tenant_id: str
    name: str
    menus: tuple[Menu, ...] = ()
    root_menu_id: str = ""
    # Played once before the first menu.
    greeting_prompt_id: str | None = None
    language: str = "en-US"
    hours: BusinessHours | None = None


class CallerListKind(StrEnum):
    BLOCKED = "blocked"
    VIP = "vip"


@dataclass(frozen=True, slots=True)
class CallerListEntry:
    """A blocked or VIP caller, by E.164 number or Teams user id."""

    kind: CallerListKind
    party_kind: PartyKind
    value: str
    reason: str = ""
    # VIP: added to the queue's priority.
    priority_boost: int = 10


@dataclass(frozen=True, slots=True)
class CallerList:
    """A tenant's blocked and VIP callers: one document (id ``callers``), read once, cached."""

    id: str
    tenant_id: str
    entries: tuple[CallerListEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class Prompt:
    """An uploaded prompt (the audio is a media blob named by the same id)."""

    id: str
    tenant_id: str
    name: str
    language: str = "en-US"
    duration_s: float = 0.0
    sample_rate: int = 8000
    size_bytes: int = 0
    uploaded_at: datetime | None = None
    uploaded_by: str = ""


@dataclass(frozen=True, slots=True)
class Voicemail:
    """A message left in a queue's shared voicemail; any of its agents may handle it."""

    id: str
    tenant_id: str
    queue_id: str
    call_id: str
    caller: Party
    recorded_at: datetime
    # The recording's media blob id ("" when it could not be fetched).
    media_id: str = ""
    queue_name: str = ""
    duration_s: float = 0.0
    size_bytes: int = 0
    ivr_path: tuple[str, ...] = ()
    handled_by: str | None = None
    handled_at: datetime | None = None


class CallbackStatus(StrEnum):
    CONNECTED = "connected"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class CallbackAttempt:
    """One try to reach a caller who asked to be called back."""

    number: int
    started_at: datetime
    # The outbound call's Graph id ("" if placing it failed).
    call_id: str = ""
    agent_id: str = ""
    ended_at: datetime | None = None
    result: str = ""


@dataclass(frozen=True, slots=True)
class CallbackState:
    """What a waiting callback (a call document in the line) knows about its request."""

    request_id: str
    origin_call_id: str
    requested_at: datetime
    settings: CallbackSettings = CallbackSettings()
    attempts: tuple[CallbackAttempt, ...] = ()


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """A finished callback request: every attempt and how it ended."""

    id: str
    tenant_id: str
    queue_id: str
    queue_name: str
    number: Party
    origin_call_id: str
    requested_at: datetime
    offered_at: datetime | None
    ended_at: datetime
    status: CallbackStatus
    priority: int = 0
    attempts: tuple[CallbackAttempt, ...] = ()
    # The outbound call that reached the caller, and the agent reserved for it.
    connected_call_id: str | None = None
    agent_id: str | None = None
    reason: str = ""


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
class NotesDraft:
    """What an agent typed about a call they are on or wrapping up, not yet on its record.

    Kept on the agent document, which the wrap-up timer changes anyway: when wrap-up ends
    the draft becomes the record's note and disposition in the same record write that
    fills in the wrap-up time (docs/decisions/0022-notes-and-the-wrap-up-actually-taken.md).
    """

    call_id: str
    note: str = ""
    # A code of the call's queue, or None while none is picked.
    code: str | None = None
    saved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WrapUp:
    """The call an agent is wrapping up, whose record waits for the actual wrap-up time."""

    # The record the wrap-up belongs to (a call's id, or one of its legs').
    record_id: str
    queue_id: str
    started_at: datetime
    # How much longer the queue lets this wrap-up run, once (0: not at all), and whether
    # the agent took it.
    extension_s: int = 0
    extended: bool = False
    # When the call was offered and answered: live counts include the call from these
    # until its record is counted.
    offered_at: datetime | None = None
    answered_at: datetime | None = None


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
    # The call being wrapped up (with ``wrap_up_until``), and notes typed meanwhile.
    wrap_up: WrapUp | None = None
    notes_draft: NotesDraft | None = None
    # When the agent's status last changed: what they chose (with its reason), signed in to
    # a queue or not, with a seat or not. Set by :meth:`with_status_since` in the same write
    # as the change; None on documents written before it was kept.
    status_since: datetime | None = None

    def with_status_since(self, before: Agent, now: datetime) -> Agent:
        """Return this agent, ``before`` changed, with ``status_since`` at ``now`` if its status changed."""
        if _status_of(self) == _status_of(before):
            return self
        return replace(self, status_since=now)


def _status_of(agent: Agent) -> tuple[AgentStatus, str | None, bool, bool]:
    return (
        agent.status,
        agent.not_ready_reason,
        bool(agent.signed_in_queue_ids),
        agent.has_seat,
    )


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
    # In an IVR menu, waiting for a key.
    MENU = "menu"
    WAITING = "waiting"
    RINGING = "ringing"
    CONNECTED = "connected"
    # On its way out: a last prompt, a transfer, a callback offer (see ``Call.leaving``).
    LEAVING = "leaving"
    # Recording a voicemail.
    VOICEMAIL = "voicemail"
    # A callback waiting for its next attempt (out of the line until ``due_at``).
    SCHEDULED = "scheduled"
    # An outbound callback call ringing (the caller, or agent first, see ``Call.callback_order``).
    DIALING = "dialing"
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
    # Not offered to a queue: an IVR sent the caller to a person or a number.
    TRANSFERRED = "transferred"
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
    # The call is being transferred to the offer's one agent (the bot may not invite).
    by_transfer: bool = False


@dataclass(frozen=True, slots=True)
class AgentTransfer:
    """A talk being handed to another agent: the target is invited, and has not joined yet."""

    agent_id: str
    from_agent_id: str
    started_at: datetime
    expires_at: datetime
    # The participant id the invitation named, to cancel it; and its client context's
    # counter, so a late answer to an earlier transfer is recognised.
    participant_id: str
    attempt: int
    agent_name: str = ""


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
    # Every offer that ended unanswered, once per agent and offer (declines included);
    # ``declined_agent_ids`` names those of them the agent declined.
    missed_agent_ids: tuple[str, ...] = ()
    declined_agent_ids: tuple[str, ...] = ()
    # Earliest durable timer on this call (ring timeout, max wait, ...), fired by any host.
    due_at: datetime | None = None
    outcome: CallOutcome | None = None
    leave_reason: str = ""
    # Graph's resultInfo when it terminated the call (contactcenter/end_reasons.py).
    result_code: int | None = None
    result_subcode: int | None = None
    result_message: str = ""
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
    wrap_up_extension_s: int = 0
    agent_name: str = ""
    # Time spent ringing agents so far, over every offer.
    ring_s: float = 0.0
    # Offers made so far; the next offer's ``attempt`` is one more.
    offers_made: int = 0
    # VIP caller (priority raised by the caller list).
    vip: bool = False
    # IVR: the attendant, the menu the caller is in, tries so far, and the path taken
    # ("ivr:<id>", "menu:<id>", "key:<digit>", "queue:<id>"...).
    ivr_id: str | None = None
    menu_id: str | None = None
    menu_tries: int = 0
    ivr_path: tuple[str, ...] = ()
    language: str = "en-US"
    # Media: the number of the prompt operation whose completion counts (older ones are
    # ignored), how far prompts fell back (0 configured, 1 standard set, 2 silence), when
    # the next comfort message is due, and whether key presses are subscribed.
    media_seq: int = 0
    media_fallback: int = 0
    next_comfort_at: datetime | None = None
    tones: bool = False
    leaving: Leaving | None = None
    # A callback in the line (its request), or a call connected with a callback request.
    callback: CallbackState | None = None
    callback_request_id: str | None = None
    # Outbound callback call: the agent reserved for it and whom it rang first.
    callback_agent_id: str | None = None
    callback_order: CallbackOrder | None = None
    voicemail_id: str | None = None
    # A talk's next keepAlive (its timer comes more often: it reads who is in the call).
    keep_alive_at: datetime | None = None
    # The talk was handed to the agent by a transfer (no permission to invite): the bot
    # is out of the call, and the agent's presence tells when the talk ends.
    handed_over: bool = False
    # An agent transferred the call: when (the current leg was offered then; the caller
    # keeps ``offered_at``, their place in line), how many earlier legs have their own
    # record, and the last of them (recorded again, idempotently, when the call ends).
    transferred_at: datetime | None = None
    legs: int = 0
    previous_leg: CallRecord | None = None
    # A transfer to another agent, while the target is invited.
    transfer: AgentTransfer | None = None
    # The talking agent's participant id, when it is not their offer's.
    agent_participant_id: str = ""


class LeaveStep(StrEnum):
    """What a leaving call does after its prompt."""

    HANG_UP = "hang-up"
    TRANSFER = "transfer"
    # Offered a callback: wait for the key, then hang up.
    CALLBACK_OFFER = "callback-offer"
    # A callback was requested: say so, then hang up.
    CALLBACK_CONFIRM = "callback-confirm"


@dataclass(frozen=True, slots=True)
class Leaving:
    """How a call leaves: the outcome it will have, and the steps on the way out."""

    outcome: CallOutcome
    reason: str
    step: LeaveStep = LeaveStep.HANG_UP
    # Configured prompts to play first, and the standard parts standing in for them when
    # they cannot be played (or when none are configured).
    prompt_ids: tuple[str, ...] = ()
    standard_prompts: tuple[str, ...] = ()
    # The prompt has played (a callback offer then waits for the key).
    prompt_done: bool = False
    transfer_to: Party | None = None
    # A transfer was asked for: Graph's answer (terminated or back to established) decides.
    transferring: bool = False
    # Voicemail: the queue whose shared voicemail takes the message.
    voicemail_queue_id: str | None = None


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
    # The offers that ended unanswered, declines included; the declines again on their own.
    missed_agent_ids: tuple[str, ...] = ()
    declined_agent_ids: tuple[str, ...] = ()
    callback_request_id: str | None = None
    voicemail_id: str | None = None
    leave_reason: str = ""
    # Graph's resultInfo when it terminated the call: why, in Graph's terms.
    result_code: int | None = None
    result_subcode: int | None = None
    result_message: str = ""
    ivr_path: tuple[str, ...] = ()
    # What the call was about, as the agent who took it recorded it during or after wrap-up.
    disposition_code: str | None = None
    disposition_note: str = ""
    disposed_by: str | None = None
    disposed_at: datetime | None = None
    # The agent is still wrapping up: the wrap-up time is filled in (and the record counted
    # and exported) when the wrap-up ends.
    wrap_up_pending: bool = False
    # Cosmos DB expires the document after this many seconds (the tenant's retention).
    ttl: int | None = None

    @property
    def unanswered_agent_ids(self) -> tuple[str, ...]:
        """Return the missed offers the agents let ring out (the missed ones not declined)."""
        declines = list(self.declined_agent_ids)
        unanswered: list[str] = []
        for agent_id in self.missed_agent_ids:
            if agent_id in declines:
                declines.remove(agent_id)
            else:
                unanswered.append(agent_id)
        return tuple(unanswered)
