"""``/api/messages`` through the real host: Bot Framework tokens that must all be refused.

The simulator runs in its own thread (botbuilder fetches keys with blocking I/O) and
delivers each activity with the token under test; a refused activity gets no reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp.test_utils import TestClient, unused_port
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bot import keys
from bot.app import Services, create_app
from bot.demo import demo_simulator_directory
from bot.settings import DEMO_APP_ID, DEMO_TENANT_ID, Settings
from contactcenter.clock import VirtualClock
from contactcenter.model import Tenant, TenantStatus
from simulator import MediaMode, SimulatorClient, SimulatorConfig, SimulatorThread
from simulator.installations import personal_conversation_id
from simulator.signing import SigningKey, load_or_create_signing_key
from storage.memory import MemoryStore
from tests.messaging.support import ANA, claims, forged_tokens
from tests.security.support import (
    KeyServer,
    b64url,
    changes,
    es256,
    hs256_with_public_key,
    impostor_key,
    key_server_app,
    public_jwk,
    refused,
    snapshot,
    unsigned,
)

ENDPOINT = "POST /api/messages"
TERMINATED = "77777777-7777-4777-8777-777777777777"


@dataclass
class Messaging:
    host: TestClient[aiohttp.web.Request, aiohttp.web.Application]
    simulator: SimulatorClient
    simulator_url: str
    key: SigningKey


@pytest.fixture(scope="module")
def messaging_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("security-messaging")


@pytest.fixture
async def messaging(
    aiohttp_client: AiohttpClient, tmp_path: Path, messaging_dir: Path
) -> AsyncIterator[Messaging]:
    port = unused_port()
    simulator = SimulatorThread(
        SimulatorConfig(
            data_dir=messaging_dir,
            bot_url=f"http://127.0.0.1:{port}/api/calling",
            app_id=DEMO_APP_ID,
            seed_tenants=demo_simulator_directory(),
            media_mode=MediaMode.INSTANT,
        )
    )
    simulator_url = await asyncio.to_thread(simulator.start)
    try:
        settings = Settings.from_env(
            {},
            demo=True,
            dotenv=None,
            port=port,
            data_dir=tmp_path / "host",
            graph_base_url=f"{simulator_url}/v1.0",
            calling_openid_config_url=f"{simulator_url}/.well-known/OpenIdConfiguration",
            bot_openid_config_url=f"{simulator_url}/.well-known/OpenIdConfiguration",
            demo_call_rate=0.0,
        )
        clock = VirtualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
        app = create_app(settings, Services(store=MemoryStore(), clock=clock, run_timers=False))
        host = await aiohttp_client(app, server_kwargs={"port": port})
        key = load_or_create_signing_key(messaging_dir / "simulator" / "signing-key.pem")
        async with aiohttp.ClientSession() as session:
            yield Messaging(host, SimulatorClient(session, simulator_url), simulator_url, key)
            await host.close()
    finally:
        await asyncio.to_thread(simulator.stop)


def _sign(key: SigningKey, body: dict[str, Any], **headers: Any) -> str:
    return jwt.encode(body, key.private_key, algorithm="RS256", headers={"kid": key.kid, **headers})


def more_forgeries(m: Messaging) -> dict[str, Callable[[], str]]:
    """Forgeries beyond tests/messaging's own list."""
    key, url = m.key, m.simulator_url
    now = datetime.now(UTC)
    good = claims(url)
    return {
        "not-yet-valid": lambda: _sign(
            key,
            claims(
                url,
                nbf=int((now + timedelta(hours=1)).timestamp()),
                exp=int((now + timedelta(hours=2)).timestamp()),
            ),
        ),
        "no-exp": lambda: _sign(key, {k: v for k, v in good.items() if k != "exp"}),
        "no-audience": lambda: _sign(key, {k: v for k, v in good.items() if k != "aud"}),
        "no-kid": lambda: jwt.encode(good, key.private_key, algorithm="RS256"),
        "truncated-signature": lambda: _sign(key, good)[:-12],
        "malformed-segments": lambda: "e30.e30.e30.e30",
        "alg-none-with-kid": lambda: unsigned({"alg": "none", "kid": key.kid}, good),
        "hs256-with-public-key": lambda: hs256_with_public_key(key, good),
        "rs512": lambda: jwt.encode(
            good, key.private_key, algorithm="RS512", headers={"kid": key.kid}
        ),
        "es256": lambda: es256(good, key.kid),
    }


async def _deliver(m: Messaging, token: str | None, *, tenant_id: str = DEMO_TENANT_ID) -> Any:
    return await m.simulator.send_activity(
        personal_conversation_id(ANA),
        {"type": "message", "text": "status"},
        tenant_id=tenant_id,
        user_id=ANA,
        token=token,
    )


