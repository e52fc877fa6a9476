"""The host: health, the error shape, and Graph's calling webhook end to end."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.settings import DEMO_APP_ID
from tests.http.conftest import Stack


async def test_healthz_answers_ok_once_ready(stack: Stack) -> None:
    response = await stack.host.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "store": "sqlite"}


async def test_unknown_route_gets_the_error_shape(stack: Stack) -> None:
    response = await stack.host.get("/nowhere")
    assert response.status == 404
    body = await response.json()
    assert body["error"]["code"] == "notFound"
    assert body["error"]["message"]


async def test_demo_tenant_is_seeded(stack: Stack) -> None:
    queues = await stack.repository.queues.find(stack.tenant_id)
    agents = await stack.repository.agents.find(stack.tenant_id)
    users = await stack.repository.users.find(stack.tenant_id)
    assert sorted(q.value.name for q in queues) == ["Sales", "Support"]
    assert len(agents) == 6
    roles = sorted(role.value for u in users for role in u.value.roles)
    assert roles.count("admin") == 1
    assert roles.count("supervisor") == 1


async def test_a_placed_call_is_validated_and_answered_through_graph(stack: Stack) -> None:
    placed = await stack.simulator.place_call(
        stack.tenant_id, application_instance_id=stack.sales_line, caller_phone="+14255550199"
    )
    assert placed.webhook_status == 202
    call = await stack.simulator.wait_for_call(placed.id, state="established")
    answers = [r for r in call["requests"] if r["path"].endswith("/answer")]
    assert len(answers) == 1
    body = answers[0]["body"]
    assert body["callbackUri"] == f"{stack.settings.public_base_url}/api/calling"
    assert body["mediaConfig"]["@odata.type"] == "#microsoft.graph.serviceHostedMediaConfig"
    stored = await stack.repository.calls.get(stack.tenant_id, placed.id)
    assert stored.value.caller.id == "+14255550199"


def _incoming_body(tenant_id: str, target: str) -> bytes:
    return json.dumps(
        {
            "@odata.type": "#microsoft.graph.commsNotifications",
            "value": [
                {
                    "@odata.type": "#microsoft.graph.commsNotification",
                    "changeType": "created",
                    "resourceUrl": f"/communications/calls/{uuid.uuid4()}",
                    "resourceData": {
                        "@odata.type": "#microsoft.graph.call",
                        "state": "incoming",
                        "direction": "incoming",
                        "tenantId": tenant_id,
                        "source": {"identity": {"phone": {"id": "+14255550100"}}},
                        "targets": [{"identity": {"applicationInstance": {"id": target}}}],
                    },
                }
            ],
        }
    ).encode()


async def _forged_token(stack: Stack) -> str:
    """Sign a well-formed token with a key that is not the simulator's, under its kid."""
    async with stack.host.session.get(f"{stack.simulator_url}/.well-known/keys") as response:
        kid = (await response.json())["keys"][0]["kid"]
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    return jwt.encode(
        {
            "iss": "https://graph.microsoft.com",
            "aud": DEMO_APP_ID,
            "tid": "0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5",
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(minutes=30),
        },
        impostor,
        algorithm="RS256",
        headers={"kid": kid},
    )


async def test_a_notification_with_a_bad_signature_gets_401_and_changes_nothing(
    stack: Stack,
) -> None:
    token = await _forged_token(stack)
    body = _incoming_body(stack.tenant_id, stack.sales_line)
    response = await stack.host.post(
        "/api/calling",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "invalidToken"
    assert await stack.repository.calls.find(stack.tenant_id) == []
    async with stack.host.session.get(f"{stack.simulator_url}/sim/calls") as listing:
        assert (await listing.json())["calls"] == []


async def test_a_notification_without_a_token_gets_401(stack: Stack) -> None:
    response = await stack.host.post(
        "/api/calling",
        data=_incoming_body(stack.tenant_id, stack.sales_line),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 401
    assert await stack.repository.calls.find(stack.tenant_id) == []
