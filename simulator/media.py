"""Service-hosted media in the simulated cloud: prompts, recordings and the caller's key presses.

Media operations on a call run one after another, like Graph's queue: each one first
fetches its prompts (Graph downloads them from the bot's URLs), then plays for as long as
the media mode says, then ends with a ``deleted`` notification on its operation.
"""

from __future__ import annotations

import array
import asyncio
import hmac
import io
import logging
import math
import secrets
import sys
import uuid
import wave
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from yarl import URL

from contactcenter.errors import InvalidInput
from contactcenter.wav import (
    PROMPT_BITS,
    PROMPT_CHANNELS,
    PROMPT_SAMPLE_RATE,
    SampleEncoding,
    parse_wav,
)
from simulator.calls import OperationStatus, ResultInfo, SimCall, SimOperation
from simulator.config import MediaMode, is_loopback_host
from simulator.errors import ApiError

if TYPE_CHECKING:
    from simulator.cloud import SimulatedCloud

_LOGGER = logging.getLogger(__name__)

# resultInfo values from Graph's documentation of playPrompt, recordResponse and
# cancelMediaProcessing.
COMPLETED = ResultInfo(200, 0, "Action completed successfully.")
MAX_DURATION_REACHED = ResultInfo(200, 8515, "Action completed, max record duration reached.")
CANCELLED = ResultInfo(400, 8508, "Action failed, the operation was cancelled.")
# No Graph page names the result of a prompt that cannot be played. These are the codes
# Azure Communication Services' Call Automation (the same media platform) gives a play
# that fails so (PlayDownloadFailed, PlayInvalidFileFormat); docs/decisions/0016 and 0017.
DOWNLOAD_FAILED_SUBCODE = 8536
INVALID_FORMAT_SUBCODE = 8535

TONES = {str(digit): f"tone{digit}" for digit in range(10)} | {"*": "star", "#": "pound"}

RECORDING_PATH = "/media/recordings"
# What Graph plays: "Wave file (.wav) format, single-channel, 16-bit samples with a
# 16,000 (16 KHz) sampling rate" (mediaInfo.uri).
PLAYABLE = "a single-channel 16-bit PCM WAV file sampled at 16,000 Hz"
# Prompts are small; a larger body is not read further.
MAX_PROMPT_BYTES = 10 * 1024 * 1024


def download_failed(message: str) -> ResultInfo:
    """Return the result of a play whose file could not be fetched."""
    return ResultInfo(400, DOWNLOAD_FAILED_SUBCODE, message)


def invalid_format(message: str) -> ResultInfo:
    """Return the result of a play whose file is not what Graph plays."""
    return ResultInfo(400, INVALID_FORMAT_SUBCODE, message)


def playable_problem(uri: str, data: bytes) -> ResultInfo | None:
    """Return why the file at ``uri`` cannot be played as a prompt, or None if it can."""
    try:
        audio = parse_wav(data)
    except InvalidInput as err:
        return invalid_format(f"Action failed, invalid file format: {uri}: {err}")
    if (
        audio.encoding is not SampleEncoding.PCM
        or audio.channels != PROMPT_CHANNELS
        or audio.bits != PROMPT_BITS
        or audio.sample_rate != PROMPT_SAMPLE_RATE
    ):
        what = (
            f"{audio.channels}-channel {audio.bits}-bit {audio.encoding.value} audio "
            f"sampled at {audio.sample_rate:,} Hz"
        )
        return invalid_format(
            f"Action failed, invalid file format: {uri} holds {what}; "
            f"only {PLAYABLE} can be played."
        )
    return None


# ---------------------------------------------------------------------- prompts
class PromptSource(Protocol):
    """Where the simulated cloud fetches prompts from, as Graph downloads them."""

    async def problem(self, uri: str) -> ResultInfo | None:
        """Return why ``uri`` cannot be played (the failed play's result), or None."""
        ...


class AssumeReachable:
    """Fetch nothing: every prompt plays."""

    async def problem(self, uri: str) -> ResultInfo | None:
        """Return None: every prompt is taken to be there."""
        return None


