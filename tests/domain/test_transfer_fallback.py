"""Ringing by transfer where the bot may not invite, and the talk's end from presence."""

from __future__ import annotations

from contactcenter.events import CallStateChanged, GraphCallState
from contactcenter.model import AgentActivity, CallOutcome, CallState, PartyKind, RoutingMethod
from contactcenter.ports import OfferEnd
from tests.domain.harness import TENANT, Harness, invite_error, make_agent, make_queue

TRANSFERRED = CallStateChanged(
    TENANT,
    "c1",
    GraphCallState.TERMINATED,
    result_code=0,
    result_subcode=7015,
    result_message="GracefulTransferCompleted",
)


async def _transferring(h: Harness, *agents: str) -> None:
    queue = make_queue("q1", list(agents), routing_method=RoutingMethod.SERIAL, wrap_up_s=30)
    await h.seed(queue, [make_agent(a) for a in agents])
    h.calls.fail["invite"] = invite_error(403)
    await h.arrive("c1")


async def test_an_agent_the_bot_may_not_invite_is_rung_by_transfer() -> None:
    h = Harness()
    await _transferring(h, "a1", "a2")

    [(call_id, target)] = h.calls.of("transfer")
    assert (call_id, target.kind, target.id) == ("c1", PartyKind.USER, "a1")
    call = await h.call("c1")
    assert call is not None
    assert call.offer is not None
    assert (call.state, call.offer.agent_ids, call.offer.by_transfer) == (
        CallState.RINGING,
        ("a1",),
        True,
    )
    assert (await h.agent("a1")).activity is AgentActivity.RINGING
    assert (await h.agent("a2")).activity is AgentActivity.IDLE


async def test_the_agent_taking_the_transfer_talks_without_the_bot_until_presence_says_so() -> None:
    h = Harness()
    await _transferring(h, "a1")
    h.clock.advance(5)

    await h.engine.handle(CallStateChanged(TENANT, "c1", GraphCallState.TRANSFER_ACCEPTED))
    await h.engine.handle(TRANSFERRED)

    call = await h.call("c1")
    assert call is not None
    assert (call.state, call.agent_id, call.handed_over) == (CallState.CONNECTED, "a1", True)
    assert (await h.agent("a1")).activity is AgentActivity.ON_CALL
    # Graph knows the call no more; the talk goes on all the same.
    await h.advance(h.settings.reconcile_s)
    assert (await h.call("c1")) is not None
    assert h.calls.of("roster") == []

    await h.engine.update_presence(TENANT, "a1", "Busy", activity="InACall")
    await h.advance(200)
    await h.engine.update_presence(TENANT, "a1", "Available", activity="Available")

    record = await h.record("c1")
    assert record is not None
    assert (record.outcome, record.leave_reason) == (CallOutcome.ANSWERED, "transferred")
    assert record.agent_id == "a1"
    assert record.talk_s == h.settings.reconcile_s + 200
    assert (record.result_code, record.result_subcode) == (0, 7015)
    assert (await h.agent("a1")).activity is AgentActivity.WRAP_UP


async def test_a_transfer_whose_acceptance_was_lost_connects_at_its_termination() -> None:
    h = Harness()
    await _transferring(h, "a1")

    await h.engine.handle(TRANSFERRED)

    call = await h.call("c1")
    assert call is not None
    assert (call.state, call.agent_id, call.handed_over) == (CallState.CONNECTED, "a1", True)


async def test_a_handed_over_talk_whose_presence_never_showed_the_call_ends_in_time() -> None:
    h = Harness()
    await _transferring(h, "a1")
    await h.engine.handle(CallStateChanged(TENANT, "c1", GraphCallState.TRANSFER_ACCEPTED))

    await h.advance(h.settings.handover_presence_s)

    record = await h.record("c1")
    assert record is not None
    assert record.leave_reason == "transferred"
    assert record.talk_s == h.settings.handover_presence_s


async def test_a_declined_transfer_rings_the_next_agent_by_transfer() -> None:
    h = Harness()
    await _transferring(h, "a1", "a2")

    back = CallStateChanged(
        TENANT, "c1", GraphCallState.ESTABLISHED, result_code=603, result_message="Declined"
    )
    await h.engine.handle(back)

    assert [t.id for _, t in h.calls.of("transfer")] == ["a1", "a2"]
    assert h.notifier.endings("a1") == [OfferEnd.DECLINED]
    a1 = await h.agent("a1")
    assert (a1.activity, a1.missed_in_a_row) == (AgentActivity.IDLE, 1)


async def test_a_transfer_graph_never_settles_lapses_without_withdrawing_anything() -> None:
    h = Harness()
    await _transferring(h, "a1", "a2")

    await h.advance(h.settings.transfer_timeout_s)

    assert h.calls.of("remove_participant") == []
    assert h.notifier.endings("a1") == [OfferEnd.MISSED]
    assert [t.id for _, t in h.calls.of("transfer")] == ["a1", "a2"]
