"""Prompts over HTTP: the public URLs Graph fetches, and admins' uploads."""

from __future__ import annotations

import io
import uuid
import wave
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bot.demo import PEOPLE
from bot.media_routes import MEDIA_STORE, open_media_store
from bot.settings import DEMO_TENANT_ID, Settings
from bot.stores import open_store
from contactcenter.media import MAX_PROMPT_BYTES
from contactcenter.model import Prompt
from contactcenter.repository import Repository
from contactcenter.wav import PROMPT_HEADER_BYTES, parse_wav
from storage.media import BlobMediaStore, DataDirMediaStore
from tests.audio_files import tone_wav
from tests.azurite_server import shared_azurite
from tests.http.caller_stack import CallerStack, start_caller_stack

ADMIN = next(p for p in PEOPLE if p.upn.startswith("grace"))
AGENT = next(p for p in PEOPLE if p.upn.startswith("ana"))


@pytest.fixture
def stack(caller_stack: CallerStack) -> CallerStack:
    return caller_stack


def wav(*, rate: int = 8000, channels: int = 1, width: int = 2, seconds: float = 0.5) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(b"\x01\x00" * channels * (width // 2 or 1) * int(rate * seconds))
    return buffer.getvalue()


async def _token(stack: CallerStack, user_id: str) -> str:
    response = await stack.host.post("/api/tab/demo/token", json={"userId": user_id})
    assert response.status == 200, await response.text()
    token: str = (await response.json())["accessToken"]
    return token


async def _upload(
    stack: CallerStack, body: bytes, *, token: str | None, name: str = "Welcome"
) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "audio/wav"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    response = await stack.host.post(
        "/api/media/prompts", params={"name": name}, data=io.BytesIO(body), headers=headers
    )
    return response.status, await response.json()


def _stored_files(stack: CallerStack) -> list[Path]:
    store = stack.host.app[MEDIA_STORE]
    assert isinstance(store, DataDirMediaStore)
    root = store.path(stack.tenant_id, "x").parent
    return sorted(root.glob("*")) if root.exists() else []


async def test_a_standard_prompt_is_served_publicly_as_wav_with_caching(
    stack: CallerStack,
) -> None:
    path = f"/media/prompts/{stack.tenant_id}/std.en-US.greeting.wav"
    response = await stack.host.get(path)

    assert response.status == 200
    assert response.content_type == "audio/wav"
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    body = await response.read()
    assert body[:4] == b"RIFF"
    again = await stack.host.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304


@pytest.mark.parametrize(
    "prompt",
    ["std.en-US.nothing", "std.xx.greeting", "0123456789abcdef0123456789abcdef", "..%2Fsecret"],
)
async def test_an_unknown_prompt_is_404(stack: CallerStack, prompt: str) -> None:
    response = await stack.host.get(f"/media/prompts/{stack.tenant_id}/{prompt}.wav")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "notFound"


async def test_an_admin_uploads_a_prompt_that_graph_can_then_fetch(stack: CallerStack) -> None:
    audio = wav(rate=16000, seconds=1.5)
    status, body = await _upload(stack, audio, token=await _token(stack, ADMIN.id))

    assert status == 201, body
    assert body["durationS"] == 1.5
    assert body["sampleRate"] == 16000
    prompt_id = str(body["id"])
    assert len(prompt_id) == 32
    response = await stack.host.get(f"/media/prompts/{stack.tenant_id}/{prompt_id}.wav")
    assert response.status == 200
    assert await response.read() == audio
    assert "immutable" in response.headers["Cache-Control"]
    stored = (await stack.repository.prompts.get(stack.tenant_id, prompt_id)).value
    assert stored.name == "Welcome"
    assert stored.uploaded_by == ADMIN.id


def _mp3() -> bytes:
    """The first bytes of an MP3 file: an ID3v2 tag, then an MPEG audio frame header."""
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 400


@pytest.mark.parametrize(
    ("source", "seconds"),
    [
        (tone_wav(rate=8000, seconds=1.25), 1.25),
        (tone_wav(rate=44100, channels=2, seconds=0.5), 0.5),
        (tone_wav(rate=48000, bits=24, seconds=2.0), 2.0),
        (tone_wav(rate=32000, channels=2, bits=24, extensible=True, seconds=0.75), 0.75),
    ],
    ids=["8 kHz mono", "44.1 kHz stereo", "24-bit", "extensible header"],
)
async def test_an_upload_is_stored_as_16_khz_mono_16_bit_pcm(
    stack: CallerStack, source: bytes, seconds: float
) -> None:
    status, body = await _upload(stack, source, token=await _token(stack, ADMIN.id))

    assert status == 201, body
    assert (body["sampleRate"], body["durationS"]) == (16000, seconds)
    response = await stack.host.get(f"/media/prompts/{stack.tenant_id}/{body['id']}.wav")
    served = await response.read()
    assert body["sizeBytes"] == len(served) == PROMPT_HEADER_BYTES + round(seconds * 16000) * 2
    with wave.open(io.BytesIO(served)) as stored:
        assert (stored.getnchannels(), stored.getsampwidth(), stored.getframerate()) == (
            1,
            2,
            16000,
        )
        assert stored.getnframes() / stored.getframerate() == seconds


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (b"hello, not audio", "not a WAV file"),
        (_mp3(), "the file is an MP3 file, not a WAV file; prompts must be a WAV file of PCM"),
        (wav(channels=3), "the file has 3 channels"),
        (wav(rate=96000), "sampled at 96000 Hz"),
        (wav()[:60], "the file is cut short"),
    ],
    ids=["text", "mp3 renamed .wav", "3 channels", "96 kHz", "truncated"],
)
async def test_a_file_that_is_not_a_usable_wav_is_refused_and_nothing_is_kept(
    stack: CallerStack, audio: bytes, message: str
) -> None:
    status, body = await _upload(stack, audio, token=await _token(stack, ADMIN.id))

    assert status == 422
    error = body["error"]
    assert isinstance(error, dict)
    assert message in error["message"]
    assert error["details"][0]["field"] == "file"
    assert await stack.repository.prompts.find(stack.tenant_id) == []
    assert _stored_files(stack) == []


