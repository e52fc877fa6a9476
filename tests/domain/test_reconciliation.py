"""A talk whose end Graph told nobody of: read who is in the call, and end it.

Graph tells of the agent or the caller leaving a talk only by a roster update. A talk's
timer reads the call's participants (every ``reconcile_s``) and acts as a roster would;
a call Graph no longer knows ends with its record.
"""

from __future__ import annotations

import asyncio
import random

from contactcenter.errors import NotFound, Unavailable
from contactcenter.events import RosterEntry
from contactcenter.model import AgentActivity, CallOutcome, CallState
from tests.domain.harness import Harness, make_agent, make_queue

BOT = RosterEntry("p-bot", application_id="bot")
CALLER = RosterEntry("p-caller", phone="+14255550100")


async def _talking(h: Harness) -> RosterEntry:
    """Connect c1 to a1; return a1's entry as Graph lists them."""
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=30), [make_agent("a1")])
    await h.arrive("c1")
    await h.answers("c1", "a1")
    agent = RosterEntry(h.last_invite("c1", "a1").participant_id, user_id="a1")
    h.calls.rosters["c1"] = [BOT, CALLER, agent]
    return agent


async def test_a_talk_whose_agent_left_unnoticed_ends_within_the_reconcile_interval() -> None:
    h = Harness()
    await _talking(h)
    h.calls.rosters["c1"] = [BOT, CALLER]  # the agent hung up; the roster update was lost
    h.calls.participants["c1"] = ["p-caller"]

    await h.advance(h.settings.reconcile_s)

    record = await h.record("c1")
    assert record is not None
    assert (record.outcome, record.leave_reason) == (CallOutcome.ANSWERED, "agent hung up")
    assert record.talk_s == h.settings.reconcile_s
    agent = await h.agent("a1")
    assert (agent.activity, agent.current_call_id) == (AgentActivity.WRAP_UP, None)
    # The caller is let go: removed, then the bot leaves.
    assert ("c1", "p-caller") in h.calls.of("remove_participant")
    assert h.calls.names()[-1] == "hang_up"
    assert await h.call("c1") is None


async def test_a_talk_whose_caller_left_unnoticed_ends_and_lets_the_agent_go() -> None:
    h = Harness()
    agent = await _talking(h)
    h.calls.rosters["c1"] = [BOT, agent]
    h.calls.participants["c1"] = [agent.participant_id]

    await h.advance(h.settings.reconcile_s)

    record = await h.record("c1")
    assert record is not None
    assert record.leave_reason == "caller hung up"
    assert ("c1", agent.participant_id) in h.calls.of("remove_participant")
    assert (await h.agent("a1")).activity is AgentActivity.WRAP_UP


async def test_a_talk_graph_no_longer_knows_ends_with_its_record() -> None:
    h = Harness()
    await _talking(h)
    h.calls.fail["roster"] = NotFound("no such call")

    await h.advance(h.settings.reconcile_s)

    record = await h.record("c1")
    assert record is not None
    assert record.leave_reason == "call gone at Graph"
    assert "hang_up" not in h.calls.names()
    assert (await h.agent("a1")).activity is AgentActivity.WRAP_UP


async def test_a_talk_everyone_is_still_in_goes_on_with_a_keep_alive_every_15_minutes() -> None:
    h = Harness()
    await _talking(h)

    await h.advance(h.settings.keep_alive_s)

    call = await h.call("c1")
    assert call is not None
    assert call.state is CallState.CONNECTED
    readings = len(h.calls.of("roster"))
    assert readings == h.settings.keep_alive_s // h.settings.reconcile_s
    assert h.calls.of("keep_alive") == [("c1",)]


async def test_a_list_of_nobody_is_no_proof_that_everyone_left() -> None:
    # Graph has been seen to list no participants of a call it still holds.
    h = Harness()
    await _talking(h)
    h.calls.rosters["c1"] = [BOT]

    await h.advance(3 * h.settings.reconcile_s)

    call = await h.call("c1")
    assert call is not None
    assert call.state is CallState.CONNECTED
    assert (await h.agent("a1")).activity is AgentActivity.ON_CALL


async def test_graph_failing_to_list_the_participants_changes_nothing() -> None:
    h = Harness()
    await _talking(h)
    h.calls.fail["roster"] = Unavailable("Graph is down")

    await h.advance(2 * h.settings.reconcile_s)

    call = await h.call("c1")
    assert call is not None
    assert call.state is CallState.CONNECTED


async def test_two_hosts_reading_the_same_talk_end_it_once() -> None:
    h = Harness(interleave=random.Random(7))
    await _talking(h)
    h.calls.rosters["c1"] = [BOT, CALLER]
    h.clock.advance(h.settings.reconcile_s)

    first, second = h.new_engine(), h.new_engine()
    await asyncio.gather(first.fire_due_timers(h.now), second.fire_due_timers(h.now))

    record = await h.record("c1")
    assert record is not None
    assert record.leave_reason == "agent hung up"
    assert h.calls.names().count("hang_up") == 1
