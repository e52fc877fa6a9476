"""The simulator signs like Graph: a kept key, published keys, reused RS256 tokens."""

from __future__ import annotations

import asyncio
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest

from contactcenter.clock import VirtualClock
from simulator import (
    SigningKey,
    SimulatorConfig,
    SimulatorThread,
    TokenMinter,
    load_or_create_signing_key,
)
from tests.simulator.support import (
    APP_ID,
    CALLER_NUMBER,
    SALES_ID,
    TENANT_ID,
    BotReceiver,
    Simulator,
    answer_body,
)


async def _get_json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        assert response.status == 200
        return await response.json()


async def _published_jwks(data_dir: Path) -> dict[str, Any]:
    config = SimulatorConfig(data_dir=data_dir, app_id=APP_ID)
    simulator = SimulatorThread(config)
    base_url = await asyncio.to_thread(simulator.start)
    try:
        async with aiohttp.ClientSession() as session:
            openid = await _get_json(session, f"{base_url}/.well-known/OpenIdConfiguration")
            jwks: dict[str, Any] = await _get_json(session, openid["jwks_uri"])
            return jwks
    finally:
        await asyncio.to_thread(simulator.stop)


async def test_signing_key_is_kept_and_reused_across_restarts(tmp_path: Path) -> None:
    first = await _published_jwks(tmp_path)
    second = await _published_jwks(tmp_path)

    key_file = tmp_path / "simulator" / "signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first == second
    assert first["keys"][0]["kid"] == second["keys"][0]["kid"]


def test_loading_a_key_tightens_loose_permissions(tmp_path: Path) -> None:
    path = tmp_path / "simulator" / "signing-key.pem"
    created = load_or_create_signing_key(path)
    path.chmod(0o644)

    loaded = load_or_create_signing_key(path)

    assert loaded.kid == created.kid
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_openid_configuration_looks_like_graphs(simulator: Simulator) -> None:
    openid = await _get_json(simulator.session, simulator.url("/.well-known/OpenIdConfiguration"))

    assert openid["issuer"] == "https://graph.microsoft.com"
    assert openid["jwks_uri"] == simulator.url("/.well-known/keys")
    assert openid["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "authorization_endpoint" in openid


async def test_jwks_publishes_one_rsa_signing_key_endorsed_for_teams(simulator: Simulator) -> None:
    jwks = await _get_json(simulator.session, simulator.url("/.well-known/keys"))

    [key] = jwks["keys"]
    assert key["kty"] == "RSA"
    assert key["use"] == "sig"
    assert key["alg"] == "RS256"
    assert key["endorsements"] == ["msteams"]
    assert key["kid"]
    assert key["n"]
    assert key["e"] == "AQAB"
    assert "d" not in key
    assert "p" not in key


async def test_notification_token_verifies_against_the_published_keys(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )
    [incoming] = await receiver.wait_for(1)
    jwks = await _get_json(simulator.session, simulator.url("/.well-known/keys"))

    assert incoming.authorization is not None
    scheme, _, token = incoming.authorization.partition(" ")
    assert scheme == "Bearer"
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    signing_key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims = jwt.decode(
        token,
        signing_key.key,
        algorithms=["RS256"],
        audience=APP_ID,
        issuer="https://graph.microsoft.com",
        options={"require": ["exp", "iat", "nbf", "iss", "aud", "tid"]},
    )
    assert claims["tid"] == TENANT_ID
    assert claims["exp"] - claims["iat"] == 3600


async def test_one_token_signs_many_notifications(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )
    await simulator.graph(
        "POST", f"/communications/calls/{placed.id}/answer", answer_body(receiver.callback_url)
    )
    await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )

    received = await receiver.wait_for(4)

    assert len({note.authorization for note in received}) == 1


@pytest.fixture(scope="module")
def module_key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return load_or_create_signing_key(tmp_path_factory.mktemp("key") / "signing-key.pem")


def test_token_is_reminted_a_few_minutes_before_expiry(module_key: SigningKey) -> None:
    clock = VirtualClock()
    minter = TokenMinter(
        module_key, issuer="https://graph.microsoft.com", clock=clock, refresh_margin_s=300
    )
    first = minter.token_for(APP_ID, TENANT_ID)

    clock.advance(timedelta(minutes=54).total_seconds())
    assert minter.token_for(APP_ID, TENANT_ID) == first

    clock.advance(timedelta(minutes=2).total_seconds())
    renewed = minter.token_for(APP_ID, TENANT_ID)
    assert renewed != first
    assert minter.minted == 2


def test_each_audience_and_tenant_gets_its_own_token(module_key: SigningKey) -> None:
    minter = TokenMinter(module_key, issuer="https://graph.microsoft.com", clock=VirtualClock())

    tokens = {
        minter.token_for(APP_ID, TENANT_ID),
        minter.token_for(APP_ID, "other-tenant"),
        minter.token_for("other-app", TENANT_ID),
    }

    assert len(tokens) == 3