async def test_an_oversized_upload_is_refused_with_413(stack: CallerStack) -> None:
    audio = wav(seconds=MAX_PROMPT_BYTES / 16000 + 1)
    status, body = await _upload(stack, audio, token=await _token(stack, ADMIN.id))

    assert status == 413
    assert body["error"]["code"] == "payloadTooLarge"  # type: ignore[index]
    assert await stack.repository.prompts.find(stack.tenant_id) == []


async def test_an_upload_without_a_name_is_refused(stack: CallerStack) -> None:
    status, body = await _upload(stack, wav(), token=await _token(stack, ADMIN.id), name=" ")
    assert status == 422
    assert body["error"]["details"][0]["field"] == "name"  # type: ignore[index]
    assert _stored_files(stack) == []


async def test_uploading_needs_a_token_and_the_admin_role(stack: CallerStack) -> None:
    status, _ = await _upload(stack, wav(), token=None)
    assert status == 401
    status, _ = await _upload(stack, wav(), token=await _token(stack, AGENT.id))
    assert status == 403
    assert await stack.repository.prompts.find(stack.tenant_id) == []


async def test_uploads_go_to_blob_storage_when_it_is_configured(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    simulator_data_dir: Path,
) -> None:
    env = {"BLOB_CONNECTION_STRING": shared_azurite().connection_string}
    async for stack in start_caller_stack(
        aiohttp_server, aiohttp_client, tmp_path, simulator_data_dir, env
    ):
        assert isinstance(stack.host.app[MEDIA_STORE], BlobMediaStore)
        audio = wav(seconds=0.25)
        status, body = await _upload(stack, audio, token=await _token(stack, ADMIN.id))
        assert status == 201, body
        response = await stack.host.get(f"/media/prompts/{stack.tenant_id}/{body['id']}.wav")
        stored = parse_wav(await response.read())
        assert stored.is_prompt_format
        assert stored.duration_s == 0.25
        assert not (tmp_path / "host" / "media").exists()


@pytest.mark.parametrize("blob", [False, True], ids=["data dir", "blob storage"])
async def test_a_prompt_stored_at_8_khz_is_converted_when_the_host_starts(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    simulator_data_dir: Path,
    blob: bool,
) -> None:
    env = {"BLOB_CONNECTION_STRING": shared_azurite().connection_string} if blob else {}
    settings = Settings.from_env(env, demo=True, dotenv=None, data_dir=tmp_path / "host")
    old = Prompt(
        id=uuid.uuid4().hex, tenant_id=DEMO_TENANT_ID, name="Old welcome", sample_rate=8000
    )
    store, media = await open_store(settings), await open_media_store(settings)
    try:
        await media.put(old.tenant_id, old.id, wav(rate=8000, seconds=1.0))
        await Repository(store).prompts.create(old)
    finally:
        await media.close()
        await store.close()

    async for stack in start_caller_stack(
        aiohttp_server, aiohttp_client, tmp_path, simulator_data_dir, env
    ):
        response = await stack.host.get(f"/media/prompts/{old.tenant_id}/{old.id}.wav")
        stored = parse_wav(await response.read())
        assert stored.is_prompt_format
        assert stored.duration_s == 1.0
        converted = (await stack.repository.prompts.get(old.tenant_id, old.id)).value
        assert (converted.sample_rate, converted.duration_s) == (16000, 1.0)
