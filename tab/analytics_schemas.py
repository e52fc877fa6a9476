"""JSON shapes of the analytics and supervision API: reports, wallboard, staffing, export.

Like ``tab/schemas.py``: camelCase on the wire, request models forbid unknown fields.
Ratios (service levels, rates, occupancy) are fractions 0..1, or null when undefined
(nothing to divide by); durations are seconds; times are UTC ISO-8601.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from contactcenter.floor import FloorState
from contactcenter.kpis import Kpis
from contactcenter.model import AgentActivity, AgentStatus, CallOutcome, CallState, RoutingMethod
from contactcenter.reports import FIRST_REPORT_DAY, LAST_REPORT_DAY, AgentRow
from tab.derived_shapes import view_of_dataclass
from tab.schemas import (
    ApiModel,
    FinishedCallView,
    Identifier,
    PartyView,
    QueueLiveView,
    RequestModel,
    ShortText,
    rounded,
)

Cursor = Annotated[str, StringConstraints(max_length=512)]
Milliseconds = Annotated[float, rounded(3)]
"""A duration in seconds, shown to the millisecond."""
ReportFormat = Literal["json", "csv"]
ReportDay = Annotated[date, Field(ge=FIRST_REPORT_DAY, le=LAST_REPORT_DAY)]
"""A local day a report may cover."""


# =================================================================== queries
class PeriodQuery(RequestModel):
    """A period of whole days in the tenant's time zone; both default to today."""

    date_from: ReportDay | None = Field(
        default=None, alias="from", description="First day (local)."
    )
    date_to: ReportDay | None = Field(
        default=None, alias="to", description="Last day (local), inclusive."
    )
    queue_id: Identifier | None = None
    threshold_s: int = Field(
        default=20, ge=0, le=600, description="T, the service-level threshold, in seconds."
    )
    format: ReportFormat = Field(default="json", description="csv: the table as a CSV file.")


class AgentReportQuery(RequestModel):
    date_from: ReportDay | None = Field(default=None, alias="from")
    date_to: ReportDay | None = Field(default=None, alias="to")
    queue_id: Identifier | None = None
    format: ReportFormat = "json"


class CallsReportQuery(RequestModel):
    date_from: ReportDay | None = Field(default=None, alias="from")
    date_to: ReportDay | None = Field(default=None, alias="to")
    queue_id: Identifier | None = None
    agent_id: Identifier | None = None
    outcome: CallOutcome | None = None
    limit: int = Field(default=50, ge=1, le=500)
    cursor: Cursor | None = Field(default=None, description="The nextCursor of the previous page.")
    format: ReportFormat = "json"


class AbandonedReportQuery(RequestModel):
    date_from: ReportDay | None = Field(default=None, alias="from")
    date_to: ReportDay | None = Field(default=None, alias="to")
    queue_id: Identifier | None = None
    limit: int = Field(default=50, ge=1, le=500)
    cursor: Cursor | None = None
    format: ReportFormat = "json"


class TimelineQuery(RequestModel):
    day: ReportDay | None = Field(default=None, description="The local day; default today.")
    format: ReportFormat = "json"


# ==================================================================== reports
# Every KPI the domain computes (contactcenter/kpis.py), derived from its dataclass, but
# occupancy: it needs the agents' time, which a queue report does not read (the agent
# report shows it). mypy sees a plain ApiModel.
if TYPE_CHECKING:
    KpiView = ApiModel
else:
    KpiView = view_of_dataclass(
        Kpis, "KpiView", base=ApiModel, module=__name__, exclude=("occupancy",)
    )


class QueueReportRowView(ApiModel):
    queue_id: str
    queue_name: str
    kpis: KpiView
    failed: int
    transferred_in: int
    met_service_level: int


class DayKpiView(ApiModel):
    day: date
    kpis: KpiView


class QueueReportView(ApiModel):
    time_zone: str
    date_from: date = Field(serialization_alias="from")
    date_to: date = Field(serialization_alias="to")
    threshold_s: int
    queues: list[QueueReportRowView]
    total: KpiView
    days: list[DayKpiView]


# An agent's row of the agent report, as the domain computes it (contactcenter/reports.py).
# mypy sees a plain ApiModel.
if TYPE_CHECKING:
    AgentReportRowView = ApiModel
else:
    AgentReportRowView = view_of_dataclass(
        AgentRow,
        "AgentReportRowView",
        base=ApiModel,
        module=__name__,
        descriptions={"state_s": "Sampled seconds by state."},
    )


class AgentReportView(ApiModel):
    time_zone: str
    date_from: date = Field(serialization_alias="from")
    date_to: date = Field(serialization_alias="to")
    agents: list[AgentReportRowView]


