"""Transfer, redirect and keepAlive: moving a call elsewhere, and keeping it."""

from __future__ import annotations

from typing import Any

import pytest

from contactcenter.clock import VirtualClock
from tests.simulator.support import (
    AGENT_2_ID,
    AGENT_ID,
    CALLER_NUMBER,
    SALES_ID,
    TENANT_ID,
    BotReceiver,
    Simulator,
    answer_body,
    established_call,
    user_invitee,
)


def _action(call_id: str, name: str) -> str:
    return f"/communications/calls/{call_id}/{name}"


async def _incoming(simulator: Simulator) -> str:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )
    return placed.id


def _transfer_body(user_id: str = AGENT_ID) -> dict[str, Any]:
    return {"transferTarget": {**user_invitee(user_id), "endpointType": "default"}}


async def test_an_answered_transfer_ends_the_bots_call_with_7015(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await established_call(simulator, receiver)

    status, _, _ = await simulator.graph("POST", _action(call_id, "transfer"), _transfer_body())
    await simulator.control.answer_participant(call_id, AGENT_ID)

    assert status == 202
    received = await receiver.wait_for(6)
    assert [note.state for note in received[3:]] == [
        "transferring",
        "transferAccepted",
        "terminated",
    ]
    assert received[5].data["resultInfo"]["subcode"] == 7015
    # The agent now talks with the caller, without the bot.
    presence = await simulator.control.presence(TENANT_ID, AGENT_ID)
    assert (presence["availability"], presence["activity"]) == ("Busy", "InACall")
    await simulator.control.hang_up_participant(call_id, AGENT_ID)
    assert (await simulator.control.presence(TENANT_ID, AGENT_ID))["activity"] == "Available"


async def test_a_declined_transfer_returns_the_call_to_the_bot(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await established_call(simulator, receiver)
    await simulator.graph("POST", _action(call_id, "transfer"), _transfer_body())

    await simulator.control.decline_participant(call_id, AGENT_ID)

    received = await receiver.wait_for(5)
    assert [note.state for note in received[3:]] == ["transferring", "established"]
    assert received[4].data["resultInfo"]["code"] == 603
    assert (await simulator.control.call(call_id))["state"] == "established"


async def test_transfer_needs_an_established_call(simulator: Simulator) -> None:
    call_id = await _incoming(simulator)

    status, _, _ = await simulator.graph("POST", _action(call_id, "transfer"), _transfer_body())

    assert status == 400


async def test_redirect_rings_the_targets_and_ends_the_bots_call(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await _incoming(simulator)
    body = {"targets": [user_invitee(AGENT_ID), user_invitee(AGENT_2_ID)], "timeout": 30}

    status, _, _ = await simulator.graph("POST", _action(call_id, "redirect"), body)
    await simulator.control.answer_participant(call_id, AGENT_2_ID)

    assert status == 202
    received = await receiver.wait_for(2)
    assert received[1].state == "terminated"
    view = await simulator.control.call(call_id)
    statuses = {p["identity"].get("user", {}).get("id"): p["status"] for p in view["participants"]}
    assert statuses[AGENT_ID] == "cancelled"
    assert statuses[AGENT_2_ID] == "joined"


@pytest.mark.parametrize(
    "body",
    [
        {"targets": [user_invitee(AGENT_ID)] * 26},
        {"targets": []},
        {"targets": [user_invitee(AGENT_ID)], "timeout": 14},
        {"targets": [user_invitee(AGENT_ID)], "timeout": 91},
    ],
    ids=["26-targets", "no-target", "timeout-14", "timeout-91"],
)
async def test_redirect_is_validated_like_graph(simulator: Simulator, body: dict[str, Any]) -> None:
    call_id = await _incoming(simulator)

    status, _, _ = await simulator.graph("POST", _action(call_id, "redirect"), body)

    assert status == 400
    assert (await simulator.control.call(call_id))["state"] == "incoming"


async def test_redirect_needs_an_incoming_call(simulator: Simulator, receiver: BotReceiver) -> None:
    call_id = await established_call(simulator, receiver)

    status, _, _ = await simulator.graph(
        "POST", _action(call_id, "redirect"), {"targets": [user_invitee(AGENT_ID)]}
    )

    assert status == 400


async def test_keep_alive_answers_200_then_404_once_the_call_ended(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await established_call(simulator, receiver)

    alive, _, _ = await simulator.graph("POST", _action(call_id, "keepAlive"))
    await simulator.graph("DELETE", f"/communications/calls/{call_id}")
    ended, _, _ = await simulator.graph("POST", _action(call_id, "keepAlive"))

    assert (alive, ended) == (200, 404)


class TestKeepAliveDeadline:
    """Graph ends a call that has had no keepAlive for 45 minutes."""

    @pytest.fixture
    def clock(self) -> VirtualClock:
        return VirtualClock()

    async def test_a_call_without_keep_alive_ends_after_45_minutes(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)
        await simulator.control.advance_clock(30 * 60)
        await simulator.graph("POST", _action(call_id, "keepAlive"))

        await simulator.control.advance_clock(44 * 60)
        assert (await simulator.control.call(call_id))["state"] == "established"
        await simulator.control.advance_clock(60)

        view = await simulator.control.wait_for_call(call_id, state="terminated")
        assert view["resultInfo"]["code"] == 408

    async def test_an_unanswered_incoming_call_ends_after_15_seconds(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await _incoming(simulator)

        await simulator.control.advance_clock(15)

        view = await simulator.control.wait_for_call(call_id, state="terminated")
        assert view["resultInfo"]["code"] == 408

    async def test_answering_in_time_stops_the_answer_deadline(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await _incoming(simulator)
        await simulator.control.advance_clock(14)
        await simulator.graph(
            "POST", _action(call_id, "answer"), answer_body(receiver.callback_url)
        )

        await simulator.control.advance_clock(10)

        assert (await simulator.control.call(call_id))["state"] == "established"
