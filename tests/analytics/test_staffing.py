"""Staffing: the Erlang C calculator against a published worked example, and what-if runs
of the simulator in a child process.

The worked example is Call Centre Helper's "Erlang C Formula - Made Simple With an Easy
Worked Example" (https://www.callcentrehelper.com/erlang-c-formula-example-121281.htm):
100 calls in 30 minutes, 180 s average handle time, 80 % answered within 20 s, 85 % maximum
occupancy, 30 % shrinkage. That is 10 erlangs; 11 agents leave 68.2 % of calls waiting;
14 agents reach a service level of 88.8 % at 71.4 % occupancy; with shrinkage, 20 agents
are scheduled. The same figures (14 agents, 0.88835; 15 agents and 0.94145 for a 90 %
target) are reproduced in The Devil is in the Data's R walk-through of that example
(pprevos/hydroinformatics, Customers/CallCentre.R).
"""

from __future__ import annotations

import asyncio

import pytest

from contactcenter.model import RoutingMethod
from contactcenter.simulation import SimulationConfig, simulate
from storage.sqlite import MEMORY, SqliteStore
from tab.analytics_schemas import ErlangBody
from tab.api_staffing import staffing_view
from tests.analytics.support import eventually, state_of
from tests.tab.support import ANA, SUPERVISOR, TabStack

WORKED_EXAMPLE = {
    "calls": 100,
    "intervalMinutes": 30,
    "ahtS": 180,
    "targetServiceLevel": 0.8,
    "thresholdS": 20,
    "maxOccupancy": 0.85,
    "shrinkage": 0.3,
}


def test_the_calculator_reproduces_the_published_worked_example() -> None:
    answer = staffing_view(ErlangBody.model_validate(WORKED_EXAMPLE))
    assert answer.calls_per_hour == 200
    assert answer.traffic_erlangs == pytest.approx(10.0)
    assert answer.agents == 14
    assert answer.service_level == pytest.approx(0.88835, abs=5e-5)
    assert answer.occupancy == pytest.approx(10 / 14)
    assert answer.scheduled_agents == 20
    first = answer.table[0]
    assert (first.agents, round(first.p_wait, 3)) == (11, 0.682)
    assert [row.agents for row in answer.table] == list(range(11, 19))


def test_a_ninety_percent_target_takes_fifteen_agents() -> None:
    answer = staffing_view(ErlangBody.model_validate({**WORKED_EXAMPLE, "targetServiceLevel": 0.9}))
    assert answer.agents == 15
    assert answer.service_level == pytest.approx(0.94145, abs=5e-5)


async def test_the_calculator_is_for_supervisors(stack: TabStack) -> None:
    status, body = await stack.call(
        "POST", "/api/tab/staffing/erlang-c", user=SUPERVISOR.id, json=WORKED_EXAMPLE
    )
    assert (status, body["agents"], body["scheduledAgents"]) == (200, 14, 20)
    status, _ = await stack.call(
        "POST", "/api/tab/staffing/erlang-c", user=ANA.id, json=WORKED_EXAMPLE
    )
    assert status == 403
    status, body = await stack.call(
        "POST",
        "/api/tab/staffing/erlang-c",
        user=SUPERVISOR.id,
        json={**WORKED_EXAMPLE, "targetServiceLevel": 1.5},
    )
    assert (status, body["error"]["details"][0]["field"]) == (422, "targetServiceLevel")


