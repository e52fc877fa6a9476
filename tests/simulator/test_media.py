"""Prompts, recordings and key presses: Graph's service-hosted media, simulated."""

from __future__ import annotations

import io
import wave
from dataclasses import replace
from typing import Any

import pytest

from contactcenter.clock import VirtualClock
from simulator import MediaMode, SimulatorConfig, SimulatorRequestError
from tests.simulator.support import (
    CALLER_NUMBER,
    SALES_ID,
    TENANT_ID,
    BotReceiver,
    Received,
    Simulator,
    established_call,
    media_prompt,
)

GREETING = "https://bot.example/prompts/greeting.wav"


def _action(call_id: str, name: str) -> str:
    return f"/communications/calls/{call_id}/{name}"


async def _play(
    simulator: Simulator, call_id: str, *uris: str, context: str = "greeting"
) -> dict[str, Any]:
    body = {"clientContext": context, "prompts": [media_prompt(uri) for uri in uris]}
    status, operation, _ = await simulator.graph("POST", _action(call_id, "playPrompt"), body)
    assert status == 200, operation
    assert isinstance(operation, dict)
    return operation


def _record_body(**changes: Any) -> dict[str, Any]:
    return {
        "clientContext": "voicemail",
        "prompts": [media_prompt("https://bot.example/prompts/beep.wav")],
        "bargeInAllowed": True,
        "playBeep": True,
        "maxRecordDurationInSeconds": 60,
        "initialSilenceTimeoutInSeconds": 10,
        "maxSilenceTimeoutInSeconds": 10,
        "stopTones": ["#"],
        **changes,
    }


async def _finished(receiver: BotReceiver, operation_id: str) -> Received:
    return await receiver.wait_until(lambda note: note.is_operation(operation_id))


