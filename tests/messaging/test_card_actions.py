"""The cards' buttons (``adaptiveCard/action`` invokes) are answered with cards."""

from __future__ import annotations

from typing import Any

from contactcenter.model import AgentStatus
from tests.messaging.support import ANA, HIRO, SALES, TENANT, Stack, card_text


def _response(delivered: dict[str, Any]) -> tuple[int, str]:
    """Return the invoke response's status code and the text of its card."""
    assert delivered["status"] == 200
    body = delivered["body"]
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert body["value"]["type"] == "AdaptiveCard"
    return int(body["statusCode"]), card_text(body["value"])


async def test_an_unknown_verb_gets_an_error_card_with_400(stack: Stack) -> None:
    status, text = _response(await stack.press(ANA, "dance", {}))

    assert status == 400
    assert "Unknown action" in text
    assert "dance" in text


async def test_accept_by_someone_who_is_not_an_agent_gets_403(stack: Stack) -> None:
    status, text = _response(await stack.press(HIRO, "accept", {"callId": "some-call"}))

    assert status == 403
    assert "not an agent" in text


async def test_accepting_an_offer_that_is_gone_says_so_and_changes_nothing(stack: Stack) -> None:
    before = await stack.repository.agents.get(TENANT, ANA)

    status, text = _response(await stack.press(ANA, "accept", {"callId": "long-gone"}))

    after = await stack.repository.agents.get(TENANT, ANA)
    assert status == 200
    assert "no longer available" in text
    assert after.etag == before.etag


async def test_declining_an_offer_that_is_gone_says_so(stack: Stack) -> None:
    status, text = _response(await stack.press(ANA, "decline", {"callId": "long-gone"}))

    assert status == 200
    assert "no longer available" in text


async def test_accept_without_a_call_id_gets_400(stack: Stack) -> None:
    status, text = _response(await stack.press(ANA, "accept", {}))

    assert status == 400
    assert "which call" in text


async def test_set_away_from_the_status_card_uses_the_typed_reason(stack: Stack) -> None:
    status, text = _response(await stack.press(ANA, "away", {"reason": "Training"}))

    agent = (await stack.repository.agents.get(TENANT, ANA)).value
    assert status == 200
    assert agent.status is AgentStatus.AWAY
    assert agent.not_ready_reason == "Training"
    assert "Away (Training)" in text


async def test_a_reason_with_a_bidirectional_override_is_refused(stack: Stack) -> None:
    before = await stack.repository.agents.get(TENANT, ANA)
    status, text = _response(await stack.press(ANA, "away", {"reason": "Lunch\u202egnitset"}))

    after = await stack.repository.agents.get(TENANT, ANA)
    assert status == 400
    assert "plain text" in text
    assert after.etag == before.etag


async def test_refreshing_a_queue_card_shows_the_queue_now(stack: Stack) -> None:
    status, text = _response(
        await stack.press(HIRO, "refresh", {"kind": "queue", "queueId": SALES})
    )

    assert status == 200
    assert "Sales queue" in text
    assert "Waiting" in text


async def test_handling_a_voicemail_that_is_gone_says_so(stack: Stack) -> None:
    status, text = _response(await stack.press(ANA, "voicemail", {"voicemailId": "v1"}))

    assert status == 200
    assert "This voicemail is gone" in text


async def test_handling_a_voicemail_without_its_id_gets_400(stack: Stack) -> None:
    status, text = _response(await stack.press(ANA, "voicemail", {}))

    assert status == 400
    assert "which voicemail" in text
