"""Fixtures: the host with the tab in demo mode, on a virtual clock, and token factories."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from contactcenter.clock import VirtualClock
from simulator.signing import SigningKey
from storage.memory import MemoryStore
from tests.tab.support import TabStack, options_for, start_stack, write_key


@pytest.fixture(scope="session")
def demo_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the demo issuer's key file, generated once for the session."""
    return tmp_path_factory.mktemp("tab-key") / "demo-signing-key.pem"


@pytest.fixture(scope="session")
def demo_key(demo_key_path: Path) -> SigningKey:
    return write_key(demo_key_path)


@pytest.fixture(scope="session")
def simulator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tab-simulator")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))


@pytest.fixture
async def tab(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    simulator_dir: Path,
    demo_key_path: Path,
    demo_key: SigningKey,
    clock: VirtualClock,
) -> TabStack:
    """Start the simulator and the host with the tab (demo mode, seeded demo tenant)."""
    return await start_stack(
        aiohttp_server,
        aiohttp_client,
        data_dir=tmp_path / "host",
        simulator_dir=simulator_dir,
        key=demo_key,
        clock=clock,
        options=options_for(demo_key_path),
        # The in-memory store keeps these tests fast; the browser tests use SQLite.
        store=MemoryStore(),
    )
