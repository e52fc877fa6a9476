"""Calls the bot places (callbacks), and Teams presence in batches."""

from __future__ import annotations

from typing import Any

import pytest

from simulator import SimulatorRequestError
from tests.simulator.support import (
    AGENT_2_ID,
    AGENT_ID,
    SALES_ID,
    TENANT_ID,
    BotReceiver,
    Simulator,
    established_call,
    invite_body,
)

CALLBACK_NUMBER = "+14255550177"


def _call_body(callback_uri: str, **changes: Any) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.call",
        "callbackUri": callback_uri,
        "source": {"identity": {"applicationInstance": {"id": SALES_ID}}},
        "targets": [
            {
                "@odata.type": "#microsoft.graph.invitationParticipantInfo",
                "identity": {"phone": {"id": CALLBACK_NUMBER}},
            }
        ],
        "requestedModalities": ["audio"],
        "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
        "tenantId": TENANT_ID,
        **changes,
    }


async def _place(simulator: Simulator, receiver: BotReceiver) -> dict[str, Any]:
    status, call, response = await simulator.graph(
        "POST", "/communications/calls", _call_body(receiver.callback_url)
    )
    assert status == 201, call
    assert response.headers["Location"].endswith(f"/communications/calls/{call['id']}")
    assert isinstance(call, dict)
    return call


