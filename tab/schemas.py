"""The tab API's JSON shapes: pydantic models for request bodies, queries and responses.

Every field is camelCase on the wire (``wrapUpS``, ``displayName``), as in the stored
documents. Request models forbid unknown fields, so a misspelt field is an error rather
than a silent no-op. The OpenAPI document is generated from these models.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

from contactcenter.audit import AuditEntry
from contactcenter.inbound import unsafe_character
from contactcenter.model import (
    ActionKind,
    AgentActivity,
    AgentStatus,
    AlertingModel,
    CallbackOrder,
    CallOutcome,
    HoursMode,
    MembershipKind,
    PartyKind,
    Role,
    RoutingMethod,
    Weekday,
)
from tab.derived_shapes import KEPT, view_of_body, view_of_dataclass

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
"""A phone number in E.164 form: a plus, then 8 to 15 digits, the first not zero."""

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
PromptId = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
"""An uploaded prompt's id (32 hex digits) or a standard prompt's (``std.en-US.greeting``)."""
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}-[A-Z]{2}$")]
ClockText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)]
DispositionCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)
]
SkillName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
SkillLevel = Annotated[int, Field(ge=1, le=10)]


def rounded(digits: int) -> AfterValidator:
    """Round a float field to ``digits`` decimals: how precisely a view shows a duration."""
    return AfterValidator(lambda value: round(value, digits))


def is_guid(value: str) -> bool:
    """Tell whether ``value`` is a GUID in its usual 36-character form."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


class ApiModel(BaseModel):
    """A JSON shape of the tab API: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class MultiLine:
    """Marks a text field of a request that may hold newlines and tabs (a note)."""


MULTI_LINE = MultiLine()


def _refuse_unsafe_text(value: object, *, multi_line: bool) -> None:
    """Raise ValueError when text in ``value`` holds a control or bidi-override character."""
    if isinstance(value, str):
        found = unsafe_character(value, multi_line=multi_line)
        if found is not None:
            raise ValueError(
                f"must not hold control or bidirectional-override characters (found {found})"
            )
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _refuse_unsafe_text(item, multi_line=multi_line)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_unsafe_text(key, multi_line=False)
            _refuse_unsafe_text(item, multi_line=multi_line)


class RequestModel(ApiModel):
    """A request body or query: unknown fields are refused, text is stripped.

    Text is plain: control characters and bidirectional overrides and isolates are refused
    in every field (newline and tab are kept in fields marked :data:`MULTI_LINE`).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text(cls, value: object, info: ValidationInfo) -> object:
        field = cls.model_fields.get(info.field_name or "")
        multi_line = field is not None and MULTI_LINE in field.metadata
        _refuse_unsafe_text(value, multi_line=multi_line)
        return value


# =================================================================== requests
class StatusBody(RequestModel):
    """The status an agent chooses, and why they are not ready (away, do not disturb)."""

    status: AgentStatus
    reason: ShortText | None = Field(
        default=None,
        description="Why the agent is not ready: one of the organization's not-ready reasons "
        "(see notReadyReasons on /api/tab/me), or none; ignored when available.",
    )


class QueueActionBody(RequestModel):
    """What happens to a call the queue cannot or will not take."""

    kind: ActionKind = ActionKind.DISCONNECT
    target: Identifier | None = Field(
        default=None,
        description="A queue id (queue), a user id (redirect-user) or an E.164 number "
        "(redirect-number); empty for the other kinds.",
    )

    prompt_id: PromptId | None = Field(
        default=None,
        description="Played first (disconnect: the goodbye). Left out on update: unchanged.",
    )

    @field_validator("target", "prompt_id")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    def target_problem(self) -> str | None:
        """Return what is wrong with the target for this kind of action, if anything."""
        needs_target = {ActionKind.QUEUE, ActionKind.REDIRECT_USER, ActionKind.REDIRECT_NUMBER}
        if self.kind in needs_target and not self.target:
            return f"a {self.kind.value} action needs a target"
        if self.kind is ActionKind.REDIRECT_NUMBER and self.target and not E164.match(self.target):
            return "not an E.164 phone number (e.g. +14255550100)"
        if self.kind is ActionKind.REDIRECT_USER and self.target and not is_guid(self.target):
            return "not a user id"
        return None


