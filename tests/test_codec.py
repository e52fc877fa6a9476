"""The document codec: every domain dataclass survives a round trip through JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from contactcenter.codec import format_timestamp, from_document, parse_timestamp, to_document
from contactcenter.model import (
    ActionKind,
    Agent,
    AgentActivity,
    AgentStatus,
    BusinessHours,
    Call,
    CallOutcome,
    CallRecord,
    HoursMode,
    Offer,
    Party,
    PartyKind,
    Queue,
    QueueAction,
    Role,
    Tenant,
    User,
)

NOW = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
CALLER = Party(PartyKind.PHONE, "+14255550100", "Caller")


@pytest.mark.parametrize(
    "value",
    [
        Tenant(id="t", name="Contoso", time_zone="Europe/Berlin", seat_count=4),
        User(id="u", tenant_id="t", display_name="Ann", roles=frozenset({Role.ADMIN, Role.AGENT})),
        Queue(
            id="q",
            tenant_id="t",
            name="Sales",
            members=("a", "b"),
            required_skills={"french": 3},
            overflow_action=QueueAction(ActionKind.QUEUE, "q2"),
        ),
        Agent(
            id="a",
            tenant_id="t",
            display_name="A",
            signed_in_queue_ids=frozenset({"q"}),
            status=AgentStatus.AVAILABLE,
            activity=AgentActivity.WRAP_UP,
            wrap_up_until=NOW,
            status_since=NOW,
        ),
        Call(
            id="c",
            tenant_id="t",
            caller=CALLER,
            target_id="app",
            offer=Offer(("a",), NOW, NOW + timedelta(seconds=20), {"a": "p1"}),
            applied_notifications=("c:incoming",),
        ),
        CallRecord(
            id="c",
            tenant_id="t",
            chain_id="chain",
            direction="incoming",
            caller=CALLER,
            queue_id="q",
            queue_name="Sales",
            offered_at=NOW,
            ended_at=NOW,
            outcome=CallOutcome.ABANDONED,
            missed_agent_ids=("a", "b"),
            declined_agent_ids=("b",),
        ),
    ],
    ids=lambda v: type(v).__name__,
)
def test_round_trip_through_json(value: object) -> None:
    document = json.loads(json.dumps(to_document(value)))
    assert from_document(type(value), document) == value


def test_keys_are_camel_case() -> None:
    document = to_document(Queue(id="q", tenant_id="t", name="Sales"))
    assert {"tenantId", "routingMethod", "alertTimeS", "serviceLevelThresholdS"} <= set(document)


def test_timestamps_sort_as_strings() -> None:
    early = datetime(2026, 1, 1, 9, 0, 0, tzinfo=UTC)
    late = early + timedelta(microseconds=1)
    assert format_timestamp(early) < format_timestamp(late)
    assert len(format_timestamp(early)) == len(format_timestamp(late))


def test_timestamps_are_converted_to_utc() -> None:
    berlin = timezone(timedelta(hours=1))
    local = datetime(2026, 1, 1, 10, 0, tzinfo=berlin)
    assert format_timestamp(local) == "2026-01-01T09:00:00.000000Z"
    assert parse_timestamp("2026-01-01T10:00:00+01:00") == local


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_timestamp(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize(
    "document",
    [
        {"id": "q", "tenantId": "t", "name": "Sales", "routingMethod": "random"},
        {"id": "q", "tenantId": "t", "name": "Sales", "alertTimeS": "twenty"},
        {"id": "q", "tenantId": "t", "name": "Sales", "alertTimeS": True},
        {"id": "q", "tenantId": "t", "name": 7},
        {"id": "q", "tenantId": "t", "name": "Sales", "members": "a,b"},
    ],
)
def test_malformed_documents_are_refused(document: dict[str, object]) -> None:
    with pytest.raises((TypeError, ValueError)):
        from_document(Queue, document)


# ------------------------------------------------------- documents of an older shape
def test_a_schedule_stored_before_the_modes_keeps_its_meaning() -> None:
    weekly = [{"day": "mon", "start": "09:00", "end": "17:00"}]
    set_times = from_document(BusinessHours, {"timeZone": "", "weekly": weekly})
    around_the_clock = from_document(BusinessHours, {"timeZone": "", "weekly": []})
    assert set_times.mode is HoursMode.SET_TIMES
    assert around_the_clock.mode is HoursMode.ALWAYS_OPEN


def test_a_schedule_with_a_mode_is_read_as_stored() -> None:
    document = to_document(BusinessHours(mode=HoursMode.SET_TIMES))
    assert from_document(BusinessHours, document).mode is HoursMode.SET_TIMES


def test_a_supervisor_stored_without_queues_supervises_every_queue() -> None:
    older = {"id": "u1", "tenantId": "t1", "displayName": "Sam", "roles": ["supervisor"]}
    user = from_document(User, older)
    assert user.supervises_all_queues
    assert user.supervises("a-queue-created-later")


def test_a_supervisor_stored_with_queues_keeps_them_and_no_more() -> None:
    older = {
        "id": "u1",
        "tenantId": "t1",
        "displayName": "Sam",
        "roles": ["supervisor"],
        "supervisedQueueIds": ["q1"],
    }
    user = from_document(User, older)
    assert not user.supervises_all_queues
    assert user.supervises("q1")
    assert not user.supervises("q2")


def test_an_agent_stored_before_scopes_supervises_nothing() -> None:
    older = {"id": "u1", "tenantId": "t1", "displayName": "Ann", "roles": ["agent"]}
    assert not from_document(User, older).supervises("q1")


def test_a_supervisor_scoped_to_no_queue_supervises_none() -> None:
    stored = to_document(
        User(id="u1", tenant_id="t1", display_name="Sam", roles=frozenset({Role.SUPERVISOR}))
    )
    assert not from_document(User, stored).supervises("q1")


def test_a_record_stored_before_declines_has_none_and_every_miss_unanswered() -> None:
    stored = to_document(
        CallRecord(
            id="c",
            tenant_id="t",
            chain_id="chain",
            direction="incoming",
            caller=CALLER,
            queue_id="q",
            queue_name="Sales",
            offered_at=NOW,
            ended_at=NOW,
            outcome=CallOutcome.ABANDONED,
            missed_agent_ids=("a", "b"),
        )
    )
    older = {key: value for key, value in stored.items() if key != "declinedAgentIds"}
    record = from_document(CallRecord, json.loads(json.dumps(older)))
    assert (record.missed_agent_ids, record.declined_agent_ids) == (("a", "b"), ())
    assert record.unanswered_agent_ids == ("a", "b")


def test_a_live_call_stored_before_declines_has_none() -> None:
    stored = to_document(
        Call(id="c", tenant_id="t", caller=CALLER, target_id="app", missed_agent_ids=("a",))
    )
    del stored["declinedAgentIds"]
    call = from_document(Call, stored)
    assert (call.missed_agent_ids, call.declined_agent_ids) == (("a",), ())


def test_an_agent_stored_before_the_status_time_has_none() -> None:
    stored = to_document(
        Agent(id="a", tenant_id="t", display_name="A", status=AgentStatus.AWAY, status_since=NOW)
    )
    del stored["statusSince"]
    agent = from_document(Agent, stored)
    assert (agent.status, agent.status_since) == (AgentStatus.AWAY, None)
