"""``/api/calling`` through the real host: every way a Graph token can be wrong is refused.

A refused notification stores nothing and makes no Graph request: the call it describes is
real in the simulator, so an answer (or any other request for it) would show there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import jwt
import pytest
from pytest_aiohttp import AiohttpServer

from bot.settings import DEMO_APP_ID, DEMO_TENANT_ID
from contactcenter.clock import VirtualClock
from contactcenter.errors import Unauthorized
from contactcenter.model import Tenant, TenantStatus
from graph.identity.calling import CallingTokenValidator
from tests.security.conftest import CallingStack
from tests.security.support import (
    KeyServer,
    b64url,
    changes,
    es256,
    hs256_with_public_key,
    impostor_key,
    key_server_app,
    lifetime,
    public_jwk,
    refused,
    rs256,
    snapshot,
    unsigned,
)

ENDPOINT = "POST /api/calling"
UNKNOWN_TENANT = "99999999-9999-4999-8999-999999999999"
TERMINATED_TENANT = "77777777-7777-4777-8777-777777777777"


def incoming(call_id: str, line: str, tenant_id: str = DEMO_TENANT_ID) -> bytes:
    """Graph's incoming-call notification for a call the simulator knows."""
    return json.dumps(
        {
            "@odata.type": "#microsoft.graph.commsNotifications",
            "value": [
                {
                    "@odata.type": "#microsoft.graph.commsNotification",
                    "changeType": "created",
                    "resourceUrl": f"/communications/calls/{call_id}",
                    "resourceData": {
                        "@odata.type": "#microsoft.graph.call",
                        "state": "incoming",
                        "direction": "incoming",
                        "tenantId": tenant_id,
                        "source": {"identity": {"phone": {"id": "+14255550142"}}},
                        "targets": [{"identity": {"applicationInstance": {"id": line}}}],
                    },
                }
            ],
        }
    ).encode()


