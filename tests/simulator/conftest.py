"""Fixtures: a stand-in bot webhook that records notifications, and a simulator wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from contactcenter.clock import Clock
from simulator import SilentPoints, SimulatorClient, SimulatorConfig, create_simulator_app
from tests.silent_points import pytest_generate_tests, silent_points_fixture  # noqa: F401
from tests.simulator.support import APP_ID, DEMO_TENANT, BotReceiver, Simulator


@pytest.fixture(scope="session")
def shared_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a data dir shared by the session, so the signing key is generated once."""
    return tmp_path_factory.mktemp("simulator-data")


@pytest.fixture
async def receiver(aiohttp_server: AiohttpServer) -> BotReceiver:
    """Start the stand-in bot webhook."""
    bot = BotReceiver()
    server = await aiohttp_server(bot.app())
    bot.base_url = str(server.make_url("")).rstrip("/")
    return bot


@pytest.fixture
def config(
    shared_data_dir: Path, receiver: BotReceiver, silent_points: SilentPoints
) -> SimulatorConfig:
    """Return a simulator configuration pointing at the stand-in bot."""
    return SimulatorConfig(
        data_dir=shared_data_dir,
        bot_url=receiver.calling_url,
        app_id=APP_ID,
        seed_tenants=(DEMO_TENANT,),
        silent_points=silent_points,
    )


@pytest.fixture
def clock() -> Clock | None:
    """Return the simulator's clock: None for the system clock; modules may override it."""
    return None


@pytest.fixture
async def simulator(
    aiohttp_server: AiohttpServer, config: SimulatorConfig, clock: Clock | None
) -> AsyncIterator[Simulator]:
    """Serve the simulator on loopback in the test's event loop."""
    server = await aiohttp_server(create_simulator_app(config, clock=clock))
    base_url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        yield Simulator(base_url, session, SimulatorClient(session, base_url))