class OpenRangeBody(RequestModel):
    """Open on a weekday from ``start`` to ``end``, local "HH:MM" ("24:00" ends the day)."""

    day: Weekday
    start: ClockText
    end: ClockText


class HolidayBody(RequestModel):
    """Closed from ``start`` to ``end`` (exclusive): "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM"."""

    name: Name
    start: ClockText
    end: ClockText


class HolidaySetBody(RequestModel):
    """Named holidays sharing one action (none: the schedule's holiday action)."""

    name: Name
    holidays: list[HolidayBody] = Field(default_factory=list, max_length=50)
    action: QueueActionBody | None = None


class BusinessHoursBody(RequestModel):
    """When calls are taken, and what happens to them otherwise."""

    mode: HoursMode | None = Field(
        default=None,
        description="always-open, or set-times (open only at the weekly times, at least "
        "one). Left out: set-times when weekly times are given, else always-open.",
    )
    time_zone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = Field(
        default="", description="An IANA time zone; empty: the organization's."
    )
    weekly: list[OpenRangeBody] = Field(
        default_factory=list, max_length=70, description="The set times; empty when always open."
    )
    holiday_sets: list[HolidaySetBody] = Field(default_factory=list, max_length=20)
    closed_action: QueueActionBody = Field(default_factory=QueueActionBody)
    holiday_action: QueueActionBody = Field(default_factory=QueueActionBody)
    closed_now: bool = Field(
        default=False, description="The emergency switch: closed whatever the schedule says."
    )
    closed_now_action: QueueActionBody | None = Field(
        default=None, description="What closed now does; none: the closed action."
    )


class MembershipSourceBody(RequestModel):
    """A team, channel or group whose members are the queue's agents (kept in sync)."""

    kind: MembershipKind
    source_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)
    ] = Field(description="The team's or group's id; a channel: team id/channel id.")
    display_name: ShortText = ""


class CallbackBody(RequestModel):
    """Whether the queue offers callbacks, and how it calls back."""

    offered: bool = False
    key: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1)] = "1"
    order: CallbackOrder = CallbackOrder.CALLER_FIRST
    max_attempts: int = Field(default=3, description="1-10.")
    retry_s: int = Field(default=300, description="0-86400.")
    dial_timeout_s: int = Field(default=45, description="15-90.")
    offer_timeout_s: int = Field(default=10, description="1-60.")
    source_application_instance_id: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=64)
    ] = ""


class QueueBody(RequestModel):
    """A queue's configuration (create, or replace on update)."""

    name: Name
    routing_method: RoutingMethod = RoutingMethod.LONGEST_IDLE
    members: list[Identifier] = Field(
        default_factory=list, max_length=200, description="Agent ids, in serial order."
    )
    alert_time_s: int = Field(default=20, ge=15, le=180)
    alerting_model: AlertingModel = AlertingModel.RING_FIRST
    wrap_up_s: int = Field(default=10, ge=0, le=600)
    max_size: int = Field(default=50, ge=0, le=200)
    max_wait_s: int = Field(default=1200, ge=0, le=2700)
    service_level_threshold_s: int = Field(default=20, ge=1, le=600)
    priority: int = Field(default=0, ge=0, le=10)
    route_when_busy: bool = False
    missed_offers_to_away: int = Field(default=3, ge=0, le=20)
    required_skills: dict[SkillName, SkillLevel] = Field(
        default_factory=dict,
        max_length=20,
        description="Skill name -> the lowest level (1-10) an agent needs for the calls.",
    )
    overflow_action: QueueActionBody = Field(default_factory=QueueActionBody)
    timeout_action: QueueActionBody = Field(default_factory=QueueActionBody)
    no_agent_action: QueueActionBody = Field(default_factory=QueueActionBody)
    # The caller-experience fields came after the first clients of this API: a body that
    # leaves one out keeps what the queue has (a new queue gets the default).
    skill_widen_after_s: Annotated[int | None, KEPT] = Field(
        default=None, ge=0, le=2700, description="Drop the skill levels after this wait."
    )
    greeting_prompt_id: Annotated[PromptId | None, KEPT] = None
    music_prompt_id: Annotated[PromptId | None, KEPT] = None
    comfort_prompt_id: Annotated[PromptId | None, KEPT] = None
    comfort_interval_s: Annotated[int, KEPT] = Field(
        default=60, ge=0, le=600, description="A comfort message this often (0: never)."
    )
    announce_position: Annotated[bool, KEPT] = True
    announce_wait: Annotated[bool, KEPT] = True
    language: Annotated[LanguageTag, KEPT] = Field(
        default="en-US", description="Language of the standard prompts, e.g. en-US."
    )
    hours: Annotated[BusinessHoursBody | None, KEPT] = Field(
        default=None, description="None: open around the clock."
    )
    callback: Annotated[CallbackBody, KEPT] = Field(default_factory=CallbackBody)
    disposition_codes: Annotated[list[DispositionCode], KEPT] = Field(
        default_factory=list,
        max_length=50,
        description="What an agent picks from to say what a call was about.",
    )
    wrap_up_extension_s: Annotated[int, KEPT] = Field(
        default=60,
        ge=0,
        le=600,
        description="How much longer an agent may make a wrap-up, once (0: not allowed).",
    )
    membership: Annotated[MembershipSourceBody | None, KEPT] = Field(
        default=None,
        description="Members kept in step with a team, channel or group (None: by hand); "
        "joiners become agents of the queue, leavers are taken off it.",
    )

    @field_validator("members")
    @classmethod
    def _members_unique(cls, members: list[str]) -> list[str]:
        if len(set(members)) != len(members):
            raise ValueError("an agent is listed twice")
        return members

    @field_validator("greeting_prompt_id", "music_prompt_id", "comfort_prompt_id")
    @classmethod
    def _blank_prompt_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("disposition_codes")
    @classmethod
    def _codes_unique(cls, codes: list[str]) -> list[str]:
        if len({code.casefold() for code in codes}) != len(codes):
            raise ValueError("a code is listed twice")
        return codes


