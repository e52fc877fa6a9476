"""The tab API's JSON shapes: pydantic models for request bodies, queries and responses.

Every field is camelCase on the wire (``wrapUpS``, ``displayName``), as in the stored
documents. Request models forbid unknown fields, so a misspelt field is an error rather
than a silent no-op. The OpenAPI document is generated from these models.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

from contactcenter.model import (
    ActionKind,
    AgentActivity,
    AgentStatus,
    AlertingModel,
    CallOutcome,
    PartyKind,
    Role,
    RoutingMethod,
)

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
"""A phone number in E.164 form: a plus, then 8 to 15 digits, the first not zero."""

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


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


class RequestModel(ApiModel):
    """A request body or query: unknown fields are refused, text is stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# =================================================================== requests
class StatusBody(RequestModel):
    """The status an agent chooses, and why they are not ready (away, do not disturb)."""

    status: AgentStatus
    reason: ShortText | None = Field(
        default=None, description="Why the agent is not ready; ignored when available."
    )


class QueueActionBody(RequestModel):
    """What happens to a call the queue cannot or will not take."""

    kind: ActionKind = ActionKind.DISCONNECT
    target: Identifier | None = Field(
        default=None,
        description="A queue id (queue), a user id (redirect-user) or an E.164 number "
        "(redirect-number); empty for the other kinds.",
    )

    @field_validator("target")
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
    required_skills: dict[Identifier, Annotated[int, Field(ge=1, le=10)]] = Field(
        default_factory=dict, max_length=20
    )
    overflow_action: QueueActionBody = Field(default_factory=QueueActionBody)
    timeout_action: QueueActionBody = Field(default_factory=QueueActionBody)
    no_agent_action: QueueActionBody = Field(default_factory=QueueActionBody)

    @field_validator("members")
    @classmethod
    def _members_unique(cls, members: list[str]) -> list[str]:
        if len(set(members)) != len(members):
            raise ValueError("an agent is listed twice")
        return members


class BindingBody(RequestModel):
    """Bind a called identity (resource account id or phone number) to a queue."""

    identity: Identifier = Field(
        description="The resource account's application instance id (GUID) or an E.164 number."
    )
    queue_id: Identifier
    display_name: ShortText = ""

    @field_validator("identity")
    @classmethod
    def _identity_form(cls, value: str) -> str:
        if is_guid(value):
            return value.lower()
        if E164.match(value):
            return value
        raise ValueError("not an application instance id (GUID) nor an E.164 phone number")


class UserBody(RequestModel):
    """Add a user (an Entra user, by object id) to the contact center."""

    id: Identifier = Field(description="The user's Entra object id.")
    display_name: Name
    upn: Annotated[str, StringConstraints(strip_whitespace=True, max_length=256)] = ""
    roles: list[Role] = Field(default_factory=list, max_length=3)

    @field_validator("id")
    @classmethod
    def _id_is_guid(cls, value: str) -> str:
        if not is_guid(value):
            raise ValueError("not an Entra object id (GUID)")
        return value.lower()

    @field_validator("roles")
    @classmethod
    def _roles_unique(cls, roles: list[Role]) -> list[Role]:
        if len(set(roles)) != len(roles):
            raise ValueError("a role is listed twice")
        return roles


class RolesBody(RequestModel):
    """The complete set of a user's roles."""

    roles: list[Role] = Field(max_length=3)

    @field_validator("roles")
    @classmethod
    def _roles_unique(cls, roles: list[Role]) -> list[Role]:
        if len(set(roles)) != len(roles):
            raise ValueError("a role is listed twice")
        return roles


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


class MeView(ApiModel):
    user: UserView
    tenant: TenantView
    agent: AgentView | None
    queues: list[MyQueueView]
    offer: OfferView | None
    demo: bool
    server_time: datetime


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


class CallRecordView(ApiModel):
    id: str
    queue_id: str | None
    queue_name: str
    caller: PartyView
    offered_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime
    outcome: CallOutcome
    wait_s: float
    talk_s: float
    met_service_level: bool


class CallsView(ApiModel):
    calls: list[CallRecordView]


class QueueActionView(ApiModel):
    kind: ActionKind
    target: str | None


class QueueView(ApiModel):
    id: str
    name: str
    routing_method: RoutingMethod
    members: list[str]
    alert_time_s: int
    alerting_model: AlertingModel
    wrap_up_s: int
    max_size: int
    max_wait_s: int
    service_level_threshold_s: int
    priority: int
    route_when_busy: bool
    missed_offers_to_away: int
    required_skills: dict[str, int]
    overflow_action: QueueActionView
    timeout_action: QueueActionView
    no_agent_action: QueueActionView
    etag: str = Field(description="Send back as If-Match to update only this version.")


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


class UserAdminView(ApiModel):
    id: str
    display_name: str
    upn: str
    roles: list[Role]
    agent: UserAgentView | None


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


class AuditEntryView(ApiModel):
    id: str
    at: datetime
    actor_id: str
    actor_name: str
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


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