class TestInstantMedia:
    """Prompts complete as soon as they were fetched."""

    @pytest.fixture
    def config(self, config: SimulatorConfig) -> SimulatorConfig:
        return replace(config, media_mode=MediaMode.INSTANT)

    async def test_play_prompt_answers_running_then_notifies_completed(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)

        status, operation, response = await simulator.graph(
            "POST",
            _action(call_id, "playPrompt"),
            {"clientContext": "greeting", "prompts": [media_prompt(GREETING)]},
        )

        assert status == 200
        assert operation["@odata.type"] == "#microsoft.graph.playPromptOperation"
        assert operation["status"] == "running"
        assert response.headers["Location"].endswith(f"/operations/{operation['id']}")
        done = await _finished(receiver, operation["id"])
        assert done.notification["changeType"] == "deleted"
        assert done.data["status"] == "completed"
        assert done.data["clientContext"] == "greeting"
        assert done.data["resultInfo"]["code"] == 200
        # Graph writes these ids without dashes, in upper case.
        assert done.resource_url == (
            f"/communications/calls/{call_id.replace('-', '').upper()}"
            f"/operations/{operation['id'].replace('-', '').upper()}"
        )

    async def test_prompts_play_in_the_order_they_were_queued(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)

        first = await _play(simulator, call_id, GREETING, context="first")
        second = await _play(simulator, call_id, GREETING, context="second")

        await _finished(receiver, second["id"])
        contexts = [note.data["clientContext"] for note in receiver.received[3:]]
        assert contexts == ["first", "second"]
        assert first["id"] != second["id"]

    async def test_a_prompt_the_bot_does_not_serve_fails(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)

        operation = await _play(simulator, call_id, receiver.prompt_url("missing.wav"))

        failed = await _finished(receiver, operation["id"])
        assert failed.data["status"] == "failed"
        assert (failed.data["resultInfo"]["code"], failed.data["resultInfo"]["subcode"]) == (
            400,
            8536,
        )
        assert "HTTP 404" in failed.data["resultInfo"]["message"]
        assert receiver.fetched == ["missing.wav"]

    async def test_a_prompt_that_is_not_a_wav_file_fails(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)

        operation = await _play(simulator, call_id, receiver.prompt_url("page.wav"))

        failed = await _finished(receiver, operation["id"])
        assert failed.data["status"] == "failed"
        assert failed.data["resultInfo"]["subcode"] == 8535
        assert "not a WAV" in failed.data["resultInfo"]["message"]

    async def test_a_prompt_graph_cannot_play_fails_as_an_invalid_file_format(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)

        operation = await _play(simulator, call_id, receiver.prompt_url("narrowband.wav"))

        failed = await _finished(receiver, operation["id"])
        assert failed.data["status"] == "failed"
        result = failed.data["resultInfo"]
        assert (result["code"], result["subcode"]) == (400, 8535)
        assert "8,000 Hz" in result["message"]
        assert "single-channel 16-bit PCM WAV file sampled at 16,000 Hz" in result["message"]

    async def test_a_served_prompt_is_fetched_once_and_plays(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)
        hold = receiver.prompt_url("hold.wav")

        await _play(simulator, call_id, hold)
        operation = await _play(simulator, call_id, hold)

        done = await _finished(receiver, operation["id"])
        assert done.data["status"] == "completed"
        assert receiver.fetched == ["hold.wav"]

    async def test_a_recording_is_downloadable_with_its_token_only(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)
        status, operation, _ = await simulator.graph(
            "POST", _action(call_id, "recordResponse"), _record_body()
        )
        assert status == 200
        assert operation["@odata.type"] == "#microsoft.graph.recordOperation"

        done = await _finished(receiver, operation["id"])
        location = done.data["recordingLocation"]
        token = done.data["recordingAccessToken"]
        async with simulator.session.get(location) as anonymous:
            refused = anonymous.status
        async with simulator.session.get(
            location, headers={"Authorization": "Bearer wrong"}
        ) as wrong:
            wrong_status = wrong.status
        async with simulator.session.get(
            location, headers={"Authorization": f"Bearer {token}"}
        ) as response:
            audio = await response.read()

        assert (refused, wrong_status, response.status) == (401, 401, 200)
        assert done.data["status"] == "completed"
        with wave.open(io.BytesIO(audio)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
            assert wav.getnframes() / wav.getframerate() == pytest.approx(5.0)


class TestManualMedia:
    """Media operations run until the control API ends them."""

    @pytest.fixture
    def config(self, config: SimulatorConfig) -> SimulatorConfig:
        return replace(config, media_mode=MediaMode.MANUAL)

    async def test_a_prompt_plays_until_completed_through_the_control_api(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)
        operation = await _play(simulator, call_id, GREETING)
        view = await simulator.control.call(call_id)
        assert view["operations"][0]["status"] == "running"

        await simulator.control.complete_media(call_id)

        done = await _finished(receiver, operation["id"])
        assert done.data["status"] == "completed"

    async def test_an_operation_can_be_failed_by_id(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)
        operation = await _play(simulator, call_id, GREETING)

        await simulator.control.complete_operation(
            call_id, operation["id"], failed=True, code=404, message="gone"
        )

        done = await _finished(receiver, operation["id"])
        assert done.data["status"] == "failed"
        assert done.data["resultInfo"]["code"] == 404

    async def test_cancel_media_processing_fails_running_and_queued_media_with_8508(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)
        playing = await _play(simulator, call_id, GREETING, context="hold")
        queued = await _play(simulator, call_id, GREETING, context="comfort")

        status, cancel, _ = await simulator.graph(
            "POST", _action(call_id, "cancelMediaProcessing"), {"clientContext": "connect"}
        )

        assert status == 200
        assert cancel["@odata.type"] == "#microsoft.graph.cancelMediaProcessingOperation"
        assert cancel["status"] == "completed"
        for operation in (playing, queued):
            failed = await _finished(receiver, operation["id"])
            assert failed.data["status"] == "failed"
            assert (failed.data["resultInfo"]["code"], failed.data["resultInfo"]["subcode"]) == (
                400,
                8508,
            )
        assert not any(note.is_operation(cancel["id"]) for note in receiver.received)

    async def test_record_completes_when_the_caller_has_spoken(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)
        _, operation, _ = await simulator.graph(
            "POST", _action(call_id, "recordResponse"), _record_body()
        )

        await simulator.control.record(call_id, 12)

        done = await _finished(receiver, operation["id"])
        assert done.data["status"] == "completed"
        assert done.data["recordingLocation"].startswith(simulator.base_url)
        assert done.data["recordingAccessToken"]

    async def test_a_recording_stops_at_its_maximum_duration(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)
        _, operation, _ = await simulator.graph(
            "POST", _action(call_id, "recordResponse"), _record_body(maxRecordDurationInSeconds=3)
        )

        await simulator.control.record(call_id, 20)

        done = await _finished(receiver, operation["id"])
        assert done.data["resultInfo"]["subcode"] == 8515
        # The notification carries no completionReason (the record page's example has
        # none); Graph's operation resource does.
        status, kept, _ = await simulator.graph(
            "GET", f"/communications/calls/{call_id}/operations/{operation['id']}"
        )
        assert status == 200
        assert kept["completionReason"] == "maxRecordDurationReached"

    async def test_a_stop_tone_ends_the_recording(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)
        _, operation, _ = await simulator.graph(
            "POST", _action(call_id, "recordResponse"), _record_body()
        )

        await simulator.control.press_tones(call_id, "#")

        done = await _finished(receiver, operation["id"])
        assert done.data["status"] == "completed"
        status, kept, _ = await simulator.graph(
            "GET", f"/communications/calls/{call_id}/operations/{operation['id']}"
        )
        assert status == 200
        assert kept["completionReason"] == "stopToneDetected"

    async def test_recording_with_barge_in_cancels_the_music(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)
        hold = await _play(simulator, call_id, GREETING, context="hold")

        status, _, _ = await simulator.graph(
            "POST", _action(call_id, "recordResponse"), _record_body()
        )

        assert status == 200
        failed = await _finished(receiver, hold["id"])
        assert failed.data["resultInfo"]["subcode"] == 8508

    async def test_the_record_route_needs_a_recording_playing(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)
        await _play(simulator, call_id, GREETING)

        with pytest.raises(SimulatorRequestError) as refused:
            await simulator.control.record(call_id, 3)

        assert refused.value.status == 409


class TestTimedMedia:
    """Prompts take their simulated duration on a virtual clock."""

    @pytest.fixture
    def clock(self) -> VirtualClock:
        return VirtualClock()

    async def test_a_prompt_completes_after_its_duration(
        self, simulator: Simulator, receiver: BotReceiver
    ) -> None:
        call_id = await established_call(simulator, receiver)
        await simulator.control.update_settings(media_mode="timed", prompt_duration_s=3)
        operation = await _play(simulator, call_id, GREETING, GREETING)

        await simulator.control.advance_clock(5.9)
        assert (await simulator.control.call(call_id))["operations"][0]["status"] == "running"
        await simulator.control.advance_clock(0.1)

        done = await _finished(receiver, operation["id"])
        assert done.data["status"] == "completed"


async def test_tones_arrive_in_order_with_rising_sequence_ids(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await established_call(simulator, receiver)
    status, operation, _ = await simulator.graph(
        "POST", _action(call_id, "subscribeToTone"), {"clientContext": "menu"}
    )
    assert status == 200
    assert operation["status"] == "completed"

    sequence_ids = await simulator.control.press_tones(call_id, "12*#0")

    received = await receiver.wait_for(8)
    tones = [note.data["toneInfo"] for note in received[3:]]
    assert [tone["tone"] for tone in tones] == ["tone1", "tone2", "star", "pound", "tone0"]
    assert [tone["sequenceId"] for tone in tones] == sequence_ids == [1, 2, 3, 4, 5]
    assert {note.notification["changeType"] for note in received[3:]} == {"updated"}
    assert not any(note.is_operation(operation["id"]) for note in received)


async def test_without_a_subscription_key_presses_reach_nobody(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    call_id = await established_call(simulator, receiver)

    assert await simulator.control.press_tones(call_id, "123") == []


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("playPrompt", {"prompts": [media_prompt(GREETING)] * 21}),
        ("playPrompt", {"prompts": []}),
        ("playPrompt", {"prompts": [media_prompt("ftp://bot.example/a.wav")]}),
        ("playPrompt", {"prompts": [media_prompt(GREETING)], "clientContext": "x" * 257}),
        ("recordResponse", _record_body(prompts=[media_prompt(GREETING)] * 2)),
        ("recordResponse", _record_body(maxRecordDurationInSeconds=0)),
        ("recordResponse", _record_body(maxRecordDurationInSeconds=121)),
        ("recordResponse", _record_body(stopTones=["x"])),
    ],
    ids=[
        "21-prompts",
        "no-prompts",
        "not-http",
        "long-context",
        "record-2-prompts",
        "record-0s",
        "record-121s",
        "bad-stop-tone",
    ],
)
async def test_media_requests_are_validated_like_graph(
    simulator: Simulator, receiver: BotReceiver, action: str, body: dict[str, Any]
) -> None:
    call_id = await established_call(simulator, receiver)

    status, error, _ = await simulator.graph("POST", _action(call_id, action), body)

    assert status == 400
    assert error["error"]["code"] == "invalidRequest"
    assert (await simulator.control.call(call_id))["operations"] == []


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("playPrompt", {"prompts": [media_prompt(GREETING)]}),
        ("recordResponse", _record_body()),
        ("subscribeToTone", {}),
        ("participants/invite", {"participants": []}),
        ("transfer", {"transferTarget": {}}),
    ],
    ids=["playPrompt", "recordResponse", "subscribeToTone", "invite", "transfer"],
)
async def test_actions_on_a_call_that_is_not_established_are_refused(
    simulator: Simulator, action: str, body: dict[str, Any]
) -> None:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )

    status, _, _ = await simulator.graph("POST", _action(placed.id, action), body)
    unknown, _, _ = await simulator.graph("POST", _action("no-such-call", action), body)

    assert (status, unknown) == (400, 404)
