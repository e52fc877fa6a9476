"""ConsentReader through the real msgraph-sdk client against the simulator's fake Graph."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from graph.calling import GraphHttpClient, StaticTokenProvider, build_graph_client
from graph.consent import (
    REQUIRED_PERMISSIONS,
    ConsentReader,
    ConsentUnreadable,
    admin_consent_url,
    required_permission_names,
)
from simulator import SimulatorClient, SimulatorConfig, create_simulator_app
from simulator.service_principals import GRAPH_APP_ROLES

APP_ID = "9f3c2b1a-0d4e-4f5a-8b6c-7d8e9fa0b1c2"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def simulator(
    aiohttp_server: AiohttpServer, tmp_path: Path
) -> AsyncIterator[tuple[str, SimulatorClient]]:
    server = await aiohttp_server(
        create_simulator_app(SimulatorConfig(data_dir=tmp_path, app_id=APP_ID))
    )
    base_url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        yield base_url, SimulatorClient(session, base_url)


@pytest.fixture
async def reader(simulator: tuple[str, SimulatorClient]) -> AsyncIterator[ConsentReader]:
    base_url, _ = simulator
    async with GraphHttpClient(timeout_s=5) as http:
        client = build_graph_client(
            base_url=f"{base_url}/v1.0", credential=StaticTokenProvider("t"), httpx_client=http
        )
        yield ConsentReader(client)


async def test_a_full_consent_grants_every_required_permission(reader: ConsentReader) -> None:
    granted = await reader.granted_permissions(APP_ID)

    assert granted.service_principal_found
    assert set(required_permission_names()) <= granted.names


async def test_missing_grants_are_not_reported_as_granted(
    reader: ConsentReader, simulator: tuple[str, SimulatorClient]
) -> None:
    _, control = simulator
    await control.set_granted_app_roles(["Calls.Initiate.All", "CallRecords.Read.All"])

    granted = await reader.granted_permissions(APP_ID)

    assert granted.names == {"Calls.Initiate.All", "CallRecords.Read.All"}
    assert not granted.granted("Presence.Read.All")


async def test_an_app_without_a_service_principal_has_nothing_granted(
    reader: ConsentReader,
) -> None:
    granted = await reader.granted_permissions("0b0b0b0b-1111-4222-8333-444444444444")

    assert not granted.service_principal_found
    assert granted.names == frozenset()


async def test_a_graph_failure_is_consent_unreadable(
    reader: ConsentReader, simulator: tuple[str, SimulatorClient]
) -> None:
    _, control = simulator
    await control.add_fault(path_pattern=r"/appRoleAssignments", status=503, count=None)

    with pytest.raises(ConsentUnreadable) as raised:
        await reader.granted_permissions(APP_ID)

    assert raised.value.status == 503


async def test_an_unreachable_graph_is_consent_unreadable() -> None:
    async with GraphHttpClient(timeout_s=2) as http:
        client = build_graph_client(
            # Port 9 on loopback: nothing listens there, the connection is refused.
            base_url="http://127.0.0.1:9/v1.0",
            credential=StaticTokenProvider("t"),
            httpx_client=http,
        )
        with pytest.raises(ConsentUnreadable):
            await ConsentReader(client).granted_permissions(APP_ID)


def test_the_simulator_knows_every_required_permission() -> None:
    assert set(required_permission_names()) <= set(GRAPH_APP_ROLES)


def test_the_deployment_guide_names_exactly_the_permissions_the_product_requires() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| `([A-Za-z]+(?:\.[A-Za-z]+)+)` \|", guide, flags=re.MULTILINE)
    loop = re.search(r"for permission in (.*?); do", guide, flags=re.DOTALL)

    assert table, "the guide's permission table was not found"
    assert loop is not None, "the guide's grant loop was not found"
    assert set(table) == set(required_permission_names())
    assert set(loop[1].replace("\\", " ").split()) == set(required_permission_names())


def test_every_required_permission_says_why() -> None:
    assert all(p.purpose for p in REQUIRED_PERMISSIONS)
    assert len(set(required_permission_names())) == len(REQUIRED_PERMISSIONS)


def test_the_admin_consent_url_names_tenant_app_and_redirect() -> None:
    url = admin_consent_url(
        tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
        client_id=APP_ID,
        redirect_uri="https://contoso.example/tab/",
    )

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "login.microsoftonline.com")
    assert parts.path == "/72f988bf-86f1-41af-91ab-2d7cd011db47/adminconsent"
    assert parse_qs(parts.query) == {
        "client_id": [APP_ID],
        "redirect_uri": ["https://contoso.example/tab/"],
    }