class HttpPromptSource:
    """GET each prompt once (loopback hosts only unless allowed) and check Graph can play it."""

    def __init__(
        self, session: aiohttp.ClientSession, *, allow_remote: bool, timeout_s: float
    ) -> None:
        self._session = session
        self._allow_remote = allow_remote
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        # Graph caches prompts it fetched; so does the simulator, successes only.
        self._fetched: set[str] = set()

    async def problem(self, uri: str) -> ResultInfo | None:
        """Fetch ``uri`` unless fetched before; return what was wrong with it, or None."""
        if uri in self._fetched:
            return None
        if not self._allow_remote and not is_loopback_host(URL(uri).host):
            # Beyond the machine: not fetched, taken to be there.
            return None
        try:
            async with self._session.get(uri, timeout=self._timeout) as response:
                if response.status != 200:
                    return download_failed(
                        f"Action failed, file could not be downloaded: {uri}: "
                        f"HTTP {response.status}."
                    )
                data = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    data += chunk
                    if len(data) > MAX_PROMPT_BYTES:
                        return download_failed(
                            f"Action failed, file could not be downloaded: {uri}: "
                            f"larger than {MAX_PROMPT_BYTES:,} bytes."
                        )
        except (aiohttp.ClientError, TimeoutError) as err:
            return download_failed(f"Action failed, file could not be downloaded: {uri}: {err!r}.")
        problem = playable_problem(uri, bytes(data))
        if problem is None:
            self._fetched.add(uri)
        return problem


# ------------------------------------------------------------------- recordings
@dataclass(frozen=True, slots=True)
class Recording:
    """A caller's recorded response, downloadable with its access token."""

    id: str
    token: str
    seconds: float

    def authorized(self, authorization: str | None) -> bool:
        """Return whether an Authorization header carries this recording's token."""
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), self.token)


class Recordings:
    """Every recording made, kept for download after the call ends."""

    def __init__(self) -> None:
        self._recordings: dict[str, Recording] = {}

    def add(self, seconds: float) -> Recording:
        """Keep a new recording of ``seconds`` seconds."""
        recording = Recording(str(uuid.uuid4()), secrets.token_urlsafe(32), seconds)
        self._recordings[recording.id] = recording
        return recording

    def get(self, recording_id: str) -> Recording | None:
        """Return a recording, or None."""
        return self._recordings.get(recording_id)


