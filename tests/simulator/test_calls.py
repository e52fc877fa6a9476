"""Calls on the simulator: placing, answering, rejecting and ending them like Graph."""

from __future__ import annotations

from typing import Any

import pytest

from simulator import SimulatorRequestError
from tests.simulator.support import (
    AGENT_ID,
    CALLER_NUMBER,
    SALES_ID,
    SALES_NUMBER,
    TENANT_ID,
    BotReceiver,
    Simulator,
    answer_body,
)


async def _incoming_call(simulator: Simulator) -> str:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )
    return placed.id


def _assert_graph_error(body: Any, code: str) -> None:
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]


async def test_placing_a_call_posts_an_incoming_notification_to_the_webhook(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )

    [incoming] = await receiver.wait_for(1)
    assert placed.webhook_status == 202
    assert incoming.path == "/api/calling"
    assert incoming.authorization is not None
    assert incoming.authorization.startswith("Bearer ")
    assert incoming.body["@odata.type"] == "#microsoft.graph.commsNotifications"
    note = incoming.notification
    assert note["@odata.type"] == "#microsoft.graph.commsNotification"
    assert note["changeType"] == "created"
    assert note["resourceUrl"] == f"/communications/calls/{placed.id}"
    call = note["resourceData"]
    assert call["@odata.type"] == "#microsoft.graph.call"
    assert call["state"] == "incoming"
    assert call["direction"] == "incoming"
    assert call["tenantId"] == TENANT_ID
    assert call["callChainId"] == placed.call["callChainId"]
    assert call["source"]["identity"] == {
        "@odata.type": "#microsoft.graph.identitySet",
        "phone": {"@odata.type": "#microsoft.graph.identity", "id": CALLER_NUMBER},
    }
    assert call["targets"][0]["identity"] == {
        "@odata.type": "#microsoft.graph.identitySet",
        "applicationInstance": {
            "@odata.type": "#microsoft.graph.identity",
            "id": SALES_ID,
            "displayName": "Sales",
        },
    }
    # The bot's participant, named before it answers; the call it will be in.
    assert call["myParticipantId"] == call["targets"][0]["id"]
    assert call["id"] == placed.id
    assert call["requestedModalities"] == ["audio"]
    assert "meetingInfo" not in call


