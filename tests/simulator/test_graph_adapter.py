"""The bot's Graph adapter and notification parser, unchanged, against the simulator.

``GraphCallControl`` and ``GraphPresence`` talk to fake Graph through the real msgraph-sdk
client; what the simulator posts back is parsed by ``parse_notifications`` into the
domain's events. These are the contract the simulator plays to.
"""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from msgraph.generated.communications.calls.item.participants.invite.invite_post_request_body import (
    InvitePostRequestBody,
)
from msgraph.generated.models.communications_identity_set import CommunicationsIdentitySet
from msgraph.generated.models.identity import Identity
from msgraph.generated.models.invitation_participant_info import InvitationParticipantInfo

import graph.calling
from contactcenter.errors import CallControlError, NotFound
from contactcenter.events import (
    CallEvent,
    CallStateChanged,
    GraphCallState,
    OperationFinished,
    OperationKind,
    OperationStatus,
    RosterUpdated,
    ToneReceived,
)
from contactcenter.model import Party, PartyKind
from contactcenter.ports import MediaPrompt
from graph.calling import (
    GraphCallControl,
    GraphHttpClient,
    GraphPresence,
    RetryPolicy,
    StaticTokenProvider,
    build_graph_client,
)
from graph.notifications import parse_notifications
from simulator import MediaMode, SilentPoints, SimulatorConfig
from tests.simulator.support import (
    AGENT_2_ID,
    AGENT_ID,
    BOT_TOKEN,
    SALES_ID,
    TENANT_ID,
    BotReceiver,
    Received,
    Simulator,
    established_call,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions.*"),
]

AGENT = Party(kind=PartyKind.USER, id=AGENT_ID, display_name="Avery Agent", tenant_id=TENANT_ID)
AGENT_2 = Party(kind=PartyKind.USER, id=AGENT_2_ID, display_name="Blake Agent")
GREETING = MediaPrompt(uri="https://bot.example/prompts/greeting.wav", resource_id="greeting")


@pytest.fixture
def config(config: SimulatorConfig) -> SimulatorConfig:
    """Complete prompts and recordings at once."""
    return replace(config, media_mode=MediaMode.INSTANT)


@pytest.fixture
async def http() -> AsyncIterator[GraphHttpClient]:
    async with GraphHttpClient(timeout_s=5) as client:
        yield client


@pytest.fixture
def calls(simulator: Simulator, http: GraphHttpClient) -> GraphCallControl:
    client = build_graph_client(
        base_url=simulator.url("/v1.0"),
        credential=StaticTokenProvider(BOT_TOKEN),
        httpx_client=http,
    )
    return GraphCallControl(client, retry=RetryPolicy(max_attempts=1))


@pytest.fixture
def presence(simulator: Simulator, http: GraphHttpClient) -> GraphPresence:
    client = build_graph_client(
        base_url=simulator.url("/v1.0"),
        credential=StaticTokenProvider(BOT_TOKEN),
        httpx_client=http,
    )
    return GraphPresence(client, retry=RetryPolicy(max_attempts=1))


def _events(notes: list[Received]) -> list[CallEvent]:
    return [
        event for note in notes for event in parse_notifications(note.body, tenant_id=TENANT_ID)
    ]


async def _event(receiver: BotReceiver, kind: type[CallEvent], *, after: int = 0) -> CallEvent:
    """Wait for the first notification past ``after`` that parses into a ``kind`` event."""

    def parses(note: Received) -> bool:
        index = receiver.received.index(note)
        return index >= after and any(isinstance(e, kind) for e in _events([note]))

    note = await receiver.wait_until(parses)
    return next(e for e in _events([note]) if isinstance(e, kind))


@pytest.mark.silent_points
async def test_invite_then_manual_answer_reaches_the_bot_as_operation_and_roster(
    simulator: Simulator,
    receiver: BotReceiver,
    calls: GraphCallControl,
    silent_points: SilentPoints,
) -> None:
    call_id = await established_call(simulator, receiver)

    invitation = await calls.invite(call_id, AGENT, client_context="offer:c:1:a")
    await simulator.control.answer_participant(call_id, AGENT_ID)

    # Where rosters list invitees still ringing, one came as the agent started ringing.
    events = _events(await receiver.wait_for(5 + silent_points.ringing_in_roster))
    finished, roster = events[-2], events[-1]
    assert isinstance(finished, OperationFinished)
    assert finished.kind is OperationKind.INVITE
    assert finished.status is OperationStatus.COMPLETED
    assert finished.operation_id == invitation.operation_id
    assert finished.client_context == "offer:c:1:a"
    assert finished.user_ids == (AGENT_ID,)
    assert isinstance(roster, RosterUpdated)
    [agent] = [entry for entry in roster.participants if entry.user_id == AGENT_ID]
    assert agent.participant_id == invitation.participant_id
    assert agent.is_in_lobby is False
    assert {entry.phone for entry in roster.participants} >= {"+14255550100"}


