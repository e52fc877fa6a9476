"""The whole host on loopback: the real app, the real msgraph-sdk client, the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bot.app import Services, create_app
from bot.demo import demo_simulator_directory
from bot.settings import DEMO_APP_ID, Settings
from contactcenter.clock import VirtualClock
from simulator import (
    MediaMode,
    SilentPoints,
    SimulatorClient,
    SimulatorConfig,
    create_simulator_app,
)
from tests.cosmos_server import EMULATOR_KEY, fresh_database_name, shared_server
from tests.host_server import ReservedPort
from tests.http.caller_stack import CallerStack, start_caller_stack
from tests.http.host_view import DemoHostView
from tests.silent_points import pytest_generate_tests, silent_points_fixture  # noqa: F401


@dataclass
class Stack(DemoHostView):
    """A running host and the simulator it talks to."""

    host: TestClient[aiohttp.web.Request, aiohttp.web.Application]
    simulator: SimulatorClient
    simulator_url: str
    settings: Settings
    clock: VirtualClock
    silent_points: SilentPoints


@pytest.fixture(scope="session")
def simulator_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep one simulator signing key for the session (it is reused across restarts anyway)."""
    return tmp_path_factory.mktemp("simulator")


@pytest.fixture
async def stack(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    simulator_data_dir: Path,
    silent_points: SilentPoints,
) -> AsyncIterator[Stack]:
    """Start the simulator and the host in demo mode (SQLite store), wired to each other."""
    async for running in _stack(
        aiohttp_server, aiohttp_client, tmp_path, simulator_data_dir, {}, silent_points
    ):
        yield running


@pytest.fixture
async def caller_stack(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    simulator_data_dir: Path,
    silent_points: SilentPoints,
) -> AsyncIterator[CallerStack]:
    """Start the host wired for the caller experience, its simulator in manual media mode."""
    async for running in start_caller_stack(
        aiohttp_server, aiohttp_client, tmp_path, simulator_data_dir, silent_points=silent_points
    ):
        yield running


@pytest.fixture
async def cosmos_stack(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    simulator_data_dir: Path,
) -> AsyncIterator[Stack]:
    """The same stack on the Cosmos DB test server instead of SQLite."""
    server = shared_server()
    env = {
        "COSMOS_ENDPOINT": server.endpoint,
        "COSMOS_KEY": EMULATOR_KEY,
        "COSMOS_DATABASE": fresh_database_name(),
        "COSMOS_VERIFY_TLS": "false",
    }
    async for running in _stack(
        aiohttp_server, aiohttp_client, tmp_path, simulator_data_dir, env, SilentPoints()
    ):
        yield running


async def _stack(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    simulator_data_dir: Path,
    env: dict[str, str],
    silent_points: SilentPoints,
) -> AsyncIterator[Stack]:
    reserved = ReservedPort()
    port = reserved.port
    simulator_server = await aiohttp_server(
        create_simulator_app(
            SimulatorConfig(
                data_dir=simulator_data_dir,
                bot_url=f"http://127.0.0.1:{port}/api/calling",
                app_id=DEMO_APP_ID,
                seed_tenants=demo_simulator_directory(),
                # Prompts complete only when a test says so: notification counts stay exact.
                media_mode=MediaMode.MANUAL,
                silent_points=silent_points,
            )
        )
    )
    simulator_url = str(simulator_server.make_url("")).rstrip("/")
    settings = Settings.from_env(
        env,
        demo=True,
        dotenv=None,
        port=port,
        data_dir=tmp_path / "host",
        graph_base_url=f"{simulator_url}/v1.0",
        calling_openid_config_url=f"{simulator_url}/.well-known/OpenIdConfiguration",
        demo_call_rate=0.0,
    )
    clock = VirtualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    app = create_app(settings, Services(clock=clock, run_timers=False))
    host = await aiohttp_client(
        app, server_kwargs={"port": port, "socket_factory": reserved.factory}
    )
    async with aiohttp.ClientSession() as session:
        yield Stack(
            host,
            SimulatorClient(session, simulator_url),
            simulator_url,
            settings,
            clock,
            silent_points,
        )


def invited_user_ids(call: dict[str, object]) -> list[str]:
    """Return, in order, the user ids the bot invited into a simulator call."""
    invited: list[str] = []
    for request in call["requests"]:  # type: ignore[attr-defined]
        if request["method"] == "POST" and request["path"].endswith("/participants/invite"):
            for participant in request["body"]["participants"]:
                invited.append(participant["identity"]["user"]["id"])
    return invited


def removed_participants(call: dict[str, object]) -> list[str]:
    """Return the participant ids the bot deleted from a simulator call."""
    return [
        request["path"].rsplit("/", 1)[-1]
        for request in call["requests"]  # type: ignore[attr-defined]
        if request["method"] == "DELETE" and "/participants/" in request["path"]
    ]