async def test_a_teams_caller_appears_as_the_source_user(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    await simulator.control.place_call(
        TENANT_ID, dialed_number=SALES_NUMBER, caller_user_id=AGENT_ID
    )

    [incoming] = await receiver.wait_for(1)
    call = incoming.notification["resourceData"]
    assert call["source"]["identity"] == {
        "@odata.type": "#microsoft.graph.identitySet",
        "user": {
            "@odata.type": "#microsoft.graph.identity",
            "id": AGENT_ID,
            "displayName": "Avery Agent",
            "tenantId": TENANT_ID,
        },
    }
    assert call["targets"][0]["identity"]["applicationInstance"]["id"] == SALES_ID


async def test_calling_an_unknown_resource_account_is_refused(simulator: Simulator) -> None:
    with pytest.raises(SimulatorRequestError) as refused:
        await simulator.control.place_call(
            TENANT_ID, application_instance_id="nobody", caller_phone=CALLER_NUMBER
        )

    assert refused.value.status == 404
    _assert_graph_error(refused.value.body, "itemNotFound")


async def test_answer_delivers_establishing_then_established_to_the_callback(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await _incoming_call(simulator)

    status, _, _ = await simulator.graph(
        "POST", f"/communications/calls/{call_id}/answer", answer_body(receiver.callback_url)
    )

    assert status == 202
    received = await receiver.wait_for(3)
    assert [note.state for note in received] == ["incoming", "establishing", "established"]
    assert [note.notification["changeType"] for note in received[1:]] == ["updated", "updated"]
    assert {note.path for note in received[1:]} == {"/api/calling/callback"}
    view = await simulator.control.wait_for_call(call_id, state="established", notifications=3)
    assert [(r["method"], r["path"], r["status"]) for r in view["requests"]] == [
        ("POST", f"/v1.0/communications/calls/{call_id}/answer", 202)
    ]
    assert view["requests"][0]["body"]["callbackUri"] == receiver.callback_url
    assert view["prefetched"] == answer_body("")["mediaConfig"]["preFetchMedia"]


async def test_answering_an_unknown_call_is_404_in_graphs_error_shape(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    status, body, _ = await simulator.graph(
        "POST", "/communications/calls/no-such-call/answer", answer_body(receiver.callback_url)
    )

    assert status == 404
    _assert_graph_error(body, "itemNotFound")


async def test_answering_twice_is_refused(simulator: Simulator, receiver: BotReceiver) -> None:
    call_id = await _incoming_call(simulator)
    path = f"/communications/calls/{call_id}/answer"
    await simulator.graph("POST", path, answer_body(receiver.callback_url))

    status, body, _ = await simulator.graph("POST", path, answer_body(receiver.callback_url))

    assert status == 400
    _assert_graph_error(body, "invalidRequest")


@pytest.mark.parametrize(
    "change",
    [
        {"callbackUri": None},
        {"callbackUri": "http://bot.example/api/calling"},
        {"acceptedModalities": ["video"]},
        {"mediaConfig": {"@odata.type": "#microsoft.graph.appHostedMediaConfig", "blob": "x"}},
        {
            "mediaConfig": {
                "@odata.type": "#microsoft.graph.serviceHostedMediaConfig",
                "preFetchMedia": [{"uri": "https://bot.example/a.wav"}],
            }
        },
    ],
    ids=["no-callback", "plain-http-callback", "no-audio", "app-hosted", "prefetch-without-id"],
)
async def test_answer_validates_its_body_like_graph(
    simulator: Simulator, receiver: BotReceiver, change: dict[str, Any]
) -> None:
    call_id = await _incoming_call(simulator)
    body = {**answer_body(receiver.callback_url), **change}

    status, error, _ = await simulator.graph(
        "POST", f"/communications/calls/{call_id}/answer", body
    )

    assert status == 400
    _assert_graph_error(error, "invalidRequest")
    assert (await simulator.control.call(call_id))["state"] == "incoming"


async def test_fake_graph_requires_a_bearer_token(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await _incoming_call(simulator)

    status, body, _ = await simulator.graph(
        "POST",
        f"/communications/calls/{call_id}/answer",
        answer_body(receiver.callback_url),
        token=None,
    )

    assert status == 401
    _assert_graph_error(body, "InvalidAuthenticationToken")


async def test_an_unknown_action_is_refused(simulator: Simulator) -> None:
    call_id = await _incoming_call(simulator)

    status, body, _ = await simulator.graph("POST", f"/communications/calls/{call_id}/dance", {})

    assert status == 400
    _assert_graph_error(body, "BadRequest")


async def test_reject_ends_the_call_with_a_deleted_notification(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await _incoming_call(simulator)

    status, _, _ = await simulator.graph(
        "POST", f"/communications/calls/{call_id}/reject", {"reason": "busy"}
    )

    assert status == 202
    received = await receiver.wait_for(2)
    assert received[1].notification["changeType"] == "deleted"
    assert received[1].state == "terminated"
    assert (await simulator.control.call(call_id))["state"] == "terminated"


async def test_delete_hangs_up_with_terminating_then_terminated(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await _incoming_call(simulator)
    await simulator.graph(
        "POST", f"/communications/calls/{call_id}/answer", answer_body(receiver.callback_url)
    )

    status, _, _ = await simulator.graph("DELETE", f"/communications/calls/{call_id}")

    assert status == 204
    received = await receiver.wait_for(5)
    assert [note.state for note in received] == [
        "incoming",
        "establishing",
        "established",
        "terminating",
        "terminated",
    ]
    ended = received[-1].notification
    assert ended["changeType"] == "deleted"
    result_info = ended["resourceData"]["resultInfo"]
    # As the delete-call page writes it: the numbers as text.
    assert result_info["code"] == "200"
    assert result_info["subcode"]
    assert result_info["message"]
    status, _body, _ = await simulator.graph("GET", f"/communications/calls/{call_id}")
    assert status == 404


async def test_caller_hanging_up_tells_the_bot_and_ends_the_call(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await _incoming_call(simulator)
    await simulator.graph(
        "POST", f"/communications/calls/{call_id}/answer", answer_body(receiver.callback_url)
    )

    await simulator.control.hang_up(call_id)

    received = await receiver.wait_for(4)
    assert received[-1].notification["changeType"] == "deleted"
    assert received[-1].state == "terminated"
    assert received[-1].notification["resourceData"]["resultInfo"]["subcode"] == "540000"
    status, _body, _ = await simulator.graph(
        "POST", f"/communications/calls/{call_id}/answer", answer_body(receiver.callback_url)
    )
    assert status == 404
    view = await simulator.control.call(call_id)
    assert [r["status"] for r in view["requests"]] == [202, 404]


async def test_notifications_never_leave_loopback(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await _incoming_call(simulator)

    await simulator.graph(
        "POST",
        f"/communications/calls/{call_id}/answer",
        answer_body("https://bot.contoso.example/api/calling"),
    )

    view = await simulator.control.wait_for_call(call_id, notifications=3)
    assert [note["status"] for note in view["notifications"]] == [202, None, None]
    assert all("not loopback" in note["error"] for note in view["notifications"][1:])
