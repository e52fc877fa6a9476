"""Installing the app: the bot keeps the conversations it may write to."""

from __future__ import annotations

import pytest

from bot.messaging.documents import ConversationKind
from bot.settings import DEMO_APP_ID
from contactcenter.errors import NotFound
from graph.calling import GraphHttpClient, StaticTokenProvider, build_graph_client
from graph.teams_apps import InstallOutcome, TeamsAppInstaller
from simulator.installations import personal_conversation_id
from tests.messaging.support import ANA, BEN, HIRO, TEAM_ID, TENANT, Stack, card_of, card_text

TEAMS_APP_ID = "0c0ffee0-1111-4222-8333-444455556666"


async def test_a_personal_install_stores_the_agents_conversation(stack: Stack) -> None:
    delivered = await stack.install(ANA)

    assert delivered["status"] == 201
    stored = (await stack.documents.conversation_refs.get(TENANT, ANA)).value
    assert stored.conversation_id == personal_conversation_id(ANA)
    assert stored.service_url == stack.simulator_url
    assert stored.bot_id == f"28:{DEMO_APP_ID}"
    assert stored.kind is ConversationKind.PERSONAL
    assert stored.user_mri == f"29:{ANA}"
    [welcome] = delivered["replies"]
    assert "sign in <queue>" in card_text(card_of(welcome["activity"]))


async def test_installing_through_graph_reaches_the_bot(stack: Stack) -> None:
    async with GraphHttpClient() as http:
        client = build_graph_client(
            base_url=f"{stack.simulator_url}/v1.0",
            credential=StaticTokenProvider("demo"),
            httpx_client=http,
        )
        installer = TeamsAppInstaller(client)
        first = await installer.install_for_user(BEN, TEAMS_APP_ID)
        again = await installer.install_for_user(BEN, TEAMS_APP_ID)

    assert first is InstallOutcome.INSTALLED
    assert again is InstallOutcome.ALREADY_INSTALLED
    stored = (await stack.documents.conversation_refs.get(TENANT, BEN)).value
    assert stored.conversation_id == personal_conversation_id(BEN)
    conversation = await stack.simulator.conversation(personal_conversation_id(BEN))
    assert [item["status"] for item in conversation["incoming"]] == [201]


async def test_a_throttled_install_is_retried(stack: Stack) -> None:
    await stack.simulator.add_fault(r"/teamwork/installedApps$", status=429, retry_after=3)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with GraphHttpClient() as http:
        client = build_graph_client(
            base_url=f"{stack.simulator_url}/v1.0",
            credential=StaticTokenProvider("demo"),
            httpx_client=http,
        )
        outcome = await TeamsAppInstaller(client, sleep=sleep).install_for_user(ANA, TEAMS_APP_ID)

    assert outcome is InstallOutcome.INSTALLED
    assert slept == [3.0]
    assert (await stack.documents.conversation_refs.get(TENANT, ANA)).value.user_mri == f"29:{ANA}"


async def test_installing_for_an_unknown_user_is_not_found(stack: Stack) -> None:
    async with GraphHttpClient() as http:
        client = build_graph_client(
            base_url=f"{stack.simulator_url}/v1.0",
            credential=StaticTokenProvider("demo"),
            httpx_client=http,
        )
        with pytest.raises(NotFound):
            await TeamsAppInstaller(client).install_for_user("no-such-user", TEAMS_APP_ID)


async def test_a_team_install_registers_the_team_and_its_channels(stack: Stack) -> None:
    delivered = await stack.simulator.send_activity(
        TEAM_ID,
        {
            "type": "conversationUpdate",
            "membersAdded": [{"id": f"28:{DEMO_APP_ID}"}],
            "conversation": {"conversationType": "channel", "isGroup": True},
            "channelData": {
                "eventType": "teamMemberAdded",
                "team": {"id": TEAM_ID, "name": "Contact center"},
                "channel": {"id": TEAM_ID, "name": "General"},
            },
        },
        tenant_id=TENANT,
        user_id=HIRO,
    )

    assert delivered["status"] == 201
    team = (await stack.documents.teams.get(TENANT, TEAM_ID)).value
    assert team.name == "Contact center"
    assert [channel.id for channel in team.channels] == [TEAM_ID]
    assert team.service_url == stack.simulator_url
