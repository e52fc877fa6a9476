"""``/api/messages`` trusts only what botbuilder validates, and answers every failure with 401."""

from __future__ import annotations

import pytest

from simulator.installations import personal_conversation_id
from tests.messaging.support import ANA, TENANT, Stack, card_of, card_text, forged_tokens


async def test_a_message_signed_by_the_simulator_gets_a_card_reply(stack: Stack) -> None:
    delivered = await stack.say(ANA, "help")

    assert delivered["status"] == 201
    [reply] = delivered["replies"]
    assert reply["kind"] == "sent"
    assert reply["authorized"] is True
    card = card_of(reply["activity"])
    assert card["type"] == "AdaptiveCard"
    assert "sign in <queue>" in card_text(card)


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


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_a_forged_token_gets_401_and_no_reply(stack: Stack, forgery: str) -> None:
    token = forged_tokens(stack.signing_key(), stack.simulator_url)[forgery]

    delivered = await stack.simulator.send_activity(
        personal_conversation_id(ANA),
        {"type": "message", "text": "status"},
        tenant_id=TENANT,
        user_id=ANA,
        token=token,
    )

    assert delivered["status"] == 401
    assert delivered["body"]["error"]["code"] == "invalidToken"
    assert delivered["replies"] == []


async def test_a_request_without_a_token_gets_401(stack: Stack) -> None:
    response = await stack.host.post(
        "/api/messages", json={"type": "message", "text": "help", "channelId": "msteams"}
    )

    assert response.status == 401
    assert (await response.json())["error"]["code"] == "invalidToken"


async def test_an_activity_from_an_unknown_tenant_gets_403(stack: Stack) -> None:
    delivered = await stack.simulator.send_activity(
        "a:stranger",
        {"type": "message", "text": "help"},
        tenant_id="99999999-9999-4999-8999-999999999999",
        user_id=ANA,
    )

    assert delivered["status"] == 403
    assert delivered["body"]["error"]["code"] == "unknownTenant"
    assert delivered["replies"] == []


async def test_a_body_that_is_not_an_activity_gets_400(stack: Stack) -> None:
    response = await stack.host.post(
        "/api/messages",
        json=["not", "an", "activity"],
        headers={"Authorization": "Bearer x"},
    )

    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalidActivity"
