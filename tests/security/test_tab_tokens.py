"""Every signed-in endpoint of the tab API, from its OpenAPI document, refuses bad tokens.

401 for a token that is missing or invalid (with a Bearer challenge), 403 for a valid
token whose user or tenant is not served; either way nothing is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.settings import DEMO_APP_ID, DEMO_TENANT_ID
from contactcenter.clock import VirtualClock
from contactcenter.model import Tenant, TenantStatus
from simulator.signing import SigningKey
from tests.security.conftest import TENANT_B
from tests.security.support import (
    Operation,
    b64url,
    changes,
    es256,
    hs256_with_public_key,
    impostor_key,
    refused,
    snapshot,
    tab_operations,
    unsigned,
)
from tests.tab.support import ANA, SALES, TabStack, TokenFactory

OTHER_TENANT = "11111111-2222-4333-8444-555555555555"
TERMINATED = "22222222-3333-4444-8555-666666666666"
NOBODY = "3b7e2f4c-1d5a-4e6b-9c8d-7f6e5d4c3b2a"

PARAMETERS = {"queueId": SALES, "callId": "c0ffee00-0000-4000-8000-000000000000"}


@pytest.fixture(scope="module")
def impostor() -> rsa.RSAPrivateKey:
    return impostor_key()


def _claims(tab: TabStack, **changes: Any) -> dict[str, Any]:
    now = int(tab.clock.now().timestamp())
    claims: dict[str, Any] = {
        "aud": DEMO_APP_ID,
        "iss": f"https://login.microsoftonline.com/{DEMO_TENANT_ID}/v2.0",
        "tid": DEMO_TENANT_ID,
        "oid": ANA.id,
        "scp": "access_as_user",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
    }
    claims.update(changes)
    return claims


def bad_tokens(tab: TabStack, impostor: rsa.RSAPrivateKey) -> dict[str, Callable[[], str | None]]:
    """Authorization headers that must get 401, by what is wrong with them."""
    t = tab.tokens
    key: SigningKey = t.key
    forger = TokenFactory(SigningKey(impostor, key.kid), tab.clock)
    now = tab.clock.now()

    def bearer(token: str) -> str:
        return f"Bearer {token}"

    return {
        "missing": lambda: None,
        "not-bearer": lambda: f"Basic {b64url(b'ana:password')}",
        "empty-bearer": lambda: "Bearer ",
        "token-without-scheme": lambda: t.token(ANA.id),
        "garbage": lambda: bearer("not.a.token"),
        "malformed-segments": lambda: bearer("e30.e30.e30.e30"),
        "bad-signature": lambda: bearer(forger.token(ANA.id)),
        "truncated-signature": lambda: bearer(t.token(ANA.id)[:-12]),
        "unknown-kid": lambda: bearer(t.token(ANA.id, headers={"kid": "not-published"})),
        "no-kid": lambda: bearer(jwt.encode(_claims(tab), key.private_key, algorithm="RS256")),
        "expired": lambda: bearer(t.token(ANA.id, exp=int(now.timestamp()) - 3600)),
        "not-yet-valid": lambda: bearer(
            t.token(ANA.id, nbf=int((now + timedelta(hours=1)).timestamp()))
        ),
        "no-exp": lambda: bearer(t.token(ANA.id, drop=("exp",))),
        "wrong-issuer": lambda: bearer(t.token(ANA.id, iss="https://issuer.example/")),
        "issuer-of-another-tenant": lambda: bearer(
            t.token(ANA.id, iss=f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0")
        ),
        "no-issuer": lambda: bearer(t.token(ANA.id, drop=("iss",))),
        "wrong-audience": lambda: bearer(
            t.token(ANA.id, aud="00000000-0000-4000-8000-000000000000")
        ),
        "app-id-uri-of-another-host": lambda: bearer(
            t.token(ANA.id, version="1.0", aud=f"api://evil.example/{DEMO_APP_ID}")
        ),
        "no-audience": lambda: bearer(t.token(ANA.id, drop=("aud",))),
        "no-scope": lambda: bearer(t.token(ANA.id, drop=("scp",))),
        "other-scope": lambda: bearer(t.token(ANA.id, scp="User.Read")),
        "scope-as-prefix": lambda: bearer(t.token(ANA.id, scp="access_as_user_not")),
        "alg-none": lambda: bearer(
            unsigned({"alg": "none", "typ": "JWT", "kid": key.kid}, _claims(tab))
        ),
        "hs256-with-public-key": lambda: bearer(hs256_with_public_key(key, _claims(tab))),
        "rs512": lambda: bearer(
            jwt.encode(_claims(tab), key.private_key, algorithm="RS512", headers={"kid": key.kid})
        ),
        "es256": lambda: bearer(es256(_claims(tab), key.kid)),
        "no-tid": lambda: bearer(t.token(ANA.id, drop=("tid",))),
        "malformed-tid": lambda: bearer(
            t.token(
                ANA.id,
                tid="../../etc",
                iss="https://login.microsoftonline.com/../../etc/v2.0",
            )
        ),
        "no-oid": lambda: bearer(t.token(ANA.id, drop=("oid",))),
        "malformed-oid": lambda: bearer(t.token("' OR 1=1 --")),
    }


BAD_TOKEN_CASES = [
    "missing",
    "not-bearer",
    "empty-bearer",
    "token-without-scheme",
    "garbage",
    "malformed-segments",
    "bad-signature",
    "truncated-signature",
    "unknown-kid",
    "no-kid",
    "expired",
    "not-yet-valid",
    "no-exp",
    "wrong-issuer",
    "issuer-of-another-tenant",
    "no-issuer",
    "wrong-audience",
    "app-id-uri-of-another-host",
    "no-audience",
    "no-scope",
    "other-scope",
    "scope-as-prefix",
    "alg-none",
    "hs256-with-public-key",
    "rs512",
    "es256",
    "no-tid",
    "malformed-tid",
    "no-oid",
    "malformed-oid",
]


async def _request(
    tab: TabStack, operation: Operation, authorization: str | None
) -> tuple[int, dict[str, str], Any]:
    headers = {} if authorization is None else {"Authorization": authorization}
    url = operation.url({name: PARAMETERS.get(name, ANA.id) for name in operation.parameters})
    body: dict[str, Any] | None = {} if operation.body_schema else None
    async with tab.host.request(operation.method, url, json=body, headers=headers) as response:
        return response.status, dict(response.headers), await response.json()


async def test_the_cases_cover_the_table(tab: TabStack, impostor: rsa.RSAPrivateKey) -> None:
    assert sorted(bad_tokens(tab, impostor)) == sorted(BAD_TOKEN_CASES)


@pytest.mark.parametrize("case", BAD_TOKEN_CASES)
async def test_every_endpoint_answers_a_bad_token_with_401_and_changes_nothing(
    tab: TabStack, impostor: rsa.RSAPrivateKey, case: str
) -> None:
    authorization = bad_tokens(tab, impostor)[case]()
    signed_in = [op for op in await tab_operations(tab.host) if op.signed_in]
    assert len(signed_in) >= 20
    before = await snapshot(tab.repository.store)
    for operation in signed_in:
        status, headers, body = await _request(tab, operation, authorization)
        assert status == 401, (operation.label, body)
        assert headers["WWW-Authenticate"].startswith("Bearer"), operation.label
        assert body["error"]["code"] == "invalidToken", operation.label
        refused(operation.label)
    assert changes(before, await snapshot(tab.repository.store)) == []


@pytest.mark.parametrize("who", ["unknown-tenant", "terminated-tenant", "not-a-user"])
async def test_every_endpoint_answers_a_valid_token_it_does_not_serve_with_403(
    tab: TabStack, clock: VirtualClock, who: str
) -> None:
    await tab.repository.tenants.create(
        Tenant(TERMINATED, "Gone", status=TenantStatus.TERMINATED, terminated_at=clock.now())
    )
    token = {
        "unknown-tenant": lambda: tab.tokens.token(ANA.id, tenant_id=OTHER_TENANT),
        "terminated-tenant": lambda: tab.tokens.token(ANA.id, tenant_id=TERMINATED),
        "not-a-user": lambda: tab.tokens.token(NOBODY),
    }[who]()
    before = await snapshot(tab.repository.store)
    for operation in [op for op in await tab_operations(tab.host) if op.signed_in]:
        status, _, body = await _request(tab, operation, f"Bearer {token}")
        assert status == 403, (operation.label, body)
        refused(operation.label)
    assert changes(before, await snapshot(tab.repository.store)) == []


async def test_a_user_of_one_tenant_cannot_sign_in_as_the_same_user_of_another(
    tab: TabStack,
) -> None:
    """Users are looked up in the token's own tenant: an oid alone opens nothing."""
    status, body = await tab.call(
        "GET", "/api/tab/me", token=tab.tokens.token(ANA.id, tenant_id=TENANT_B)
    )
    assert status == 403
    assert body["error"]["code"] == "notAUser"
    refused("GET /api/tab/me")
