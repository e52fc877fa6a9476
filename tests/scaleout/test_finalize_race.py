"""Ending a call across hosts: exactly one record, whoever ends it and whoever dies.

A scale-out run once found a call left up at Graph with neither a live document nor a
record: two hosts fired the same queue timeout, host A wrote the record, found the live
document changed since it read it and took its record back, while host B had already
seen A's record and deleted the live document. The ending protocol is now: mark the live
document ENDED by compare-and-set (with a lease), then the record (never taken back), the
hang-up and the agents' release, then the live document goes. A host that dies midway
leaves an ENDED document whose lease, once over, lets any host complete the end.

These replay the interleavings step by step on two engines sharing one store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest

from contactcenter.engine import RoutingEngine
from contactcenter.model import AgentActivity, AgentStatus, CallOutcome, CallState
from contactcenter.ports import Store, StoredDocument
from contactcenter.repository import Repository
from tests.domain.harness import TENANT, CountingStore, Harness, make_agent, make_queue

Step = Callable[[], Awaitable[None]]


class Choreographed(CountingStore):
    """A host's view of the shared store that can run steps around its own requests."""

    def __init__(self, inner: Store) -> None:
        super().__init__(inner)
        self.after_create: dict[str, Step] = {}
        self.before_delete: dict[str, Step] = {}

    async def create(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        created = await super().create(collection, tenant_id, doc_id, body)
        step = self.after_create.pop(collection, None)
        if step is not None:
            await step()
        return created

    async def delete(
        self, collection: str, tenant_id: str, doc_id: str, *, if_match: str | None = None
    ) -> None:
        step = self.before_delete.pop(collection, None)
        if step is not None:
            await step()
        await super().delete(collection, tenant_id, doc_id, if_match=if_match)


async def test_two_hosts_timing_out_one_call_leave_one_record() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1"], max_wait_s=10)
    await h.seed(queue, [make_agent("a1", status=AgentStatus.AWAY)])
    await h.arrive("c1")  # nobody can take it: it waits
    h.clock.advance(10)  # and its maximum wait is over

    shared = h.store.inner
    view_a, view_b = Choreographed(shared), Choreographed(shared)
    host_a, host_b = (
        RoutingEngine(Repository(view), h.calls, h.notifier, h.clock, h.settings)
        for view in (view_a, view_b)
    )

    async def another_write_on_the_call() -> None:
        # What host A's own invitation bookkeeping (or any writer) does meanwhile.
        current = await shared.read("calls", TENANT, "c1")
        await shared.replace("calls", TENANT, "c1", current.body, if_match=current.etag)

    async def host_b_fires_the_same_timer() -> None:
        await host_b.fire_due_timers(h.now)

    # A writes the record; the live document changes before A deletes it; A takes its
    # record back, but only after B has fired the same timeout.
    view_a.after_create["callRecords"] = another_write_on_the_call
    view_a.before_delete["callRecords"] = host_b_fires_the_same_timer
    await host_a.fire_due_timers(h.now)

    record = await h.record("c1")
    live = await h.call("c1")
    assert record is not None or live is not None, "the call is lost: no record, no live call"
    if record is not None:
        assert record.outcome is CallOutcome.TIMED_OUT
        assert h.calls.of("hang_up") == [("c1",)]


class HostDied(Exception):
    """A host's process ending between two store requests."""


async def test_a_host_dying_midway_leaves_an_end_another_host_completes() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1"], max_wait_s=10, alert_time_s=30)
    await h.seed(queue, [make_agent("a1")])
    await h.arrive("c1")  # a1 is rung
    assert h.invited("c1") == ["a1"]
    h.clock.advance(10)  # the maximum wait is over while a1's invitation rings

    shared = h.store.inner
    view_a = Choreographed(shared)
    host_a = RoutingEngine(Repository(view_a), h.calls, h.notifier, h.clock, h.settings)
    host_b = h.new_engine()

    async def die() -> None:
        raise HostDied

    view_a.after_create["callRecords"] = die
    with pytest.raises(HostDied):
        await host_a.fire_due_timers(h.now)

    # A wrote the end and the record, then died: nobody hung up, a1 is still held.
    ending = await h.call("c1")
    assert ending is not None
    assert ending.state is CallState.ENDED
    assert h.calls.of("hang_up") == []
    assert (await h.record("c1")) is not None

    # Within the lease, other hosts leave the ending call alone...
    assert await host_b.fire_due_timers(h.now) == 0
    # ...and once it is over, the first host to fire the timer completes the end.
    h.clock.advance(30)
    await host_b.fire_due_timers(h.now)
    assert await h.call("c1") is None
    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.TIMED_OUT
    assert h.calls.of("hang_up") == [("c1",)]
    agent = await h.agent("a1")
    assert agent.current_call_id is None
    assert agent.activity is AgentActivity.IDLE
    assert await host_b.fire_due_timers(h.now) == 0


async def test_a_second_ending_of_an_ended_call_changes_nothing() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.arrive("c1")
    await h.answers("c1", "a1")
    await h.roster("c1", "a1")
    h.clock.advance(60)
    await h.terminated("c1")
    await h.terminated("c1")  # a redelivery, after the live document is gone
    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.ANSWERED
    assert record.talk_s == 60
    assert (await h.agent("a1")).activity is AgentActivity.WRAP_UP
