"""Graph ends an incoming call the bot neither answers nor rejects in time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from simulator import SimulatorConfig
from tests.simulator.support import (
    CALLER_NUMBER,
    SALES_ID,
    TENANT_ID,
    BotReceiver,
    Simulator,
)


@pytest.fixture
def config(config: SimulatorConfig) -> SimulatorConfig:
    """Shorten Graph's 15-second answer deadline for this module."""
    return replace(config, answer_timeout_s=0.05)


async def test_a_call_left_unanswered_ends_after_the_answer_timeout(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )

    view = await simulator.control.wait_for_call(placed.id, state="terminated", notifications=2)

    assert view["resultInfo"]["code"] == 408
    assert [note.state for note in await receiver.wait_for(2)] == ["incoming", "terminated"]
    assert (await receiver.wait_for(2))[1].notification["changeType"] == "deleted"
