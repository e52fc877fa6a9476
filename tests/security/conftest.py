"""Fixtures of the security suite: the host on loopback with the simulator, in demo mode.

* ``calling``: the host whose calling webhook trusts a counting key server that publishes
  the simulator's key, and a simulated call Graph knows but the host has not been told
  about, so that any Graph request the host makes for it shows in the simulator.
* ``tab``: the host with the tab serving two tenants (multi-tenant), on a virtual clock.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _pytest.terminal import TerminalReporter
from aiohttp.test_utils import TestClient, unused_port
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bot import keys
from bot.app import Services, create_app
from bot.demo import LINES, PEOPLE, demo_simulator_directory
from bot.settings import DEMO_APP_ID, DEMO_TENANT_ID, AppType, Settings
from contactcenter.clock import VirtualClock
from contactcenter.model import (
    Agent,
    AgentStatus,
    Call,
    CallOutcome,
    CallRecord,
    CallState,
    Party,
    PartyKind,
    Queue,
    Role,
    Tenant,
    User,
)
from contactcenter.repository import Repository
from simulator import SimulatorClient, SimulatorConfig, create_simulator_app
from simulator.signing import SigningKey, load_or_create_signing_key
from storage.memory import MemoryStore
from tests.host_server import ReservedPort, host_client
from tests.security.support import HOSTILE, Client, KeyServer, key_server_app
from tests.tab.support import (
    ANA,
    SALES,
    SUPPORT,
    TabStack,
    TokenFactory,
    options_for,
    start_stack,
    write_key,
)


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """Print how many hostile cases each endpoint refused in this run."""
    if not HOSTILE:
        return
    terminalreporter.section("hostile cases refused, by endpoint")
    for endpoint, count in sorted(HOSTILE.items()):
        terminalreporter.write_line(f"{count:5d}  {endpoint}")
    terminalreporter.write_line(f"{sum(HOSTILE.values()):5d}  in all, none accepted")


# ------------------------------------------------------------------ calling
@dataclass
class CallingStack:
    host: Client
    simulator: SimulatorClient
    key: SigningKey
    key_server: KeyServer
    settings: Settings
    call_id: str

    @property
    def repository(self) -> Repository:
        return self.host.app[keys.REPOSITORY]

    @property
    def line(self) -> str:
        return LINES[0].application_instance_id


@pytest.fixture(scope="session")
def calling_simulator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("security-simulator")


@pytest.fixture
async def calling(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    calling_simulator_dir: Path,
) -> AsyncIterator[CallingStack]:
    """The host, a simulator that cannot reach it, and a trusted key server counting fetches."""
    reserved = ReservedPort()
    port = reserved.port
    dead_port = unused_port()
    simulator_server = await aiohttp_server(
        create_simulator_app(
            SimulatorConfig(
                data_dir=calling_simulator_dir,
                # Graph's notifications go nowhere: the tests deliver them, forged or not.
                bot_url=f"http://127.0.0.1:{dead_port}/api/calling",
                app_id=DEMO_APP_ID,
                seed_tenants=demo_simulator_directory(),
                answer_timeout_s=600,
            )
        )
    )
    simulator_url = str(simulator_server.make_url("")).rstrip("/")
    key = load_or_create_signing_key(calling_simulator_dir / "simulator" / "signing-key.pem")
    state: dict[str, KeyServer] = {}
    key_server = await aiohttp_server(key_server_app(state))
    state["ks"] = KeyServer(key_server, [key.public_jwk()])
    settings = Settings.from_env(
        {},
        demo=True,
        dotenv=None,
        port=port,
        data_dir=tmp_path / "host",
        graph_base_url=f"{simulator_url}/v1.0",
        calling_openid_config_url=state["ks"].openid_url,
        demo_call_rate=0.0,
    )
    clock = VirtualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    app = create_app(settings, Services(store=MemoryStore(), clock=clock, run_timers=False))
    host = await host_client(aiohttp_client, app, reserved=reserved)
    async with aiohttp.ClientSession() as session:
        simulator = SimulatorClient(session, simulator_url)
        placed = await simulator.place_call(
            DEMO_TENANT_ID,
            application_instance_id=LINES[0].application_instance_id,
            caller_phone="+14255550142",
        )
        assert placed.webhook_status is None or placed.webhook_status >= 500 or placed.webhook_error
        yield CallingStack(host, simulator, key, state["ks"], settings, placed.id)


# ---------------------------------------------------------------------- tab
TENANT_A = DEMO_TENANT_ID
TENANT_B = "b0b0b0b0-1111-4222-8333-944445555666"
B_ADMIN = "b1000000-0000-4000-8000-000000000001"
B_AGENT = "b1000000-0000-4000-8000-000000000002"
B_QUEUE = "b2000000-0000-4000-8000-000000000001"


@pytest.fixture(scope="session")
def demo_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("security-tab-key") / "demo-signing-key.pem"


@pytest.fixture(scope="session")
def demo_key(demo_key_path: Path) -> SigningKey:
    return write_key(demo_key_path)


@pytest.fixture(scope="session")
def tab_simulator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("security-tab-simulator")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))


async def start_tab(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    data_dir: Path,
    simulator_dir: Path,
    key_path: Path,
    key: SigningKey,
    clock: VirtualClock,
    **overrides: Any,
) -> TabStack:
    """Start the host with the tab, serving the demo tenant and a second tenant, Fabrikam."""
    stack = await start_stack(
        aiohttp_server,
        aiohttp_client,
        data_dir=data_dir,
        simulator_dir=simulator_dir,
        key=key,
        clock=clock,
        options=options_for(key_path),
        store=MemoryStore(),
        microsoft_app_type=AppType.MULTI_TENANT,
        **overrides,
    )
    await seed_tenant_b(stack.repository, clock)
    return stack


async def seed_tenant_b(repository: Repository, clock: VirtualClock) -> None:
    """A second tenant: one admin who is also supervisor and agent, one agent, one queue."""
    all_roles = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AGENT})
    await repository.tenants.create(Tenant(id=TENANT_B, name="Fabrikam", seat_count=5))
    await repository.users.create(
        User(B_ADMIN, TENANT_B, "Bea Boss", "bea@fabrikam.example", all_roles)
    )
    await repository.users.create(
        User(B_AGENT, TENANT_B, "Bo Agent", "bo@fabrikam.example", frozenset({Role.AGENT}))
    )
    for user_id, name in ((B_ADMIN, "Bea Boss"), (B_AGENT, "Bo Agent")):
        await repository.agents.create(
            Agent(
                user_id,
                TENANT_B,
                name,
                has_seat=True,
                status=AgentStatus.AVAILABLE,
                idle_since=clock.now(),
            )
        )
    await repository.queues.create(
        Queue(B_QUEUE, TENANT_B, "Fabrikam Help", members=(B_ADMIN, B_AGENT))
    )


A_CALL = "a3000000-0000-4000-8000-000000000001"
A_RECORD = "a3000000-0000-4000-8000-000000000002"
A_CALLER = "+14255550177"


async def seed_tenant_a_calls(repository: Repository, clock: VirtualClock) -> None:
    """A caller waiting in the demo tenant's Sales queue, and a finished call of Ana's."""
    now = clock.now()
    caller = Party(PartyKind.PHONE, A_CALLER, "Casey Caller")
    await repository.calls.create(
        Call(
            id=A_CALL,
            tenant_id=TENANT_A,
            caller=caller,
            target_id=LINES[0].application_instance_id,
            state=CallState.WAITING,
            queue_id=SALES,
            queue_name="Sales",
            received_at=now,
            offered_at=now,
            queued_at=now,
        )
    )
    await repository.call_records.create(
        CallRecord(
            id=A_RECORD,
            tenant_id=TENANT_A,
            chain_id="",
            direction="incoming",
            caller=caller,
            queue_id=SALES,
            queue_name="Sales",
            offered_at=now - timedelta(minutes=10),
            answered_at=now - timedelta(minutes=9),
            ended_at=now - timedelta(minutes=5),
            outcome=CallOutcome.ANSWERED,
            agent_id=ANA.id,
            agent_name=ANA.name,
            talk_s=240.0,
            ttl=395 * 86_400,
        )
    )


def tenant_a_markers() -> set[str]:
    """Strings that name the demo tenant's data: none may reach another tenant's user."""
    markers = {
        TENANT_A,
        A_CALL,
        A_RECORD,
        A_CALLER,
        "Casey Caller",
        "Contoso (demo)",
        SALES,
        SUPPORT,
    }
    for person in PEOPLE:
        markers |= {person.id, person.name, person.upn}
    for line in LINES:
        markers |= {line.application_instance_id, line.phone}
    return markers


@pytest.fixture
async def tab(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    tab_simulator_dir: Path,
    demo_key_path: Path,
    demo_key: SigningKey,
    clock: VirtualClock,
) -> TabStack:
    stack = await start_tab(
        aiohttp_server,
        aiohttp_client,
        tmp_path / "host",
        tab_simulator_dir,
        demo_key_path,
        demo_key,
        clock,
    )
    await seed_tenant_a_calls(stack.repository, clock)
    return stack


# ------------------------------------------------------------------- live
# Secrets a production host holds; the live stack is configured with them.
PASSWORD = "Pa55word-of-the-bot-registration~" + uuid.uuid4().hex
COSMOS_KEY = (
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
)
INSIGHTS = (
    f"InstrumentationKey={uuid.uuid4()};"
    "IngestionEndpoint=https://x.in.applicationinsights.azure.com/"
)
BLOB = f"DefaultEndpointsProtocol=https;AccountName=cc;AccountKey={uuid.uuid4().hex}{uuid.uuid4().hex};"


@dataclass
class LiveStack:
    """The host and a simulator that delivers to it: whole calls run end to end."""

    host: TestClient[aiohttp.web.Request, aiohttp.web.Application]
    simulator: SimulatorClient
    key: SigningKey
    tokens: TokenFactory


@pytest.fixture
async def live(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    calling_simulator_dir: Path,
) -> AsyncIterator[LiveStack]:
    """The demo host and simulator, with production-like secrets in the settings."""
    reserved = ReservedPort()
    port = reserved.port
    simulator_server = await aiohttp_server(
        create_simulator_app(
            SimulatorConfig(
                data_dir=calling_simulator_dir,
                bot_url=f"http://127.0.0.1:{port}/api/calling",
                app_id=DEMO_APP_ID,
                seed_tenants=demo_simulator_directory(),
            )
        )
    )
    simulator_url = str(simulator_server.make_url("")).rstrip("/")
    settings = Settings.from_env(
        {},
        demo=True,
        dotenv=None,
        port=port,
        data_dir=tmp_path / "host",
        graph_base_url=f"{simulator_url}/v1.0",
        calling_openid_config_url=f"{simulator_url}/.well-known/OpenIdConfiguration",
        demo_call_rate=0.0,
    )
    # Secrets a production host holds; demo mode never uses them, but they are configured.
    settings = replace(
        settings,
        microsoft_app_password=PASSWORD,
        cosmos_key=COSMOS_KEY,
        applicationinsights_connection_string=INSIGHTS,
    )
    key_path = tmp_path / "tab-key.pem"
    tab_key = write_key(key_path)
    clock = VirtualClock(datetime.now(UTC))
    app = create_app(
        settings,
        Services(
            store=MemoryStore(), clock=clock, run_timers=False, tab_options=options_for(key_path)
        ),
    )
    host = await host_client(aiohttp_client, app, reserved=reserved)
    key = load_or_create_signing_key(calling_simulator_dir / "simulator" / "signing-key.pem")
    async with aiohttp.ClientSession() as session:
        yield LiveStack(
            host, SimulatorClient(session, simulator_url), key, TokenFactory(tab_key, clock)
        )
