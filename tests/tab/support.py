"""Building the host with the tab in demo mode, and signing tab tokens like Entra does."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bot import keys
from bot.app import Services, create_app
from bot.demo import PEOPLE, demo_simulator_directory, queue_id
from bot.settings import DEMO_APP_ID, DEMO_TENANT_ID, Settings
from contactcenter.audit import AuditLog
from contactcenter.clock import Clock
from contactcenter.ports import Store
from contactcenter.repository import Repository
from graph.identity.tab_sso import v1_issuer, v2_issuer
from simulator import SimulatorClient, SimulatorConfig, create_simulator_app
from simulator.signing import SigningKey
from tab import TabOptions
from tab.analytics import AnalyticsOptions
from tab.appkeys import TAB
from tests.host_server import ReservedPort, host_client

ADMIN = next(p for p in PEOPLE if p.upn.startswith("grace"))
SUPERVISOR = next(p for p in PEOPLE if p.upn.startswith("hiro"))
ANA = next(p for p in PEOPLE if p.upn.startswith("ana"))
BEN = next(p for p in PEOPLE if p.upn.startswith("ben"))
DEV = next(p for p in PEOPLE if p.upn.startswith("dev"))
SALES = queue_id("Sales")
SUPPORT = queue_id("Support")
OTHER_TENANT = "11111111-2222-4333-8444-555555555555"


def write_key(path: Path) -> SigningKey:
    """Write a fresh RSA key where the demo issuer looks for it; return it."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return SigningKey.from_private_key(private)


@dataclass
class TokenFactory:
    """Sign tab tokens with a given key, Entra style, with any claim overridden."""

    key: SigningKey
    clock: Clock
    audience: str = DEMO_APP_ID

    def token(
        self,
        user_id: str,
        *,
        tenant_id: str = DEMO_TENANT_ID,
        version: str = "2.0",
        lifetime: timedelta = timedelta(hours=1),
        headers: Mapping[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        now = self.clock.now()
        body: dict[str, Any] = {
            "aud": self.audience,
            "iss": v2_issuer(tenant_id) if version == "2.0" else v1_issuer(tenant_id),
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + lifetime).timestamp()),
            "tid": tenant_id,
            "oid": user_id,
            "sub": user_id,
            "name": "Test User",
            "preferred_username": "test@contoso.example",
            "scp": "access_as_user",
            "ver": version,
            "uti": uuid.uuid4().hex,
        }
        body.update(claims)
        for name in drop:
            body.pop(name, None)
        return jwt.encode(
            body,
            self.key.private_key,
            algorithm="RS256",
            headers={"kid": self.key.kid, **(headers or {})},
        )


@dataclass
class TabStack:
    """The host (with the tab) and the simulator, on loopback."""

    host: TestClient[web.Request, web.Application]
    simulator: SimulatorClient
    settings: Settings
    clock: Clock
    tokens: TokenFactory

    @property
    def app(self) -> web.Application:
        return self.host.app

    @property
    def repository(self) -> Repository:
        return self.app[keys.REPOSITORY]

    @property
    def audit(self) -> AuditLog:
        return self.app[TAB].audit

    @property
    def base_url(self) -> str:
        return self.settings.public_base_url

    def auth(self, user_id: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.token(user_id, **claims)}"}

    async def call(
        self,
        method: str,
        path: str,
        *,
        user: str | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        """Send a request; return the status and the decoded JSON body (None if empty)."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        elif user is not None:
            sent.update(self.auth(user))
        async with self.host.request(method, path, json=json, headers=sent) as response:
            text = await response.text()
            body = None
            if text and response.content_type == "application/json":
                body = await response.json()
            return response.status, body


async def start_stack(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    *,
    data_dir: Path,
    simulator_dir: Path,
    key: SigningKey,
    clock: Clock,
    options: TabOptions,
    store: Store | None = None,
    analytics_options: AnalyticsOptions | None = None,
    **settings_overrides: Any,
) -> TabStack:
    """Start the simulator and the host (demo mode, with the tab) on loopback."""
    reserved = ReservedPort()
    port = reserved.port
    simulator_server = await aiohttp_server(
        create_simulator_app(
            SimulatorConfig(
                data_dir=simulator_dir,
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
        data_dir=data_dir,
        graph_base_url=f"{simulator_url}/v1.0",
        calling_openid_config_url=f"{simulator_url}/.well-known/OpenIdConfiguration",
        demo_call_rate=0.0,
        **settings_overrides,
    )
    app = create_app(
        settings,
        Services(
            store=store,
            clock=clock,
            run_timers=False,
            tab_options=options,
            analytics_options=analytics_options,
        ),
    )
    host = await host_client(aiohttp_client, app, reserved=reserved)
    return TabStack(
        host=host,
        simulator=SimulatorClient(host.session, simulator_url),
        settings=settings,
        clock=clock,
        tokens=TokenFactory(key, clock),
    )


def options_for(key_path: Path, **overrides: Any) -> TabOptions:
    values: dict[str, Any] = {
        "demo_key_path": key_path,
        "poll_interval_s": 0.05,
        "heartbeat_s": 0.5,
    }
    values.update(overrides)
    return TabOptions(**values)