def wav_bytes(seconds: float, *, rate: int = PROMPT_SAMPLE_RATE, tone_hz: int = 400) -> bytes:
    """Return a quiet tone of ``seconds`` seconds as a 16-bit mono PCM WAV file."""
    frames = max(1, round(seconds * rate))
    period = rate // tone_hz
    cycle = array.array(
        "h", (round(3000 * math.sin(2 * math.pi * i / period)) for i in range(period))
    )
    if sys.byteorder == "big":
        cycle.byteswap()  # WAV samples are little-endian
    data = (cycle.tobytes() * (frames // period + 1))[: frames * 2]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data)
    return buffer.getvalue()


# ----------------------------------------------------------------------- player
class MediaPlayer:
    """Run each call's media queue: fetch, play or record, notify; and carry key presses."""

    def __init__(
        self, cloud: SimulatedCloud, prompts: PromptSource, recordings: Recordings
    ) -> None:
        self._cloud = cloud
        self._prompts = prompts
        self.recordings = recordings

    def enqueue(self, call: SimCall, operation: SimOperation, *, barge_in: bool = False) -> None:
        """Queue a playPrompt or recordResponse; with barge-in, it ends the ones before it."""
        if barge_in:
            self.cancel_all(call)
        call.media_queue.append(operation.id)
        if len(call.media_queue) == 1:
            self._start(call, operation)

    async def settled(self, call: SimCall) -> None:
        """Wait until the operation at the head of the queue has fetched its prompts.

        The control API acts on media that plays, so it waits for the fetching first.
        """
        while True:
            operation = self.playing(call)
            job = operation.media if operation is not None else None
            if job is None or job.task is None or job.task.done():
                return
            await asyncio.wait({job.task})

    def playing(self, call: SimCall) -> SimOperation | None:
        """Return the media operation at the head of the call's queue, if any."""
        return call.operations[call.media_queue[0]] if call.media_queue else None

    def complete(
        self,
        call: SimCall,
        operation: SimOperation,
        *,
        recorded_s: float | None = None,
        completion_reason: str | None = None,
    ) -> None:
        """End a playing operation successfully; a recording gets its file and token."""
        if self.playing(call) is not operation or operation.media is None:
            raise ApiError(409, f"Operation {operation.id} is not the one playing on the call.")
        job = operation.media
        job.stop()
        fields: dict[str, Any] = {}
        result = COMPLETED
        if job.record is not None:
            limit = job.record.max_duration_s
            seconds = self._cloud.settings.record_duration_s if recorded_s is None else recorded_s
            if seconds >= limit:
                seconds, result, completion_reason = limit, MAX_DURATION_REACHED, None
            recording = self.recordings.add(seconds)
            fields = {
                "recordingLocation": f"{job.origin}{RECORDING_PATH}/{recording.id}",
                "recordingAccessToken": recording.token,
                "completionReason": completion_reason or "maxRecordDurationReached",
            }
        self._finish(call, operation, OperationStatus.COMPLETED, result, fields)

    def fail(self, call: SimCall, operation: SimOperation, result: ResultInfo) -> None:
        """End a playing operation as failed."""
        if self.playing(call) is not operation or operation.media is None:
            raise ApiError(409, f"Operation {operation.id} is not the one playing on the call.")
        operation.media.stop()
        self._finish(call, operation, OperationStatus.FAILED, result, _record_failure(operation))

    def cancel_all(self, call: SimCall) -> int:
        """End every running and queued prompt and recording as cancelled; return how many."""
        queued = [call.operations[op_id] for op_id in call.media_queue]
        call.media_queue.clear()
        for operation in queued:
            if operation.media is not None:
                operation.media.stop()
            self._cloud.finish_operation(
                call,
                operation,
                OperationStatus.FAILED,
                CANCELLED,
                fields=_record_failure(operation, reason="operationCanceled"),
                compact_url=True,
            )
        return len(queued)

    def drop(self, call: SimCall) -> None:
        """Stop the call's media without a word: the call is gone."""
        for op_id in call.media_queue:
            job = call.operations[op_id].media
            if job is not None:
                job.stop()
        call.media_queue.clear()

    def press_tones(self, call: SimCall, tones: str) -> list[int]:
        """Deliver the caller's key presses; return the sequence ids the bot was told about."""
        sequence_ids: list[int] = []
        for tone in tones:
            if call.ended:
                break
            if call.tones_subscribed:
                call.tone_sequence += 1
                sequence_ids.append(call.tone_sequence)
                self._cloud.notify(
                    call,
                    "updated",
                    {
                        "@odata.type": "#microsoft.graph.call",
                        "state": call.state.value,
                        "toneInfo": {
                            "@odata.type": "#microsoft.graph.toneInfo",
                            "sequenceId": call.tone_sequence,
                            "tone": TONES[tone],
                        },
                    },
                )
            self._stop_recording_on(call, tone)
        self._cloud.calls.touch()
        return sequence_ids

    # ------------------------------------------------------------------ internals
    def _stop_recording_on(self, call: SimCall, tone: str) -> None:
        operation = self.playing(call)
        if operation is None or operation.media is None:
            return
        job = operation.media
        if job.record is None or not job.playing or tone not in job.record.stop_tones:
            return
        started = job.started_at if job.started_at is not None else self._cloud.clock.monotonic()
        spoken = max(1.0, self._cloud.clock.monotonic() - started)
        self.complete(call, operation, recorded_s=spoken, completion_reason="stopToneDetected")

    def _start(self, call: SimCall, operation: SimOperation) -> None:
        job = operation.media
        assert job is not None
        job.started_at = self._cloud.clock.monotonic()
        job.task = self._cloud.spawn(
            self._play(call, operation), name=f"simulator-media-{operation.id}"
        )

    async def _play(self, call: SimCall, operation: SimOperation) -> None:
        job = operation.media
        assert job is not None
        for prompt in job.prompts:
            problem = await self._prompts.problem(str(prompt["uri"]))
            if problem is not None:
                _LOGGER.warning("Call %s: %s", call.id, problem.message)
                if self.playing(call) is operation:
                    self._finish(
                        call,
                        operation,
                        OperationStatus.FAILED,
                        problem,
                        _record_failure(operation),
                    )
                return
        if self.playing(call) is not operation or call.ended:
            return
        job.playing = True
        job.task = None
        settings = self._cloud.settings
        if settings.media_mode is MediaMode.INSTANT:
            self.complete(call, operation)
        elif settings.media_mode is MediaMode.TIMED:
            duration = len(job.prompts) * settings.prompt_duration_s
            if job.record is not None:
                duration += min(settings.record_duration_s, job.record.max_duration_s)

            def done() -> None:
                if self.playing(call) is operation and not call.ended:
                    self.complete(call, operation)

            job.timer = self._cloud.timers.call_later(duration, done, name=f"media-{operation.id}")
        # In manual mode it plays until the control API ends it.

    def _finish(
        self,
        call: SimCall,
        operation: SimOperation,
        status: OperationStatus,
        result: ResultInfo,
        fields: dict[str, Any],
    ) -> None:
        if call.media_queue and call.media_queue[0] == operation.id:
            call.media_queue.popleft()
        self._cloud.finish_operation(
            call, operation, status, result, fields=fields, compact_url=True
        )
        if call.media_queue and not call.ended:
            self._start(call, call.operations[call.media_queue[0]])


def _record_failure(operation: SimOperation, *, reason: str | None = None) -> dict[str, Any]:
    """Return the fields a failed recordOperation carries (empty for a prompt)."""
    if operation.media is None or operation.media.record is None:
        return {}
    return {
        "recordingLocation": "",
        "recordingAccessToken": "",
        "completionReason": reason or "playPromptFailed",
    }
