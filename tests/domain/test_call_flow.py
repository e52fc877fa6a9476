"""A queue call's life: answer, queue, ring, connect, talk, wrap-up, record."""

from __future__ import annotations

from datetime import timedelta

from contactcenter.engine import EngineSettings
from contactcenter.errors import CallControlError, NotFound
from contactcenter.model import (
    ActionKind,
    AgentActivity,
    AgentStatus,
    CallOutcome,
    CallState,
    QueueAction,
    RoutingMethod,
)
from contactcenter.ports import OfferEnd, RejectReason
from tests.domain.harness import TENANT, Harness, make_agent, make_queue


async def test_unknown_target_is_rejected_and_recorded() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])

    await h.incoming("c1", line="nobody")

    assert h.calls.of("reject") == [("c1", RejectReason.NONE)]
    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.REJECTED
    assert "nobody" in record.leave_reason


async def test_incoming_call_is_answered_with_the_queue_prompts() -> None:
    h = Harness(
        settings=EngineSettings(
            callback_uri="https://bot.example/api/calling",
            prompt_base_url="https://bot.example/media",
        )
    )
    await h.seed(make_queue("q1", ["a1"], greeting_prompt_id="hello"), [make_agent("a1")])

    await h.incoming("c1")

    [(call_id, callback, prefetch)] = h.calls.of("answer")
    assert (call_id, callback) == ("c1", "https://bot.example/api/calling")
    # The queue's greeting, and the standard music on hold as it names none.
    assert [p.uri for p in prefetch] == [
        "https://bot.example/media/tenant-1/hello.wav",
        "https://bot.example/media/tenant-1/std.en-US.music.wav",
    ]
    call = await h.call("c1")
    assert call is not None
    assert call.state is CallState.ANSWERING


async def test_answered_call_connects_records_and_wraps_up() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=30), [make_agent("a1")])

    await h.arrive("c1")
    assert h.invited("c1") == ["a1"]
    assert (await h.agent("a1")).activity is AgentActivity.RINGING
    h.clock.advance(4)
    await h.answers("c1", "a1")

    call = await h.call("c1")
    assert call is not None
    assert call.state is CallState.CONNECTED
    assert (await h.agent("a1")).activity is AgentActivity.ON_CALL
    assert h.notifier.endings("a1") == [OfferEnd.ANSWERED]

    h.clock.advance(100)
    await h.roster("c1")  # the agent hung up
    assert ("c1",) in h.calls.of("hang_up")
    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.ANSWERED
    assert record.wait_s == 4
    assert record.ring_s == 4
    assert record.talk_s == 100
    # The wrap-up time is known once the wrap-up ends.
    assert (record.wrap_up_s, record.wrap_up_pending) == (0, True)
    assert record.met_service_level
    assert record.agent_id == "a1"
    assert await h.call("c1") is None

    agent = await h.agent("a1")
    assert agent.activity is AgentActivity.WRAP_UP
    assert agent.wrap_up_until == h.now + timedelta(seconds=30)
    assert agent.idle_since == agent.wrap_up_until
    await h.advance(30)
    agent = await h.agent("a1")
    assert agent.activity is AgentActivity.IDLE
    assert agent.idle_since == h.now
    record = await h.record("c1")
    assert record is not None
    assert (record.wrap_up_s, record.wrap_up_pending) == (30, False)


async def test_caller_hanging_up_ends_the_talk() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=0), [make_agent("a1")])
    await h.arrive("c1")
    await h.answers("c1", "a1")
    h.clock.advance(50)

    await h.terminated("c1")

    record = await h.record("c1")
    assert record is not None
    assert (record.outcome, record.talk_s) == (CallOutcome.ANSWERED, 50)
    assert h.calls.of("hang_up") == []
    agent = await h.agent("a1")
    assert (agent.activity, agent.idle_since) == (AgentActivity.IDLE, h.now)