async def test_the_other_participants_of_a_group_call_are_everyone_but_the_bot(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl
) -> None:
    call_id = await established_call(simulator, receiver)
    invitation = await calls.invite(call_id, AGENT, client_context="offer:c:1:a")
    await simulator.control.answer_participant(call_id, AGENT_ID)

    others = await calls.other_participants(call_id)

    view = await simulator.control.call(call_id)
    roles = {p["id"]: p["role"] for p in view["participants"]}
    assert sorted(roles[p] for p in others) == ["caller", "invitee"]
    assert invitation.participant_id in others


async def test_the_roster_read_from_graph_names_everyone_as_a_roster_update_does(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl
) -> None:
    call_id = await established_call(simulator, receiver)
    invitation = await calls.invite(call_id, AGENT, client_context="offer:c:1:a")
    await simulator.control.answer_participant(call_id, AGENT_ID)

    roster = await calls.roster(call_id)

    [agent] = [entry for entry in roster if entry.user_id == AGENT_ID]
    assert agent.participant_id == invitation.participant_id
    assert "+14255550100" in {entry.phone for entry in roster}
    assert any(entry.application_id and entry.user_id is None for entry in roster)


async def test_reading_the_roster_of_an_ended_call_raises_not_found(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl
) -> None:
    call_id = await established_call(simulator, receiver)
    await calls.hang_up(call_id)

    with pytest.raises(NotFound):
        await calls.roster(call_id)


async def test_listing_the_participants_of_an_ended_call_raises_not_found(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl
) -> None:
    call_id = await established_call(simulator, receiver)
    await calls.hang_up(call_id)

    with pytest.raises(NotFound):
        await calls.other_participants(call_id)


async def test_two_invitees_on_a_peer_to_peer_call_raise_call_control_error(
    simulator: Simulator,
    receiver: BotReceiver,
    calls: GraphCallControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    call_id = await established_call(simulator, receiver)
    second = InvitationParticipantInfo(
        odata_type="#microsoft.graph.invitationParticipantInfo",
        identity=CommunicationsIdentitySet(user=Identity(id=AGENT_2_ID)),
    )

    def with_a_second_invitee(*, participants: list[Any], client_context: str) -> Any:
        # A bot that rings two agents in one request, as ring-all might be tempted to.
        return InvitePostRequestBody(
            participants=[*participants, second], client_context=client_context
        )

    monkeypatch.setattr(graph.calling, "InvitePostRequestBody", with_a_second_invitee)

    with pytest.raises(CallControlError) as refused:
        await calls.invite(call_id, AGENT, client_context="ring-all")

    assert refused.value.status == 400
    assert "only supported for group calls" in str(refused.value)
    view = await simulator.control.call(call_id)
    assert [p["role"] for p in view["participants"]] == ["caller", "bot"]


async def test_inviting_an_agent_already_ringing_raises_call_control_error(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl
) -> None:
    call_id = await established_call(simulator, receiver)
    await calls.invite(call_id, AGENT, client_context="offer:1")

    with pytest.raises(CallControlError) as refused:
        await calls.invite(call_id, AGENT, client_context="offer:again")

    assert refused.value.status == 400


async def test_inviting_into_a_call_that_is_not_established_raises_call_control_error(
    simulator: Simulator, calls: GraphCallControl
) -> None:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone="+14255550100"
    )

    with pytest.raises(CallControlError) as refused:
        await calls.invite(placed.id, AGENT, client_context="offer:1")

    assert refused.value.status == 400


async def test_removing_a_pending_invitee_fails_the_invitation_with_487(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl
) -> None:
    call_id = await established_call(simulator, receiver)
    invitation = await calls.invite(call_id, AGENT, client_context="offer:1")
    assert invitation.participant_id is not None

    await calls.remove_participant(call_id, invitation.participant_id)

    finished = await _event(receiver, OperationFinished)
    assert isinstance(finished, OperationFinished)
    assert finished.operation_id == invitation.operation_id
    assert (finished.status, finished.result_code) == (OperationStatus.FAILED, 487)
    with pytest.raises(NotFound):
        await calls.remove_participant(call_id, invitation.participant_id)


async def test_a_declined_invitation_reaches_the_bot_as_603(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl
) -> None:
    call_id = await established_call(simulator, receiver)
    invitation = await calls.invite(call_id, AGENT, client_context="offer:1")

    await simulator.control.decline_participant(call_id, AGENT_ID)

    finished = await _event(receiver, OperationFinished)
    assert isinstance(finished, OperationFinished)
    assert finished.operation_id == invitation.operation_id
    assert (finished.status, finished.result_code) == (OperationStatus.FAILED, 603)


async def test_an_agent_hanging_up_reaches_the_bot_as_a_roster_without_them(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl
) -> None:
    call_id = await established_call(simulator, receiver)
    await calls.invite(call_id, AGENT, client_context="offer:1")
    await simulator.control.answer_participant(call_id, AGENT_ID)
    await receiver.wait_for(5)

    await simulator.control.hang_up_participant(call_id, AGENT_ID)

    roster = await _event(receiver, RosterUpdated, after=5)
    assert isinstance(roster, RosterUpdated)
    assert AGENT_ID not in {entry.user_id for entry in roster.participants}
    await calls.hang_up(call_id)
    ended = await _event(receiver, CallStateChanged, after=6)
    assert isinstance(ended, CallStateChanged)
    assert ended.state is GraphCallState.TERMINATING


