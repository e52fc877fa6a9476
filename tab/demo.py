"""Demo mode's sign-in picker, and where the demo issuer's keys are published.

In demo mode there is no Entra tenant: the host hands the tab a token issuer of its own
(:class:`tab.ports.DemoSignIn`), whose OpenID configuration and JWKS are served under
``/tab/demo/`` like Entra publishes its keys, and whose tokens the picker hands out. The
tab's validator is pointed there in demo mode and checks exactly what it checks in
production. None of this exists outside demo mode: the routes answer 404.
"""

from __future__ import annotations

from aiohttp import web

from contactcenter.errors import NotFound
from tab.appkeys import TAB
from tab.endpoints import ApiError, TabRequest, validation_failed
from tab.ports import DemoSignIn
from tab.schemas import DemoTokenBody, DemoUsersView, DemoUserView, TokenView

DEMO_PREFIX = "/tab/demo"
OPENID_PATH = f"{DEMO_PREFIX}/.well-known/openid-configuration"
KEYS_PATH = f"{DEMO_PREFIX}/.well-known/keys"


def _issuer(app: web.Application) -> DemoSignIn:
    issuer = app[TAB].deps.demo_sign_in
    if issuer is None:
        raise web.HTTPNotFound()
    return issuer


async def openid_configuration(request: web.Request) -> web.Response:
    """``GET /tab/demo/.well-known/openid-configuration`` (demo mode only)."""
    return web.json_response(_issuer(request.app).openid_configuration())


async def signing_keys(request: web.Request) -> web.Response:
    """``GET /tab/demo/.well-known/keys`` (demo mode only)."""
    return web.json_response(_issuer(request.app).jwks())


def _demo_tenant(call: TabRequest) -> str:
    return call.deps.settings.tenant_id


async def demo_users(call: TabRequest) -> DemoUsersView:
    """List the demo tenant's users for the sign-in picker."""
    tenant_id = _demo_tenant(call)
    found = await call.deps.repository.users.find(tenant_id)
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
    tenant_id = _demo_tenant(call)
    try:
        user = (await call.deps.repository.users.get(tenant_id, body.user_id)).value
    except NotFound:
        raise validation_failed(
            [{"field": "userId", "message": "no such user in the demo tenant"}]
        ) from None
    issuer = call.deps.demo_sign_in
    if issuer is None:
        raise ApiError(404, "not found")
    token, expires = issuer.token_for(tenant_id, user.id, name=user.display_name, username=user.upn)
    return TokenView(access_token=token, expires_on=expires)
