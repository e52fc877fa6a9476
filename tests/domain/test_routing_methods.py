"""Routing methods, skills, priority and order, end to end through the engine."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from contactcenter.model import (
    AgentActivity,
    AgentStatus,
    AlertingModel,
    CallOutcome,
    CallState,
    RoutingMethod,
)
from contactcenter.ports import OfferEnd
from tests.domain.harness import TENANT, Harness, invite_error, make_agent, make_queue


async def talk(h: Harness, call_id: str, agent_id: str) -> None:
    """Have the agent answer and the caller hang up at once."""
    await h.answers(call_id, agent_id)
    await h.terminated(call_id)


async def test_serial_always_starts_from_the_first_member() -> None:
    h = Harness()
    queue = make_queue("q1", ["a3", "a1", "a2"], routing_method=RoutingMethod.SERIAL, wrap_up_s=0)
    await h.seed(queue, [make_agent("a1"), make_agent("a2"), make_agent("a3")])

    for call_id in ("c1", "c2", "c3"):
        await h.arrive(call_id)
        await talk(h, call_id, h.invited(call_id)[0])

    assert [h.invited(c) for c in ("c1", "c2", "c3")] == [["a3"], ["a3"], ["a3"]]


async def test_serial_rings_members_in_order_then_starts_over() -> None:
    h = Harness()
    queue = make_queue("q1", ["a2", "a1"], routing_method=RoutingMethod.SERIAL, alert_time_s=15)
    await h.seed(queue, [make_agent("a1"), make_agent("a2")])
    await h.arrive("c1")
    await h.advance(15)
    await h.advance(15)
    await h.advance(15)
    assert h.invited("c1") == ["a2", "a1", "a2", "a1"]


async def test_round_robin_rotates_the_first_agent() -> None:
    h = Harness()
    queue = make_queue(
        "q1", ["a1", "a2", "a3"], routing_method=RoutingMethod.ROUND_ROBIN, wrap_up_s=0
    )
    await h.seed(queue, [make_agent("a1"), make_agent("a2"), make_agent("a3")])

    first: list[str] = []
    for n in range(5):
        call_id = f"c{n}"
        await h.arrive(call_id)
        first.append(h.invited(call_id)[0])
        await talk(h, call_id, first[-1])
        h.clock.advance(1)

    assert first == ["a1", "a2", "a3", "a1", "a2"]


async def test_longest_idle_picks_the_agent_idle_longest() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1", "a2", "a3"], routing_method=RoutingMethod.LONGEST_IDLE)
    now = h.now
    await h.seed(
        queue,
        [
            make_agent("a1", idle_since=now - timedelta(minutes=1)),
            make_agent("a2", idle_since=now - timedelta(minutes=9)),
            make_agent("a3", idle_since=now - timedelta(minutes=4)),
        ],
    )
    await h.arrive("c1")
    await h.arrive("c2")
    await h.arrive("c3")
    assert [h.invited(c) for c in ("c1", "c2", "c3")] == [["a2"], ["a3"], ["a1"]]


async def test_longest_idle_counts_from_the_end_of_wrap_up() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1", "a2"], wrap_up_s=60)
    now = h.now
    await h.seed(
        queue,
        [
            make_agent("a1", idle_since=now - timedelta(minutes=10)),
            make_agent("a2", idle_since=now - timedelta(minutes=1)),
        ],
    )
    await h.arrive("c1")
    await talk(h, "c1", "a1")  # a1 wraps up until now + 60 s
    await h.advance(61)
    await h.arrive("c2")
    assert h.invited("c2") == ["a2"]


async def test_attendant_rings_everyone_and_the_first_to_answer_wins() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1", "a2", "a3"], routing_method=RoutingMethod.ATTENDANT)
    await h.seed(queue, [make_agent("a1"), make_agent("a2"), make_agent("a3")])
    await h.arrive("c1")
    assert sorted(h.invited("c1")) == ["a1", "a2", "a3"]
    # One invite request per agent (Graph: one invitee per request on a peer-to-peer call).
    assert all(len(args) == 3 for args in h.calls.of("invite"))

    await h.answers("c1", "a2")

    call = await h.call("c1")
    assert call is not None
    assert (call.state, call.agent_id) == (CallState.CONNECTED, "a2")
    removed = {p for _, p in h.calls.of("remove_participant")}
    assert removed == {h.last_invite("c1", a).participant_id for a in ("a1", "a3")}
    for loser in ("a1", "a3"):
        agent = await h.agent(loser)
        assert (agent.activity, agent.missed_in_a_row) == (AgentActivity.IDLE, 0)
        assert h.notifier.endings(loser) == [OfferEnd.TAKEN_BY_OTHER]
    assert h.notifier.endings("a2") == [OfferEnd.ANSWERED]


async def test_attendant_second_agent_joining_at_once_is_removed() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1", "a2"], routing_method=RoutingMethod.ATTENDANT)
    await h.seed(queue, [make_agent("a1"), make_agent("a2")])
    await h.arrive("c1")

    await h.answers("c1", "a1")
    await h.answers("c1", "a2")
    await h.roster("c1", "a1", "a2")

    call = await h.call("c1")
    assert call is not None
    assert call.agent_id == "a1"
    assert ("c1", h.last_invite("c1", "a2").participant_id) in h.calls.of("remove_participant")
    assert (await h.agent("a2")).activity is AgentActivity.IDLE


async def test_attendant_decline_by_one_keeps_ringing_the_others() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1", "a2"], routing_method=RoutingMethod.ATTENDANT)
    await h.seed(queue, [make_agent("a1"), make_agent("a2")])
    await h.arrive("c1")

    await h.declines("c1", "a1")

    call = await h.call("c1")
    assert call is not None
    assert call.offer is not None
    assert call.offer.agent_ids == ("a2",)
    assert (await h.agent("a1")).activity is AgentActivity.IDLE


async def test_attendant_rings_everyone_again_after_nobody_answers() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1", "a2"], routing_method=RoutingMethod.ATTENDANT, alert_time_s=15)
    await h.seed(queue, [make_agent("a1"), make_agent("a2")])
    await h.arrive("c1")
    await h.advance(15)
    assert sorted(h.invited("c1")) == ["a1", "a1", "a2", "a2"]


async def test_attendant_rings_one_agent_at_a_time_where_graph_refuses_parallel_invites() -> None:
    h = Harness()
    h.calls.one_invite_at_a_time = True
    queue = make_queue(
        "q1", ["a1", "a2", "a3"], routing_method=RoutingMethod.ATTENDANT, alert_time_s=15
    )
    await h.seed(queue, [make_agent("a1"), make_agent("a2"), make_agent("a3")])
    await h.arrive("c1")

    # The first invitation rings; the second is refused, and nobody else is tried.
    [first] = h.invited("c1")
    assert len(h.calls.failed_invites) == 1
    call = await h.call("c1")
    assert call is not None
    assert call.offer is not None
    assert call.offer.agent_ids == (first,)
    others = sorted({"a1", "a2", "a3"} - {first})
    for other in others:
        agent = await h.agent(other)
        assert (agent.activity, agent.missed_in_a_row) == (AgentActivity.IDLE, 0)

    # Each agent then rings alone, for the whole alert time.
    await h.advance(15)
    second = h.invited("c1")[1]
    assert second in others
    await h.advance(15)
    third = h.invited("c1")[2]
    assert sorted([first, second, third]) == ["a1", "a2", "a3"]
    assert len(h.calls.failed_invites) == 1
    await h.answers("c1", third)
    call = await h.call("c1")
    assert call is not None
    assert (call.state, call.agent_id) == (CallState.CONNECTED, third)


async def test_card_first_rings_only_after_accept() -> None:
    h = Harness()
    queue = make_queue(
        "q1",
        ["a1", "a2"],
        routing_method=RoutingMethod.ATTENDANT,
        alerting_model=AlertingModel.CARD_FIRST,
    )
    await h.seed(queue, [make_agent("a1"), make_agent("a2")])
    await h.arrive("c1")
    assert h.invited("c1") == []
    assert sorted(a.agent_id for a in h.notifier.started) == ["a1", "a2"]
    assert all(a.card_first for a in h.notifier.started)

    assert await h.engine.accept_offer(TENANT, "c1", "a2")

    assert h.invited("c1") == ["a2"]
    assert (await h.agent("a1")).activity is AgentActivity.IDLE
    assert h.notifier.endings("a1") == [OfferEnd.TAKEN_BY_OTHER]
    assert not await h.engine.accept_offer(TENANT, "c1", "a1")
    await h.answers("c1", "a2")
    assert (await h.call("c1")).state is CallState.CONNECTED  # type: ignore[union-attr]


async def test_card_first_decline_rings_the_next_agent() -> None:
    h = Harness()
    queue = make_queue(
        "q1",
        ["a1", "a2"],
        routing_method=RoutingMethod.SERIAL,
        alerting_model=AlertingModel.CARD_FIRST,
    )
    await h.seed(queue, [make_agent("a1"), make_agent("a2")])
    await h.arrive("c1")

    assert await h.engine.decline_offer(TENANT, "c1", "a1")

    assert [a.agent_id for a in h.notifier.started] == ["a1", "a2"]
    assert h.notifier.endings("a1") == [OfferEnd.DECLINED]
    assert (await h.agent("a1")).missed_in_a_row == 1
    call = await h.call("c1")
    assert call is not None
    assert (call.missed_agent_ids, call.declined_agent_ids) == (("a1",), ("a1",))


async def test_card_first_alert_time_releases_like_a_miss() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1"], alerting_model=AlertingModel.CARD_FIRST, alert_time_s=20)
    await h.seed(queue, [make_agent("a1")])
    await h.arrive("c1")
    await h.advance(20)
    assert (await h.agent("a1")).missed_in_a_row == 1
    assert h.invited("c1") == []


async def test_best_skilled_agent_is_rung_first() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1", "a2", "a3"], required_skills={"french": 2})
    await h.seed(
        queue,
        [
            make_agent("a1", skills={"french": 2}),
            make_agent("a2", skills={"french": 5}),
            make_agent("a3", skills={"french": 1}),
        ],
    )
    await h.arrive("c1")
    await h.declines("c1", "a2")
    await h.declines("c1", "a1")
    # a3 lacks the level: the call waits rather than ring them, and goes back to a2.
    assert h.invited("c1") == ["a2", "a1", "a2"]


async def test_skill_requirements_are_dropped_after_widening() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1"], required_skills={"french": 3}, skill_widen_after_s=45)
    await h.seed(queue, [make_agent("a1", skills={"french": 1})])
    await h.arrive("c1")
    await h.advance(44)
    assert h.invited("c1") == []

    await h.advance(1)

    assert h.invited("c1") == ["a1"]


async def test_higher_priority_call_is_served_first() -> None:
    h = Harness()
    low = make_queue("low", ["a1"], wrap_up_s=0)
    high = make_queue("high", ["a1"], wrap_up_s=0, priority=5)
    await h.seed(low, [make_agent("a1", ["low", "high"], status=AgentStatus.AWAY)])
    await h.repo.queues.put(high)
    await h.bind("line-2", "high")
    await h.arrive("c-low")
    h.clock.advance(5)
    await h.arrive("c-high", line="line-2")

    await h.engine.set_status(TENANT, "a1", AgentStatus.AVAILABLE)

    assert h.invited("c-high") == ["a1"]
    assert h.invited("c-low") == []


async def test_calls_of_equal_priority_are_served_first_in_first_out() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=0), [make_agent("a1", status=AgentStatus.AWAY)])
    for n in range(4):
        await h.arrive(f"c{n}")
        h.clock.advance(1)
    await h.engine.set_status(TENANT, "a1", AgentStatus.AVAILABLE)
    order = []
    for _ in range(4):
        ringing = [c for c in (f"c{n}" for n in range(4)) if h.invited(c) and c not in order]
        assert len(ringing) == 1
        order.append(ringing[0])
        await talk(h, ringing[0], "a1")
    assert order == ["c0", "c1", "c2", "c3"]


async def test_presence_busy_keeps_agent_from_calls_unless_queue_allows() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.engine.update_presence(TENANT, "a1", "Busy")
    await h.arrive("c1")
    assert h.invited("c1") == []

    await h.engine.update_presence(TENANT, "a1", "Available")

    assert h.invited("c1") == ["a1"]


async def test_route_when_busy_rings_busy_agents() -> None:
    h = Harness()
    await h.seed(
        make_queue("q1", ["a1"], route_when_busy=True), [make_agent("a1", presence="Busy")]
    )
    await h.arrive("c1")
    assert h.invited("c1") == ["a1"]


async def test_busy_presence_echoing_our_own_call_is_ignored() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=0), [make_agent("a1")])
    await h.arrive("c1")
    await h.answers("c1", "a1")
    await h.engine.update_presence(TENANT, "a1", "Busy", activity="InACall")
    h.clock.advance(30)
    await h.terminated("c1")
    h.clock.advance(5)
    await h.arrive("c2")
    assert h.invited("c2") == ["a1"]


async def test_agent_without_seat_or_sign_in_is_not_rung() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1", "a2", "a3"])
    await h.seed(
        queue,
        [
            make_agent("a1", has_seat=False),
            make_agent("a2", queues=("other",)),
            make_agent("a3", queues=("q1",), status=AgentStatus.DO_NOT_DISTURB),
        ],
    )
    await h.arrive("c1")
    assert h.invited("c1") == []
    assert (await h.call("c1")).state is CallState.WAITING  # type: ignore[union-attr]


async def test_sign_in_makes_the_agent_take_a_waiting_call() -> None:
    h = Harness()
    await h.seed(
        make_queue("q1", ["a1", "a2"]),
        [
            make_agent("a1", status=AgentStatus.AWAY),
            make_agent("a2", queues=(), status=AgentStatus.OFFLINE),
        ],
    )
    await h.arrive("c1")

    agent = await h.engine.sign_in(TENANT, "a2", "q1")

    assert agent.activity is AgentActivity.RINGING
    assert h.invited("c1") == ["a2"]


async def test_sign_out_keeps_the_agent_from_new_calls() -> None:
    h = Harness()
    await h.seed(
        make_queue("q1", ["a1"]),
        [
            make_agent("a1"),
        ],
    )
    await h.engine.sign_out(TENANT, "a1", "q1")
    await h.arrive("c1")
    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.NO_AGENT


async def test_end_wrap_up_makes_the_agent_available_at_once() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=120), [make_agent("a1")])
    await h.arrive("c1")
    await talk(h, "c1", "a1")
    await h.arrive("c2")
    assert h.invited("c2") == []

    await h.engine.end_wrap_up(TENANT, "a1")

    assert h.invited("c2") == ["a1"]


async def test_configuration_change_routes_waiting_calls() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1"])
    await h.seed(queue, [make_agent("a1", status=AgentStatus.AWAY), make_agent("a2", queues=())])
    await h.arrive("c1")
    assert h.invited("c1") == []

    await h.repo.queues.put(replace(queue, members=("a1", "a2")))
    await h.engine.sign_in(TENANT, "a2", "q1")

    assert h.invited("c1") == ["a2"]


async def test_new_member_already_signed_in_gets_calls_after_route_waiting_calls() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1"])
    await h.seed(queue, [make_agent("a1", status=AgentStatus.AWAY), make_agent("a2")])
    await h.arrive("c1")
    await h.repo.queues.put(replace(queue, members=("a1", "a2")))
    assert h.invited("c1") == []

    await h.engine.route_waiting_calls(TENANT, "q1")

    assert h.invited("c1") == ["a2"]


async def test_card_first_accept_whose_invitation_fails_is_retried() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1"], alerting_model=AlertingModel.CARD_FIRST)
    await h.seed(queue, [make_agent("a1")])
    await h.arrive("c1")
    h.calls.fail["invite"] = invite_error()

    assert await h.engine.accept_offer(TENANT, "c1", "a1")

    assert h.notifier.endings("a1") == [OfferEnd.WITHDRAWN]
    assert (await h.call("c1")).state is CallState.WAITING  # type: ignore[union-attr]
    del h.calls.fail["invite"]
    await h.advance(h.settings.ring_retry_s)
    assert len(h.notifier.started) == 2
