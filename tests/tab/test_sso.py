"""Tab SSO: which tokens the tab API accepts, in demo mode (the host's own demo issuer)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bot import keys as host_keys
from bot.settings import DEMO_APP_ID, DEMO_TENANT_ID
from contactcenter.clock import VirtualClock
from simulator.signing import SigningKey
from tab.appkeys import TAB
from tests.tab.support import ANA, OTHER_TENANT, TabStack, TokenFactory


async def test_a_v2_token_is_accepted(tab: TabStack) -> None:
    status, body = await tab.call("GET", "/api/tab/me", token=tab.tokens.token(ANA.id))
    assert status == 200
    assert body["user"]["id"] == ANA.id
    assert body["user"]["roles"] == ["agent"]


async def test_a_v1_token_for_the_app_id_uri_is_accepted(tab: TabStack) -> None:
    token = tab.tokens.token(ANA.id, version="1.0", aud=f"api://127.0.0.1/{DEMO_APP_ID}")
    status, body = await tab.call("GET", "/api/tab/me", token=token)
    assert status == 200
    assert body["user"]["displayName"] == ANA.name


async def test_the_demo_picker_signs_in_with_a_token_from_the_demo_issuer(tab: TabStack) -> None:
    status, listing = await tab.call("GET", "/api/tab/demo/users")
    assert status == 200
    assert listing["tenantId"] == DEMO_TENANT_ID
    assert listing["users"][0]["roles"] == ["admin"]
    assert ANA.id in {u["id"] for u in listing["users"]}
    status, issued = await tab.call("POST", "/api/tab/demo/token", json={"userId": ANA.id})
    assert status == 200
    claims = jwt.decode(issued["accessToken"], options={"verify_signature": False})
    assert claims["iss"] == f"https://login.microsoftonline.com/{DEMO_TENANT_ID}/v2.0"
    assert claims["scp"] == "access_as_user"
    status, me = await tab.call("GET", "/api/tab/me", token=issued["accessToken"])
    assert status == 200
    assert me["user"]["id"] == ANA.id


async def test_the_demo_issuer_publishes_its_keys(tab: TabStack) -> None:
    async with tab.host.get("/tab/demo/.well-known/openid-configuration") as response:
        configuration = await response.json()
    assert configuration["jwks_uri"] == f"{tab.base_url}/tab/demo/.well-known/keys"
    async with tab.host.get("/tab/demo/.well-known/keys") as response:
        keys = (await response.json())["keys"]
    assert [k["kid"] for k in keys] == [tab.tokens.key.kid]
    assert all("d" not in k for k in keys), "a private key part was published"


async def test_the_demo_picker_refuses_an_unknown_user(tab: TabStack) -> None:
    status, body = await tab.call("POST", "/api/tab/demo/token", json={"userId": "nobody"})
    assert status == 422
    assert body["error"]["details"] == [
        {"field": "userId", "message": "no such user in the demo tenant"}
    ]


async def test_no_token_gets_401_with_a_bearer_challenge(tab: TabStack) -> None:
    async with tab.host.get("/api/tab/me") as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await response.json())["error"]["code"] == "invalidToken"


@pytest.fixture(scope="module")
def impostor() -> rsa.RSAPrivateKey:
    """A key that is not the issuer's, to forge signatures with."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _unsigned(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    "case",
    [
        "wrong-audience",
        "app-id-uri-of-another-host",
        "no-scope",
        "other-scope",
        "unknown-kid",
        "expired",
        "not-yet-valid",
        "wrong-issuer",
        "issuer-of-another-tenant",
        "no-oid",
        "no-tid",
        "forged-signature",
        "alg-none",
        "hs256",
        "garbage",
    ],
)
async def test_a_bad_token_gets_401(tab: TabStack, impostor: rsa.RSAPrivateKey, case: str) -> None:
    tokens = tab.tokens
    forger = TokenFactory(SigningKey(impostor, tokens.key.kid), tab.clock)
    make: dict[str, Callable[[], str]] = {
        "wrong-audience": lambda: tokens.token(ANA.id, aud="00000000-0000-4000-8000-000000000000"),
        "app-id-uri-of-another-host": lambda: tokens.token(
            ANA.id, version="1.0", aud=f"api://evil.example/{DEMO_APP_ID}"
        ),
        "no-scope": lambda: tokens.token(ANA.id, drop=("scp",)),
        "other-scope": lambda: tokens.token(ANA.id, scp="User.Read"),
        "unknown-kid": lambda: tokens.token(ANA.id, headers={"kid": "not-a-published-key"}),
        "expired": lambda: tokens.token(ANA.id, exp=int(tab.clock.now().timestamp()) - 3600),
        "not-yet-valid": lambda: tokens.token(
            ANA.id, nbf=int((tab.clock.now() + timedelta(hours=1)).timestamp())
        ),
        "wrong-issuer": lambda: tokens.token(ANA.id, iss="https://issuer.example/"),
        "issuer-of-another-tenant": lambda: tokens.token(
            ANA.id, iss=f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"
        ),
        "no-oid": lambda: tokens.token(ANA.id, drop=("oid",)),
        "no-tid": lambda: tokens.token(ANA.id, drop=("tid",)),
        "forged-signature": lambda: forger.token(ANA.id),
        "alg-none": lambda: _unsigned(
            {
                "aud": DEMO_APP_ID,
                "iss": f"https://login.microsoftonline.com/{DEMO_TENANT_ID}/v2.0",
                "tid": DEMO_TENANT_ID,
                "oid": ANA.id,
                "scp": "access_as_user",
                "exp": int(tab.clock.now().timestamp()) + 3600,
            }
        ),
        "hs256": lambda: jwt.encode(
            {"aud": DEMO_APP_ID, "tid": DEMO_TENANT_ID, "oid": ANA.id, "scp": "access_as_user"},
            "a-shared-secret-of-at-least-32-bytes!",
            algorithm="HS256",
            headers={"kid": tokens.key.kid},
        ),
        "garbage": lambda: "not.a.token",
    }
    status, body = await tab.call("GET", "/api/tab/me", token=make[case]())
    assert status == 401
    assert body["error"]["code"] == "invalidToken"


async def test_a_user_of_another_tenant_gets_403(tab: TabStack) -> None:
    token = tab.tokens.token(ANA.id, tenant_id=OTHER_TENANT)
    status, body = await tab.call("GET", "/api/tab/me", token=token)
    assert status == 403
    assert body["error"]["code"] == "wrongTenant"


async def test_someone_who_is_not_a_user_gets_403(tab: TabStack) -> None:
    token = tab.tokens.token("3b7e2f4c-1d5a-4e6b-9c8d-7f6e5d4c3b2a")
    status, body = await tab.call("GET", "/api/tab/me", token=token)
    assert status == 403
    assert body["error"]["code"] == "notAUser"


async def test_unknown_kids_refetch_the_keys_at_most_once_per_floor(
    tab: TabStack, clock: VirtualClock
) -> None:
    keys = tab.app[host_keys.TAB_TOKENS].keys
    assert (await tab.call("GET", "/api/tab/me", user=ANA.id))[0] == 200
    assert keys.fetches == 1
    clock.advance(tab.app[TAB].options.key_refresh_floor_s)
    for n in range(5):
        token = tab.tokens.token(ANA.id, headers={"kid": f"unknown-{n}"})
        assert (await tab.call("GET", "/api/tab/me", token=token))[0] == 401
    assert keys.fetches == 2
    assert (await tab.call("GET", "/api/tab/me", user=ANA.id))[0] == 200
    assert keys.fetches == 2
