"""Prompts over HTTP: the public URLs Graph fetches, and admins' uploads."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bot.demo import PEOPLE
from bot.media_routes import MEDIA_STORE
from contactcenter.media import MAX_PROMPT_BYTES
from storage.media import BlobMediaStore, DataDirMediaStore
from tests.azurite_server import shared_azurite
from tests.http.caller_stack import CallerStack, start_caller_stack

ADMIN = next(p for p in PEOPLE if p.upn.startswith("grace"))
AGENT = next(p for p in PEOPLE if p.upn.startswith("ana"))


@pytest.fixture
async def stack(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    simulator_data_dir: Path,
) -> AsyncIterator[CallerStack]:
    async for running in start_caller_stack(
        aiohttp_server, aiohttp_client, tmp_path, simulator_data_dir
    ):
        yield running


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


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (b"hello, not audio", "not a WAV file"),
        (wav(channels=2), "mono"),
        (wav(width=1), "16-bit"),
        (wav(rate=44100), "8000 or 16000"),
        (wav()[:60], "more data than the file holds"),
    ],
    ids=["text", "stereo", "8-bit", "44.1 kHz", "truncated"],
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
        assert await response.read() == audio
        assert not (tmp_path / "host" / "media").exists()
