"""Validating Graph's calling notification tokens against keys served on loopback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from contactcenter.clock import VirtualClock
from contactcenter.errors import Unauthorized
from graph.identity.calling import CallingTokenValidator, TokenClaims

APP_ID = "9e1e3d2c-1b0a-4f5e-8d7c-6b5a4f3e2d1c"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
FLOOR_S = 300.0
TTL_S = 6 * 3600.0


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    def jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(
            jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key())
        )
        return jwk | {"kid": self.kid, "use": "sig", "alg": "RS256"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@pytest.fixture(scope="module")
def keys() -> list[SigningKey]:
    return [
        SigningKey(f"key-{n}", rsa.generate_private_key(public_exponent=65537, key_size=2048))
        for n in range(3)
    ]


@dataclass
class KeyServer:
    """An OpenID configuration and key set on loopback that counts what is fetched."""

    server: TestServer
    published: list[SigningKey]
    fetches: Counter[str] = field(default_factory=Counter)
    failing: bool = False
    junk: list[dict[str, Any]] = field(default_factory=list)

    @property
    def openid_url(self) -> str:
        return str(self.server.make_url("/.well-known/OpenIdConfiguration"))


@pytest.fixture
async def key_server(aiohttp_server: Callable[..., Any], keys: list[SigningKey]) -> KeyServer:
    state: dict[str, KeyServer] = {}

    async def openid(request: web.Request) -> web.Response:
        ks = state["ks"]
        ks.fetches["openid"] += 1
        if ks.failing:
            return web.json_response({"error": "down"}, status=503)
        return web.json_response(
            {"issuer": "https://api.botframework.com", "jwks_uri": str(ks.server.make_url("/keys"))}
        )

    async def jwks(request: web.Request) -> web.Response:
        ks = state["ks"]
        ks.fetches["keys"] += 1
        return web.json_response({"keys": ks.junk + [key.jwk() for key in ks.published]})

    app = web.Application()
    app.router.add_get("/.well-known/OpenIdConfiguration", openid)
    app.router.add_get("/keys", jwks)
    server = await aiohttp_server(app)
    state["ks"] = KeyServer(server=server, published=[keys[0]])
    return state["ks"]


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def validator(
    key_server: KeyServer, session: aiohttp.ClientSession, clock: VirtualClock
) -> CallingTokenValidator:
    return CallingTokenValidator(
        key_server.openid_url,
        APP_ID,
        session=session,
        clock=clock,
        refresh_floor_s=FLOOR_S,
        cache_ttl_s=TTL_S,
    )


def claims(clock: VirtualClock, **overrides: Any) -> dict[str, Any]:
    now = int(clock.now().timestamp())
    base: dict[str, Any] = {
        "iss": "https://graph.microsoft.com",
        "aud": APP_ID,
        "tid": TENANT,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def sign(key: SigningKey, payload: dict[str, Any], *, kid: str | None = None) -> str:
    return jwt.encode(payload, key.private, algorithm="RS256", headers={"kid": kid or key.kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """Build a token by hand, as an attacker would, with an HMAC or no signature."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    if secret is None:
        return f"{signing_input}."
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def bearer(token: str) -> str:
    return f"Bearer {token}"