def _called_identity(value: str) -> str:
    if is_guid(value):
        return value.lower()
    if E164.match(value):
        return value
    raise ValueError("not an application instance id (GUID) nor an E.164 phone number")


CalledIdentity = Annotated[
    Identifier,
    AfterValidator(_called_identity),
    Field(description="The resource account's application instance id (GUID) or an E.164 number."),
]
"""What a binding binds: a resource account's id (lower-cased) or an E.164 phone number."""


class BindingBody(RequestModel):
    """Bind a called identity (resource account id or phone number) to a queue."""

    identity: CalledIdentity
    queue_id: Identifier
    display_name: ShortText = ""


def _roles_listed_once(roles: list[Role]) -> list[Role]:
    if len(set(roles)) != len(roles):
        raise ValueError("a role is listed twice")
    return roles


Roles = Annotated[list[Role], AfterValidator(_roles_listed_once)]


class UserBody(RequestModel):
    """Add a user (an Entra user, by object id) to the contact center."""

    id: Identifier = Field(description="The user's Entra object id.")
    display_name: Name
    upn: Annotated[str, StringConstraints(strip_whitespace=True, max_length=256)] = ""
    roles: Roles = Field(default_factory=list, max_length=3)

    @field_validator("id")
    @classmethod
    def _id_is_guid(cls, value: str) -> str:
        if not is_guid(value):
            raise ValueError("not an Entra object id (GUID)")
        return value.lower()


class RolesBody(RequestModel):
    """The complete set of a user's roles."""

    roles: Roles = Field(max_length=3)


class AgentSkillsBody(RequestModel):
    """An agent's skills, each with a level from 1 to 10 (replaced as a whole)."""

    skills: dict[SkillName, SkillLevel] = Field(
        default_factory=dict,
        max_length=20,
        description="Skill name -> level (1-10); a queue's required skills route calls to "
        "agents with at least that level.",
    )


class SupervisedQueuesBody(RequestModel):
    """The queues a supervisor watches: every queue (new ones too), or those named."""

    all_queues: bool = Field(
        default=False, description="Every queue, those created later included."
    )
    queue_ids: list[Identifier] = Field(
        default_factory=list,
        max_length=500,
        description="The queues watched when not all; empty: none.",
    )


class SeatCountBody(RequestModel):
    """How many agent seats the tenant has."""

    seat_count: int = Field(ge=0, le=100_000)


class DemoTokenBody(RequestModel):
    """Whom the demo sign-in picker signs in as."""

    user_id: Identifier


class CallsQuery(RequestModel):
    limit: int = Field(default=20, ge=1, le=100)


class AuditQuery(RequestModel):
    limit: int = Field(default=50, ge=1, le=200)
    continuation: Annotated[str, StringConstraints(max_length=2048)] | None = None