async def test_a_prompt_completes_with_the_operation_id_play_prompt_returned(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl
) -> None:
    call_id = await established_call(simulator, receiver)

    operation_id = await calls.play_prompt(call_id, [GREETING], client_context="greeting")

    finished = await _event(receiver, OperationFinished)
    assert isinstance(finished, OperationFinished)
    assert finished.operation_id == operation_id
    assert finished.kind is OperationKind.PLAY_PROMPT
    assert finished.status is OperationStatus.COMPLETED
    assert finished.client_context == "greeting"


async def test_cancel_media_processing_fails_a_playing_prompt(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl
) -> None:
    call_id = await established_call(simulator, receiver)
    await simulator.control.update_settings(media_mode="manual")
    operation_id = await calls.play_prompt(call_id, [GREETING], client_context="hold")

    await calls.cancel_media_processing(call_id, client_context="connect")

    finished = await _event(receiver, OperationFinished)
    assert isinstance(finished, OperationFinished)
    assert finished.operation_id == operation_id
    assert (finished.status, finished.result_code, finished.result_subcode) == (
        OperationStatus.FAILED,
        400,
        8508,
    )


async def test_tones_reach_the_bot_in_order(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl
) -> None:
    call_id = await established_call(simulator, receiver)
    await calls.subscribe_to_tone(call_id, client_context="menu")

    await simulator.control.press_tones(call_id, "12#")

    events = _events(await receiver.wait_for(6))
    tones = [e for e in events if isinstance(e, ToneReceived)]
    assert [(t.tone, t.sequence_id) for t in tones] == [("1", 1), ("2", 2), ("#", 3)]


async def test_a_recording_is_downloadable_with_the_token_its_completion_carries(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl
) -> None:
    call_id = await established_call(simulator, receiver)

    operation_id = await calls.record_response(
        call_id, prompt=GREETING, max_duration_s=60, client_context="voicemail"
    )

    finished = await _event(receiver, OperationFinished)
    assert isinstance(finished, OperationFinished)
    assert finished.operation_id == operation_id
    assert finished.kind is OperationKind.RECORD_RESPONSE
    assert finished.recording_location is not None
    assert finished.recording_access_token is not None
    async with simulator.session.get(
        finished.recording_location,
        headers={"Authorization": f"Bearer {finished.recording_access_token}"},
    ) as response:
        audio = await response.read()
    assert response.status == 200
    with wave.open(io.BytesIO(audio)) as wav:
        assert wav.getnframes() > 0


async def test_presence_comes_in_one_batch_with_busy_agents_in_a_call(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl, presence: GraphPresence
) -> None:
    call_id = await established_call(simulator, receiver)
    await calls.invite(call_id, AGENT, client_context="offer:1")
    await simulator.control.answer_participant(call_id, AGENT_ID)
    await simulator.control.set_presence(TENANT_ID, AGENT_2_ID, "Away", "Away")

    readings = await presence.get_presences(TENANT_ID, [AGENT_ID, AGENT_2_ID])

    assert {(r.user_id, r.availability, r.activity) for r in readings} == {
        (AGENT_ID, "Busy", "InACall"),
        (AGENT_2_ID, "Away", "Away"),
    }


async def test_a_placed_callback_is_established_when_the_target_answers(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl
) -> None:
    outbound = await calls.place_call(
        tenant_id=TENANT_ID,
        source_application_instance_id=SALES_ID,
        target=Party(kind=PartyKind.PHONE, id="+14255550177"),
        callback_uri=receiver.callback_url,
        prefetch=[GREETING],
    )
    assert outbound.state == "establishing"

    await simulator.control.answer_call(outbound.call_id)

    events = _events(await receiver.wait_for(2))
    assert [e.state for e in events if isinstance(e, CallStateChanged)] == [
        GraphCallState.ESTABLISHING,
        GraphCallState.ESTABLISHED,
    ]
    await calls.keep_alive(outbound.call_id)


async def test_a_transfer_ends_the_bots_call_with_7015(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl
) -> None:
    call_id = await established_call(simulator, receiver)
    await simulator.control.set_user_behaviour(TENANT_ID, AGENT_ID, "answer")

    await calls.transfer(call_id, AGENT)

    ended = await receiver.wait_until(lambda note: note.state == "terminated")
    [event] = _events([ended])
    assert isinstance(event, CallStateChanged)
    assert event.result_subcode == 7015


async def test_a_redirect_leaves_the_bot_out(
    simulator: Simulator, receiver: BotReceiver, calls: GraphCallControl
) -> None:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone="+14255550100"
    )

    await calls.redirect(placed.id, AGENT, timeout_s=30, callback_uri=receiver.callback_url)

    view = await simulator.control.wait_for_call(placed.id, state="terminated")
    assert view["participants"][-1]["status"] == "ringing"
    with pytest.raises(NotFound):
        await calls.keep_alive(placed.id)
