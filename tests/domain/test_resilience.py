"""Duplicates, reordering, restarts, lost races and the store-request budget."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from contactcenter.errors import NotFound
from contactcenter.events import CallStateChanged, GraphCallState
from contactcenter.model import AgentActivity, AgentStatus, CallOutcome, CallState
from contactcenter.ports import StoredDocument
from tests.domain.harness import TENANT, Harness, make_agent, make_queue


async def test_duplicate_incoming_is_answered_once() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.incoming("c1")
    await h.incoming("c1")
    assert len(h.calls.of("answer")) == 1


async def test_duplicate_established_rings_once() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1", "a2"]), [make_agent("a1"), make_agent("a2")])
    await h.arrive("c1")
    await h.established("c1")
    assert len(h.invited("c1")) == 1


async def test_late_establishing_after_established_is_ignored() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.arrive("c1")
    before = await h.call("c1")
    await h.engine.handle(CallStateChanged(TENANT, "c1", GraphCallState.ESTABLISHING))
    assert await h.call("c1") == before


async def test_duplicate_answer_and_roster_connect_once() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.arrive("c1")
    await h.answers("c1", "a1")
    answered = (await h.call("c1")).answered_at  # type: ignore[union-attr]
    h.clock.advance(2)
    await h.roster("c1", "a1")
    await h.answers("c1", "a1")
    call = await h.call("c1")
    assert call is not None
    assert (call.state, call.answered_at) == (CallState.CONNECTED, answered)


async def test_roster_before_operation_result_connects_once() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.arrive("c1")
    await h.roster("c1", "a1")
    await h.answers("c1", "a1")
    call = await h.call("c1")
    assert call is not None
    assert call.state is CallState.CONNECTED
    assert (await h.agent("a1")).activity is AgentActivity.ON_CALL


async def test_terminated_call_ignores_everything_after() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=0), [make_agent("a1")])
    await h.arrive("c1")
    await h.terminated("c1")
    record = await h.record("c1")

    await h.answers("c1", "a1")
    await h.roster("c1", "a1")
    await h.established("c1")
    await h.terminated("c1")
    await h.new_engine().handle(CallStateChanged(TENANT, "c1", GraphCallState.TERMINATED))

    assert await h.record("c1") == record
    assert await h.call("c1") is None
    assert (await h.agent("a1")).activity is AgentActivity.IDLE


async def test_late_answer_after_ring_timeout_is_removed_from_the_call() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1", "a2"], alert_time_s=15)
    await h.seed(queue, [make_agent("a1"), make_agent("a2")])
    await h.arrive("c1")
    await h.advance(15)  # a1 missed; a2 rings
    await h.answers("c1", "a2")

    await h.answers("c1", "a1")  # a1's answer arrives late
    await h.roster("c1", "a2", "a1")

    call = await h.call("c1")
    assert call is not None
    assert call.agent_id == "a2"
    late = h.last_invite("c1", "a1").participant_id
    assert h.calls.of("remove_participant").count(("c1", late)) >= 1
    assert (await h.agent("a1")).activity is AgentActivity.IDLE


async def test_timer_fired_twice_acts_once() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1", "a2"], alert_time_s=15)
    await h.seed(queue, [make_agent("a1"), make_agent("a2")])
    await h.arrive("c1")
    h.clock.advance(15)
    other = h.new_engine()
    await h.engine.fire_due_timers(h.now)
    await other.fire_due_timers(h.now)
    await h.engine.fire_due_timers(h.now)
    assert h.invited("c1") == ["a1", "a2"]
    assert (await h.agent("a1")).missed_in_a_row == 1


async def test_restarted_engine_continues_a_call_mid_ring() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1", "a2"], alert_time_s=15, wrap_up_s=0)
    await h.seed(queue, [make_agent("a1"), make_agent("a2")])
    await h.arrive("c1")

    h.engine = h.new_engine()  # the first host is gone
    await h.advance(15)
    assert h.invited("c1") == ["a1", "a2"]
    await h.answers("c1", "a2")
    await h.terminated("c1")

    record = await h.record("c1")
    assert record is not None
    assert (record.outcome, record.agent_id, record.missed_agent_ids) == (
        CallOutcome.ANSWERED,
        "a2",
        ("a1",),
    )


async def test_orphaned_claim_is_released_by_the_agent_timer() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    # A host claimed the agent and died before recording the offer on the call.
    agent = await h.repo.agents.get(TENANT, "a1")
    await h.repo.agents.save(
        replace(
            agent.value,
            activity=AgentActivity.RINGING,
            current_call_id="lost-call",
            due_at=h.now + timedelta(seconds=50),
        ),
        etag=agent.etag,
    )
    await h.advance(49)
    assert (await h.agent("a1")).activity is AgentActivity.RINGING

    await h.advance(1)

    released = await h.agent("a1")
    assert (released.activity, released.current_call_id) == (AgentActivity.IDLE, None)


async def test_lost_claim_race_tries_the_next_agent() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1", "a2"])
    await h.seed(queue, [make_agent("a1"), make_agent("a2")])
    inner_replace = h.store.replace
    raced = False

    async def racing_replace(
        collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any], *, if_match: str
    ) -> StoredDocument:
        nonlocal raced
        if (collection, doc_id, body.get("activity")) == ("agents", "a1", "ringing") and not raced:
            raced = True
            # Another host changes a1 between our read and our claim.
            current = await h.repo.agents.get(TENANT, "a1")
            await h.repo.agents.save(
                replace(current.value, status=AgentStatus.AWAY), etag=current.etag
            )
        return await inner_replace(collection, tenant_id, doc_id, body, if_match=if_match)

    h.store.replace = racing_replace  # type: ignore[method-assign]
    await h.arrive("c1")
    assert raced
    assert h.invited("c1") == ["a2"]
    assert (await h.agent("a1")).activity is AgentActivity.IDLE


async def test_answered_call_stays_within_the_store_request_budget() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=10), [make_agent("a1")])
    # One call first, so the tenant's settings are cached as on a running host.
    await h.arrive("c0")
    await h.answers("c0", "a1")
    await h.terminated("c0")
    await h.advance(10)
    h.store.reset()

    await h.incoming("c1")
    await h.engine.handle(CallStateChanged(TENANT, "c1", GraphCallState.ESTABLISHING))
    await h.established("c1")
    await h.answers("c1", "a1")
    await h.roster("c1", "a1")
    await h.roster("c1")
    await h.terminated("c1")

    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.ANSWERED
    used = h.store.total - 1  # the read just above
    assert used <= 20, dict(h.store.counts)


async def test_waiting_call_does_not_scan_the_whole_queue() -> None:
    h = Harness()
    await h.seed(
        make_queue("q1", ["a1"], wrap_up_s=0, max_size=1000),
        [make_agent("a1", status=AgentStatus.AWAY)],
    )
    for n in range(200):
        await h.arrive(f"c{n:03}")
    h.store.reset()
    await h.engine.set_status(TENANT, "a1", AgentStatus.AVAILABLE)
    assert h.invited("c000") == ["a1"]
    # One page of waiting calls is read, whatever the queue's length.
    assert h.store.counts["query calls"] == 1


async def test_waiting_call_unknown_to_graph_ends_as_abandoned() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1", status=AgentStatus.AWAY)])
    await h.arrive("c1")
    h.calls.fail["keep_alive"] = NotFound("no such call")

    await h.advance(h.settings.keep_alive_s)

    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.ABANDONED


async def test_connected_call_is_kept_alive_and_ends_when_graph_forgets_it() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=0), [make_agent("a1")])
    await h.arrive("c1")
    await h.answers("c1", "a1")
    await h.advance(h.settings.keep_alive_s)
    assert h.calls.of("keep_alive") == [("c1",)]
    h.calls.fail["keep_alive"] = NotFound("no such call")

    await h.advance(h.settings.keep_alive_s)

    record = await h.record("c1")
    assert record is not None
    assert (record.outcome, record.talk_s) == (CallOutcome.ANSWERED, 2 * h.settings.keep_alive_s)
    assert (await h.agent("a1")).activity is AgentActivity.IDLE
