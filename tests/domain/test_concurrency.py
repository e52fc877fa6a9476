"""Two hosts handling the same calls at once: races are settled by compare-and-set."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable

import pytest

from contactcenter.engine import RoutingEngine
from contactcenter.events import (
    CallEvent,
    CallStateChanged,
    GraphCallState,
    IncomingCall,
    OperationFinished,
    OperationKind,
    OperationStatus,
)
from contactcenter.model import AgentActivity, CallState, RoutingMethod
from tests.domain.harness import CALLER, LINE, TENANT, Harness, make_agent, make_queue


def answered(h: Harness, call_id: str, agent_id: str) -> OperationFinished:
    invite = h.last_invite(call_id, agent_id)
    return OperationFinished(
        TENANT,
        call_id,
        invite.operation_id,
        OperationKind.INVITE,
        OperationStatus.COMPLETED,
        client_context=invite.client_context,
        user_ids=(agent_id,),
    )


async def both(hosts: list[RoutingEngine], event: CallEvent) -> None:
    """Deliver the event to every host at once (a redelivery that lands on two hosts)."""
    await asyncio.gather(*(host.handle(event) for host in hosts))


async def check_claims(h: Harness) -> None:
    calls = [c.value for c in await h.repo.calls.find(TENANT)]
    holders: dict[str, list[str]] = {}
    for call in calls:
        if call.state is CallState.RINGING and call.offer is not None:
            for agent_id in call.offer.agent_ids:
                holders.setdefault(agent_id, []).append(call.id)
        elif call.state is CallState.CONNECTED and call.agent_id is not None:
            holders.setdefault(call.agent_id, []).append(call.id)
    for agent_id, held in holders.items():
        assert len(held) == 1, f"{agent_id} is held by {held}"
        agent = await h.agent(agent_id)
        assert agent.current_call_id == held[0], (agent, held)
    for agent in await h.agents():
        if agent.activity in (AgentActivity.RINGING, AgentActivity.ON_CALL):
            assert agent.id in holders, agent


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("method", [RoutingMethod.LONGEST_IDLE, RoutingMethod.ATTENDANT])
async def test_two_hosts_never_give_an_agent_two_calls(seed: int, method: RoutingMethod) -> None:
    rng = random.Random(seed)
    h = Harness(interleave=random.Random(seed))
    agents = [make_agent(f"a{n}") for n in range(3)]
    queue = make_queue("q1", [a.id for a in agents], routing_method=method, wrap_up_s=5)
    await h.seed(queue, agents)
    hosts = [h.engine, h.new_engine()]
    calls = [f"c{n}" for n in range(8)]

    # Callers dial in pairs; every notification reaches both hosts at once.
    for pair in (calls[i : i + 2] for i in range(0, len(calls), 2)):
        work: list[Awaitable[None]] = []
        for call_id in pair:
            work.append(both(hosts, IncomingCall(TENANT, call_id, CALLER, LINE)))
        await asyncio.gather(*work)
        await asyncio.gather(
            *(both(hosts, CallStateChanged(TENANT, c, GraphCallState.ESTABLISHED)) for c in pair)
        )
        await check_claims(h)
        # Whoever rings answers, on a random host; some callers hang up at the same time.
        ringing = [c.value for c in await h.repo.calls.find(TENANT)]
        work = []
        for call in ringing:
            if call.state is CallState.RINGING and call.offer is not None:
                agent_id = rng.choice(call.offer.agent_ids)
                work.append(rng.choice(hosts).handle(answered(h, call.id, agent_id)))
                if rng.random() < 0.3:
                    work.append(
                        rng.choice(hosts).handle(
                            CallStateChanged(TENANT, call.id, GraphCallState.TERMINATED)
                        )
                    )
        await asyncio.gather(*work)
        await check_claims(h)
        h.clock.advance(rng.randint(1, 30))
        await asyncio.gather(*(host.fire_due_timers(h.now) for host in hosts))
        await check_claims(h)

    for call_id in calls:
        await both(hosts, CallStateChanged(TENANT, call_id, GraphCallState.TERMINATED))
    h.clock.advance(60)
    await asyncio.gather(*(host.fire_due_timers(h.now) for host in hosts))

    assert [c.value.id for c in await h.repo.calls.find(TENANT)] == []
    records = {r.value.id: r.value for r in await h.repo.call_records.find(TENANT)}
    assert sorted(records) == calls
    assert h.store.counts["create callRecords"] >= len(calls)
    for agent in await h.agents():
        assert (agent.activity, agent.current_call_id) == (AgentActivity.IDLE, None), agent
