"""The demo host with the tab and analytics on loopback, and helpers for its tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_aiohttp import AiohttpClient, AiohttpServer

from bot.settings import DEMO_TENANT_ID
from contactcenter.clock import Clock
from contactcenter.model import CallRecord
from contactcenter.ports import Store
from simulator.signing import SigningKey
from tab import TabOptions
from tab.analytics import ANALYTICS, AnalyticsOptions, AnalyticsState
from tests.analytics import records as fixture
from tests.tab.support import ANA, BEN, SALES, SUPPORT, TabStack, start_stack

# The hand-made records' ids, as the demo tenant knows them.
_IDS = {
    fixture.TENANT: DEMO_TENANT_ID,
    fixture.SALES: SALES,
    fixture.SUPPORT: SUPPORT,
    fixture.ANA: ANA.id,
    fixture.BEN: BEN.id,
}


def demo_record(record: CallRecord) -> CallRecord:
    """Return a hand-made record moved into the demo tenant, its queues and agents."""
    return replace(
        record,
        tenant_id=DEMO_TENANT_ID,
        queue_id=_IDS.get(record.queue_id or "", record.queue_id),
        agent_id=_IDS.get(record.agent_id or "", record.agent_id),
        missed_agent_ids=tuple(_IDS.get(a, a) for a in record.missed_agent_ids),
        declined_agent_ids=tuple(_IDS.get(a, a) for a in record.declined_agent_ids),
    )


async def start_analytics_stack(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    *,
    data_dir: Path,
    simulator_dir: Path,
    key: SigningKey,
    clock: Clock,
    options: TabOptions,
    analytics_options: AnalyticsOptions,
    store: Store | None = None,
) -> TabStack:
    """Start the simulator and the host (demo mode) with the tab and analytics."""
    return await start_stack(
        aiohttp_server,
        aiohttp_client,
        data_dir=data_dir,
        simulator_dir=simulator_dir,
        key=key,
        clock=clock,
        options=options,
        store=store,
        analytics_options=analytics_options,
    )


def state_of(stack: TabStack) -> AnalyticsState:
    return stack.app[ANALYTICS]


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout_s: float = 5.0) -> Any:
    """Return ``check()``'s first truthy answer, polling the store-backed state; fail after the timeout."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        found = await check()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.02)