# ================================================================== responses
class TenantView(ApiModel):
    id: str
    name: str
    seat_count: int
    time_zone: str = Field(
        default="UTC", description="The IANA time zone every time in the tab is shown in."
    )


class UserView(ApiModel):
    id: str
    display_name: str
    upn: str
    roles: list[Role]


class AgentView(ApiModel):
    id: str
    display_name: str
    has_seat: bool
    status: AgentStatus
    not_ready_reason: str | None
    activity: AgentActivity
    current_call_id: str | None
    wrap_up_until: datetime | None
    idle_since: datetime | None
    presence: str
    signed_in_queue_ids: list[str]


class MyQueueView(ApiModel):
    id: str
    name: str
    signed_in: bool


class PartyView(ApiModel):
    kind: PartyKind
    id: str
    display_name: str


class OfferView(ApiModel):
    call_id: str
    queue_id: str
    queue_name: str
    caller: PartyView
    offered_at: datetime | None
    expires_at: datetime
    card_first: bool
    # Card-first: true once this agent accepted and their Teams client rings.
    accepted: bool


class TransferView(ApiModel):
    agent_id: str
    agent_name: str
    started_at: datetime
    expires_at: datetime


class CurrentCallView(ApiModel):
    """The call I am talking on: who, from which queue, how long they waited."""

    call_id: str
    queue_id: str
    queue_name: str
    caller: PartyView
    offered_at: datetime | None = Field(
        description="When this leg of the call was offered (its wait counts from here)."
    )
    answered_at: datetime | None
    wait_s: Annotated[float, rounded(1)]
    transfer: TransferView | None = Field(
        description="A hand-over to another agent, while they are rung."
    )


class WrapUpView(ApiModel):
    """My wrap-up: the call's record, until when, and whether I may make it longer."""

    record_id: str
    queue_id: str
    started_at: datetime
    until: datetime | None
    extension_s: int = Field(description="Extra time I may take, once (0: none).")
    extended: bool


class MeView(ApiModel):
    user: UserView
    tenant: TenantView
    agent: AgentView | None
    queues: list[MyQueueView]
    offer: OfferView | None
    call: CurrentCallView | None = Field(default=None, description="The call I am on, if any.")
    wrap_up: WrapUpView | None = Field(default=None, description="My wrap-up, if I am in one.")
    demo: bool
    server_time: datetime
    not_ready_reasons: list[str] | None = Field(
        default=None,
        description="The reasons an agent may give for being away, as the status picker "
        "offers them; in answers of the API, not in live events.",
    )


class AgentCounts(ApiModel):
    available: int = 0
    ringing: int = 0
    on_call: int = 0
    wrap_up: int = 0
    not_ready: int = 0
    signed_out: int = 0


class QueueLiveView(ApiModel):
    id: str
    name: str
    waiting: int
    ringing: int
    longest_wait_s: float
    service_level_threshold_s: int
    agents: AgentCounts


class QueuesLiveView(ApiModel):
    queues: list[QueueLiveView]
    at: datetime


class FinishedCallView(ApiModel):
    """What every view of a call record shows first (filled from the record by field name)."""

    id: str
    queue_id: str | None
    queue_name: str
    caller: PartyView
    offered_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime
    outcome: CallOutcome


class CallRecordView(FinishedCallView):
    wait_s: Annotated[float, rounded(1)]
    talk_s: Annotated[float, rounded(1)]
    met_service_level: bool
    missed: bool = Field(
        default=False, description="Offered to me and not answered by me (declined or no answer)."
    )
    disposition_code: str | None = None
    disposition_note: str = ""
    disposed_by: str | None = None
    disposed_at: datetime | None = None
    disposition_codes: list[str] = Field(
        default_factory=list, description="The queue's codes to pick from (empty: a note only)."
    )
    disposable_until: datetime | None = Field(
        default=None,
        description="Until when I may set or change the disposition; null when I may not.",
    )
    wrap_up_s: Annotated[float, rounded(1)] = 0.0
    wrap_up_pending: bool = Field(
        default=False, description="The agent is still wrapping up: wrap-up time not known yet."
    )
    can_call_back: bool = Field(
        default=False,
        description="A call of my queues nobody answered, from a number: I may have it called back.",
    )