class HourlyReportView(ApiModel):
    time_zone: str
    days: list[date]
    offered: list[list[int]] = Field(description="Per day (rows), per local hour 0-23.")
    answered: list[list[int]]
    abandoned: list[list[int]]


class CallReportRowView(FinishedCallView):
    wait_s: Milliseconds
    ring_s: Milliseconds
    talk_s: Milliseconds
    hold_s: Milliseconds
    wrap_up_s: Milliseconds
    met_service_level: bool
    agent_id: str | None
    agent_name: str
    missed_agent_ids: list[str]
    declined_agent_ids: list[str] = Field(
        default_factory=list,
        description="The agents who declined the call (each also in ``missedAgentIds``).",
    )
    leave_reason: str
    # Graph's resultInfo when it terminated the call.
    result_code: int | None
    result_subcode: int | None
    result_message: str
    came_from: str = ""
    ivr_path: list[str] = Field(default_factory=list)
    menu_path: list[str] = Field(
        default_factory=list, description="The way through the IVR menus, step by step, in words."
    )
    missed_agent_names: list[str] = Field(
        default_factory=list,
        description="The agents offered the call who declined it or let it ring out, by name.",
    )
    declined_agent_names: list[str] = Field(
        default_factory=list, description="The agents who declined the call, by name."
    )
    unanswered_agent_names: list[str] = Field(
        default_factory=list,
        description="The agents who let the call ring out (offered, not declined), by name.",
    )
    callback_request_id: str | None = None
    voicemail_id: str | None = None
    disposition_code: str | None = None
    disposition_note: str = ""


class CallReportView(ApiModel):
    time_zone: str
    date_from: date = Field(serialization_alias="from")
    date_to: date = Field(serialization_alias="to")
    calls: list[CallReportRowView]
    next_cursor: str | None


class TimelineSegmentView(ApiModel):
    state: str
    start: datetime
    end: datetime
    call_id: str
    queue_name: str


class TimelineIntervalView(ApiModel):
    start: datetime
    state_s: dict[str, float]


class TimelineView(ApiModel):
    time_zone: str
    agent_id: str
    agent_name: str
    day: date
    start: datetime
    end: datetime
    segments: list[TimelineSegmentView]
    intervals: list[TimelineIntervalView]
    current_status: AgentStatus | None
    current_activity: AgentActivity | None


# ================================================================= wallboard
class AlertRuleBody(RequestModel):
    """A queue's alert thresholds; null turns that alert off."""

    service_level_below: float | None = Field(default=None, ge=0, le=1)
    longest_wait_above_s: int | None = Field(default=None, ge=0, le=7200)
    waiting_above: int | None = Field(default=None, ge=0, le=1000)


class AlertRuleView(ApiModel):
    queue_id: str
    service_level_below: float | None
    longest_wait_above_s: int | None
    waiting_above: int | None
    updated_at: datetime | None
    updated_by: str
    default: bool = Field(
        default=False,
        description="No thresholds saved: these follow the queue's service-level target.",
    )


class AlertRuleListView(ApiModel):
    rules: list[AlertRuleView]


class AlertView(ApiModel):
    queue_id: str
    queue_name: str
    kind: Literal["service-level", "longest-wait", "queue-length"]
    value: float
    threshold: float
    raised_at: datetime


class AlertChangeView(ApiModel):
    alert: AlertView
    change: Literal["raised", "cleared"]
    at: datetime


class TodayView(ApiModel):
    offered: int
    answered: int
    abandoned: int
    service_level: float | None = Field(description="SL1 within the queue's own target.")
    asa_s: float | None
    abandonment_rate: float | None


class WallboardQueueView(QueueLiveView):
    today: TodayView
    alerts: list[AlertView]
    open_state: Literal["open", "closed", "holiday", "closed-now"] = Field(
        default="open",
        description="Whether the queue takes calls now: its hours, a holiday, the switch.",
    )
    holiday: str = Field(default="", description="The holiday's name, when closed for one.")


class FloorAgentView(ApiModel):
    id: str
    display_name: str
    state: FloorState
    state_since: datetime = Field(description="When the agent's current state began.")
    not_ready_reason: str | None
    queue_ids: list[str] = Field(description="The shown queues the agent is a member of.")


class FloorCallView(ApiModel):
    """A call waiting in a queue, as the wallboard shows it (no caller identity)."""

    id: str
    queue_id: str
    queue_name: str
    state: CallState
    priority: int
    waited_s: float


class WallboardView(ApiModel):
    at: datetime
    time_zone: str
    queues: list[WallboardQueueView]
    alerts: list[AlertView]
    recent_alerts: list[AlertChangeView]
    agents: list[FloorAgentView] = Field(default_factory=list)
    calls: list[FloorCallView] = Field(default_factory=list)


