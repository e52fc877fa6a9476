"""Response headers: CSP with Teams' frame ancestors on tab pages, the usual security
headers everywhere, HSTS in production, and no cookies at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bot.app import Services, create_app
from bot.settings import AppType, Settings
from contactcenter.clock import VirtualClock
from simulator.signing import SigningKey
from storage.memory import MemoryStore
from tab.appkeys import STATIC_DIR
from tests.security.support import KeyServer, key_server_app
from tests.tab.support import ADMIN, ANA, TabStack, options_for

TEAMS_HOSTS = (
    "https://teams.microsoft.com",
    "https://*.teams.microsoft.com",
    "https://*.cloud.microsoft",
    "https://*.office.com",
    "https://outlook.office.com",
)
PAGES = ("/tab/", "/tab/?view=admin", "/tab/configure", "/tab/about", "/tab/nowhere")
APIS = ("/api/tab/openapi.json", "/api/tab/me", "/healthz", "/nowhere", "/api/calling")

Host = TestClient[web.Request, web.Application]


def _assets() -> list[str]:
    return sorted(
        f"/tab/assets/{p.relative_to(STATIC_DIR / 'assets').as_posix()}"
        for p in (STATIC_DIR / "assets").rglob("*")
        if p.is_file()
    )[:3]


def _directives(policy: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        found[name] = values
    return found


async def _headers(host: Host, path: str, **headers: str) -> dict[str, str]:
    async with host.get(path, headers=headers, allow_redirects=False) as response:
        assert response.status < 500, path
        return dict(response.headers)


async def test_tab_pages_may_be_framed_by_teams_only(tab: TabStack) -> None:
    for path in (*PAGES, "/tab"):
        _check_page(path, await _headers(tab.host, path))


def _check_page(path: str, headers: dict[str, str]) -> None:
    policy = _directives(headers["Content-Security-Policy"])
    assert set(TEAMS_HOSTS) <= set(policy["frame-ancestors"]), path
    assert "*" not in policy["frame-ancestors"], path
    assert all(h.startswith(("https://", "'self'")) for h in policy["frame-ancestors"]), path
    assert policy["object-src"] == ["'none'"], path
    assert policy["base-uri"] == ["'none'"], path
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(policy["script-src"]), path
    assert headers["X-Content-Type-Options"] == "nosniff", path
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
    # Teams frames the tab: X-Frame-Options cannot name it and must not forbid it.
    assert "X-Frame-Options" not in headers, path


async def test_every_response_has_the_usual_security_headers(tab: TabStack) -> None:
    for path in (*APIS, *_assets()):
        headers = await _headers(tab.host, path)
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
        # Demo mode runs on plain http on loopback: no HSTS there.
        assert "Strict-Transport-Security" not in headers, path


async def test_api_answers_are_not_cached(tab: TabStack) -> None:
    for path in ("/api/tab/me", "/api/tab/admin/users"):
        headers = await _headers(tab.host, path, **tab.auth(ADMIN.id))
        assert headers["Cache-Control"] == "no-store", path


async def test_nothing_sets_a_cookie(tab: TabStack) -> None:
    """The tab authenticates with bearer tokens only: no cookie, so no CSRF surface."""
    paths = [*PAGES, *APIS, "/api/tab/demo/users", "/api/tab/queues/live", *_assets()]
    for path in paths:
        for user in (None, ANA.id, ADMIN.id):
            headers = tab.auth(user) if user else {}
            async with tab.host.get(path, headers=headers) as response:
                assert "Set-Cookie" not in response.headers, path
    async with tab.host.post("/api/tab/demo/token", json={"userId": ANA.id}) as response:
        assert "Set-Cookie" not in response.headers
    assert len(tab.host.session.cookie_jar) == 0


@pytest.fixture
async def production(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    demo_key: SigningKey,
    demo_key_path: Path,
    clock: VirtualClock,
) -> Host:
    """A production host (https public URL) whose tab trusts a loopback key server."""
    state: dict[str, KeyServer] = {}
    server = await aiohttp_server(key_server_app(state))
    state["ks"] = KeyServer(server, [demo_key.public_jwk()])
    settings = Settings(
        demo=False,
        data_dir=tmp_path,
        microsoft_app_id="9e1e3d2c-1b0a-4f5e-8d7c-6b5a4f3e2d1c",
        microsoft_app_password="not-used-in-these-tests",
        microsoft_app_tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
        microsoft_app_type=AppType.SINGLE_TENANT,
        public_base_url="https://cc.contoso.example",
        tab_openid_config_url=state["ks"].openid_url,
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
    return await aiohttp_client(app)


async def test_production_answers_carry_hsts(production: Host) -> None:
    for path in (*PAGES, *APIS):
        headers = await _headers(production, path)
        assert headers["Strict-Transport-Security"].startswith("max-age="), path
        max_age = int(headers["Strict-Transport-Security"].split("=", 1)[1].split(";")[0])
        assert max_age >= 180 * 86_400, path
        assert headers["X-Content-Type-Options"] == "nosniff", path