FORGERIES = [
    "garbage",
    "alg-none",
    "hs256",
    "unknown-kid",
    "forged-signature",
    "wrong-audience",
    "wrong-issuer",
    "wrong-service-url",
    "expired",
]
MORE = [
    "not-yet-valid",
    "no-exp",
    "no-audience",
    "no-kid",
    "truncated-signature",
    "malformed-segments",
    "alg-none-with-kid",
    "hs256-with-public-key",
    "rs512",
    "es256",
]


async def test_every_forged_bot_framework_token_gets_401_and_no_reply(
    messaging: Messaging,
) -> None:
    store = messaging.host.app[keys.STORE]
    before = await snapshot(store)
    tokens = {**forged_tokens(messaging.key, messaging.simulator_url)}
    tokens.update({name: make() for name, make in more_forgeries(messaging).items()})
    assert sorted(tokens) == sorted(FORGERIES + MORE)
    for name, token in tokens.items():
        delivered = await _deliver(messaging, token)
        assert delivered["status"] == 401, name
        assert delivered["body"]["error"]["code"] == "invalidToken", name
        assert delivered["replies"] == [], name
        refused(ENDPOINT)
    assert changes(before, await snapshot(store)) == []


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer ", "Basic " + b64url(b"bot:password"), "bearer", "Token abc"],
)
async def test_a_missing_or_malformed_authorization_header_gets_401(
    messaging: Messaging, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    activity = {"type": "message", "text": "help", "channelId": "msteams"}
    async with messaging.host.post("/api/messages", json=activity, headers=headers) as response:
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "invalidToken"
    refused(ENDPOINT)


async def test_keys_named_by_the_token_are_never_fetched(
    messaging: Messaging, aiohttp_server: AiohttpServer
) -> None:
    attacker = impostor_key()
    state: dict[str, KeyServer] = {}
    server = await aiohttp_server(key_server_app(state))
    state["ks"] = KeyServer(server, [public_jwk(attacker, "attacker")])
    good = claims(messaging.simulator_url)
    for header, value in (
        ("jku", state["ks"].jwks_url),
        ("x5u", state["ks"].jwks_url),
        ("jwk", public_jwk(attacker, "attacker")),
    ):
        token = jwt.encode(
            good, attacker, algorithm="RS256", headers={"kid": "attacker", header: value}
        )
        delivered = await _deliver(messaging, token)
        assert delivered["status"] == 401, header
        assert delivered["replies"] == []
        refused(ENDPOINT)
    assert sum(state["ks"].hits.values()) == 0


async def test_a_valid_activity_of_an_unknown_tenant_gets_403(messaging: Messaging) -> None:
    delivered = await _deliver(messaging, None, tenant_id="99999999-9999-4999-8999-999999999999")

    assert delivered["status"] == 403
    assert delivered["body"]["error"]["code"] == "unknownTenant"
    assert delivered["replies"] == []
    refused(ENDPOINT)


async def test_a_valid_activity_of_a_terminated_tenant_gets_403(messaging: Messaging) -> None:
    repository = messaging.host.app[keys.REPOSITORY]
    await repository.tenants.create(
        Tenant(TERMINATED, "Gone", status=TenantStatus.TERMINATED, terminated_at=datetime.now(UTC))
    )
    delivered = await _deliver(messaging, None, tenant_id=TERMINATED)

    assert delivered["status"] == 403
    assert delivered["replies"] == []
    refused(ENDPOINT)


async def test_a_validly_signed_activity_of_another_channel_is_refused(
    messaging: Messaging,
) -> None:
    """The simulator's key is endorsed for Teams only, and only Teams activities are served."""
    token = _sign(messaging.key, claims(messaging.simulator_url))
    activity = {
        "type": "message",
        "text": "status",
        "channelId": "webchat",
        "serviceUrl": messaging.simulator_url,
        "id": "1",
        "from": {"id": f"29:{ANA}"},
        "recipient": {"id": f"28:{DEMO_APP_ID}"},
        "conversation": {"id": personal_conversation_id(ANA), "tenantId": DEMO_TENANT_ID},
        "channelData": {"tenant": {"id": DEMO_TENANT_ID}},
    }
    async with messaging.host.post(
        "/api/messages", json=activity, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status in {401, 403}
    refused(ENDPOINT)


async def test_the_simulator_signed_activity_is_the_control(messaging: Messaging) -> None:
    delivered = await _deliver(messaging, None)

    assert delivered["status"] in {200, 201}
    assert delivered["replies"]