async def test_wait_includes_time_in_queue_and_ringing() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=0), [make_agent("a1")])
    await h.arrive("c1")
    await h.answers("c1", "a1")
    h.clock.advance(10)
    await h.arrive("c2")  # a1 is busy: c2 waits
    assert (await h.call("c2")).state is CallState.WAITING  # type: ignore[union-attr]
    h.clock.advance(25)
    await h.terminated("c1")  # a1 is free and takes c2
    assert h.invited("c2") == ["a1"]
    h.clock.advance(5)
    await h.answers("c2", "a1")
    await h.terminated("c2")

    record = await h.record("c2")
    assert record is not None
    assert (record.wait_s, record.ring_s) == (30, 5)
    assert not record.met_service_level


async def test_caller_abandons_while_waiting() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1", status=AgentStatus.AWAY)])
    await h.arrive("c1")
    h.clock.advance(12)

    await h.terminated("c1")

    record = await h.record("c1")
    assert record is not None
    assert (record.outcome, record.wait_s) == (CallOutcome.ABANDONED, 12)
    assert await h.call("c1") is None


async def test_caller_abandons_while_ringing() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.arrive("c1")
    h.clock.advance(3)

    await h.terminated("c1")

    record = await h.record("c1")
    assert record is not None
    assert (record.outcome, record.ring_s) == (CallOutcome.ABANDONED, 3)
    participant = h.last_invite("c1", "a1").participant_id
    assert ("c1", participant) in h.calls.of("remove_participant")
    agent = await h.agent("a1")
    assert (agent.activity, agent.current_call_id) == (AgentActivity.IDLE, None)
    assert h.notifier.endings("a1") == [OfferEnd.CALLER_HUNG_UP]


async def test_ring_timeout_rings_the_next_agent() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1", "a2"], routing_method=RoutingMethod.SERIAL, alert_time_s=20)
    await h.seed(queue, [make_agent("a1"), make_agent("a2")])
    await h.arrive("c1")
    assert h.invited("c1") == ["a1"]

    await h.advance(20)

    assert h.invited("c1") == ["a1", "a2"]
    assert ("c1", h.last_invite("c1", "a1").participant_id) in h.calls.of("remove_participant")
    a1 = await h.agent("a1")
    assert (a1.activity, a1.missed_in_a_row) == (AgentActivity.IDLE, 1)
    call = await h.call("c1")
    assert call is not None
    assert call.missed_agent_ids == ("a1",)
    assert h.notifier.endings("a1") == [OfferEnd.MISSED]


async def test_declined_offer_rings_the_next_agent() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1", "a2"], routing_method=RoutingMethod.SERIAL)
    await h.seed(queue, [make_agent("a1"), make_agent("a2")])
    await h.arrive("c1")

    await h.declines("c1", "a1")

    assert h.invited("c1") == ["a1", "a2"]
    assert h.notifier.endings("a1") == [OfferEnd.DECLINED]
    assert (await h.agent("a1")).missed_in_a_row == 1


async def test_a_decline_and_a_ring_out_are_recorded_apart() -> None:
    h = Harness()
    queue = make_queue(
        "q1", ["a1", "a2", "a3"], routing_method=RoutingMethod.SERIAL, alert_time_s=20
    )
    await h.seed(queue, [make_agent("a1"), make_agent("a2"), make_agent("a3")])
    await h.arrive("c1")

    await h.declines("c1", "a1")
    await h.advance(20)
    await h.answers("c1", "a3")
    await h.terminated("c1")

    record = await h.record("c1")
    assert record is not None
    assert (record.agent_id, record.missed_agent_ids) == ("a3", ("a1", "a2"))
    assert record.declined_agent_ids == ("a1",)
    assert record.unanswered_agent_ids == ("a2",)


async def test_agent_is_set_away_after_consecutive_misses() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1"], missed_offers_to_away=2, alert_time_s=15)
    await h.seed(queue, [make_agent("a1")])
    await h.arrive("c1")
    await h.advance(15)  # missed once; rung again (nobody else)
    assert h.invited("c1") == ["a1", "a1"]

    await h.advance(15)  # missed twice: away

    agent = await h.agent("a1")
    assert (agent.status, agent.activity) == (AgentStatus.AWAY, AgentActivity.IDLE)
    assert agent.status_since == h.now
    assert h.notifier.endings("a1") == [OfferEnd.MISSED, OfferEnd.SET_AWAY]
    call = await h.call("c1")
    assert call is not None
    assert call.state is CallState.WAITING

    await h.engine.set_status(TENANT, "a1", AgentStatus.AVAILABLE)
    assert h.invited("c1") == ["a1", "a1", "a1"]
    assert (await h.agent("a1")).missed_in_a_row == 0


