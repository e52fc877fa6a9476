"""Commands typed to the bot are answered with cards, and change what they say."""

from __future__ import annotations

from typing import Any

from bot.demo import demo_id
from bot.settings import DEMO_APP_ID
from contactcenter.model import AgentStatus
from tests.messaging.support import (
    ANA,
    HIRO,
    SALES,
    TEAM_ID,
    TENANT,
    Stack,
    card_of,
    card_text,
)


def _reply_text(delivered: dict[str, Any]) -> str:
    [reply] = delivered["replies"]
    return card_text(card_of(reply["activity"]))


async def test_status_shows_the_agents_queues(stack: Stack) -> None:
    text = _reply_text(await stack.say(ANA, "status"))

    assert "Ana Ruiz" in text
    assert "Available" in text
    assert "Sales" in text
    assert "Signed in" in text


async def test_away_with_a_reason_sets_the_agent_away(stack: Stack) -> None:
    text = _reply_text(await stack.say(ANA, "away lunch"))

    agent = (await stack.repository.agents.get(TENANT, ANA)).value
    assert agent.status is AgentStatus.AWAY
    assert agent.not_ready_reason == "Lunch"  # the organization's spelling
    assert "Away (Lunch)" in text


async def test_away_with_a_reason_not_on_the_list_changes_nothing(stack: Stack) -> None:
    text = _reply_text(await stack.say(ANA, "away gone fishing"))

    agent = (await stack.repository.agents.get(TENANT, ANA)).value
    assert agent.status is AgentStatus.AVAILABLE
    assert "Choose one of: Break, Lunch" in text


async def test_available_makes_an_away_agent_available(stack: Stack) -> None:
    await stack.say(ANA, "away")
    text = _reply_text(await stack.say(ANA, "Available"))

    agent = (await stack.repository.agents.get(TENANT, ANA)).value
    assert agent.status is AgentStatus.AVAILABLE
    assert "You are available." in text


async def test_sign_out_and_in_of_a_queue_by_name(stack: Stack) -> None:
    out_text = _reply_text(await stack.say(ANA, "sign out sales"))
    signed_out = (await stack.repository.agents.get(TENANT, ANA)).value
    in_text = _reply_text(await stack.say(ANA, "sign in Sales"))
    signed_in = (await stack.repository.agents.get(TENANT, ANA)).value

    assert SALES not in signed_out.signed_in_queue_ids
    assert "signed out of Sales" in out_text
    assert SALES in signed_in.signed_in_queue_ids
    assert "signed in to Sales" in in_text


async def test_signing_in_to_a_queue_one_is_not_a_member_of_is_refused(stack: Stack) -> None:
    text = _reply_text(await stack.say(ANA, "sign in Support"))

    agent = (await stack.repository.agents.get(TENANT, ANA)).value
    assert demo_id("queue:Support") not in agent.signed_in_queue_ids
    assert "No such queue" in text


async def test_my_stats_today_counts_the_agents_calls(stack: Stack) -> None:
    text = _reply_text(await stack.say(ANA, "my stats today"))

    assert "Calls answered" in text
    assert "Ana Ruiz" in text


async def test_an_unknown_command_gets_the_help_card(stack: Stack) -> None:
    text = _reply_text(await stack.say(ANA, "make coffee"))

    assert "make coffee" in text
    assert "sign in <queue>" in text


async def test_agent_commands_from_someone_who_is_not_an_agent_are_refused(stack: Stack) -> None:
    text = _reply_text(await stack.say(HIRO, "available"))

    assert "not an agent" in text


async def test_a_supervisor_posts_a_live_queue_card_in_a_channel(stack: Stack) -> None:
    thread = f"{TEAM_ID};messageid=1700000000000"
    delivered = await stack.simulator.send_activity(
        thread,
        {
            "type": "message",
            "text": "<at>Contact Center</at> queue card Sales",
            "conversation": {"conversationType": "channel", "isGroup": True},
            "entities": [{"type": "mention", "mentioned": {"id": f"28:{DEMO_APP_ID}"}}],
            "channelData": {
                "team": {"id": TEAM_ID, "name": "Contact center"},
                "channel": {"id": TEAM_ID, "name": "General"},
            },
        },
        tenant_id=TENANT,
        user_id=HIRO,
    )

    [reply] = delivered["replies"]
    assert "Sales queue" in card_text(card_of(reply["activity"]))
    [card] = await stack.documents.queue_cards.find(TENANT)
    assert card.value.queue_id == SALES
    assert card.value.activity_id == reply["activityId"]
    assert card.value.conversation.conversation_id == thread


async def test_an_agent_may_not_post_a_live_queue_card(stack: Stack) -> None:
    text = _reply_text(await stack.say(ANA, "queue card Sales"))

    assert "Supervisors only" in text
    assert await stack.documents.queue_cards.find(TENANT) == []
