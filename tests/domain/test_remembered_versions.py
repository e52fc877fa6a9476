"""Decisions started from the version a host remembers, when another host changed it since.

A host tries some decisions on the call (or agent) as it last read or wrote it, without a
read: the compare-and-set proves that version current. These tests change the documents
through a second host (its own repository, so its own memory) in between, and check
that the first host's write loses, and that it reads and decides again correctly.
"""

from __future__ import annotations

from dataclasses import replace

from contactcenter.engine import RoutingEngine
from contactcenter.events import CallStateChanged, GraphCallState
from contactcenter.model import AgentActivity, CallOutcome, CallState
from contactcenter.repository import Repository
from tests.domain.harness import TENANT, Harness, make_agent, make_queue


def other_host(h: Harness) -> tuple[RoutingEngine, Repository]:
    """Return a second host on the same store, remembering nothing of the first's."""
    repo = Repository(h.store)
    return RoutingEngine(repo, h.calls, h.notifier, h.clock, h.settings), repo


async def test_established_redelivered_after_another_host_queued_the_call_rings_once() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1", "a2"]), [make_agent("a1"), make_agent("a2")])
    await h.incoming("c1")
    other, _ = other_host(h)
    await other.handle(CallStateChanged(TENANT, "c1", GraphCallState.ESTABLISHED))
    [rung] = h.invited("c1")
    h.store.reset()

    # This host remembers the call answering: it claims the other agent, loses the
    # call's write, gives the claim back and, on the call as read, does nothing more.
    await h.established("c1")

    assert h.invited("c1") == [rung]
    assert h.store.counts["read calls"] == 1
    call = await h.call("c1")
    assert call is not None
    assert call.state is CallState.RINGING
    assert call.offer is not None
    assert call.offer.agent_ids == (rung,)
    for agent in await h.agents():
        if agent.id != rung:
            assert (agent.activity, agent.current_call_id) == (AgentActivity.IDLE, None)


async def test_an_answer_after_another_host_changed_the_call_connects_on_a_read() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.arrive("c1")
    _, repo = other_host(h)
    changed = await repo.calls.update(TENANT, "c1", lambda c: replace(c, media_seq=c.media_seq + 1))
    assert changed is not None
    h.store.reset()

    await h.answers("c1", "a1")

    assert h.store.counts["read calls"] == 1
    call = await h.call("c1")
    assert call is not None
    assert (call.state, call.agent_id) == (CallState.CONNECTED, "a1")
    # Decided on the call as the other host left it.
    assert call.media_seq == changed.value.media_seq
    assert (await h.agent("a1")).activity is AgentActivity.ON_CALL


async def test_a_roster_that_changes_nothing_on_the_remembered_call_is_decided_on_a_read() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=0), [make_agent("a1")])
    await h.arrive("c1")
    # Another host connects the agent: this one still remembers the call ringing.
    other, _ = other_host(h)
    h.engine, first = other, h.engine
    await h.answers("c1", "a1")
    h.engine = first

    # The agent hung up: nothing to do for a ringing call, but the talk is over.
    await h.roster("c1")

    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.ANSWERED
    assert await h.call("c1") is None


async def test_an_answer_after_another_host_changed_the_agent_connects_them() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.arrive("c1")
    _, repo = other_host(h)
    await repo.agents.update(TENANT, "a1", lambda a: replace(a, display_name="Renamed"))
    h.store.reset()

    await h.answers("c1", "a1")

    # The claim remembered let the call connect; the agent's write lost, and was made
    # again on the agent as read.
    assert h.store.counts["read agents"] == 1
    call = await h.call("c1")
    assert call is not None
    assert (call.state, call.agent_id) == (CallState.CONNECTED, "a1")
    agent = await h.agent("a1")
    assert (agent.activity, agent.current_call_id) == (AgentActivity.ON_CALL, "c1")
    assert agent.display_name == "Renamed"


async def test_a_talk_ended_after_another_host_changed_the_agent_starts_their_wrap_up() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=30), [make_agent("a1")])
    await h.arrive("c1")
    await h.answers("c1", "a1")
    await h.roster("c1", "a1")
    _, repo = other_host(h)
    await repo.agents.update(TENANT, "a1", lambda a: replace(a, display_name="Renamed"))

    await h.roster("c1")  # the agent hung up

    agent = await h.agent("a1")
    assert (agent.activity, agent.current_call_id) == (AgentActivity.WRAP_UP, None)
    assert agent.wrap_up is not None
    assert agent.wrap_up.record_id == "c1"
    assert agent.display_name == "Renamed"


async def test_a_wrap_up_this_host_set_ends_by_its_id_once_whoever_sweeps() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=30), [make_agent("a1")])
    await h.arrive("c1")
    await h.answers("c1", "a1")
    await h.roster("c1")
    h.clock.advance(30)
    other, _ = other_host(h)
    h.store.reset()

    assert await h.engine.fire_own_timers(h.now) == 1
    assert await other.fire_due_timers(h.now) == 0
    assert await h.engine.fire_own_timers(h.now) == 0

    assert h.store.counts["replace agents"] == 1
    assert h.store.counts["replace callRecords"] == 1
    agent = await h.agent("a1")
    assert (agent.activity, agent.due_at) == (AgentActivity.IDLE, None)
    record = await h.record("c1")
    assert record is not None
    assert not record.wrap_up_pending


async def test_a_wrap_up_another_host_ended_first_is_not_ended_again() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=30), [make_agent("a1")])
    await h.arrive("c1")
    await h.answers("c1", "a1")
    await h.roster("c1")
    h.clock.advance(30)
    other, _ = other_host(h)
    assert await other.fire_due_timers(h.now) == 1
    h.store.reset()

    # This host still remembers the agent due: it reads them, and finds nothing due.
    assert await h.engine.fire_own_timers(h.now) == 0

    assert h.store.counts["read agents"] == 1
    assert "replace agents" not in h.store.counts
    assert "replace callRecords" not in h.store.counts
