"""Fixtures: the demo host with tab and analytics, on a virtual clock, loops driven by tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from contactcenter.clock import VirtualClock
from simulator.signing import SigningKey
from storage.memory import MemoryStore
from tab.analytics import AnalyticsOptions
from tests.analytics.support import start_analytics_stack
from tests.tab.support import TabStack, options_for, write_key


@pytest.fixture(scope="session")
def analytics_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("analytics-key") / "demo-signing-key.pem"


@pytest.fixture(scope="session")
def analytics_key(analytics_key_path: Path) -> SigningKey:
    return write_key(analytics_key_path)


@pytest.fixture(scope="session")
def analytics_simulator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("analytics-simulator")


@pytest.fixture
def clock() -> VirtualClock:
    # Monday 2 March 2026, 14:00 UTC: 09:00 in the demo tenant's New York.
    return VirtualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))


@pytest.fixture
async def stack(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    analytics_simulator_dir: Path,
    analytics_key_path: Path,
    analytics_key: SigningKey,
    clock: VirtualClock,
) -> TabStack:
    """The host in demo mode with analytics; its background loops are left to the tests."""
    return await start_analytics_stack(
        aiohttp_server,
        aiohttp_client,
        data_dir=tmp_path / "host",
        simulator_dir=analytics_simulator_dir,
        key=analytics_key,
        clock=clock,
        options=options_for(analytics_key_path),
        analytics_options=AnalyticsOptions(run_background=False, allow_loopback_http=True),
        store=MemoryStore(),
    )
