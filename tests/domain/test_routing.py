"""Agent selection as pure functions: eligibility, order of agents, order of calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import pytest

from contactcenter.clock import EPOCH
from contactcenter.model import (
    Agent,
    AgentActivity,
    AgentStatus,
    Call,
    CallState,
    RoutingMethod,
)
from contactcenter.routing import (
    RoutingPolicy,
    call_order_key,
    first_call_for,
    is_eligible,
    presence_allows,
    rank_agents,
    requirements_now,
    widening_at,
)
from tests.domain.harness import CALLER, TENANT, make_agent, make_queue

NOW = EPOCH


def waiting_call(
    call_id: str, *, offered_s_ago: float = 0, priority: int = 0, **changes: object
) -> Call:
    offered = NOW - timedelta(seconds=offered_s_ago)
    return Call(
        id=call_id,
        tenant_id=TENANT,
        caller=CALLER,
        target_id="line-1",
        state=CallState.WAITING,
        queue_id="q1",
        priority=priority,
        offered_at=offered,
        queued_at=offered,
        **changes,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("presence", "route_when_busy", "allowed"),
    [
        ("Available", False, True),
        ("AvailableIdle", False, True),
        ("PresenceUnknown", False, True),
        ("Busy", False, False),
        ("Busy", True, True),
        ("InAMeeting", True, True),
        ("DoNotDisturb", True, False),
        ("Away", False, False),
        ("Offline", True, False),
    ],
)
def test_presence_decides_who_may_be_rung(
    presence: str, route_when_busy: bool, allowed: bool
) -> None:
    agent = make_agent("a1", presence=presence, presence_at=NOW)
    assert presence_allows(agent, route_when_busy=route_when_busy) is allowed


def test_busy_presence_right_after_our_own_call_is_stale() -> None:
    ended = NOW - timedelta(seconds=10)
    agent = make_agent("a1", presence="Busy", presence_at=NOW, last_call_ended_at=ended)
    assert presence_allows(agent, route_when_busy=False)
    later = replace(agent, presence_at=ended + timedelta(seconds=61))
    assert not presence_allows(later, route_when_busy=False)
    assert presence_allows(later, route_when_busy=False, policy=RoutingPolicy(presence_echo_s=90))


@pytest.mark.parametrize(
    ("change", "eligible"),
    [
        ({}, True),
        ({"has_seat": False}, False),
        ({"status": AgentStatus.AWAY}, False),
        ({"activity": AgentActivity.WRAP_UP}, False),
        ({"activity": AgentActivity.RINGING, "current_call_id": "c9"}, False),
        ({"signed_in_queue_ids": frozenset({"q2"})}, False),
        ({"wrap_up_until": NOW + timedelta(seconds=1)}, False),
    ],
)
def test_eligibility(change: dict[str, object], eligible: bool) -> None:
    queue = make_queue("q1", ["a1"])
    agent = replace(make_agent("a1"), **change)  # type: ignore[arg-type]
    assert is_eligible(agent, queue, waiting_call("c1"), NOW) is eligible


def test_non_member_is_not_eligible() -> None:
    queue = make_queue("q1", ["a2"])
    assert not is_eligible(make_agent("a1"), queue, waiting_call("c1"), NOW)


def test_skill_requirements_widen_after_the_configured_wait() -> None:
    queue = make_queue("q1", ["a1"], skill_widen_after_s=30)
    call = waiting_call("c1", offered_s_ago=10, required_skills={"german": 2})
    novice = make_agent("a1", skills={"german": 1})
    assert requirements_now(call, queue, NOW) == {"german": 2}
    assert not is_eligible(novice, queue, call, NOW)
    assert widening_at(call, queue) == NOW + timedelta(seconds=20)
    later = NOW + timedelta(seconds=20)
    assert requirements_now(call, queue, later) == {}
    assert is_eligible(novice, queue, call, later)


def test_requirements_never_widen_without_a_setting() -> None:
    queue = make_queue("q1", ["a1"])
    call = waiting_call("c1", offered_s_ago=10_000, required_skills={"german": 2})
    assert requirements_now(call, queue, NOW) == {"german": 2}
    assert widening_at(call, queue) is None


def ids(agents: Sequence[Agent]) -> list[str]:
    return [a.id for a in agents]


def test_serial_orders_by_member_position() -> None:
    queue = make_queue("q1", ["a3", "a1", "a2"], routing_method=RoutingMethod.SERIAL)
    agents = [make_agent("a1"), make_agent("a2"), make_agent("a3")]
    assert ids(rank_agents(queue, waiting_call("c1"), agents, NOW)) == ["a3", "a1", "a2"]


def test_longest_idle_orders_by_idle_since() -> None:
    queue = make_queue("q1", ["a1", "a2", "a3"], routing_method=RoutingMethod.LONGEST_IDLE)
    agents = [
        make_agent("a1", idle_since=NOW - timedelta(minutes=1)),
        make_agent("a2", idle_since=NOW - timedelta(minutes=7)),
        make_agent("a3", idle_since=None),
    ]
    # Never idle before (no idle_since) counts as idle longest.
    assert ids(rank_agents(queue, waiting_call("c1"), agents, NOW)) == ["a3", "a2", "a1"]


def test_round_robin_orders_by_last_offer_from_this_queue() -> None:
    queue = make_queue("q1", ["a1", "a2", "a3"], routing_method=RoutingMethod.ROUND_ROBIN)
    agents = [
        make_agent("a1", last_offered_at={"q1": NOW - timedelta(seconds=5)}),
        make_agent("a2", last_offered_at={"q1": NOW - timedelta(seconds=50), "q2": NOW}),
        make_agent("a3", last_offered_at={"q2": NOW - timedelta(seconds=99)}),
    ]
    assert ids(rank_agents(queue, waiting_call("c1"), agents, NOW)) == ["a3", "a2", "a1"]


def test_agents_who_missed_the_call_come_last_oldest_miss_first() -> None:
    queue = make_queue("q1", ["a1", "a2", "a3"], routing_method=RoutingMethod.SERIAL)
    call = waiting_call("c1", missed_agent_ids=("a2", "a1"))
    agents = [make_agent("a1"), make_agent("a2"), make_agent("a3")]
    assert ids(rank_agents(queue, call, agents, NOW)) == ["a3", "a2", "a1"]


def test_best_skilled_comes_first_then_the_method() -> None:
    queue = make_queue("q1", ["a1", "a2", "a3"], routing_method=RoutingMethod.SERIAL)
    call = waiting_call("c1", required_skills={"german": 1, "billing": 1})
    agents = [
        make_agent("a1", skills={"german": 1, "billing": 1}),
        make_agent("a2", skills={"german": 3, "billing": 2}),
        make_agent("a3", skills={"german": 1}),
    ]
    assert ids(rank_agents(queue, call, agents, NOW)) == ["a2", "a1"]


def test_calls_are_served_by_priority_then_longest_waiting() -> None:
    calls = [
        waiting_call("new", offered_s_ago=1),
        waiting_call("old", offered_s_ago=90),
        waiting_call("vip", offered_s_ago=5, priority=3),
    ]
    assert [c.id for c in sorted(calls, key=call_order_key)] == ["vip", "old", "new"]


def test_agent_takes_the_first_call_they_are_skilled_for() -> None:
    queue = make_queue("q1", ["a1"])
    calls = [
        waiting_call("french", offered_s_ago=60, required_skills={"french": 1}),
        waiting_call("plain", offered_s_ago=30),
    ]
    assert first_call_for(make_agent("a1"), queue, calls, NOW) == calls[1]
    assert first_call_for(make_agent("a1", status=AgentStatus.AWAY), queue, calls, NOW) is None