async def test_valid_token_is_accepted_with_its_tenant(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    result = await validator.validate(bearer(sign(keys[0], claims(clock))))

    assert isinstance(result, TokenClaims)
    assert result.tenant_id == TENANT
    assert result.issuer == "https://graph.microsoft.com"
    assert result.audience == APP_ID
    assert result.claims["tid"] == TENANT


async def test_bot_framework_issuer_and_audience_list_are_accepted(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    token = sign(keys[0], claims(clock, iss="https://api.botframework.com", aud=["other", APP_ID]))

    result = await validator.validate(bearer(token))

    assert result.issuer == "https://api.botframework.com"


async def test_lifetime_allows_five_minutes_of_clock_skew(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    now = int(clock.now().timestamp())
    token = sign(keys[0], claims(clock, nbf=now + 290, exp=now + 3600))
    late = sign(keys[0], claims(clock, exp=now - 290))

    await validator.validate(bearer(token))
    await validator.validate(bearer(late))


@pytest.mark.parametrize(
    "header",
    [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Bearer not-a-jwt", "Bearer a.b.c"],
)
async def test_missing_or_garbage_header_is_refused(
    validator: CallingTokenValidator, key_server: KeyServer, header: str | None
) -> None:
    with pytest.raises(Unauthorized):
        await validator.validate(header)

    assert key_server.fetches["openid"] == 0


async def test_bad_signature_is_refused(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    # Signed by another key, but claiming the published key's id.
    token = sign(keys[1], claims(clock), kid=keys[0].kid)

    with pytest.raises(Unauthorized, match="bad signature"):
        await validator.validate(bearer(token))


async def test_tampered_payload_is_refused(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    header, _, signature = sign(keys[0], claims(clock)).split(".")
    payload = b64(json.dumps(claims(clock, tid="another-tenant")).encode())

    with pytest.raises(Unauthorized, match="bad signature"):
        await validator.validate(bearer(f"{header}.{payload}.{signature}"))


async def test_unknown_kid_is_refused(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    with pytest.raises(Unauthorized, match="unknown signing key"):
        await validator.validate(bearer(sign(keys[1], claims(clock))))


async def test_expired_token_is_refused(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    token = sign(keys[0], claims(clock))
    clock.advance(3600 + 301)

    with pytest.raises(Unauthorized, match="expired"):
        await validator.validate(bearer(token))


async def test_token_not_yet_valid_is_refused(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    later = clock.now() + timedelta(seconds=301)
    token = sign(keys[0], claims(clock, nbf=int(later.timestamp())))

    with pytest.raises(Unauthorized, match="not yet valid"):
        await validator.validate(bearer(token))


async def test_wrong_issuer_is_refused(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    token = sign(keys[0], claims(clock, iss="https://sts.windows.net/evil/"))

    with pytest.raises(Unauthorized, match="wrong issuer"):
        await validator.validate(bearer(token))


async def test_wrong_audience_is_refused(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    token = sign(keys[0], claims(clock, aud="another-app"))

    with pytest.raises(Unauthorized, match="wrong audience"):
        await validator.validate(bearer(token))


@pytest.mark.parametrize("claim", ["iss", "aud", "exp"])
async def test_token_without_a_required_claim_is_refused(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock, claim: str
) -> None:
    token = sign(keys[0], claims(clock, **{claim: None}))

    with pytest.raises(Unauthorized, match=f"no {claim} claim"):
        await validator.validate(bearer(token))


async def test_token_without_tid_is_refused(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    with pytest.raises(Unauthorized, match="no tenant id"):
        await validator.validate(bearer(sign(keys[0], claims(clock, tid=None))))


async def test_alg_none_is_refused(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    token = forge({"alg": "none", "typ": "JWT", "kid": keys[0].kid}, claims(clock), None)

    with pytest.raises(Unauthorized, match="algorithm not allowed"):
        await validator.validate(bearer(token))


async def test_hs256_signed_with_the_public_key_is_refused(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    # The classic confusion attack: HMAC keyed with the verifier's own public key.
    await validator.validate(bearer(sign(keys[0], claims(clock))))
    token = forge(
        {"alg": "HS256", "typ": "JWT", "kid": keys[0].kid}, claims(clock), keys[0].public_pem()
    )

    with pytest.raises(Unauthorized, match="algorithm not allowed"):
        await validator.validate(bearer(token))


async def test_unknown_kid_refreshes_the_keys_and_finds_a_rotated_key(
    validator: CallingTokenValidator,
    key_server: KeyServer,
    keys: list[SigningKey],
    clock: VirtualClock,
) -> None:
    await validator.validate(bearer(sign(keys[0], claims(clock))))
    key_server.published = [keys[0], keys[1]]
    clock.advance(FLOOR_S)

    result = await validator.validate(bearer(sign(keys[1], claims(clock))))

    assert result.tenant_id == TENANT
    assert key_server.fetches == Counter(openid=2, keys=2)


async def test_unknown_kids_refresh_at_most_once_per_floor(
    validator: CallingTokenValidator,
    key_server: KeyServer,
    keys: list[SigningKey],
    clock: VirtualClock,
) -> None:
    await validator.validate(bearer(sign(keys[0], claims(clock))))
    clock.advance(FLOOR_S)

    for attempt in range(20):
        with pytest.raises(Unauthorized, match="unknown signing key"):
            await validator.validate(bearer(sign(keys[1], claims(clock), kid=f"forged-{attempt}")))
        clock.advance(FLOOR_S / 40)

    assert key_server.fetches == Counter(openid=2, keys=2)
    clock.advance(FLOOR_S / 2)
    with pytest.raises(Unauthorized):
        await validator.validate(bearer(sign(keys[1], claims(clock))))
    assert key_server.fetches == Counter(openid=3, keys=3)


async def test_known_kid_does_not_refetch_within_the_cache_lifetime(
    validator: CallingTokenValidator,
    key_server: KeyServer,
    keys: list[SigningKey],
    clock: VirtualClock,
) -> None:
    for _ in range(5):
        await validator.validate(bearer(sign(keys[0], claims(clock))))
        clock.advance(TTL_S / 10)

    assert key_server.fetches == Counter(openid=1, keys=1)


async def test_keys_are_refetched_after_the_cache_lifetime(
    validator: CallingTokenValidator,
    key_server: KeyServer,
    keys: list[SigningKey],
    clock: VirtualClock,
) -> None:
    await validator.validate(bearer(sign(keys[0], claims(clock))))
    key_server.published = [keys[2]]
    clock.advance(TTL_S)

    await validator.validate(bearer(sign(keys[2], claims(clock))))
    with pytest.raises(Unauthorized, match="unknown signing key"):
        await validator.validate(bearer(sign(keys[0], claims(clock))))

    assert key_server.fetches == Counter(openid=2, keys=2)


async def test_concurrent_validations_share_one_fetch(
    validator: CallingTokenValidator,
    key_server: KeyServer,
    keys: list[SigningKey],
    clock: VirtualClock,
) -> None:
    token = bearer(sign(keys[0], claims(clock)))

    results = await asyncio.gather(*(validator.validate(token) for _ in range(25)))

    assert {result.tenant_id for result in results} == {TENANT}
    assert key_server.fetches == Counter(openid=1, keys=1)


async def test_unreachable_key_server_refuses_tokens_and_is_retried_soon(
    validator: CallingTokenValidator,
    key_server: KeyServer,
    keys: list[SigningKey],
    clock: VirtualClock,
) -> None:
    token = bearer(sign(keys[0], claims(clock)))
    key_server.failing = True

    with pytest.raises(Unauthorized, match="unknown signing key"):
        await validator.validate(token)
    with pytest.raises(Unauthorized):
        await validator.validate(token)
    assert key_server.fetches["openid"] == 1

    key_server.failing = False
    clock.advance(10)
    result = await validator.validate(token)

    assert result.tenant_id == TENANT
    assert key_server.fetches == Counter(openid=2, keys=1)


async def test_refused_token_is_not_in_the_error(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    token = sign(keys[0], claims(clock, aud="another-app"))

    with pytest.raises(Unauthorized) as caught:
        await validator.validate(bearer(token))

    assert token not in str(caught.value)
    assert token.split(".")[1] not in repr(caught.value)


async def test_unusable_keys_in_the_key_set_are_skipped(
    validator: CallingTokenValidator,
    key_server: KeyServer,
    keys: list[SigningKey],
    clock: VirtualClock,
) -> None:
    key_server.junk = [
        {"kty": "oct", "kid": "symmetric", "k": b64(keys[0].public_pem())},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "", "y": ""},
    ]

    result = await validator.validate(bearer(sign(keys[0], claims(clock))))
    with pytest.raises(Unauthorized):
        await validator.validate(
            bearer(forge({"alg": "HS256", "kid": "symmetric"}, claims(clock), keys[0].public_pem()))
        )

    assert result.tenant_id == TENANT


async def test_a_token_verified_once_is_still_checked_for_its_lifetime(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    now = int(clock.now().timestamp())
    token = bearer(sign(keys[0], claims(clock, exp=now + 600)))
    first = await validator.validate(token)

    assert await validator.validate(token) == first  # Graph reuses its tokens
    clock.advance(600 + 301)
    with pytest.raises(Unauthorized, match="expired"):
        await validator.validate(token)


async def test_a_token_verified_once_is_refused_once_its_key_is_withdrawn(
    validator: CallingTokenValidator,
    key_server: KeyServer,
    keys: list[SigningKey],
    clock: VirtualClock,
) -> None:
    token = bearer(sign(keys[0], claims(clock, exp=int(clock.now().timestamp()) + 4 * TTL_S)))
    await validator.validate(token)
    key_server.published = [keys[2]]
    clock.advance(TTL_S)  # the keys are fetched again: keys[0] is gone

    with pytest.raises(Unauthorized, match="unknown signing key"):
        await validator.validate(token)


async def test_a_tampered_copy_of_a_verified_token_is_refused(
    validator: CallingTokenValidator, keys: list[SigningKey], clock: VirtualClock
) -> None:
    token = sign(keys[0], claims(clock))
    await validator.validate(bearer(token))
    header, _payload, signature = token.split(".")
    other = b64(json.dumps(claims(clock, tid="00000000-0000-4000-8000-000000000000")).encode())

    with pytest.raises(Unauthorized, match="bad signature"):
        await validator.validate(bearer(f"{header}.{other}.{signature}"))
