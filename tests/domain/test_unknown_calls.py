"""A notification about a call no host knows records the call, once."""

from __future__ import annotations

from contactcenter.events import (
    CallStateChanged,
    GraphCallState,
    RosterEntry,
    RosterUpdated,
)
from contactcenter.model import CallOutcome
from tests.domain.harness import TENANT, Harness, make_agent, make_queue


def _terminated(call_id: str, code: int, subcode: int, message: str) -> CallStateChanged:
    return CallStateChanged(
        TENANT,
        call_id,
        GraphCallState.TERMINATED,
        result_code=code,
        result_subcode=subcode,
        result_message=message,
    )


async def test_the_termination_of_a_call_no_host_knew_records_it_once() -> None:
    h = Harness()
    # A restart lost the incoming notification; Graph ended the unanswered call.
    ended = _terminated("lost", 408, 10057, "Call timed out.")

    await h.engine.handle(ended)
    await h.new_engine().handle(ended)

    record = await h.record("lost")
    assert record is not None
    assert record.outcome is CallOutcome.FAILED
    assert record.leave_reason == "no host knew the call: failed"
    assert (record.result_code, record.result_subcode) == (408, 10057)
    assert record.queue_id is None
    assert await h.repo.call_records.find(TENANT) == [await h.repo.call_records.get(TENANT, "lost")]
    # Graph ended it already: nothing to hang up.
    assert h.calls.names() == []


async def test_a_call_no_host_knew_whose_caller_hung_up_is_abandoned() -> None:
    h = Harness()

    await h.engine.handle(_terminated("lost", 200, 540000, "Call ended by the PSTN User."))

    record = await h.record("lost")
    assert record is not None
    assert (record.outcome, record.leave_reason) == (
        CallOutcome.ABANDONED,
        "no host knew the call: caller hung up",
    )


async def test_a_call_no_host_knows_that_graph_still_holds_is_recorded_and_hung_up() -> None:
    h = Harness()
    roster = RosterUpdated(TENANT, "orphan", (RosterEntry("p-caller", phone="+1"),))

    await h.engine.handle(roster)
    await h.engine.handle(CallStateChanged(TENANT, "orphan", GraphCallState.ESTABLISHED))
    await h.new_engine().handle(_terminated("orphan", 200, 5001, "The conversation has ended."))

    record = await h.record("orphan")
    assert record is not None
    assert (record.outcome, record.leave_reason) == (
        CallOutcome.FAILED,
        "no host knew the call: hung up",
    )
    assert h.calls.of("hang_up") == [("orphan",)]


async def test_notifications_after_a_call_ended_leave_its_record_alone() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.arrive("c1")
    await h.answers("c1", "a1")
    await h.terminated("c1")
    record = await h.record("c1")

    # Another host, which did not end it, hears of it again.
    other = h.new_engine()
    await other.handle(_terminated("c1", 200, 5001, "The conversation has ended."))
    await other.handle(CallStateChanged(TENANT, "c1", GraphCallState.ESTABLISHED))

    assert await h.record("c1") == record
    assert h.calls.names().count("hang_up") == 0
