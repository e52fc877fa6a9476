"""Matching free agents with waiting calls, a queue's line read a page at a time.

Invariant kept after every operation: a waiting call never waits while an idle agent it
may go to exists. Routing a new call therefore only looks at idle agents, and an agent who
becomes free takes the highest-priority, longest-waiting call they may take.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from contactcenter.engine.context import EngineContext
from contactcenter.engine.offers import Offers
from contactcenter.engine.store import CallStore
from contactcenter.engine.timing import deadline
from contactcenter.model import Agent, AgentActivity, AgentStatus, Call, CallState, Queue
from contactcenter.ports import Condition, Op
from contactcenter.repository import Repository, Versioned
from contactcenter.routing import (
    RoutingPolicy,
    call_order_key,
    can_take_calls_from,
    first_call_for,
    is_eligible,
    member_ranks,
    rank_agents,
)

# Waiting calls read by the first query of a line: an agent usually takes the first call.
_FIRST_PAGE = 2


class WaitingLine:
    """The waiting calls of one queue in serving order, read a page at a time."""

    def __init__(self, repository: Repository, tenant_id: str, queue_id: str, size: int) -> None:
        self._repository = repository
        self._tenant_id = tenant_id
        self._queue_id = queue_id
        self._size = size
        self.calls: list[Versioned[Call]] = []
        self._continuation: str | None = None
        self._exhausted = False

    async def _more(self) -> bool:
        if self._exhausted:
            return False
        # The first page is small: an agent usually takes the first call in line, and every
        # call read costs parsing its document.
        size = self._size if self.calls else min(self._size, _FIRST_PAGE)
        found, self._continuation = await self._repository.calls.page(
            self._tenant_id,
            (
                Condition("queueId", Op.EQ, self._queue_id),
                Condition("state", Op.EQ, CallState.WAITING.value),
            ),
            order_by=(("priority", True), ("offeredAt", False)),
            limit=size,
            continuation=self._continuation,
        )
        self.calls.extend(found)
        self._exhausted = self._continuation is None
        return bool(found)

    async def first_for(
        self,
        agent: Agent,
        queue: Queue,
        members: Mapping[str, int],
        now: datetime,
        policy: RoutingPolicy,
        placed: set[str],
    ) -> Versioned[Call] | None:
        """Return the first call the agent may take, reading more pages as needed."""
        if not can_take_calls_from(agent, queue, members, now, policy):
            return None
        start = 0
        while True:
            if start >= len(self.calls) and not await self._more():
                return None
            window = [c.value for c in self.calls[start:] if c.value.id not in placed]
            found = first_call_for(agent, queue, window, now, policy, members)
            if found is not None:
                return next(c for c in self.calls if c.value.id == found.id)
            start = len(self.calls)


@dataclass(slots=True)
class Matching:
    """Gives free agents the best waiting calls they may take, and calls their next agents."""

    ctx: EngineContext
    store: CallStore
    offers: Offers

    async def match(self, tenant_id: str, free: Sequence[Versioned[Agent]], now: datetime) -> None:
        """Give each of these free agents the best waiting call they may take.

        Agents whose best call is the same are offered it together: the queue's method
        picks one of them (or rings them all, attendant), and the others look again. Before
        a call is offered, every other idle agent who may take it joins the match, so the
        method still picks right when a call waited with an agent idle (an invitation
        retry, a timer not yet fired, a race between hosts).
        """
        agents = {
            a.value.id: a
            for a in free
            if a.value.activity is AgentActivity.IDLE and a.value.status is AgentStatus.AVAILABLE
        }
        if not agents:
            return
        store = self.store
        queues: dict[str, Queue | None] = {}
        members: dict[str, dict[str, int]] = {}
        lines: dict[str, WaitingLine] = {}
        placed: set[str] = set()
        done: set[str] = set()
        widened: set[str] = set()
        idle_pool: list[Versioned[Agent]] | None = None
        while agents:
            best: dict[str, tuple[Versioned[Call], Queue]] = {}
            for agent_id, candidate in list(agents.items()):
                choice: tuple[Versioned[Call], Queue] | None = None
                for queue_id in sorted(candidate.value.signed_in_queue_ids):
                    if queue_id not in queues:
                        queues[queue_id] = await store.queue(tenant_id, queue_id)
                        queue_found = queues[queue_id]
                        if queue_found is not None:
                            members[queue_id] = member_ranks(queue_found)
                    queue = queues[queue_id]
                    if queue is None or agent_id not in members[queue_id]:
                        continue
                    line = lines.get(queue_id)
                    if line is None:
                        line = WaitingLine(
                            self.ctx.repository,
                            tenant_id,
                            queue_id,
                            self.ctx.settings.waiting_page_size,
                        )
                        lines[queue_id] = line
                    found = await line.first_for(
                        candidate.value, queue, members[queue_id], now, self.ctx.policy, placed
                    )
                    if found is not None and (
                        choice is None
                        or call_order_key(found.value) < call_order_key(choice[0].value)
                    ):
                        choice = (found, queue)
                if choice is None:
                    del agents[agent_id]
                else:
                    best[agent_id] = choice
            if not best:
                return
            target, queue = min(best.values(), key=lambda c: call_order_key(c[0].value))
            ends = deadline(target.value, queue)
            if ends is not None and ends <= now:
                # Its maximum wait is over (its timer not fired yet: a host was down, or
                # is busy): the timeout action is due, not an offer.
                placed.add(target.value.id)
                continue
            if queue.id not in widened:
                widened.add(queue.id)
                if idle_pool is None:
                    idle_pool = await store.idle_agents(tenant_id)
                joined = False
                for other in idle_pool:
                    other_id = other.value.id
                    if other_id in agents or other_id in done:
                        continue
                    if is_eligible(
                        other.value, queue, target.value, now, self.ctx.policy, members[queue.id]
                    ):
                        agents[other_id] = other
                        joined = True
                if joined:
                    continue  # the newcomers look for their best call too
            group = [agents[a].value for a, (c, _) in best.items() if c.value.id == target.value.id]
            ranked = rank_agents(queue, target.value, group, now, self.ctx.policy)
            placed.add(target.value.id)
            # No lock on the target call: its document's compare-and-set settles any race,
            # and waiting here on another call's lock could deadlock two handlers.
            result = await self.offers.offer(
                target, target.value, queue, [agents[a.id] for a in ranked], now, None
            )
            for agent_id in (*result.claimed, *result.lost):
                agents.pop(agent_id, None)
                done.add(agent_id)
            if result.stale:
                # The call changed (answered elsewhere, hung up): the agents, unclaimed
                # again, look for another call with fresh documents.
                for agent in ranked:
                    fresh = await store.read_agent(tenant_id, agent.id)
                    if fresh is not None:
                        agents[agent.id] = fresh
                    else:
                        agents.pop(agent.id, None)

    async def route_on(
        self,
        saved: Versioned[Call],
        queue: Queue,
        freed: Sequence[Versioned[Agent]],
        now: datetime,
    ) -> None:
        """Ring the next agents for a call whose offer lapsed; give the freed agents work.

        The call competes, in one match, with every other call waiting for the same agents:
        the idle agents it may go to and the agents its offer just freed. The freed ones
        missed it, so the queue's method tries the others first.
        """
        call = saved.value
        freed_ids = {a.value.id for a in freed}
        idle = [
            a for a in await self.store.idle_agents(call.tenant_id) if a.value.id not in freed_ids
        ]
        ranked = rank_agents(queue, call, [a.value for a in idle], now, self.ctx.policy)
        by_id = {a.value.id: a for a in idle}
        await self.match(call.tenant_id, [*freed, *(by_id[a.id] for a in ranked)], now)

    async def offer_to_eligible(self, tenant_id: str, queue: Queue, now: datetime) -> None:
        """Offer the queue's waiting calls to the idle agents who may now take them."""
        members = member_ranks(queue)
        idle = [
            agent
            for agent in await self.store.idle_agents(tenant_id)
            if can_take_calls_from(agent.value, queue, members, now, self.ctx.policy)
        ]
        await self.match(tenant_id, idle, now)
