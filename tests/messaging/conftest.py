"""Fixtures: the demo host with the messaging bot, and the simulator in its own thread.

botbuilder fetches signing keys with blocking ``requests``: the simulator serving them
must not run on the test's event loop, so it runs in a :class:`SimulatorThread`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import unused_port
from pytest_aiohttp import AiohttpClient

from bot.app import Services, create_app
from bot.demo import demo_simulator_directory
from bot.messaging import TeamsNotifier
from bot.settings import DEMO_APP_ID, Settings
from contactcenter.clock import VirtualClock
from simulator import MediaMode, SimulatorClient, SimulatorConfig, SimulatorThread
from tests.messaging.support import ManualTimer, Stack


@pytest.fixture(scope="session")
def messaging_simulator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One simulator signing key for the session (the simulator keeps it across restarts)."""
    return tmp_path_factory.mktemp("messaging-simulator")


@pytest.fixture
async def stack(
    aiohttp_client: AiohttpClient, tmp_path: Path, messaging_simulator_dir: Path
) -> AsyncIterator[Stack]:
    """Start the simulator (thread) and the host with the messaging bot, wired together."""
    port = unused_port()
    simulator = SimulatorThread(
        SimulatorConfig(
            data_dir=messaging_simulator_dir,
            bot_url=f"http://127.0.0.1:{port}/api/calling",
            app_id=DEMO_APP_ID,
            seed_tenants=demo_simulator_directory(),
            media_mode=MediaMode.INSTANT,
        )
    )
    simulator_url = await asyncio.to_thread(simulator.start)
    try:
        settings = Settings.from_env(
            {},
            demo=True,
            dotenv=None,
            port=port,
            data_dir=tmp_path / "host",
            graph_base_url=f"{simulator_url}/v1.0",
            calling_openid_config_url=f"{simulator_url}/.well-known/OpenIdConfiguration",
            bot_openid_config_url=f"{simulator_url}/.well-known/OpenIdConfiguration",
            demo_call_rate=0.0,
        )
        clock = VirtualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
        timer = ManualTimer()
        notifier = TeamsNotifier(timer=timer, random_fraction=lambda: 0.5)
        app = create_app(settings, Services(clock=clock, teams_notifier=notifier, run_timers=False))
        host = await aiohttp_client(app, server_kwargs={"port": port})
        async with aiohttp.ClientSession() as session:
            yield Stack(
                host=host,
                simulator=SimulatorClient(session, simulator_url),
                simulator_url=simulator_url,
                simulator_dir=messaging_simulator_dir,
                settings=settings,
                clock=clock,
                timer=timer,
                notifier=notifier,
            )
            await host.close()
    finally:
        await asyncio.to_thread(simulator.stop)
