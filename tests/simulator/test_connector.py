"""The fake Bot Connector records what the bot sends and updates."""

from __future__ import annotations

from tests.simulator.support import Simulator


async def test_sent_and_updated_activities_are_recorded_per_conversation(
    simulator: Simulator,
) -> None:
    url = simulator.url("/v3/conversations/a:agent-chat/activities")
    card = {"type": "message", "attachments": [{"contentType": "card", "content": {"v": 1}}]}
    async with simulator.session.post(
        url, json=card, headers={"Authorization": "Bearer bot"}
    ) as sent:
        activity_id = (await sent.json())["id"]
    updated_card = {**card, "attachments": [{"contentType": "card", "content": {"v": 2}}]}
    async with simulator.session.put(f"{url}/{activity_id}", json=updated_card) as updated:
        update_body = await updated.json()

    [conversation] = await simulator.control.conversations()

    assert sent.status == 200
    assert updated.status == 200
    assert update_body == {"id": activity_id}
    assert conversation["id"] == "a:agent-chat"
    assert conversation["activities"] == [{"id": activity_id, **updated_card}]
    assert [(e["kind"], e["authorized"]) for e in conversation["events"]] == [
        ("sent", True),
        ("updated", False),
    ]


async def test_updating_an_unknown_activity_is_404(simulator: Simulator) -> None:
    url = simulator.url("/v3/conversations/a:agent-chat/activities/12345")
    async with simulator.session.put(url, json={"type": "message"}) as response:
        body = await response.json()

    assert response.status == 404
    assert body["error"]["code"] == "ActivityNotFound"
