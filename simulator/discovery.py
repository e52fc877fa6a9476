"""The simulator's OpenID configuration and signing keys, published like Graph's and Bot Framework's.

A bot in demo mode points its trusted OpenID configuration URL at
``<base_url>/.well-known/OpenIdConfiguration`` and finds the keys through ``jwks_uri``.
"""

from __future__ import annotations

from aiohttp import web

from simulator.appkeys import CONFIG_KEY, SIGNING_KEY_KEY

OPENID_CONFIGURATION_PATH = "/.well-known/OpenIdConfiguration"
JWKS_PATH = "/.well-known/keys"


async def openid_configuration(request: web.Request) -> web.Response:
    """Describe the issuer and where its keys are."""
    origin = request.url.origin()
    return web.json_response(
        {
            "issuer": request.app[CONFIG_KEY].issuer,
            # Like Bot Framework's, there is no authorization endpoint to use: nobody signs in here.
            "authorization_endpoint": str(origin.with_path("/.well-known/no-authorization")),
            "jwks_uri": str(origin.with_path(JWKS_PATH)),
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        }
    )


async def jwks(request: web.Request) -> web.Response:
    """Publish the public signing key."""
    return web.json_response(request.app[SIGNING_KEY_KEY].jwks())


def add_discovery_routes(app: web.Application) -> None:
    """Serve the OpenID configuration and the JWKS."""
    app.router.add_get(OPENID_CONFIGURATION_PATH, openid_configuration)
    app.router.add_get(JWKS_PATH, jwks)