async def test_answer_resets_missed_count() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], alert_time_s=15), [make_agent("a1")])
    await h.arrive("c1")
    await h.advance(15)
    assert (await h.agent("a1")).missed_in_a_row == 1
    await h.answers("c1", "a1")
    assert (await h.agent("a1")).missed_in_a_row == 0


async def test_ringing_does_not_reset_idle_time() -> None:
    h = Harness()
    start = h.now - timedelta(minutes=5)
    await h.seed(make_queue("q1", ["a1"], alert_time_s=15), [make_agent("a1", idle_since=start)])
    await h.arrive("c1")
    await h.declines("c1", "a1")
    await h.terminated("c1")
    assert (await h.agent("a1")).idle_since == start


async def test_no_agent_signed_in_runs_the_no_agent_action() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1", queues=())])

    await h.arrive("c1")

    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.NO_AGENT
    assert h.calls.of("hang_up") == [("c1",)]


async def test_signed_in_but_busy_agents_let_the_call_wait() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1", status=AgentStatus.AWAY)])
    await h.arrive("c1")
    call = await h.call("c1")
    assert call is not None
    assert call.state is CallState.WAITING


async def test_full_queue_overflows() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], max_size=1), [make_agent("a1", status=AgentStatus.AWAY)])
    await h.arrive("c1")
    await h.arrive("c2")

    assert (await h.call("c1")).state is CallState.WAITING  # type: ignore[union-attr]
    record = await h.record("c2")
    assert record is not None
    assert record.outcome is CallOutcome.OVERFLOWED


async def test_max_wait_runs_the_timeout_action() -> None:
    h = Harness()
    await h.seed(
        make_queue("q1", ["a1"], max_wait_s=60), [make_agent("a1", status=AgentStatus.AWAY)]
    )
    await h.arrive("c1")
    await h.advance(59)
    assert await h.record("c1") is None

    await h.advance(1)

    record = await h.record("c1")
    assert record is not None
    assert (record.outcome, record.wait_s) == (CallOutcome.TIMED_OUT, 60)


async def test_timeout_while_ringing_withdraws_the_offer() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1"], max_wait_s=10, alert_time_s=20)
    await h.seed(queue, [make_agent("a1")])
    await h.arrive("c1")

    await h.advance(10)

    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.TIMED_OUT
    agent = await h.agent("a1")
    assert (agent.activity, agent.missed_in_a_row) == (AgentActivity.IDLE, 0)
    assert h.notifier.endings("a1") == [OfferEnd.WITHDRAWN]


async def test_queue_action_moves_the_call_keeping_its_place() -> None:
    h = Harness()
    first = make_queue(
        "q1",
        ["a1"],
        max_wait_s=30,
        priority=2,
        timeout_action=QueueAction(ActionKind.QUEUE, "q2"),
    )
    second = make_queue("q2", ["a2"])
    await h.seed(
        first,
        [
            make_agent("a1", status=AgentStatus.AWAY),
            make_agent("a2", ["q2"], status=AgentStatus.AWAY),
        ],
    )
    await h.repo.queues.put(second)
    await h.arrive("c1")
    offered = (await h.call("c1")).offered_at  # type: ignore[union-attr]

    await h.advance(30)

    call = await h.call("c1")
    assert call is not None
    assert (call.queue_id, call.state, call.queue_hops) == ("q2", CallState.WAITING, ("q1",))
    assert (call.offered_at, call.priority) == (offered, 2)
    await h.engine.set_status(TENANT, "a2", AgentStatus.AVAILABLE)
    assert h.invited("c1") == ["a2"]
    await h.answers("c1", "a2")
    await h.terminated("c1")
    record = await h.record("c1")
    assert record is not None
    assert (record.queue_id, record.came_from, record.wait_s) == ("q2", "q1", 30)