async def test_placing_a_call_answers_201_establishing_and_notifies_the_callback(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call = await _place(simulator, receiver)

    assert call["state"] == "establishing"
    assert call["direction"] == "outgoing"
    assert call["source"]["identity"]["applicationInstance"]["displayName"] == "Sales"
    [establishing] = await receiver.wait_for(1)
    assert establishing.path == "/api/calling/callback"
    assert establishing.state == "establishing"
    view = await simulator.control.call(call["id"])
    assert [(r["method"], r["status"]) for r in view["requests"]] == [("POST", 201)]


async def test_the_target_answering_establishes_the_call(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call = await _place(simulator, receiver)

    await simulator.control.answer_call(call["id"])

    received = await receiver.wait_for(2)
    assert [note.state for note in received] == ["establishing", "established"]
    status, _, _ = await simulator.graph(
        "POST",
        f"/communications/calls/{call['id']}/participants/invite",
        invite_body(AGENT_ID),
    )
    assert status == 200


async def test_a_declined_callback_ends_with_603(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call = await _place(simulator, receiver)

    await simulator.control.decline_participant(call["id"], CALLBACK_NUMBER)

    received = await receiver.wait_for(2)
    assert received[1].state == "terminated"
    # Written as the delete-call page writes a terminated call's result: as text.
    assert received[1].data["resultInfo"]["code"] == "603"


async def test_a_phone_number_set_to_answer_picks_up_by_itself(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    await simulator.control.set_phone_behaviour(CALLBACK_NUMBER, "answer")

    call = await _place(simulator, receiver)

    view = await simulator.control.wait_for_call(call["id"], state="established")
    assert view["participants"][1]["status"] == "joined"


async def test_the_called_party_hanging_up_ends_the_call(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call = await _place(simulator, receiver)
    await simulator.control.answer_call(call["id"])

    await simulator.control.hang_up(call["id"])

    view = await simulator.control.wait_for_call(call["id"], state="terminated")
    assert view["resultInfo"]["subcode"] == 540000


@pytest.mark.parametrize(
    "change",
    [
        {"callbackUri": None},
        {"tenantId": "unknown-tenant"},
        {"source": {"identity": {"applicationInstance": {"id": "not-ours"}}}},
        {"source": {"identity": {"application": {"id": "bot"}}}},
        {"targets": []},
        {"targets": [{"identity": {"phone": {"id": "555"}}}]},
        {"targets": [{"identity": {"application": {"id": "another-bot"}}}]},
        {"requestedModalities": ["video"]},
        {"mediaConfig": {"@odata.type": "#microsoft.graph.appHostedMediaConfig"}},
    ],
    ids=[
        "no-callback",
        "unknown-tenant",
        "unknown-account",
        "not-an-application-instance",
        "no-target",
        "not-e164",
        "application-target",
        "no-audio",
        "app-hosted",
    ],
)
async def test_placing_a_call_is_validated_like_graph(
    simulator: Simulator, receiver: BotReceiver, change: dict[str, Any]
) -> None:
    status, error, _ = await simulator.graph(
        "POST", "/communications/calls", _call_body(receiver.callback_url, **change)
    )

    assert status == 400
    assert error["error"]["code"] == "invalidRequest"
    assert await simulator.control.calls() == []


# ----------------------------------------------------------------------- presence
async def _presences(simulator: Simulator, *ids: str) -> list[dict[str, Any]]:
    status, body, _ = await simulator.graph(
        "POST", "/communications/getPresencesByUserId", {"ids": list(ids)}
    )
    assert status == 200, body
    value: list[dict[str, Any]] = body["value"]
    return value


async def test_presence_defaults_to_available_and_follows_the_control_api(
    simulator: Simulator,
) -> None:
    await simulator.control.set_presence(TENANT_ID, AGENT_2_ID, "DoNotDisturb", "Presenting")

    presences = await _presences(simulator, AGENT_ID, AGENT_2_ID, "someone-else")

    assert [(p["id"], p["availability"], p["activity"]) for p in presences] == [
        (AGENT_ID, "Available", "Available"),
        (AGENT_2_ID, "DoNotDisturb", "Presenting"),
        ("someone-else", "PresenceUnknown", "PresenceUnknown"),
    ]


async def test_a_user_in_a_call_is_busy_in_a_call_until_they_leave(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    await simulator.control.set_presence(TENANT_ID, AGENT_ID, "Away", "Away")
    call_id = await established_call(simulator, receiver)
    await simulator.graph(
        "POST", f"/communications/calls/{call_id}/participants/invite", invite_body(AGENT_ID)
    )
    ringing = await _presences(simulator, AGENT_ID)
    await simulator.control.answer_participant(call_id, AGENT_ID)
    in_call = await _presences(simulator, AGENT_ID)

    await simulator.control.hang_up_participant(call_id, AGENT_ID)

    after = await _presences(simulator, AGENT_ID)
    assert [(p[0]["availability"], p[0]["activity"]) for p in (ringing, in_call, after)] == [
        ("Away", "Away"),
        ("Busy", "InACall"),
        ("Away", "Away"),
    ]


@pytest.mark.parametrize(
    "body",
    [{"ids": [f"user-{n}" for n in range(651)]}, {"ids": []}, {"ids": "abc"}, {}],
    ids=["651-ids", "no-ids", "not-a-list", "missing"],
)
async def test_presence_batches_are_limited_to_650_ids(
    simulator: Simulator, body: dict[str, Any]
) -> None:
    status, error, _ = await simulator.graph("POST", "/communications/getPresencesByUserId", body)

    assert status == 400
    assert error["error"]["code"] == "invalidRequest"


async def test_650_ids_are_accepted(simulator: Simulator) -> None:
    presences = await _presences(simulator, *(f"user-{n}" for n in range(650)))

    assert len(presences) == 650


async def test_an_invalid_presence_is_refused(simulator: Simulator) -> None:
    with pytest.raises(SimulatorRequestError) as refused:
        await simulator.control.set_presence(TENANT_ID, AGENT_ID, "Sleeping", "Available")

    assert refused.value.status == 400


async def test_a_teams_user_calling_a_queue_is_in_a_call_until_it_ends(
    simulator: Simulator,
) -> None:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_user_id=AGENT_2_ID
    )
    during = await _presences(simulator, AGENT_2_ID)

    await simulator.control.hang_up(placed.id)

    after = await _presences(simulator, AGENT_2_ID)
    assert (during[0]["activity"], after[0]["activity"]) == ("InACall", "Available")