class CallsView(ApiModel):
    calls: list[CallRecordView]


class QueueActionView(ApiModel):
    kind: ActionKind
    target: str | None
    prompt_id: str | None = None


class OpenRangeView(ApiModel):
    day: Weekday
    start: str
    end: str


class HolidayView(ApiModel):
    name: str
    start: str
    end: str


class HolidaySetView(ApiModel):
    name: str
    holidays: list[HolidayView]
    action: QueueActionView | None


class BusinessHoursView(ApiModel):
    mode: HoursMode
    time_zone: str
    weekly: list[OpenRangeView]
    holiday_sets: list[HolidaySetView]
    closed_action: QueueActionView
    holiday_action: QueueActionView
    closed_now: bool
    closed_now_action: QueueActionView | None


class MembershipSourceView(ApiModel):
    kind: MembershipKind
    source_id: str
    display_name: str


class MembershipSyncView(ApiModel):
    queue_id: str
    last_synced_at: datetime | None
    next_sync_at: datetime | None
    last_error: str = Field(description="Why the last sync failed; empty when it did not.")
    warnings: list[str] = Field(description="What the admin should know from the last sync.")
    joined: int
    left: int


class MembershipSyncListView(ApiModel):
    syncs: list[MembershipSyncView]


class CallbackView(ApiModel):
    offered: bool
    key: str
    order: CallbackOrder
    max_attempts: int
    retry_s: int
    dial_timeout_s: int
    offer_timeout_s: int
    source_application_instance_id: str


ETAG_FIELD = (str, Field(description="Send back as If-Match to update only this version."))

# A queue as stored: its id, every setting QueueBody writes (derived from it, so that a
# setting added there shows here), and its etag. mypy sees a plain ApiModel.
if TYPE_CHECKING:
    QueueView = ApiModel
else:
    QueueView = view_of_body(
        QueueBody,
        "QueueView",
        base=ApiModel,
        nested={
            QueueActionBody: QueueActionView,
            BusinessHoursBody: BusinessHoursView,
            CallbackBody: CallbackView,
            MembershipSourceBody: MembershipSourceView,
        },
        first={"id": str},
        last={"etag": ETAG_FIELD},
    )


class QueueListView(ApiModel):
    queues: list[QueueView]


class BindingView(ApiModel):
    id: str
    kind: Literal["applicationInstance", "phoneNumber"]
    queue_id: str
    queue_name: str
    display_name: str


class BindingListView(ApiModel):
    bindings: list[BindingView]


class UserAgentView(ApiModel):
    has_seat: bool
    status: AgentStatus
    activity: AgentActivity
    skills: dict[str, int] = Field(default_factory=dict, description="Skill name -> level.")


class UserAdminView(ApiModel):
    id: str
    display_name: str
    upn: str
    roles: list[Role]
    agent: UserAgentView | None
    supervises_all_queues: bool = Field(
        default=False, description="A supervisor who watches every queue, new ones too."
    )
    supervised_queue_ids: list[str] = Field(
        default_factory=list, description="The queues a supervisor watches when not all."
    )


class UserListView(ApiModel):
    users: list[UserAdminView]


class SeatAgentView(ApiModel):
    id: str
    display_name: str
    has_seat: bool


class SeatsView(ApiModel):
    seat_count: int
    assigned: int
    agents: list[SeatAgentView]


# An audit entry as the domain keeps it (contactcenter/audit.py), but its tenant, which is
# the caller's. mypy sees a plain ApiModel.
if TYPE_CHECKING:
    AuditEntryView = ApiModel
else:
    AuditEntryView = view_of_dataclass(
        AuditEntry, "AuditEntryView", base=ApiModel, module=__name__, exclude=("tenant_id",)
    )


class AuditPageView(ApiModel):
    entries: list[AuditEntryView]
    continuation: str | None


class DemoUserView(ApiModel):
    id: str
    display_name: str
    upn: str
    roles: list[Role]


class DemoUsersView(ApiModel):
    tenant_id: str
    users: list[DemoUserView]


class TokenView(ApiModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a token type, not a secret
    expires_on: int = Field(description="When the token expires, in seconds since the epoch.")


class ErrorDetail(ApiModel):
    field: str
    message: str


class ErrorBody(ApiModel):
    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorView(ApiModel):
    """The error every 4xx and 5xx answers with."""

    error: ErrorBody