async def test_queue_action_loop_disconnects() -> None:
    h = Harness()
    first = make_queue(
        "q1", ["a1"], max_size=0, overflow_action=QueueAction(ActionKind.QUEUE, "q2")
    )
    second = make_queue(
        "q2", ["a1"], max_size=0, overflow_action=QueueAction(ActionKind.QUEUE, "q1")
    )
    await h.seed(first, [make_agent("a1", ["q1", "q2"])])
    await h.repo.queues.put(second)

    await h.arrive("c1")

    record = await h.record("c1")
    assert record is not None
    assert (record.outcome, record.queue_id) == (CallOutcome.OVERFLOWED, "q2")


async def test_unimplemented_action_records_the_outcome_and_hangs_up() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1"], max_size=0, overflow_action=QueueAction(ActionKind.VOICEMAIL))
    await h.seed(queue, [make_agent("a1")])

    await h.arrive("c1")

    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.OVERFLOWED
    assert "voicemail" in record.leave_reason
    assert h.calls.of("hang_up") == [("c1",)]


async def test_answer_failure_ends_the_call_as_failed() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    h.calls.fail["answer"] = CallControlError("gone", status=404)

    await h.incoming("c1")

    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.FAILED
    assert await h.call("c1") is None


async def test_failed_invitation_releases_the_agent_and_retries() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    h.calls.fail["invite:a1"] = CallControlError("the invitee cannot be invited", status=400)

    await h.arrive("c1")

    call = await h.call("c1")
    assert call is not None
    assert call.state is CallState.WAITING
    agent = await h.agent("a1")
    assert (agent.activity, agent.missed_in_a_row) == (AgentActivity.IDLE, 0)
    del h.calls.fail["invite:a1"]
    await h.advance(h.settings.ring_retry_s)
    assert h.invited("c1") == ["a1"]
    assert (await h.call("c1")).state is CallState.RINGING  # type: ignore[union-attr]


async def test_queued_call_vanishing_at_graph_is_abandoned() -> None:
    # Graph forgets a queued call when its caller hangs up; the invitation can learn of it
    # before the notification does.
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    h.calls.fail["invite"] = NotFound("no such call")

    await h.arrive("c1")

    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.ABANDONED
    assert (await h.agent("a1")).activity is AgentActivity.IDLE
    assert h.notifier.endings("a1") == [OfferEnd.CALLER_HUNG_UP]

    await h.terminated("c1")  # the notification, late: nothing changes
    assert (await h.record("c1")) == record


async def test_no_offer_once_the_maximum_wait_is_over() -> None:
    h = Harness()
    await h.seed(
        make_queue("q1", ["a1"], max_wait_s=10), [make_agent("a1", status=AgentStatus.AWAY)]
    )
    await h.arrive("c1")
    h.clock.advance(15)  # the call's timer has not fired (its host was busy, or down)

    await h.engine.set_status(TENANT, "a1", AgentStatus.AVAILABLE)

    assert h.invited("c1") == []
    await h.engine.fire_due_timers(h.now)
    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.TIMED_OUT
    assert (await h.agent("a1")).activity is AgentActivity.IDLE


async def test_a_binding_changed_through_the_engine_is_used_at_once() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.incoming("c1", line="line-2")  # not bound: rejected, and remembered as such
    assert (await h.record("c1")).outcome is CallOutcome.REJECTED  # type: ignore[union-attr]

    await h.bind("line-2", "q1")
    h.engine.binding_changed(TENANT, "line-2")
    await h.arrive("c2", line="line-2")

    assert h.invited("c2") == ["a1"]


async def test_a_binding_changed_elsewhere_is_seen_once_the_cache_expires() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.incoming("c1", line="line-2")
    await h.bind("line-2", "q1")  # by another host: this engine is not told

    await h.incoming("c2", line="line-2")
    assert (await h.record("c2")).outcome is CallOutcome.REJECTED  # type: ignore[union-attr]
    h.clock.advance(h.settings.queue_cache_s)
    await h.arrive("c3", line="line-2")
    assert h.invited("c3") == ["a1"]
