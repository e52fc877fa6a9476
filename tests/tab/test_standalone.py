"""The tab on an app of its own: everything the host would hand it is a fake here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from contactcenter.clock import VirtualClock
from contactcenter.engine import EngineSettings, RoutingEngine
from contactcenter.errors import Unauthorized, Unavailable
from contactcenter.model import Agent, Role, Tenant, User
from contactcenter.repository import Repository
from storage.media import DataDirMediaStore
from storage.memory import MemoryStore
from storage.prompt_audio import SoxrPromptConverter
from tab import TAB, TabDependencies, TabOptions, TabSettings, add_tab, running_tab
from tab.ports import GrantedPermissions
from tests.domain.harness import FakeCallControl, FakeNotifier

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
AGENT = "3b7e2f4c-1d5a-4e6b-9c8d-7f6e5d4c3b2a"
ADMIN = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Identity:
    tenant_id: str
    object_id: str
    name: str
    username: str = ""
    expires_at: float = NOW.timestamp() + 3600
    is_global_administrator: bool = False


class TokensByName:
    """Accepts ``Bearer <user id>`` for the users it knows."""

    def __init__(self, *identities: Identity) -> None:
        self._identities = {identity.object_id: identity for identity in identities}

    async def validate(self, authorization_header: str | None) -> Identity:
        token = (authorization_header or "").removeprefix("Bearer ")
        identity = self._identities.get(token)
        if identity is None:
            raise Unauthorized("unknown token")
        return identity


class GraphUnreachable:
    """Admin consent whose granted permissions Graph never tells."""

    required = ()

    def consent_url(self, tenant_id: str, redirect_uri: str) -> str:
        return f"https://login.example/{tenant_id}/adminconsent"

    async def granted_permissions(self) -> GrantedPermissions:
        raise Unavailable("Microsoft Graph could not be reached")


@pytest.fixture
async def tab_only(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> TestClient[web.Request, web.Application]:
    """Serve the tab alone, given a memory store, fakes for Graph and a token table."""
    store = MemoryStore()
    repository = Repository(store)
    clock = VirtualClock(NOW)
    notifier = FakeNotifier()
    await repository.tenants.put(Tenant(id=TENANT, name="Contoso"))
    await repository.users.put(
        User(id=AGENT, tenant_id=TENANT, display_name="Ana", roles=frozenset({Role.AGENT}))
    )
    await repository.agents.put(Agent(id=AGENT, tenant_id=TENANT, display_name="Ana"))
    await repository.users.put(
        User(id=ADMIN, tenant_id=TENANT, display_name="Grace", roles=frozenset({Role.ADMIN}))
    )
    deps = TabDependencies(
        settings=TabSettings(
            demo=False,
            public_base_url="https://cc.contoso.example",
            app_id="9e1e3d2c-1b0a-4f5e-8d7c-6b5a4f3e2d1c",
            tenant_id=TENANT,
            single_tenant=True,
        ),
        clock=clock,
        store=store,
        repository=repository,
        engine=RoutingEngine(
            repository,
            FakeCallControl(),
            notifier,
            clock,
            EngineSettings(callback_uri="https://cc.contoso.example/api/calling"),
        ),
        notifier=notifier,
        media=DataDirMediaStore(tmp_path / "media"),
        prompt_converter=SoxrPromptConverter(),
        validator=TokensByName(Identity(TENANT, AGENT, "Ana"), Identity(TENANT, ADMIN, "Grace")),
        consent=GraphUnreachable(),
    )

    async def tab(app: web.Application) -> AsyncIterator[None]:
        async with running_tab(deps, TabOptions(teams_js=None)) as state:
            app[TAB] = state
            yield

    app = web.Application()
    add_tab(app)
    app.cleanup_ctx.append(tab)
    return await aiohttp_client(app)


async def test_a_signed_in_agent_gets_their_view(
    tab_only: TestClient[web.Request, web.Application],
) -> None:
    async with tab_only.get("/api/tab/me", headers={"Authorization": f"Bearer {AGENT}"}) as answer:
        assert answer.status == 200
        me = await answer.json()
    assert me["user"]["id"] == AGENT
    assert me["user"]["roles"] == ["agent"]


async def test_a_token_the_validator_refuses_gets_401(
    tab_only: TestClient[web.Request, web.Application],
) -> None:
    async with tab_only.get("/api/tab/me", headers={"Authorization": "Bearer nobody"}) as answer:
        assert answer.status == 401
        assert (await answer.json())["error"]["code"] == "invalidToken"


async def test_consent_graph_does_not_answer_is_502(
    tab_only: TestClient[web.Request, web.Application],
) -> None:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with tab_only.get("/api/tab/admin/consent", headers=headers) as answer:
        assert answer.status == 502
        assert (await answer.json())["error"]["code"] == "graphFailed"
