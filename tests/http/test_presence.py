"""Teams presence polled from Graph (the simulator) decides who may be rung."""

from __future__ import annotations

import pytest

from bot import keys
from bot.presence import PollingBudget, PresencePoller
from contactcenter.model import RoutingMethod
from tests.http.conftest import Stack, invited_user_ids
from tests.http.test_routing import AGENT_IDS, SALES, _ringing, _set_queue


def _poller(stack: Stack) -> PresencePoller:
    app = stack.host.app
    return PresencePoller(app[keys.REPOSITORY], app[keys.PRESENCE], app[keys.ENGINE])


async def test_an_agent_busy_in_teams_is_skipped_until_available_again(stack: Stack) -> None:
    await _set_queue(stack, SALES, routing_method=RoutingMethod.SERIAL)
    poller = _poller(stack)
    assert await poller.poll_once() == 6  # from unknown to Available, once
    await stack.simulator.set_presence(stack.tenant_id, AGENT_IDS["ana"], "Busy", "InAMeeting")
    assert await poller.poll_once() == 1
    ana = (await stack.repository.agents.get(stack.tenant_id, AGENT_IDS["ana"])).value
    assert ana.presence == "InAMeeting"

    _, call = await _ringing(stack, stack.sales_line)
    assert invited_user_ids(call) == [AGENT_IDS["ben"]]

    await stack.simulator.set_presence(stack.tenant_id, AGENT_IDS["ana"], "Available", "Available")
    assert await poller.poll_once() == 1
    _, call = await _ringing(stack, stack.sales_line)
    assert invited_user_ids(call) == [AGENT_IDS["ana"]]


async def test_unchanged_presence_writes_nothing(stack: Stack) -> None:
    poller = _poller(stack)
    await poller.poll_once()
    assert await poller.poll_once() == 0


@pytest.mark.parametrize(
    ("batches", "interval"),
    [(0, 5.0), (1, 5.0), (25, 5.0), (50, 10.0), (1000, 120.0)],
)
def test_polling_interval_stays_inside_the_budget(batches: int, interval: float) -> None:
    assert PollingBudget().interval_for(batches) == interval
