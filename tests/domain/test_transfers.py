"""An agent hands a talk on: to another queue (first in line there), or to another agent."""

from __future__ import annotations

import pytest

from contactcenter.engine import NotYourTalk
from contactcenter.errors import Conflict, InvalidInput
from contactcenter.model import AgentActivity, AgentStatus, CallOutcome, CallState
from contactcenter.ports import OfferEnd
from contactcenter.records import leg_record_id
from tests.domain.harness import TENANT, Harness, make_agent, make_queue


async def _two_queues(*, b1: AgentStatus = AgentStatus.AVAILABLE) -> Harness:
    h = Harness()
    await h.seed(
        make_queue("q1", ["a1"], wrap_up_s=30),
        [make_agent("a1", ["q1"]), make_agent("b1", ["q2"], status=b1)],
    )
    await h.repo.queues.put(make_queue("q2", ["b1"], wrap_up_s=20))
    return h


async def _talking(h: Harness, call_id: str = "c1") -> None:
    await h.arrive(call_id)
    await h.answers(call_id, "a1")
    await h.roster(call_id, "a1")


async def test_a_call_transferred_to_a_queue_reaches_an_agent_there() -> None:
    h = await _two_queues()
    await _talking(h)
    h.clock.advance(60)
    a1_participant = h.last_invite("c1", "a1").participant_id

    await h.engine.transfer_to_queue(TENANT, "c1", "a1", "q2")

    # The first agent is out of the call, wrapping up their leg, which has its own record.
    assert ("c1", a1_participant) in h.calls.of("remove_participant")
    a1 = await h.agent("a1")
    assert a1.activity is AgentActivity.WRAP_UP
    assert a1.wrap_up is not None
    leg = await h.record(leg_record_id("c1", 1))
    assert leg is not None
    assert (leg.outcome, leg.agent_id, leg.queue_id, leg.talk_s) == (
        CallOutcome.ANSWERED,
        "a1",
        "q1",
        60,
    )
    assert leg.leave_reason == "transferred to queue Q2"
    assert a1.wrap_up.record_id == leg.id
    # The caller is offered to the target queue's agent.
    call = await h.call("c1")
    assert call is not None
    assert (call.state, call.queue_id) == (CallState.RINGING, "q2")
    assert h.invited("c1") == ["a1", "b1"]
    h.clock.advance(5)
    await h.answers("c1", "b1")
    await h.roster("c1", "b1")
    h.clock.advance(40)
    await h.terminated("c1")

    record = await h.record("c1")
    assert record is not None
    assert (record.outcome, record.agent_id, record.queue_id, record.came_from) == (
        CallOutcome.ANSWERED,
        "b1",
        "q2",
        "q1",
    )
    # The second leg was offered when the transfer happened.
    assert (record.wait_s, record.talk_s) == (5, 40)


async def test_a_transferred_caller_goes_ahead_of_later_callers_of_the_same_priority() -> None:
    h = await _two_queues(b1=AgentStatus.AWAY)
    await _talking(h, "c1")
    h.clock.advance(10)
    await h.bind("line-2", "q2")
    await h.arrive("c2", line="line-2")  # waits in q2: b1 is away
    h.clock.advance(30)

    await h.engine.transfer_to_queue(TENANT, "c1", "a1", "q2")
    await h.engine.set_status(TENANT, "b1", AgentStatus.AVAILABLE)

    assert h.invited("c1")[-1] == "b1"
    assert "b1" not in h.invited("c2")


async def test_a_transfer_to_an_agent_leaves_the_caller_and_the_new_agent() -> None:
    h = await _two_queues()
    await _talking(h)
    a1_participant = h.last_invite("c1", "a1").participant_id
    h.clock.advance(30)

    transfer = await h.engine.transfer_to_agent(TENANT, "c1", "a1", "b1")

    assert transfer.agent_id == "b1"
    assert (await h.agent("b1")).activity is AgentActivity.RINGING
    assert h.last_invite("c1", "b1").client_context.startswith("transfer:")
    # Until the target joins, the first agent keeps talking.
    assert (await h.agent("a1")).activity is AgentActivity.ON_CALL
    h.clock.advance(4)
    await h.answers("c1", "b1")  # the invitation completes: b1 joined

    assert ("c1", a1_participant) in h.calls.of("remove_participant")
    call = await h.call("c1")
    assert call is not None
    assert (call.state, call.agent_id, call.transfer) == (CallState.CONNECTED, "b1", None)
    assert (await h.agent("b1")).activity is AgentActivity.ON_CALL
    assert (await h.agent("a1")).activity is AgentActivity.WRAP_UP
    # The first agent left: the roster without them does not end the talk.
    await h.roster("c1", "b1")
    assert (await h.call("c1")) is not None
    assert OfferEnd.ANSWERED in h.notifier.endings("b1")
    leg = await h.record(leg_record_id("c1", 1))
    assert leg is not None
    assert (leg.agent_id, leg.talk_s, leg.leave_reason) == ("a1", 34, "transferred to B1")
    h.clock.advance(20)
    await h.terminated("c1")
    record = await h.record("c1")
    assert record is not None
    assert (record.agent_id, record.wait_s, record.talk_s) == ("b1", 4, 20)


async def test_a_declined_transfer_leaves_the_talk_as_it_was() -> None:
    h = await _two_queues()
    await _talking(h)
    await h.engine.transfer_to_agent(TENANT, "c1", "a1", "b1")

    await h.declines("c1", "b1")

    call = await h.call("c1")
    assert call is not None
    assert (call.agent_id, call.transfer) == ("a1", None)
    assert (await h.agent("b1")).activity is AgentActivity.IDLE
    assert h.notifier.endings("b1") == [OfferEnd.DECLINED]
    assert await h.record(leg_record_id("c1", 1)) is None


async def test_an_unanswered_transfer_is_cancelled_after_the_alert_time() -> None:
    h = await _two_queues()
    await _talking(h)
    transfer = await h.engine.transfer_to_agent(TENANT, "c1", "a1", "b1")

    await h.advance(20)

    assert ("c1", transfer.participant_id) in h.calls.of("remove_participant")
    call = await h.call("c1")
    assert call is not None
    assert (call.agent_id, call.transfer) == ("a1", None)
    assert (await h.agent("b1")).activity is AgentActivity.IDLE


async def test_the_caller_hanging_up_during_a_transfer_releases_its_target() -> None:
    h = await _two_queues()
    await _talking(h)
    await h.engine.transfer_to_agent(TENANT, "c1", "a1", "b1")

    await h.terminated("c1")

    assert (await h.agent("b1")).activity is AgentActivity.IDLE
    record = await h.record("c1")
    assert record is not None
    assert record.agent_id == "a1"


async def test_only_a_free_agent_can_take_a_transfer() -> None:
    h = await _two_queues(b1=AgentStatus.AWAY)
    await _talking(h)

    with pytest.raises(InvalidInput, match="not free"):
        await h.engine.transfer_to_agent(TENANT, "c1", "a1", "b1")


async def test_only_the_talking_agent_hands_the_call_on() -> None:
    h = await _two_queues()
    await _talking(h)

    with pytest.raises(NotYourTalk):
        await h.engine.transfer_to_queue(TENANT, "c1", "b1", "q2")
    await h.engine.transfer_to_agent(TENANT, "c1", "a1", "b1")
    with pytest.raises(Conflict):
        await h.engine.transfer_to_queue(TENANT, "c1", "a1", "q2")
