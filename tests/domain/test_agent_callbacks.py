"""An agent asks the queue to call back a caller it missed, dialled as its callbacks are."""

from __future__ import annotations

import pytest

from contactcenter.callbacks import callback_id
from contactcenter.errors import Conflict, InvalidInput
from contactcenter.model import (
    AgentActivity,
    AgentStatus,
    CallbackOrder,
    CallbackSettings,
    CallState,
    Party,
    PartyKind,
    Queue,
)
from tests.domain.harness import CALLER, LINE, Harness, make_agent, make_queue


async def _queue(order: CallbackOrder) -> tuple[Harness, Queue]:
    h = Harness()
    queue = make_queue("q1", ["a1"], callback=CallbackSettings(order=order))
    await h.seed(queue, [make_agent("a1", status=AgentStatus.AWAY)])
    return h, queue


@pytest.mark.parametrize("order", list(CallbackOrder))
async def test_a_call_back_joins_the_line_and_is_dialled_the_queue_s_way(
    order: CallbackOrder,
) -> None:
    h, queue = await _queue(order)

    line = await h.engine.call_back(queue, CALLER, "c1")

    assert line.id == callback_id("c1")
    assert (line.state, line.target_id) == (CallState.SCHEDULED, LINE)
    await h.engine.set_status(queue.tenant_id, "a1", AgentStatus.AVAILABLE)
    await h.advance(1)
    [(target,)] = h.calls.of("place_call")
    expected = CALLER.id if order is CallbackOrder.CALLER_FIRST else "a1"
    assert target.id == expected
    assert (await h.agent("a1")).activity is AgentActivity.RINGING
    assert h.notifier.callbacks_waiting[0][1] == ("a1",)


async def test_a_call_is_called_back_once() -> None:
    h, queue = await _queue(CallbackOrder.CALLER_FIRST)
    await h.engine.call_back(queue, CALLER, "c1")

    with pytest.raises(Conflict, match="waiting already"):
        await h.engine.call_back(queue, CALLER, "c1")


async def test_only_a_phone_number_can_be_called_back() -> None:
    h, queue = await _queue(CallbackOrder.CALLER_FIRST)

    with pytest.raises(InvalidInput, match="not an E"):
        await h.engine.call_back(queue, Party(PartyKind.ANONYMOUS), "c1")


async def test_a_queue_without_a_number_cannot_call_back() -> None:
    h, _ = await _queue(CallbackOrder.CALLER_FIRST)
    unbound = make_queue("q2", ["a1"])
    await h.repo.queues.put(unbound)

    with pytest.raises(InvalidInput, match="no number"):
        await h.engine.call_back(unbound, CALLER, "c1")
