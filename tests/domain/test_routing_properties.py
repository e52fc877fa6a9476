"""Routing invariants over random interleavings of calls, answers, timeouts and agents.

After every step: no agent is claimed by two calls, and every claim matches its call;
every call that arrived is either live or recorded, never both, and its recorded outcome
never changes; a call offered to an agent was the best call (priority, then longest
waiting) that agent could take; longest-idle skipped no better idle agent; and no call
waits while an idle agent could take it. After the run drains, every call has a record.

What is correct comes from the rules as documented (tests/domain/routing_rules.py), never
from the product's own routing functions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from contactcenter.errors import CallControlError
from contactcenter.events import (
    CallEvent,
    CallStateChanged,
    GraphCallState,
    IncomingCall,
    OperationStatus,
)
from contactcenter.model import (
    ActionKind,
    Agent,
    AgentActivity,
    AgentStatus,
    AlertingModel,
    Call,
    CallOutcome,
    CallRecord,
    CallState,
    Queue,
    QueueAction,
    RoutingMethod,
)
from tests.domain.harness import CALLER, TENANT, Harness, make_agent, make_queue
from tests.domain.routing_rules import longest_idle_rank, may_ring, served_before, skills_required

AGENT_IDS = ("a1", "a2", "a3", "a4")
LINES = {"line-1": "q1", "line-2": "q2"}


@dataclass(frozen=True)
class Snapshot:
    """The store's live calls, agents and records at one moment."""

    at: datetime
    calls: dict[str, Call]
    agents: dict[str, Agent]
    records: dict[str, CallRecord]

    def waiting(self) -> dict[str, Call]:
        return {i: c for i, c in self.calls.items() if c.state is CallState.WAITING}


def as_idle(agent: Agent) -> Agent:
    """Return the agent as they were just before being claimed."""
    return replace(
        agent, activity=AgentActivity.IDLE, current_call_id=None, wrap_up_until=None, due_at=None
    )


