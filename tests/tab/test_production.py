"""Production mode: Entra-style keys on a key server, first-run admins, no demo routes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bot import keys
from bot.app import Services, create_app
from bot.settings import AppType, Settings
from contactcenter.clock import VirtualClock
from contactcenter.errors import NotFound
from contactcenter.model import Role, Tenant, User
from contactcenter.repository import Repository
from graph.identity.tab_sso import GLOBAL_ADMINISTRATOR_ROLE
from simulator.signing import SigningKey
from storage.memory import MemoryStore
from tab.appkeys import TAB
from tests.tab.support import TokenFactory, options_for

APP_ID = "9e1e3d2c-1b0a-4f5e-8d7c-6b5a4f3e2d1c"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
FIRST_ADMIN = "0b2c4d6e-8f10-4a2b-9c3d-5e6f7a8b9c0d"
SECOND_ADMIN = "1c3d5e7f-9a1b-4c2d-8e3f-6a7b8c9d0e1f"
SOMEONE = "2d4e6f80-a1b2-4c3d-9e4f-7a8b9c0d1e2f"


@dataclass
class Production:
    host: TestClient[web.Request, web.Application]
    tokens: TokenFactory

    @property
    def repository(self) -> Repository:
        return self.host.app[keys.REPOSITORY]

    async def me(self, token: str) -> tuple[int, dict[str, object]]:
        async with self.host.get(
            "/api/tab/me", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            return response.status, await response.json()


@pytest.fixture
async def production(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    demo_key: SigningKey,
    demo_key_path: Path,
    clock: VirtualClock,
) -> Production:
    """A production-mode host whose tab trusts a loopback key server, as it trusts Entra's."""

    async def openid(request: web.Request) -> web.Response:
        return web.json_response({"jwks_uri": str(request.url.with_path("/keys"))})

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response({"keys": [demo_key.public_jwk()]})

    key_app = web.Application()
    key_app.router.add_get("/.well-known/openid-configuration", openid)
    key_app.router.add_get("/keys", jwks)
    key_server = await aiohttp_server(key_app)
    settings = Settings(
        demo=False,
        data_dir=tmp_path,
        microsoft_app_id=APP_ID,
        microsoft_app_password="not-used-in-these-tests",
        microsoft_app_tenant_id=TENANT,
        microsoft_app_type=AppType.SINGLE_TENANT,
        public_base_url="https://cc.contoso.example",
        tab_openid_config_url=str(key_server.make_url("/.well-known/openid-configuration")),
        admin_object_ids=frozenset({FIRST_ADMIN, SECOND_ADMIN}),
    )
    app = create_app(
        settings,
        Services(
            store=MemoryStore(),
            clock=clock,
            run_timers=False,
            tab_options=options_for(demo_key_path),
        ),
    )
    host = await aiohttp_client(app)
    return Production(host, TokenFactory(demo_key, clock, audience=APP_ID))


async def test_the_first_listed_admin_creates_the_tenant_and_becomes_its_admin(
    production: Production,
) -> None:
    token = production.tokens.token(
        FIRST_ADMIN, tenant_id=TENANT, name="Ada Admin", preferred_username="ada@contoso.example"
    )
    status, me = await production.me(token)
    assert status == 200
    assert me["user"] == {
        "id": FIRST_ADMIN,
        "displayName": "Ada Admin",
        "upn": "ada@contoso.example",
        "roles": ["admin"],
    }
    tenant = (await production.repository.tenants.get(TENANT, TENANT)).value
    assert tenant.name == "contoso.example"
    entries = await production.host.app[TAB].audit.all(TENANT)
    assert {e.value.action for e in entries} == {"tenant.create", "user.bootstrap-admin"}


async def test_a_second_listed_admin_is_not_promoted_once_the_tenant_has_an_admin(
    production: Production,
) -> None:
    assert (await production.me(production.tokens.token(FIRST_ADMIN, tenant_id=TENANT)))[0] == 200
    status, body = await production.me(production.tokens.token(SECOND_ADMIN, tenant_id=TENANT))
    assert status == 403
    assert body["error"] == {
        "code": "notAUser",
        "message": "you are not a user of this contact center: ask an admin to add you",
    }


async def test_a_global_administrator_becomes_an_admin(production: Production) -> None:
    await production.repository.tenants.create(Tenant(id=TENANT, name="Contoso"))
    await production.repository.users.create(
        User(id=SOMEONE, tenant_id=TENANT, display_name="Sam", roles=frozenset({Role.AGENT}))
    )
    token = production.tokens.token(SOMEONE, tenant_id=TENANT, wids=[GLOBAL_ADMINISTRATOR_ROLE])
    status, me = await production.me(token)
    assert status == 200
    assert me["user"]["roles"] == ["admin", "agent"]  # type: ignore[index]


async def test_an_unlisted_user_of_a_new_tenant_gets_403_and_creates_nothing(
    production: Production,
) -> None:
    status, body = await production.me(production.tokens.token(SOMEONE, tenant_id=TENANT))
    assert status == 403
    assert body["error"]["code"] == "notAUser"  # type: ignore[index]
    with pytest.raises(NotFound):
        await production.repository.tenants.get(TENANT, TENANT)


async def test_a_single_tenant_deployment_refuses_other_tenants(production: Production) -> None:
    other = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
    token = production.tokens.token(FIRST_ADMIN, tenant_id=other)
    status, body = await production.me(token)
    assert status == 403
    assert body["error"]["code"] == "wrongTenant"  # type: ignore[index]


async def test_the_app_id_uri_names_the_public_host(production: Production) -> None:
    token = production.tokens.token(
        FIRST_ADMIN, tenant_id=TENANT, version="1.0", aud=f"api://cc.contoso.example/{APP_ID}"
    )
    assert (await production.me(token))[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/tab/demo/users",
        "/tab/demo/.well-known/openid-configuration",
        "/tab/demo/.well-known/keys",
    ],
)
async def test_demo_routes_do_not_exist_in_production(production: Production, path: str) -> None:
    async with production.host.get(path) as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "notFound"


async def test_no_demo_token_is_issued_in_production(production: Production) -> None:
    async with production.host.post("/api/tab/demo/token", json={"userId": SOMEONE}) as response:
        assert response.status == 404