def claims(**changes: Any) -> dict[str, Any]:
    """Claims of a token Graph would send to the demo bot, with ``changes``."""
    base: dict[str, Any] = {
        "iss": "https://graph.microsoft.com",
        "aud": DEMO_APP_ID,
        "tid": DEMO_TENANT_ID,
        **lifetime(),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(stack: CallingStack, **changes: Any) -> str:
    return rs256(stack.key.private_key, claims(**changes), kid=stack.key.kid)


async def post(
    stack: CallingStack,
    authorization: str | None,
    *,
    body: bytes | None = None,
    tenant_id: str = DEMO_TENANT_ID,
    query: str = "",
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    payload = body if body is not None else incoming(stack.call_id, stack.line, tenant_id)
    async with stack.host.post(f"/api/calling{query}", data=payload, headers=headers) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None


async def graph_requests(stack: CallingStack) -> list[Any]:
    """Every request the host made to Graph, for any call the simulator knows."""
    return [r for call in await stack.simulator.calls() for r in call["requests"]]


def _past(hours: float) -> int:
    return int((datetime.now(UTC) - timedelta(hours=hours)).timestamp())


def _future(hours: float) -> int:
    return int((datetime.now(UTC) + timedelta(hours=hours)).timestamp())


# Each case: how to build the Authorization header for the stack.
UNAUTHENTICATED: dict[str, Callable[[CallingStack], str | None]] = {
    "missing": lambda s: None,
    "empty-header": lambda s: "",
    "not-bearer": lambda s: f"Basic {b64url(b'graph:secret')}",
    "empty-bearer": lambda s: "Bearer ",
    "token-without-scheme": lambda s: signed(s),
    "garbage": lambda s: "Bearer not-a-token",
    "malformed-segments": lambda s: "Bearer e30.e30.e30.e30",
    "malformed-base64": lambda s: "Bearer %%%.%%%.%%%",
    "bad-signature": lambda s: "Bearer " + rs256(impostor_key(), claims(), kid=s.key.kid),
    "truncated-signature": lambda s: "Bearer " + signed(s)[:-10],
    "unknown-kid": lambda s: (
        "Bearer " + rs256(s.key.private_key, claims(), kid="a-key-nobody-published")
    ),
    "no-kid": lambda s: "Bearer " + rs256(s.key.private_key, claims()),
    "expired": lambda s: "Bearer " + signed(s, iat=_past(3), nbf=_past(3), exp=_past(2)),
    "not-yet-valid": lambda s: "Bearer " + signed(s, nbf=_future(1), exp=_future(2)),
    "no-exp": lambda s: "Bearer " + signed(s, exp=None),
    "wrong-issuer": lambda s: "Bearer " + signed(s, iss="https://issuer.example"),
    "no-issuer": lambda s: "Bearer " + signed(s, iss=None),
    "wrong-audience": lambda s: "Bearer " + signed(s, aud="00000000-0000-4000-8000-000000000000"),
    "no-audience": lambda s: "Bearer " + signed(s, aud=None),
    "alg-none": lambda s: (
        "Bearer " + unsigned({"alg": "none", "typ": "JWT", "kid": s.key.kid}, claims())
    ),
    "alg-none-with-signature": lambda s: (
        "Bearer "
        + unsigned({"alg": "none", "kid": s.key.kid}, claims())
        + signed(s).rsplit(".", 1)[1]
    ),
    "hs256-with-public-key": lambda s: "Bearer " + hs256_with_public_key(s.key, claims()),
    "rs512": lambda s: (
        "Bearer "
        + jwt.encode(claims(), s.key.private_key, algorithm="RS512", headers={"kid": s.key.kid})
    ),
    "es256": lambda s: "Bearer " + es256(claims(), s.key.kid),
    "no-tid": lambda s: "Bearer " + signed(s, tid=None),
    "empty-tid": lambda s: "Bearer " + signed(s, tid=""),
    "numeric-tid": lambda s: "Bearer " + signed(s, tid=42),
}


async def test_a_bad_token_gets_401_stores_nothing_and_calls_no_graph(
    calling: CallingStack,
) -> None:
    before = await snapshot(calling.repository.store)
    for case, authorization in sorted(UNAUTHENTICATED.items()):
        status, body = await post(calling, authorization(calling))

        assert status == 401, (case, body)
        assert body["error"]["code"] == "invalidToken", case
        assert changes(before, await snapshot(calling.repository.store)) == [], case
        assert await graph_requests(calling) == [], case
        refused(ENDPOINT)
    assert len(UNAUTHENTICATED) >= 25


async def test_a_valid_token_of_an_unknown_tenant_gets_403(calling: CallingStack) -> None:
    before = await snapshot(calling.repository.store)

    status, body = await post(
        calling, "Bearer " + signed(calling, tid=UNKNOWN_TENANT), tenant_id=UNKNOWN_TENANT
    )

    assert status == 403
    assert body["error"]["code"] == "unknownTenant"
    assert changes(before, await snapshot(calling.repository.store)) == []
    assert await graph_requests(calling) == []
    refused(ENDPOINT)


async def test_a_valid_token_of_a_terminated_tenant_gets_403(calling: CallingStack) -> None:
    await calling.repository.tenants.create(
        Tenant(
            id=TERMINATED_TENANT,
            name="Gone",
            status=TenantStatus.TERMINATED,
            terminated_at=datetime.now(UTC),
        )
    )
    before = await snapshot(calling.repository.store)

    status, _ = await post(
        calling, "Bearer " + signed(calling, tid=TERMINATED_TENANT), tenant_id=TERMINATED_TENANT
    )

    assert status == 403
    assert changes(before, await snapshot(calling.repository.store)) == []
    assert await graph_requests(calling) == []
    refused(ENDPOINT)


async def test_a_token_for_one_tenant_cannot_speak_for_another(calling: CallingStack) -> None:
    """The notification's tenant comes from the token, not from the body it signs."""
    other = "88888888-8888-4888-8888-888888888888"
    status, _ = await post(calling, "Bearer " + signed(calling, tid=other))

    assert status == 403
    assert await calling.repository.calls.find(DEMO_TENANT_ID) == []
    assert await graph_requests(calling) == []
    refused(ENDPOINT)


async def test_a_token_in_the_query_string_is_not_accepted(calling: CallingStack) -> None:
    status, _ = await post(calling, None, query=f"?access_token={signed(calling)}")

    assert status == 401
    assert await graph_requests(calling) == []
    refused(ENDPOINT)


async def test_the_valid_token_is_accepted_and_answers_through_graph(
    calling: CallingStack,
) -> None:
    """The control: the same request with Graph's token is accepted and shows in Graph."""
    status, _ = await post(calling, "Bearer " + signed(calling))

    assert status == 202
    call = await calling.simulator.wait_for_call(calling.call_id, requests=1)
    assert [r["path"].rsplit("/", 1)[-1] for r in call["requests"]][:1] == ["answer"]


# ------------------------------------------------------------- where keys come from
@pytest.fixture
async def attacker(aiohttp_server: AiohttpServer) -> tuple[KeyServer, Any]:
    """A key server on loopback that an attacker controls, with the attacker's key."""
    key = impostor_key()
    state: dict[str, KeyServer] = {}
    server = await aiohttp_server(key_server_app(state))
    state["ks"] = KeyServer(server, [public_jwk(key, "attacker-key")])
    return state["ks"], key


@pytest.mark.parametrize("header", ["jku", "x5u", "jwk"])
async def test_keys_named_by_the_token_are_never_fetched_or_trusted(
    calling: CallingStack, attacker: tuple[KeyServer, Any], header: str
) -> None:
    server, key = attacker
    pointer: Any = {
        "jku": server.jwks_url,
        "x5u": server.jwks_url,
        "jwk": public_jwk(key, "attacker-key"),
    }[header]
    token = rs256(key, claims(), kid="attacker-key", **{header: pointer})

    status, _ = await post(calling, f"Bearer {token}")

    assert status == 401
    assert sum(server.hits.values()) == 0
    assert await graph_requests(calling) == []
    refused(ENDPOINT)


async def test_signing_keys_come_only_from_the_configured_url_and_are_cached(
    calling: CallingStack,
) -> None:
    for _ in range(5):
        assert (await post(calling, "Bearer " + signed(calling)))[0] == 202
    assert calling.key_server.fetches == 1
    assert calling.key_server.hits["openid"] == 1
    assert calling.key_server.hits["other"] == 0


async def test_unknown_kids_do_not_turn_into_a_flood_of_key_fetches(
    calling: CallingStack,
) -> None:
    assert (await post(calling, "Bearer " + signed(calling)))[0] == 202
    for n in range(20):
        token = rs256(calling.key.private_key, claims(), kid=f"unknown-{n}")
        assert (await post(calling, f"Bearer {token}"))[0] == 401
    # Within the refresh floor, no unknown kid fetches the keys again.
    assert calling.key_server.fetches == 1
    refused(ENDPOINT, 20)


async def test_a_rotated_key_is_fetched_on_its_first_use_after_the_floor(
    aiohttp_server: AiohttpServer,
) -> None:
    """The validator itself, on a virtual clock: an unknown kid refetches once per floor."""
    old, new = impostor_key(), impostor_key()
    state: dict[str, KeyServer] = {}
    server = await aiohttp_server(key_server_app(state))
    state["ks"] = keys = KeyServer(server, [public_jwk(old, "old")])
    clock = VirtualClock(datetime.now(UTC))
    async with aiohttp.ClientSession() as session:
        validator = CallingTokenValidator(
            keys.openid_url, DEMO_APP_ID, session=session, clock=clock, refresh_floor_s=300
        )
        await validator.validate("Bearer " + rs256(old, claims(), kid="old"))
        keys.keys.append(public_jwk(new, "new"))
        rotated = "Bearer " + rs256(new, claims(), kid="new")
        with pytest.raises(Unauthorized):
            await validator.validate(rotated)  # within the floor: not fetched yet
        assert keys.fetches == 1
        clock.advance(300)
        assert (await validator.validate(rotated)).tenant_id == DEMO_TENANT_ID
        assert keys.fetches == 2


async def test_the_webhook_never_serves_other_methods(calling: CallingStack) -> None:
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        async with calling.host.request(method, "/api/calling") as response:
            assert response.status == 405
            assert (await response.json())["error"]["code"] == "methodNotAllowed"
    refused(ENDPOINT, 4)