class RoutingMachine(RuleBasedStateMachine):
    """Drives one engine (or a restarted one) with arbitrary events and checks invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.h = Harness()
        self.queues: dict[str, Queue] = {}
        self.arrived: list[str] = []
        self.sent: list[CallEvent] = []
        self.outcomes: dict[str, CallOutcome] = {}
        # Calls and agents whose invitation failed: they wait for the retry on purpose.
        self.backoff: dict[str, datetime] = {}

    def run(self, work: Awaitable[object]) -> None:
        self.loop.run_until_complete(work)

    def teardown(self) -> None:
        try:
            self.run(self.drain())
        finally:
            self.loop.close()

    # ------------------------------------------------------------- set-up
    @initialize(
        first=st.sampled_from(RoutingMethod),
        second=st.sampled_from(RoutingMethod),
        card_first=st.booleans(),
        skills=st.booleans(),
        priority=st.integers(0, 2),
        move_on_timeout=st.booleans(),
        wrap_up=st.sampled_from([0, 10]),
    )
    def set_up(
        self,
        first: RoutingMethod,
        second: RoutingMethod,
        card_first: bool,
        skills: bool,
        priority: int,
        move_on_timeout: bool,
        wrap_up: int,
    ) -> None:
        q1 = make_queue(
            "q1",
            ["a1", "a2", "a3"],
            routing_method=first,
            alert_time_s=15,
            wrap_up_s=wrap_up,
            max_wait_s=90,
            missed_offers_to_away=3,
            timeout_action=QueueAction(ActionKind.QUEUE, "q2")
            if move_on_timeout
            else QueueAction(ActionKind.DISCONNECT),
        )
        q2 = make_queue(
            "q2",
            ["a4", "a3", "a2"],
            routing_method=second,
            alert_time_s=20,
            wrap_up_s=wrap_up,
            max_size=4,
            max_wait_s=120,
            priority=priority,
            required_skills={"french": 2} if skills else {},
            skill_widen_after_s=25,
            alerting_model=AlertingModel.CARD_FIRST if card_first else AlertingModel.RING_FIRST,
        )
        self.queues = {"q1": q1, "q2": q2}
        start = self.h.now
        agents = [
            make_agent("a1", ["q1"], idle_since=start - timedelta(minutes=3)),
            make_agent(
                "a2", ["q1", "q2"], idle_since=start - timedelta(minutes=1), skills={"french": 1}
            ),
            make_agent(
                "a3", ["q1", "q2"], idle_since=start - timedelta(minutes=5), skills={"french": 3}
            ),
            make_agent("a4", ["q2"], idle_since=start - timedelta(minutes=2), skills={"french": 2}),
        ]

        async def seed() -> None:
            await self.h.seed(q1, agents)
            await self.h.repo.queues.put(q2)
            await self.h.bind("line-2", "q2")

        self.run(seed())

    # ------------------------------------------------------------ helpers
    async def snapshot(self) -> Snapshot:
        repo = self.h.repo
        calls = {c.value.id: c.value for c in await repo.calls.find(TENANT)}
        agents = {a.value.id: a.value for a in await repo.agents.find(TENANT)}
        records = {r.value.id: r.value for r in await repo.call_records.find(TENANT)}
        return Snapshot(self.h.now, calls, agents, records)

    def step(self, action: Callable[[], Awaitable[object]]) -> None:
        async def checked() -> None:
            before = await self.snapshot()
            failures = len(self.h.calls.failed_invites)
            await action()
            for call_id, agent_id in self.h.calls.failed_invites[failures:]:
                until = self.h.now + timedelta(seconds=self.h.settings.ring_retry_s)
                self.backoff[call_id] = self.backoff[agent_id] = until
            after = await self.snapshot()
            self.check(before, after)

        self.run(checked())

    async def send(self, event: CallEvent) -> None:
        self.sent.append(event)
        await self.h.engine.handle(event)

    def in_backoff(self, key: str, now: datetime) -> bool:
        until = self.backoff.get(key)
        return until is not None and now < until

    # -------------------------------------------------------------- rules
    @rule(line=st.sampled_from(sorted(LINES)), failing_invites=st.booleans())
    def caller_dials(self, line: str, failing_invites: bool) -> None:
        call_id = f"c{len(self.arrived)}"
        self.arrived.append(call_id)

        async def dial() -> None:
            if failing_invites:
                self.h.calls.fail["invite"] = CallControlError("refused", status=500)
            try:
                await self.send(IncomingCall(TENANT, call_id, CALLER, line))
                await self.send(CallStateChanged(TENANT, call_id, GraphCallState.ESTABLISHED))
            finally:
                self.h.calls.fail.pop("invite", None)

        self.step(dial)

    def ringing(self) -> list[tuple[str, str, bool]]:
        """Return (call, agent, invited) for every agent being rung now."""
        found = []

        async def collect() -> None:
            for call in (c.value for c in await self.h.repo.calls.find(TENANT)):
                if call.state is CallState.RINGING and call.offer is not None:
                    for agent_id in call.offer.agent_ids:
                        invited = (
                            not call.offer.card_first or agent_id in call.offer.participant_ids
                        )
                        found.append((call.id, agent_id, invited))

        self.run(collect())
        return sorted(found)

    @rule(data=st.data(), by_roster=st.booleans())
    def agent_answers(self, data: st.DataObject, by_roster: bool) -> None:
        choices = [(c, a) for c, a, invited in self.ringing() if invited]
        if not choices:
            return
        call_id, agent_id = data.draw(st.sampled_from(choices))
        if by_roster:
            self.step(lambda: self.h.roster(call_id, agent_id))
        else:
            self.step(lambda: self.h.answers(call_id, agent_id))

    @rule(data=st.data(), code=st.sampled_from([603, 408, 480]))
    def invitation_fails(self, data: st.DataObject, code: int) -> None:
        choices = [(c, a) for c, a, invited in self.ringing() if invited]
        if not choices:
            return
        call_id, agent_id = data.draw(st.sampled_from(choices))
        self.step(lambda: self.h.invite_result(call_id, agent_id, OperationStatus.FAILED, code))

    @rule(data=st.data(), accept=st.booleans())
    def card_choice(self, data: st.DataObject, accept: bool) -> None:
        choices = [(c, a) for c, a, invited in self.ringing() if not invited]
        if not choices:
            return
        call_id, agent_id = data.draw(st.sampled_from(choices))
        if accept:
            self.step(lambda: self.h.engine.accept_offer(TENANT, call_id, agent_id))
        else:
            self.step(lambda: self.h.engine.decline_offer(TENANT, call_id, agent_id))

    @rule(data=st.data())
    def caller_hangs_up(self, data: st.DataObject) -> None:
        live = [c for c in self.arrived if c not in self.outcomes]
        if not live:
            return
        call_id = data.draw(st.sampled_from(live))
        self.step(lambda: self.send(CallStateChanged(TENANT, call_id, GraphCallState.TERMINATED)))

    @rule(data=st.data())
    def agent_hangs_up(self, data: st.DataObject) -> None:
        async def connected() -> list[str]:
            calls = await self.h.repo.calls.find(TENANT)
            return sorted(c.value.id for c in calls if c.value.state is CallState.CONNECTED)

        found: list[str] = []

        async def collect() -> None:
            found.extend(await connected())

        self.run(collect())
        if not found:
            return
        call_id = data.draw(st.sampled_from(found))
        self.step(lambda: self.h.roster(call_id))

    @rule(seconds=st.integers(1, 40))
    def time_passes(self, seconds: int) -> None:
        # One step per moment something falls due, so each routing decision is checked
        # against the state it was made in.
        target = self.h.now + timedelta(seconds=seconds)
        while (when := self.next_due()) is not None and when <= target:
            self.step(partial(self.advance_to, when))
        self.step(partial(self.advance_to, target))

    def next_due(self) -> datetime | None:
        found: list[datetime | None] = []

        async def read() -> None:
            found.append(await self.h.next_due())

        self.run(read())
        return found[0]

    async def advance_to(self, when: datetime) -> None:
        await self.h.advance((when - self.h.now).total_seconds())

    @rule(
        agent_id=st.sampled_from(AGENT_IDS),
        status=st.sampled_from([AgentStatus.AVAILABLE, AgentStatus.AWAY, AgentStatus.AVAILABLE]),
    )
    def agent_sets_status(self, agent_id: str, status: AgentStatus) -> None:
        self.step(lambda: self.h.engine.set_status(TENANT, agent_id, status))

    @rule(
        agent_id=st.sampled_from(AGENT_IDS),
        availability=st.sampled_from(["Available", "Busy", "Away", "PresenceUnknown"]),
    )
    def presence_changes(self, agent_id: str, availability: str) -> None:
        self.step(lambda: self.h.engine.update_presence(TENANT, agent_id, availability))

    @rule(agent_id=st.sampled_from(AGENT_IDS))
    def agent_ends_wrap_up(self, agent_id: str) -> None:
        self.step(lambda: self.h.engine.end_wrap_up(TENANT, agent_id))

    @rule(
        agent_id=st.sampled_from(AGENT_IDS),
        queue_id=st.sampled_from(["q1", "q2"]),
        sign_in=st.booleans(),
    )
    def agent_signs_in_or_out(self, agent_id: str, queue_id: str, sign_in: bool) -> None:
        if sign_in:
            if agent_id not in self.queues[queue_id].members:
                return
            self.step(lambda: self.h.engine.sign_in(TENANT, agent_id, queue_id))
        else:
            self.step(lambda: self.h.engine.sign_out(TENANT, agent_id, queue_id))

    @rule(data=st.data())
    def notification_redelivered(self, data: st.DataObject) -> None:
        if not self.sent:
            return
        event = data.draw(st.sampled_from(self.sent))
        self.step(lambda: self.h.engine.handle(event))

    @rule()
    def host_restarts(self) -> None:
        self.h.engine = self.h.new_engine()

    # --------------------------------------------------------- invariants
    def check(self, before: Snapshot, after: Snapshot) -> None:
        self.check_claims(after)
        self.check_outcomes(after)
        self.check_offers(before, after)
        self.check_nobody_waits_for_an_idle_agent(after)

    def check_claims(self, s: Snapshot) -> None:
        holders: dict[str, list[str]] = {}
        for call in s.calls.values():
            if call.state is CallState.RINGING:
                assert call.offer is not None, call
                assert call.offer.agent_ids, call
                for agent_id in call.offer.agent_ids:
                    holders.setdefault(agent_id, []).append(call.id)
                    agent = s.agents[agent_id]
                    assert agent.activity is AgentActivity.RINGING, (call, agent)
                    assert agent.current_call_id == call.id, (call, agent)
            elif call.state is CallState.CONNECTED:
                assert call.agent_id is not None
                holders.setdefault(call.agent_id, []).append(call.id)
                agent = s.agents[call.agent_id]
                assert agent.activity is AgentActivity.ON_CALL, (call, agent)
                assert agent.current_call_id == call.id, (call, agent)
        for agent_id, calls in holders.items():
            assert len(calls) == 1, f"{agent_id} holds {calls}"
        for agent in s.agents.values():
            if agent.activity in (AgentActivity.RINGING, AgentActivity.ON_CALL):
                assert agent.id in holders, f"{agent.id} is {agent.activity} for no call"
            else:
                assert agent.current_call_id is None, agent

    def check_outcomes(self, s: Snapshot) -> None:
        for call_id in self.arrived:
            live, recorded = call_id in s.calls, call_id in s.records
            assert live != recorded, f"{call_id}: live={live} recorded={recorded}"
            if recorded:
                outcome = s.records[call_id].outcome
                assert self.outcomes.setdefault(call_id, outcome) is outcome, call_id
        assert set(s.records) <= set(self.arrived)

    def check_offers(self, before: Snapshot, after: Snapshot) -> None:
        waiting_before = before.waiting()
        for call in after.calls.values():
            offer = call.offer
            if call.state is not CallState.RINGING or offer is None:
                continue
            previous = before.calls.get(call.id)
            if (
                previous is not None
                and previous.offer is not None
                and previous.offer.attempt == offer.attempt
            ):
                continue  # not a new offer
            queue = self.queues[call.queue_id or ""]
            at = offer.started_at
            for agent_id in offer.agent_ids:
                agent = as_idle(after.agents[agent_id])
                # The agent could take the call...
                assert may_ring(agent, queue, call, at), (call, agent)
                # ... and no call they could take waited longer (or mattered more).
                for other_id, other in after.waiting().items():
                    if other_id not in waiting_before or self.in_backoff(other_id, after.at):
                        continue
                    if served_before(other, call):
                        other_queue = self.queues[other.queue_id or ""]
                        assert not may_ring(agent, other_queue, other, at), (
                            f"{agent_id} got {call.id} while {other_id} waited longer"
                        )
            if queue.routing_method is RoutingMethod.LONGEST_IDLE:
                self.check_longest_idle(before, after, call, queue)

    def check_longest_idle(
        self, before: Snapshot, after: Snapshot, call: Call, queue: Queue
    ) -> None:
        assert call.offer is not None
        [chosen_id] = call.offer.agent_ids
        at = call.offer.started_at

        def rank(agent: Agent) -> tuple[int, int, datetime]:
            return longest_idle_rank(agent, call)

        chosen = after.agents[chosen_id]
        for agent in after.agents.values():
            was = before.agents[agent.id]
            if agent.id == chosen_id or agent.activity is not AgentActivity.IDLE:
                continue
            if was.activity is not AgentActivity.IDLE:
                continue
            if self.in_backoff(agent.id, after.at) or not may_ring(agent, queue, call, at):
                continue
            assert rank(agent) >= rank(chosen), (
                f"longest idle skipped {agent.id} ({rank(agent)}) for {chosen_id} ({rank(chosen)})"
            )

    def check_nobody_waits_for_an_idle_agent(self, s: Snapshot) -> None:
        for call in s.waiting().values():
            if self.in_backoff(call.id, s.at):
                continue
            queue = self.queues[call.queue_id or ""]
            for agent in s.agents.values():
                if self.in_backoff(agent.id, s.at):
                    continue
                assert not may_ring(agent, queue, call, s.at), (
                    f"{call.id} waits (needs {skills_required(call, queue, s.at)}) "
                    f"while {agent.id} is free"
                )

    # --------------------------------------------------------------- drain
    async def drain(self) -> None:
        for call_id in self.arrived:
            await self.h.engine.handle(CallStateChanged(TENANT, call_id, GraphCallState.TERMINATED))
        await self.h.advance(600)
        final = await self.snapshot()
        assert final.calls == {}, final.calls
        assert set(final.records) == set(self.arrived)
        for agent in final.agents.values():
            assert agent.activity is AgentActivity.IDLE, agent
            assert agent.current_call_id is None, agent


RoutingMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_routing_invariants = RoutingMachine.TestCase