# ================================================================ supervision
class SupervisedAgentView(ApiModel):
    id: str
    display_name: str
    has_seat: bool
    status: AgentStatus
    not_ready_reason: str | None
    activity: AgentActivity
    signed_in_queue_ids: list[str]
    member_of: list[str] = Field(description="The supervised queues the agent is a member of.")
    state: FloorState
    state_since: datetime = Field(description="When the agent's current state began.")


class WaitingCallView(ApiModel):
    id: str
    queue_id: str
    queue_name: str
    caller: PartyView
    state: CallState
    priority: int
    offered_at: datetime | None
    waited_s: float


class SupervisedQueueView(ApiModel):
    id: str
    name: str


class SupervisionView(ApiModel):
    at: datetime
    queues: list[SupervisedQueueView]
    agents: list[SupervisedAgentView]
    calls: list[WaitingCallView]


class AgentStatusBody(RequestModel):
    status: AgentStatus
    reason: ShortText | None = None


class MoveCallBody(RequestModel):
    queue_id: Identifier


class PriorityBody(RequestModel):
    priority: int = Field(ge=0, le=10)


class CallChangedView(ApiModel):
    call: WaitingCallView


# ================================================================== staffing
class ErlangBody(RequestModel):
    """A forecast interval and a target: how many agents does it take?"""

    calls: float = Field(gt=0, le=1_000_000, description="Calls forecast in the interval.")
    interval_minutes: int = Field(default=60, ge=1, le=1440)
    aht_s: float = Field(gt=0, le=86_400, description="Average handle time, seconds.")
    target_service_level: float = Field(default=0.8, gt=0, lt=1)
    threshold_s: float = Field(default=20, ge=0, le=3600)
    max_occupancy: float | None = Field(default=None, gt=0, le=1)
    shrinkage: float = Field(default=0, ge=0, lt=1, description="Share of paid time not on calls.")


class StaffingRowView(ApiModel):
    agents: int
    p_wait: float
    service_level: float
    asa_s: float
    occupancy: float


class ErlangView(ApiModel):
    calls_per_hour: float
    traffic_erlangs: float
    agents: int
    scheduled_agents: int = Field(description="Agents to schedule once shrinkage is allowed for.")
    p_wait: float
    service_level: float
    asa_s: float
    occupancy: float
    table: list[StaffingRowView]


class WhatIfBody(RequestModel):
    """A what-if run of the discrete-event simulator (contact-center simulate)."""

    agents: int = Field(ge=1, le=200)
    arrival_rate: float = Field(gt=0, le=20_000, description="Calls per hour (Poisson).")
    handle_time_s: float = Field(gt=0, le=7200, description="Mean talk time (exponential).")
    calls: int = Field(default=1000, ge=1, le=20_000)
    routing: RoutingMethod = RoutingMethod.LONGEST_IDLE
    ring_time_s: float = Field(default=0, ge=0, le=60)
    wrap_up_s: int = Field(default=0, ge=0, le=600)
    patience_s: float | None = Field(default=None, gt=0, le=7200)
    seed: int = Field(default=1, ge=0, le=2**31)
    service_level_threshold_s: int = Field(default=20, ge=0, le=600)


class WhatIfRunView(ApiModel):
    id: str
    state: Literal["queued", "running", "done", "failed"]
    done: int
    total: int
    config: dict[str, Any]
    result: dict[str, Any] | None
    error: str
    created_at: datetime
    finished_at: datetime | None


# ==================================================================== export
class WebhookBody(RequestModel):
    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2048)]
    secret: Annotated[str, StringConstraints(min_length=16, max_length=256)] = Field(
        description="Signs every request (HMAC-SHA256); never shown again."
    )
    description: ShortText = ""
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _is_http_url(cls, value: str) -> str:
        if not value.lower().startswith(("https://", "http://")):
            raise ValueError("must be an https:// URL")
        return value


class WebhookView(ApiModel):
    id: str
    url: str
    description: str
    enabled: bool
    secret_hint: str = Field(description="The secret's last four characters.")
    created_at: datetime | None
    created_by: str


class WebhookListView(ApiModel):
    webhooks: list[WebhookView]


class DeliveryView(ApiModel):
    id: str
    endpoint_id: str
    event_id: str
    call_id: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    due_at: datetime | None
    created_at: datetime | None
    delivered_at: datetime | None
    last_status: int | None
    last_error: str


class DeliveryListView(ApiModel):
    deliveries: list[DeliveryView]


class DeliveriesQuery(RequestModel):
    limit: int = Field(default=50, ge=1, le=200)