async def test_a_what_if_run_goes_to_a_child_process_and_reports_back(stack: TabStack) -> None:
    what_if = {
        "agents": 4,
        "arrivalRate": 100,
        "handleTimeS": 120,
        "calls": 300,
        "routing": "round-robin",
        "patienceS": 60,
        "seed": 9,
    }
    status, run = await stack.call(
        "POST", "/api/tab/staffing/what-if", user=SUPERVISOR.id, json=what_if
    )
    assert status == 201
    assert (run["state"], run["total"]) == ("queued", 300)
    await state_of(stack).what_if.wait_idle()
    status, done = await stack.call(
        "GET", f"/api/tab/staffing/what-if/{run['id']}", user=SUPERVISOR.id
    )
    assert status == 200
    assert (done["state"], done["done"], done["error"]) == ("done", 300, "")
    # The same seed in this process gives the same result: the child ran the real simulator.
    store = await SqliteStore.open(MEMORY, inline=True)
    try:
        expected = await simulate(
            SimulationConfig(
                agents=4,
                arrival_rate_per_hour=100,
                handle_time_s=120,
                calls=300,
                routing=RoutingMethod.ROUND_ROBIN,
                patience_s=60,
                seed=9,
            ),
            store,
        )
    finally:
        await store.close()
    assert done["result"] == pytest.approx(expected.as_json())
    status, _ = await stack.call("GET", f"/api/tab/staffing/what-if/{run['id']}", user=ANA.id)
    assert status == 403


# The largest requests the API allows. About 4,977 erlangs: the search runs to the
# 5,000-agent cap before it says the target cannot be reached.
LARGEST_STAFFING = {
    "calls": 1_000_000,
    "intervalMinutes": 1440,
    "ahtS": 430,
    "targetServiceLevel": 0.99,
    "thresholdS": 0,
    "maxOccupancy": 1,
}
# 4,900 erlangs, reachable: the answer is 4,913 agents, with its table.
LARGE_STAFFING = {"calls": 98_000, "ahtS": 180, "targetServiceLevel": 0.8, "thresholdS": 20}
# The most calls and agents, at the fastest arrivals, overloaded to near the waiting budget.
LARGEST_WHAT_IF = {"agents": 200, "arrivalRate": 20_000, "handleTimeS": 100, "calls": 20_000}


async def test_a_target_beyond_the_agent_cap_is_answered_at_once(stack: TabStack) -> None:
    status, body = await stack.call(
        "POST", "/api/tab/staffing/erlang-c", user=SUPERVISOR.id, json=LARGEST_STAFFING
    )
    assert (status, body["error"]["code"]) == (422, "targetUnreachable")
    assert "5,000 agents" in body["error"]["message"]


async def test_a_what_if_run_that_would_simulate_too_much_waiting_is_refused(
    stack: TabStack,
) -> None:
    status, body = await stack.call(
        "POST",
        "/api/tab/staffing/what-if",
        user=SUPERVISOR.id,
        json={**LARGEST_WHAT_IF, "handleTimeS": 7200, "wrapUpS": 600, "ringTimeS": 60},
    )
    assert status == 422
    assert body["error"]["details"][0]["field"] == "agents"
    assert "cannot keep up" in body["error"]["message"]


async def test_healthz_answers_within_a_second_while_the_largest_requests_run(
    stack: TabStack,
) -> None:
    runs = []
    for seed in (1, 2):
        status, run = await stack.call(
            "POST",
            "/api/tab/staffing/what-if",
            user=SUPERVISOR.id,
            json={**LARGEST_WHAT_IF, "seed": seed},
        )
        assert status == 201, run
        runs.append(run["id"])

    async def running() -> bool:
        for run_id in runs:
            _, run = await stack.call(
                "GET", f"/api/tab/staffing/what-if/{run_id}", user=SUPERVISOR.id
            )
            if run["state"] != "running" or run["done"] == 0:
                return False
        return True

    await eventually(running, timeout_s=60)
    loop = asyncio.get_running_loop()
    staffing = [
        asyncio.create_task(
            stack.call("POST", "/api/tab/staffing/erlang-c", user=SUPERVISOR.id, json=body)
        )
        for body in (LARGEST_STAFFING, LARGE_STAFFING) * 3
    ]
    for _ in range(10):
        started = loop.time()
        async with stack.host.get("/healthz") as response:
            assert response.status == 200
        assert loop.time() - started < 1.0
    answers = await asyncio.gather(*staffing)
    assert {status for status, _ in answers} == {200, 422}
    assert {body["agents"] for status, body in answers if status == 200} == {4913}
    # Both runs are still simulating: the probes were answered while they ran.
    assert await running()
