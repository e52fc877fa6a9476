"""Fault injection makes fake Graph throttle or fail chosen requests."""

from __future__ import annotations

import pytest

from tests.simulator.support import (
    CALLER_NUMBER,
    SALES_ID,
    TENANT_ID,
    BotReceiver,
    Simulator,
    answer_body,
)


async def test_a_429_fault_answers_with_retry_after_once_then_lets_requests_through(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )
    await simulator.control.add_fault(r"/answer$", status=429, retry_after=3, count=1)
    path = f"/communications/calls/{placed.id}/answer"

    throttled, body, response = await simulator.graph(
        "POST", path, answer_body(receiver.callback_url)
    )
    retried, _, _ = await simulator.graph("POST", path, answer_body(receiver.callback_url))

    assert throttled == 429
    assert response.headers["Retry-After"] == "3"
    assert body["error"]["code"] == "activityLimitReached"
    assert retried == 202


async def test_a_fault_only_hits_matching_paths(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )
    await simulator.control.add_fault(r"/playPrompt$", status=503, count=None)

    status, _, _ = await simulator.graph(
        "POST", f"/communications/calls/{placed.id}/answer", answer_body(receiver.callback_url)
    )

    assert status == 202
    [fault] = await simulator.control.list_faults()
    assert fault["fired"] == 0


@pytest.mark.parametrize(
    "spec",
    [
        {"pathPattern": "(unclosed", "status": 429},
        {"pathPattern": "/answer$"},
        {"pathPattern": "/answer$", "status": 418},
    ],
    ids=["bad-regex", "does-nothing", "unsupported-status"],
)
async def test_an_invalid_fault_is_refused(simulator: Simulator, spec: dict[str, object]) -> None:
    async with simulator.session.post(simulator.url("/sim/faults"), json=spec) as response:
        body = await response.json()

    assert response.status == 400
    assert body["error"]["code"] == "invalidRequest"


async def test_faults_accept_snake_case_fields(simulator: Simulator) -> None:
    spec = {"path_pattern": "/answer$", "status": 503, "retry_after": 1, "count": 2, "delay_s": 0}
    async with simulator.session.post(simulator.url("/sim/faults"), json=spec) as response:
        fault = await response.json()

    assert response.status == 201
    assert fault["pathPattern"] == "/answer$"
    assert fault["count"] == 2
    assert fault["fired"] == 0


async def test_clearing_faults_disarms_them(simulator: Simulator) -> None:
    await simulator.control.add_fault(r".", status=503, count=None)

    await simulator.control.clear_faults()

    status, _, _ = await simulator.graph("GET", "/communications/calls/no-such-call")
    assert status == 404
    assert await simulator.control.list_faults() == []
