"""Ringing agents into a call with participants/invite, as Graph allows and refuses it."""

from __future__ import annotations

from typing import Any

import pytest

from contactcenter.clock import VirtualClock
from simulator import SilentPoints, SimulatorRequestError
from tests.simulator.support import (
    AGENT_2_ID,
    AGENT_ID,
    APP_ID,
    CALLER_NUMBER,
    SALES_ID,
    TENANT_ID,
    BotReceiver,
    Received,
    Simulator,
    established_call,
    invite_body,
    user_invitee,
)


def _invite_path(call_id: str) -> str:
    return f"/communications/calls/{call_id}/participants/invite"


async def _invite(simulator: Simulator, call_id: str, *user_ids: str) -> dict[str, Any]:
    status, operation, _ = await simulator.graph(
        "POST", _invite_path(call_id), invite_body(*user_ids)
    )
    assert status == 200, operation
    assert isinstance(operation, dict)
    return operation


def _roster_users(note: Received) -> list[str | None]:
    return [p["info"]["identity"].get("user", {}).get("id") for p in note.data]


async def test_invite_answers_with_a_running_operation_and_a_participant_id(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await established_call(simulator, receiver)

    status, operation, response = await simulator.graph(
        "POST", _invite_path(call_id), invite_body(AGENT_ID, client_context="offer:7")
    )

    assert status == 200
    assert operation["@odata.type"] == "#microsoft.graph.inviteParticipantsOperation"
    assert operation["status"] == "running"
    assert operation["clientContext"] == "offer:7"
    [invited] = operation["participants"]
    assert invited["identity"]["user"]["id"] == AGENT_ID
    assert invited["id"]
    assert invited["participantId"] == invited["id"]
    assert response.headers["Location"] == simulator.url(
        f"/v1.0/communications/calls/{call_id}/operations/{operation['id']}"
    )
    view = await simulator.control.call(call_id)
    [pending] = [p for p in view["participants"] if p["role"] == "invitee"]
    assert (pending["id"], pending["status"]) == (invited["id"], "ringing")
    assert view["requests"][-1]["path"].endswith("/participants/invite")
    assert view["requests"][-1]["status"] == 200


@pytest.mark.silent_points
async def test_a_ringing_invitee_is_in_the_roster_only_where_rosters_list_the_ringing(
    simulator: Simulator, receiver: BotReceiver, silent_points: SilentPoints
) -> None:
    call_id = await established_call(simulator, receiver)
    await simulator.graph("POST", f"/communications/calls/{call_id}/subscribeToTone", {})
    await _invite(simulator, call_id, AGENT_ID)

    # A key press is notified after anything queued before it on the call.
    await simulator.control.press_tones(call_id, "1")
    tone = await receiver.wait_until(lambda note: "toneInfo" in note.data)

    rosters = [
        note for note in receiver.received[: receiver.received.index(tone)] if note.is_roster
    ]
    status, roster, _ = await simulator.graph(
        "GET", f"/communications/calls/{call_id}/participants"
    )
    assert status == 200
    if silent_points.ringing_in_roster:
        # Listed exactly as one who joined: nothing in the roster tells them apart.
        assert [_roster_users(note) for note in rosters] == [[None, None, AGENT_ID]]
        assert len(roster["value"]) == 3
    else:
        assert rosters == []
        assert len(roster["value"]) == 2


@pytest.mark.silent_points
async def test_manual_answer_completes_the_operation_then_updates_the_roster(
    simulator: Simulator, receiver: BotReceiver, silent_points: SilentPoints
) -> None:
    call_id = await established_call(simulator, receiver)
    operation = await _invite(simulator, call_id, AGENT_ID)
    participant_id = operation["participants"][0]["id"]

    await simulator.control.answer_participant(call_id, AGENT_ID)

    listed = int(silent_points.ringing_in_roster)
    received = await receiver.wait_for(5 + listed)
    completed, roster = received[3 + listed], received[4 + listed]
    assert completed.notification["changeType"] == "deleted"
    assert completed.resource_url.endswith(f"/operations/{operation['id']}")
    assert completed.data["status"] == "completed"
    assert completed.data["clientContext"] == "offer:1"
    assert roster.is_roster
    assert roster.notification["changeType"] == "updated"
    assert _roster_users(roster) == [None, None, AGENT_ID]
    bot, caller, agent = roster.data
    assert bot["info"]["identity"]["application"]["id"] == APP_ID
    assert caller["info"]["identity"]["phone"]["id"] == CALLER_NUMBER
    assert agent["id"] == participant_id
    assert agent["isInLobby"] is False
    assert agent["mediaStreams"][0]["mediaType"] == "audio"
    assert agent["info"]["identity"]["user"]["displayName"] == "Avery Agent"


def _rosters_while_ringing(received: list[Received], listed: bool) -> None:
    """Check the rosters of an invitation nobody answered: none, or the invitee in and out."""
    rosters = [_roster_users(note) for note in received if note.is_roster]
    assert rosters == ([[None, None, AGENT_ID], [None, None]] if listed else [])


@pytest.mark.silent_points
async def test_declining_fails_the_operation_with_603(
    simulator: Simulator, receiver: BotReceiver, silent_points: SilentPoints
) -> None:
    call_id = await established_call(simulator, receiver)
    operation = await _invite(simulator, call_id, AGENT_ID)

    await simulator.control.decline_participant(call_id, AGENT_ID)

    listed = silent_points.ringing_in_roster
    received = await receiver.wait_for(4 + 2 * listed)
    failed = await receiver.wait_until(lambda note: note.is_operation(operation["id"]))
    assert failed.data["status"] == "failed"
    assert failed.data["resultInfo"]["code"] == 603
    _rosters_while_ringing(received, listed)


async def test_more_than_one_invitee_on_a_peer_to_peer_call_is_refused(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await established_call(simulator, receiver)

    status, body, _ = await simulator.graph(
        "POST", _invite_path(call_id), invite_body(AGENT_ID, AGENT_2_ID)
    )

    assert status == 400
    assert body["error"]["message"] == (
        "Inviting multiple participants is only supported for group calls"
    )
    view = await simulator.control.call(call_id)
    assert [p["role"] for p in view["participants"]] == ["caller", "bot"]
    assert view["requests"][-1]["status"] == 400


async def test_a_call_with_an_agent_joined_is_a_group_call_and_takes_several_invitees(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await established_call(simulator, receiver)
    await _invite(simulator, call_id, AGENT_ID)
    await simulator.control.answer_participant(call_id, AGENT_ID)
    other = "a6e47000-0000-4000-8000-000000000003"

    operation = await _invite(simulator, call_id, AGENT_2_ID, other)

    assert len(operation["participants"]) == 2
    assert (await simulator.control.call(call_id))["groupCall"] is True


@pytest.mark.parametrize("kind", ["application", "applicationInstance"])
async def test_inviting_an_application_is_refused(
    simulator: Simulator, receiver: BotReceiver, kind: str
) -> None:
    call_id = await established_call(simulator, receiver)
    body = {"participants": [{"identity": {kind: {"id": "another-bot"}}}]}

    status, error, _ = await simulator.graph("POST", _invite_path(call_id), body)

    assert status == 400
    assert "application" in error["error"]["message"]


async def test_inviting_into_a_call_that_is_not_established_is_refused(
    simulator: Simulator,
) -> None:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )

    status, error, _ = await simulator.graph("POST", _invite_path(placed.id), invite_body(AGENT_ID))

    assert status == 400
    assert error["error"]["code"] == "invalidRequest"


async def test_inviting_into_an_unknown_or_ended_call_is_404(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await established_call(simulator, receiver)
    await simulator.control.hang_up(call_id)

    ended, _, _ = await simulator.graph("POST", _invite_path(call_id), invite_body(AGENT_ID))
    unknown, _, _ = await simulator.graph("POST", _invite_path("nope"), invite_body(AGENT_ID))

    assert (ended, unknown) == (404, 404)


async def test_inviting_someone_already_ringing_is_refused(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await established_call(simulator, receiver)
    await _invite(simulator, call_id, AGENT_ID)

    status, _, _ = await simulator.graph("POST", _invite_path(call_id), invite_body(AGENT_ID))

    assert status == 400


@pytest.mark.silent_points
async def test_a_participant_id_given_by_the_bot_is_the_participants_id_where_graph_honours_it(
    simulator: Simulator, receiver: BotReceiver, silent_points: SilentPoints
) -> None:
    call_id = await established_call(simulator, receiver)
    body = {"participants": [user_invitee(AGENT_ID, participantId="agent-leg-1")]}

    status, operation, _ = await simulator.graph("POST", _invite_path(call_id), body)

    assert status == 200
    given = operation["participants"][0]["id"]
    cancelled, _, _ = await simulator.graph(
        "DELETE", f"/communications/calls/{call_id}/participants/agent-leg-1"
    )
    if silent_points.bot_participant_ids:
        assert (given, cancelled) == ("agent-leg-1", 204)
    else:
        # Graph's own id, in the answer: the bot's id names nobody.
        assert given != "agent-leg-1"
        assert cancelled == 404
        [ringing] = (await simulator.control.call(call_id))["participants"][2:]
        assert (ringing["id"], ringing["status"]) == (given, "ringing")


@pytest.mark.silent_points
async def test_deleting_a_pending_invitee_cancels_the_invitation_with_487(
    simulator: Simulator, receiver: BotReceiver, silent_points: SilentPoints
) -> None:
    call_id = await established_call(simulator, receiver)
    operation = await _invite(simulator, call_id, AGENT_ID)
    participant_path = (
        f"/communications/calls/{call_id}/participants/{operation['participants'][0]['id']}"
    )

    status, _, _ = await simulator.graph("DELETE", participant_path)
    again, _, _ = await simulator.graph("DELETE", participant_path)

    assert (status, again) == (204, 404)
    listed = silent_points.ringing_in_roster
    received = await receiver.wait_for(4 + 2 * listed)
    failed = await receiver.wait_until(lambda note: note.is_operation(operation["id"]))
    assert failed.data["status"] == "failed"
    assert failed.data["resultInfo"]["code"] == 487
    view = await simulator.control.call(call_id)
    assert view["participants"][-1]["status"] == "cancelled"
    _rosters_while_ringing(received, listed)


@pytest.mark.silent_points
async def test_deleting_a_joined_agent_sends_a_roster_update_without_them(
    simulator: Simulator, receiver: BotReceiver, silent_points: SilentPoints
) -> None:
    call_id = await established_call(simulator, receiver)
    operation = await _invite(simulator, call_id, AGENT_ID)
    await simulator.control.answer_participant(call_id, AGENT_ID)
    listed = int(silent_points.ringing_in_roster)
    await receiver.wait_for(5 + listed)

    status, _, _ = await simulator.graph(
        "DELETE",
        f"/communications/calls/{call_id}/participants/{operation['participants'][0]['id']}",
    )

    assert status == 204
    received = await receiver.wait_for(6 + listed)
    assert received[5 + listed].is_roster
    assert _roster_users(received[5 + listed]) == [None, None]
    assert (await simulator.control.call(call_id))["state"] == "established"


@pytest.mark.silent_points
async def test_an_agent_hanging_up_sends_a_roster_update_without_them(
    simulator: Simulator, receiver: BotReceiver, silent_points: SilentPoints
) -> None:
    call_id = await established_call(simulator, receiver)
    await _invite(simulator, call_id, AGENT_ID)
    await simulator.control.answer_participant(call_id, AGENT_ID)

    await simulator.control.hang_up_participant(call_id, AGENT_ID)

    listed = int(silent_points.ringing_in_roster)
    received = await receiver.wait_for(6 + listed)
    assert [note.is_roster for note in received[3 + listed :]] == [False, True, True]
    assert _roster_users(received[4 + listed]) == [None, None, AGENT_ID]
    assert _roster_users(received[5 + listed]) == [None, None]


async def _group_call(simulator: Simulator, receiver: BotReceiver) -> str:
    """Return a call the bot, the caller and an agent who answered an invitation are in."""
    call_id = await established_call(simulator, receiver)
    await _invite(simulator, call_id, AGENT_ID)
    await simulator.control.answer_participant(call_id, AGENT_ID)
    view = await simulator.control.call(call_id)
    assert view["groupCall"]
    return call_id


def _still_in(view: dict[str, Any]) -> list[str]:
    return [p["role"] for p in view["participants"] if p["status"] in {"ringing", "joined"}]


async def test_the_caller_leaving_a_group_call_only_leaves_it(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await _group_call(simulator, receiver)

    await simulator.control.hang_up(call_id)

    # The roster after the agent joined listed three; this one, two.
    roster = await receiver.wait_until(lambda note: note.is_roster and len(note.data) == 2)
    assert AGENT_ID in _roster_users(roster)
    view = await simulator.control.call(call_id)
    assert view["state"] == "established"
    assert _still_in(view) == ["bot", "invitee"]


async def test_the_bots_delete_of_a_group_call_ends_only_its_leg(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await _group_call(simulator, receiver)

    status, _, _ = await simulator.graph("DELETE", f"/communications/calls/{call_id}")

    assert status == 204
    ended = await receiver.wait_until(lambda note: note.state == "terminated")
    assert ended.data["resultInfo"]["subcode"] == "5001"
    view = await simulator.control.call(call_id)
    # The caller and the agent talk on without the bot.
    assert _still_in(view) == ["caller", "invitee"]
    presence = await simulator.control.presence(TENANT_ID, AGENT_ID)
    assert presence["activity"] == "InACall"

    # Once one of them hangs up, the other is alone: the call ends for them too.
    await simulator.control.hang_up_participant(call_id, AGENT_ID)
    view = await simulator.control.call(call_id)
    assert _still_in(view) == []
    [caller] = [p for p in view["participants"] if p["role"] == "caller"]
    assert caller["resultInfo"]["subcode"] == 5010


async def test_a_group_call_ends_for_the_bot_when_all_others_have_left(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await _group_call(simulator, receiver)

    await simulator.control.hang_up_participant(call_id, AGENT_ID)
    await simulator.control.hang_up(call_id)

    ended = await receiver.wait_until(lambda note: note.state == "terminated")
    assert (ended.data["resultInfo"]["code"], ended.data["resultInfo"]["subcode"]) == (
        "200",
        "5002",
    )
    assert _still_in(await simulator.control.call(call_id)) == []


async def test_a_group_call_ends_for_the_bot_once_it_removed_the_last_other(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await _group_call(simulator, receiver)
    await simulator.control.hang_up(call_id)
    view = await simulator.control.call(call_id)
    [agent] = [p for p in view["participants"] if p["role"] == "invitee"]

    status, _, _ = await simulator.graph(
        "DELETE", f"/communications/calls/{call_id}/participants/{agent['id']}"
    )

    assert status == 204
    ended = await receiver.wait_until(lambda note: note.state == "terminated")
    assert ended.data["resultInfo"]["subcode"] == "5010"
    assert _still_in(await simulator.control.call(call_id)) == []
    presence = await simulator.control.presence(TENANT_ID, AGENT_ID)
    assert presence["activity"] == "Available"


async def test_the_call_knows_the_bots_own_participant(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await _group_call(simulator, receiver)

    _, call, _ = await simulator.graph("GET", f"/communications/calls/{call_id}")
    _, listed, _ = await simulator.graph("GET", f"/communications/calls/{call_id}/participants")

    [bot] = [p for p in listed["value"] if "application" in p["info"]["identity"]]
    assert bot["id"] == call["myParticipantId"]
    assert len(listed["value"]) == 3


async def test_answering_an_invitation_twice_is_a_conflict(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await established_call(simulator, receiver)
    await _invite(simulator, call_id, AGENT_ID)
    await simulator.control.answer_participant(call_id, AGENT_ID)

    with pytest.raises(SimulatorRequestError) as conflict:
        await simulator.control.answer_participant(call_id, AGENT_ID)

    assert conflict.value.status == 409


class TestTimedBehaviour:
    """Invitees who respond on their own, on a virtual clock the test moves."""

    @pytest.fixture
    def clock(self) -> VirtualClock:
        return VirtualClock()

    async def test_an_unanswered_invitation_fails_with_408_after_the_invite_timeout(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)
        await simulator.control.set_user_behaviour(TENANT_ID, AGENT_ID, "ignore")
        operation = await _invite(simulator, call_id, AGENT_ID)

        await simulator.control.advance_clock(59)
        assert (await simulator.control.call(call_id))["operations"][0]["status"] == "running"
        await simulator.control.advance_clock(1)

        failed = await receiver.wait_until(lambda note: note.is_operation(operation["id"]))
        assert failed.data["status"] == "failed"
        assert failed.data["resultInfo"]["code"] == 408

    @pytest.mark.silent_points
    async def test_an_invitee_who_answers_after_a_delay_joins_then_hangs_up(
        self, simulator: Simulator, receiver: BotReceiver, silent_points: SilentPoints
    ) -> None:
        call_id = await established_call(simulator, receiver)
        await simulator.control.set_user_behaviour(
            TENANT_ID, AGENT_ID, "answer", answer_after_s=4, hang_up_after_s=30
        )
        await _invite(simulator, call_id, AGENT_ID)

        await simulator.control.advance_clock(3.9)
        view = await simulator.control.call(call_id)
        assert view["participants"][-1]["status"] == "ringing"
        await simulator.control.advance_clock(60)

        listed = int(silent_points.ringing_in_roster)
        received = await receiver.wait_for(6 + listed)
        assert received[3 + listed].data["status"] == "completed"
        assert _roster_users(received[4 + listed]) == [None, None, AGENT_ID]
        assert _roster_users(received[5 + listed]) == [None, None]
        agent = (await simulator.control.call(call_id))["participants"][-1]
        assert agent["joinedAt"].endswith("08:00:04+00:00")
        assert agent["endedAt"].endswith("08:00:34+00:00")

    async def test_an_invitee_who_declines_after_a_delay_fails_the_invitation(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)
        await simulator.control.set_user_behaviour(TENANT_ID, AGENT_ID, "decline", answer_after_s=2)
        operation = await _invite(simulator, call_id, AGENT_ID)

        result = await simulator.control.advance_clock(2)

        assert result["timersRun"] == 1
        failed = await receiver.wait_until(lambda note: note.is_operation(operation["id"]))
        assert failed.data["resultInfo"]["code"] == 603


async def test_behaviours_are_kept_per_user_and_default_to_manual(
    simulator: Simulator,
) -> None:
    await simulator.control.set_user_behaviour(TENANT_ID, AGENT_ID, "answer", answer_after_s=2.5)

    assert await simulator.control.user_behaviour(TENANT_ID, AGENT_ID) == {
        "onInvite": "answer",
        "answerAfterS": 2.5,
        "hangUpAfterS": None,
    }
    assert (await simulator.control.user_behaviour(TENANT_ID, AGENT_2_ID))["onInvite"] == "manual"


async def test_a_behaviour_for_a_user_outside_the_directory_is_refused(
    simulator: Simulator,
) -> None:
    with pytest.raises(SimulatorRequestError) as refused:
        await simulator.control.set_user_behaviour(TENANT_ID, "stranger", "answer")

    assert refused.value.status == 404
