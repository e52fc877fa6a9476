"""Demo mode's stand-in for Entra ID: a token issuer for the tab's sign-in picker.

In demo mode there is no Entra tenant, so the host issues the tab's tokens itself, signed
with a demo key of its own (kept in the data dir across restarts) and published like
Entra publishes its keys: an OpenID configuration and a JWKS under ``/tab/demo/``. The
tab's validator is pointed there in demo mode and checks exactly what it checks in
production (issuer, audience, scope, tenant, user). None of this exists outside demo mode:
the routes answer 404, and production never trusts the demo key.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from bot import keys
from bot.settings import DEFAULT_TAB_OPENID_URL, Settings
from contactcenter.clock import Clock
from contactcenter.errors import NotFound
from tab.appkeys import TAB
from tab.auth import ACCESS_SCOPE, v2_issuer
from tab.endpoints import ApiError, TabRequest, validation_failed
from tab.schemas import DemoTokenBody, DemoUsersView, DemoUserView, TokenView

DEMO_PREFIX = "/tab/demo"
OPENID_PATH = f"{DEMO_PREFIX}/.well-known/openid-configuration"
KEYS_PATH = f"{DEMO_PREFIX}/.well-known/keys"
# The Teams web client's app id: Entra names the client that asked for a tab token in azp.
TEAMS_WEB_CLIENT_ID = "5e3ce6c0-2b1f-4285-8d4b-75ee78787346"


def tab_openid_config_url(settings: Settings) -> str:
    """Return where the tab's signing keys are published for these settings.

    In demo mode, unless another URL was configured, that is the host's own demo issuer.
    """
    if settings.demo and settings.tab_openid_config_url == DEFAULT_TAB_OPENID_URL:
        return f"{settings.public_base_url}{OPENID_PATH}"
    return settings.tab_openid_config_url


def demo_key_path(settings: Settings, configured: Path | None) -> Path:
    return configured or settings.data_dir / "tab" / "demo-signing-key.pem"


class DemoSigningKey(Protocol):
    """An RSA private key and its key id, kept by the host across restarts."""

    @property
    def private_key(self) -> rsa.RSAPrivateKey: ...

    @property
    def kid(self) -> str: ...

    def public_jwk(self) -> dict[str, Any]: ...


DemoKeyLoader = Callable[[Path], DemoSigningKey]
"""Load the key at a path, creating it on first use (blocking: run off the event loop)."""


@dataclass(frozen=True, slots=True)
class DemoTokenIssuer:
    """Sign tab tokens for demo users, shaped like Entra's v2 access tokens."""

    key: DemoSigningKey
    client_id: str
    base_url: str
    clock: Clock
    lifetime_s: int = 3600

    @classmethod
    async def load(
        cls,
        path: Path,
        *,
        load_key: DemoKeyLoader,
        client_id: str,
        base_url: str,
        clock: Clock,
        lifetime_s: int,
    ) -> DemoTokenIssuer:
        """Load (or create, the first time) the demo signing key; off the event loop."""
        key = await asyncio.to_thread(load_key, path)
        return cls(key, client_id, base_url, clock, lifetime_s)

    def openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
            "jwks_uri": f"{self.base_url}{KEYS_PATH}",
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": [],
            "response_types_supported": ["token"],
            "subject_types_supported": ["pairwise"],
        }

    def jwks(self) -> dict[str, Any]:
        jwk = {k: v for k, v in self.key.public_jwk().items() if k != "endorsements"}
        return {"keys": [jwk]}

    def token_for(
        self, tenant_id: str, user_id: str, *, name: str, username: str
    ) -> tuple[str, int]:
        """Return a token for the user and when it expires (seconds since the epoch)."""
        now = int(self.clock.now().timestamp())
        expires = now + self.lifetime_s
        claims = {
            "aud": self.client_id,
            "iss": v2_issuer(tenant_id),
            "iat": now,
            "nbf": now,
            "exp": expires,
            "tid": tenant_id,
            "oid": user_id,
            "sub": user_id,
            "name": name,
            "preferred_username": username,
            "scp": ACCESS_SCOPE,
            "azp": TEAMS_WEB_CLIENT_ID,
            "ver": "2.0",
            "uti": uuid.uuid4().hex,
        }
        token = jwt.encode(
            claims, self.key.private_key, algorithm="RS256", headers={"kid": self.key.kid}
        )
        return token, expires


def _issuer(app: web.Application) -> DemoTokenIssuer:
    issuer = app[TAB].demo_issuer
    if issuer is None:
        raise web.HTTPNotFound()
    return issuer


async def openid_configuration(request: web.Request) -> web.Response:
    """``GET /tab/demo/.well-known/openid-configuration`` (demo mode only)."""
    return web.json_response(_issuer(request.app).openid_configuration())


async def signing_keys(request: web.Request) -> web.Response:
    """``GET /tab/demo/.well-known/keys`` (demo mode only)."""
    return web.json_response(_issuer(request.app).jwks())


def _demo_tenant(app: web.Application) -> str:
    return app[keys.SETTINGS].microsoft_app_tenant_id


async def demo_users(call: TabRequest) -> DemoUsersView:
    """List the demo tenant's users for the sign-in picker."""
    tenant_id = _demo_tenant(call.app)
    found = await call.app[keys.REPOSITORY].users.find(tenant_id)
    order = {"admin": 0, "supervisor": 1, "agent": 2}
    users = sorted(
        (u.value for u in found),
        key=lambda u: (min((order[r.value] for r in u.roles), default=3), u.display_name),
    )
    return DemoUsersView(
        tenant_id=tenant_id,
        users=[
            DemoUserView(
                id=u.id,
                display_name=u.display_name,
                upn=u.upn,
                roles=sorted(u.roles, key=lambda r: order[r.value]),
            )
            for u in users
        ],
    )


async def demo_token(call: TabRequest) -> TokenView:
    """Sign in as a demo user: a token shaped like the one Teams gives the tab."""
    body = call.body(DemoTokenBody)
    tenant_id = _demo_tenant(call.app)
    try:
        user = (await call.app[keys.REPOSITORY].users.get(tenant_id, body.user_id)).value
    except NotFound:
        raise validation_failed(
            [{"field": "userId", "message": "no such user in the demo tenant"}]
        ) from None
    issuer = call.app[TAB].demo_issuer
    if issuer is None:
        raise ApiError(404, "not found")
    token, expires = issuer.token_for(tenant_id, user.id, name=user.display_name, username=user.upn)
    return TokenView(access_token=token, expires_on=expires)
