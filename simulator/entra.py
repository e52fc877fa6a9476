"""A Microsoft Entra token endpoint for the bot's client credentials, shaped like Entra's.

``<base>/{tenant}/v2.0/.well-known/openid-configuration`` names the token endpoint,
``<base>/{tenant}/oauth2/v2.0/token`` issues app tokens (``grant_type=client_credentials``,
a ``<resource>/.default`` scope) to the bot's app id with the client secret the simulator
was configured with, for a tenant of its directory or ``botframework.com``. Refusals carry
Entra's OAuth error shape and AADSTS codes, so a client (msal, ``contact-center check``)
can tell a wrong secret from an unknown app or tenant. Entra requires https: a test serves
the simulator's application over TLS to use these routes with msal.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
from aiohttp import web

from simulator.appkeys import CLOCK_KEY, CONFIG_KEY, DIRECTORY_KEY, SIGNING_KEY_KEY
from simulator.discovery import JWKS_PATH

# Multi-tenant bots get their Bot Connector tokens from this tenant.
BOT_FRAMEWORK_TENANT = "botframework.com"
_LIFETIME_S = 3599


def _oauth_error(status: int, error: str, code: int, description: str) -> web.Response:
    """Answer like Entra: an OAuth error with the AADSTS code in front of its description."""
    return web.json_response(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description}",
            "error_codes": [code],
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
        status=status,
    )


async def openid_configuration(request: web.Request) -> web.Response:
    """Describe the tenant's endpoints, as Entra's v2.0 discovery document does."""
    tenant = request.match_info["tenant"]
    if not _known_tenant(request.app, tenant):
        return _oauth_error(
            400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found. Check the tenant id."
        )
    origin = request.url.origin()
    return web.json_response(
        {
            "issuer": str(origin.with_path(f"/{tenant}/v2.0")),
            "authorization_endpoint": str(origin.with_path(f"/{tenant}/oauth2/v2.0/authorize")),
            "token_endpoint": str(origin.with_path(f"/{tenant}/oauth2/v2.0/token")),
            "jwks_uri": str(origin.with_path(JWKS_PATH)),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "WW",
        }
    )


async def token(request: web.Request) -> web.Response:
    """Issue an app token for client credentials, or refuse them like Entra does."""
    app = request.app
    config = app[CONFIG_KEY]
    tenant = request.match_info["tenant"]
    form = await request.post()
    client_id = str(form.get("client_id", ""))
    if not _known_tenant(app, tenant):
        return _oauth_error(
            400, "invalid_request", 90002, f"Tenant '{tenant}' not found. Check the tenant id."
        )
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(
            400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
        )
    scope = str(form.get("scope", ""))
    if not scope.endswith("/.default") or " " in scope.strip():
        return _oauth_error(
            400, "invalid_scope", 1002012, f"The provided value for scope {scope} is not valid."
        )
    if client_id != config.app_id:
        return _oauth_error(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
        )
    secret = str(form.get("client_secret", ""))
    if not config.client_secret or secret != config.client_secret:
        return _oauth_error(
            401,
            "invalid_client",
            7000215,
            f"Invalid client secret provided. Ensure the secret being sent in the request is "
            f"the client secret value, not the client secret ID, for a secret added to app "
            f"'{client_id}'.",
        )
    now = app[CLOCK_KEY].now()
    claims = {
        "iss": f"https://sts.windows.net/{tenant}/",
        "aud": scope.removesuffix("/.default"),
        "tid": tenant,
        "appid": client_id,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=_LIFETIME_S)).timestamp()),
        "jti": str(uuid.uuid4()),
    }
    key = app[SIGNING_KEY_KEY]
    access_token = jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})
    return web.json_response(
        {
            "token_type": "Bearer",
            "expires_in": _LIFETIME_S,
            "ext_expires_in": _LIFETIME_S,
            "access_token": access_token,
        }
    )


def add_entra_routes(app: web.Application) -> None:
    """Serve the tenant discovery document and the token endpoint."""
    app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", token)


def _known_tenant(app: web.Application, tenant: str) -> bool:
    return tenant == BOT_FRAMEWORK_TENANT or app[DIRECTORY_KEY].tenant(tenant) is not None
