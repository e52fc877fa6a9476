"""Queue and tenant settings are declared once: the domain's dataclass and the API's body
name the same fields, both ways, and every setting survives the trip through the API."""

from __future__ import annotations

import dataclasses
from typing import Any

from contactcenter.kpis import Kpis
from contactcenter.model import (
    ActionKind,
    AlertingModel,
    BusinessHours,
    CallbackOrder,
    CallbackSettings,
    Holiday,
    HolidaySet,
    HoursMode,
    MembershipKind,
    MembershipSource,
    OpenRange,
    Queue,
    QueueAction,
    RoutingMethod,
    Tenant,
    TenantStatus,
    Weekday,
)
from contactcenter.repository import Versioned
from tab.analytics_schemas import KpiView
from tab.api_admin import queue_from, queue_view
from tab.api_tenant import settings_view
from tab.derived_shapes import changes
from tab.schemas import QueueBody, QueueView
from tab.tenant_schemas import TenantSettingsBody, TenantSettingsView

# Who a document is: not a setting anyone sends.
IDENTITY = {"id", "tenant_id"}
# Tenant fields that are not its settings, each changed its own way.
TENANT_NOT_SETTINGS = {
    "id",
    "name",  # from the directory when the tenant is created
    "seat_count",  # the seats API, through the seat ledger
    "status",  # offboarding
    "terminated_at",  # offboarding
}
# Kpis that the KPI view leaves out: occupancy needs the agents' time, which the queue
# report does not read (the agent report shows it).
KPIS_NOT_SHOWN = {"occupancy"}

# A queue in which every setting differs from its default.
QUEUE = Queue(
    id="q1",
    tenant_id="tenant-1",
    name="Sales",
    routing_method=RoutingMethod.SERIAL,
    members=("agent-1", "agent-2"),
    alert_time_s=30,
    alerting_model=AlertingModel.CARD_FIRST,
    wrap_up_s=5,
    max_size=9,
    max_wait_s=99,
    service_level_threshold_s=15,
    priority=3,
    required_skills={"french": 2},
    skill_widen_after_s=40,
    route_when_busy=True,
    missed_offers_to_away=2,
    overflow_action=QueueAction(ActionKind.QUEUE, "q2", "prompt-1"),
    timeout_action=QueueAction(ActionKind.VOICEMAIL),
    no_agent_action=QueueAction(ActionKind.REDIRECT_NUMBER, "+14255550100"),
    greeting_prompt_id="std.fr-FR.greeting",
    music_prompt_id="std.fr-FR.music",
    comfort_interval_s=30,
    announce_position=False,
    announce_wait=False,
    comfort_prompt_id="std.fr-FR.comfort",
    language="fr-FR",
    hours=BusinessHours(
        mode=HoursMode.SET_TIMES,
        time_zone="Europe/Paris",
        weekly=(OpenRange(Weekday.MONDAY, "09:00", "17:00"),),
        holiday_sets=(
            HolidaySet("Bank", (Holiday("New year", "2026-01-01", "2026-01-02"),), QueueAction()),
        ),
        closed_action=QueueAction(ActionKind.VOICEMAIL),
        closed_now=True,
        closed_now_action=QueueAction(prompt_id="std.fr-FR.closed"),
    ),
    callback=CallbackSettings(True, "2", CallbackOrder.AGENT_FIRST, 4, 60, 30, 5, "app-1"),
    disposition_codes=("Sale", "Question"),
    wrap_up_extension_s=90,
    membership=MembershipSource(MembershipKind.CHANNEL, "team-1/19:c@thread.tacv2", "Sales"),
)
TENANT = Tenant(
    id="tenant-1",
    name="Contoso",
    time_zone="Europe/Paris",
    retention_days=40,
    not_ready_reasons=("Break", "Coaching"),
)


def field_names(kind: type[Any]) -> set[str]:
    return {field.name for field in dataclasses.fields(kind)}


def differing_from_defaults(value: Any, names: set[str]) -> set[str]:
    """Return which of ``names`` hold a value other than the dataclass's default."""
    defaults = {f.name: f for f in dataclasses.fields(value)}
    found = set()
    for name in names:
        field = defaults[name]
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            found.add(name)  # required: any value will do
            continue
        if getattr(value, name) != default:
            found.add(name)
    return found


def body_from_view(view: dict[str, Any], *leave_out: str) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k not in {"id", "etag", *leave_out}}


# ===================================================================== queues
def test_every_queue_field_is_a_setting_of_the_api_and_every_setting_a_queue_field() -> None:
    assert set(QueueBody.model_fields) == field_names(Queue) - IDENTITY


def test_the_queue_view_is_the_id_every_setting_and_the_etag() -> None:
    assert list(QueueView.model_fields) == ["id", *QueueBody.model_fields, "etag"]


def test_every_queue_setting_survives_the_view_and_the_body() -> None:
    assert differing_from_defaults(QUEUE, field_names(Queue) - IDENTITY) == (
        field_names(Queue) - IDENTITY
    )
    view = queue_view(Versioned(QUEUE, '"1"')).model_dump(mode="json")
    body = QueueBody.model_validate(body_from_view(view))
    assert queue_from(body, QUEUE.id, QUEUE.tenant_id, None) == QUEUE
    assert queue_from(body, QUEUE.id, QUEUE.tenant_id, Queue("q1", "tenant-1", "x")) == QUEUE


def test_a_later_setting_left_out_is_kept_and_an_earlier_one_takes_its_default() -> None:
    view = queue_view(Versioned(QUEUE, '"1"')).model_dump(mode="json")
    body = QueueBody.model_validate(body_from_view(view, "language", "priority"))
    updated = queue_from(body, QUEUE.id, QUEUE.tenant_id, QUEUE)
    assert updated.language == QUEUE.language
    assert updated.priority == Queue("q", "t", "n").priority
    created = queue_from(body, "q9", QUEUE.tenant_id, None)
    assert created.language == Queue("q", "t", "n").language


# ==================================================================== tenants
def test_every_tenant_field_is_a_setting_of_the_api_or_changed_its_own_way() -> None:
    assert set(TenantSettingsBody.model_fields) == field_names(Tenant) - TENANT_NOT_SETTINGS
    assert field_names(Tenant) >= TENANT_NOT_SETTINGS


def test_the_settings_view_is_the_name_and_every_setting() -> None:
    assert list(TenantSettingsView.model_fields) == ["name", *TenantSettingsBody.model_fields]


def test_every_tenant_setting_survives_the_view_and_the_body() -> None:
    settings = set(TenantSettingsBody.model_fields)
    assert differing_from_defaults(TENANT, settings) == settings
    view = settings_view(TENANT).model_dump(mode="json")
    body = TenantSettingsBody.model_validate({k: v for k, v in view.items() if k != "name"})
    fresh = Tenant(id=TENANT.id, name=TENANT.name, status=TenantStatus.ACTIVE)
    assert dataclasses.replace(fresh, **changes(body, fresh)) == TENANT


# ======================================================================= KPIs
def test_the_kpi_view_shows_every_kpi_but_those_left_out_on_purpose() -> None:
    assert set(KpiView.model_fields) == field_names(Kpis) - KPIS_NOT_SHOWN
    assert field_names(Kpis) >= KPIS_NOT_SHOWN
