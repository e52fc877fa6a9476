"""Prompt audio converted to what Graph plays, on upload and for prompts stored before."""

from __future__ import annotations

import logging
import struct
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from contactcenter.media import convert_stored_prompts, upload_prompt
from contactcenter.model import Prompt
from contactcenter.ports import MediaStore
from contactcenter.repository import Repository
from contactcenter.wav import PROMPT_HEADER_BYTES, parse_wav, prompt_wav
from storage.media import BlobMediaStore, DataDirMediaStore
from storage.memory import MemoryStore
from storage.prompt_audio import SoxrPromptConverter, prompt_samples
from tests.audio_files import tone_wav
from tests.azurite_server import shared_azurite

TENANT = "0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5"
NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def loudest_frequency(samples: bytes, rate: int = 16000) -> float:
    values = np.frombuffer(samples, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(values))
    return float(np.fft.rfftfreq(len(values), 1 / rate)[int(np.argmax(spectrum))])


FORMATS = [
    pytest.param(tone_wav(rate=8000), id="8 kHz mono 16-bit"),
    pytest.param(tone_wav(rate=44100, channels=2), id="44.1 kHz stereo 16-bit"),
    pytest.param(tone_wav(rate=48000, bits=24), id="48 kHz mono 24-bit"),
    pytest.param(tone_wav(rate=32000, channels=2, bits=24, extensible=True), id="extensible"),
    pytest.param(tone_wav(rate=22050, bits=8), id="22.05 kHz 8-bit"),
    pytest.param(tone_wav(rate=11025, channels=2, bits=32), id="11 kHz stereo 32-bit"),
]


# -------------------------------------------------------------------- converter
@pytest.mark.parametrize("source", FORMATS)
def test_audio_is_converted_to_16_khz_mono_16_bit_keeping_its_length_and_pitch(
    source: bytes,
) -> None:
    samples = prompt_samples(parse_wav(source))

    assert len(samples) == 2 * 16000
    assert loudest_frequency(samples) == pytest.approx(440, abs=2)
    peak = np.abs(np.frombuffer(samples, dtype="<i2")).max()
    assert 0.45 * 32768 < peak < 0.55 * 32768


def test_16_khz_mono_16_bit_samples_pass_through_unchanged() -> None:
    source = parse_wav(tone_wav(rate=16000))

    assert prompt_samples(source) == source.samples


def test_stereo_is_mixed_down_by_averaging_the_channels() -> None:
    left_right = np.array([[16000, -16000], [8000, 0]], dtype="<i2").tobytes()
    header = struct.pack("<HHIIHH", 1, 2, 16000, 64000, 4, 16)
    body = b"WAVEfmt " + struct.pack("<I", 16) + header
    body += b"data" + struct.pack("<I", len(left_right)) + left_right
    audio = parse_wav(b"RIFF" + struct.pack("<I", len(body)) + body)

    assert np.frombuffer(prompt_samples(audio), dtype="<i2").tolist() == [0, 4000]


def test_frequencies_above_what_16_khz_holds_are_filtered_out_not_folded_back() -> None:
    # 12 kHz cannot be held at 16 kHz (Nyquist: 8 kHz); naive decimation folds it to 4 kHz.
    samples = prompt_samples(parse_wav(tone_wav(rate=48000, hz=12000)))

    # Away from the tone's abrupt start and end, which are broadband clicks.
    steady = np.frombuffer(samples, dtype="<i2")[1000:-1000]
    assert np.abs(steady).max() < 0.01 * 32768


# --------------------------------------------------------------- stored prompts
@pytest.fixture(params=["data-dir", "blob"])
async def media(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MediaStore]:
    if request.param == "data-dir":
        yield DataDirMediaStore(tmp_path / "media")
        return
    store = await BlobMediaStore.open(
        connection_string=shared_azurite().connection_string,
        container=f"media-{uuid.uuid4().hex[:12]}",
        create_container=True,
    )
    try:
        yield store
    finally:
        await store.close()


async def _store_old_prompt(
    repository: Repository, media: MediaStore, audio: bytes, *, rate: int = 8000
) -> Prompt:
    prompt = Prompt(
        id=uuid.uuid4().hex,
        tenant_id=TENANT,
        name="Old welcome",
        duration_s=1.0,
        sample_rate=rate,
        size_bytes=len(audio),
        uploaded_at=NOW,
    )
    await media.put(TENANT, prompt.id, audio)
    await repository.prompts.create(prompt)
    return prompt


async def test_a_prompt_stored_at_8_khz_is_converted_once_on_start(
    media: MediaStore, caplog: pytest.LogCaptureFixture
) -> None:
    repository = Repository(MemoryStore())
    old = await _store_old_prompt(repository, media, tone_wav(rate=8000, seconds=1.5))

    with caplog.at_level(logging.INFO, logger="contactcenter.media"):
        first = await convert_stored_prompts(repository, media, SoxrPromptConverter())

    assert (first.converted, first.already, first.failed) == (1, 0, 0)
    stored = await media.get(TENANT, old.id)
    audio = parse_wav(stored)
    assert audio.is_prompt_format
    assert audio.duration_s == 1.5
    assert stored[:PROMPT_HEADER_BYTES] == prompt_wav(audio.samples)[:PROMPT_HEADER_BYTES]
    document = (await repository.prompts.get(TENANT, old.id)).value
    assert (document.sample_rate, document.size_bytes, document.duration_s) == (
        16000,
        len(stored),
        1.5,
    )
    assert "1 converted, 0 already converted, 0 failed" in caplog.text

    again = await convert_stored_prompts(repository, media, SoxrPromptConverter())

    assert (again.converted, again.already, again.failed) == (0, 0, 0)
    assert await media.get(TENANT, old.id) == stored


async def test_audio_already_converted_only_has_its_document_corrected(
    media: MediaStore,
) -> None:
    repository = Repository(MemoryStore())
    converted = tone_wav(rate=16000)
    old = await _store_old_prompt(repository, media, converted)

    result = await convert_stored_prompts(repository, media, SoxrPromptConverter())

    assert (result.converted, result.already) == (0, 1)
    assert await media.get(TENANT, old.id) == converted
    assert (await repository.prompts.get(TENANT, old.id)).value.sample_rate == 16000


async def test_a_prompt_that_cannot_be_converted_is_logged_and_left_as_it_was(
    media: MediaStore, caplog: pytest.LogCaptureFixture
) -> None:
    repository = Repository(MemoryStore())
    broken = await _store_old_prompt(repository, media, b"RIFF\x00\x00\x00\x00WAVE")
    missing = Prompt(id=uuid.uuid4().hex, tenant_id=TENANT, name="Gone", sample_rate=8000)
    await repository.prompts.create(missing)
    fine = await _store_old_prompt(repository, media, tone_wav(rate=8000))

    with caplog.at_level(logging.INFO, logger="contactcenter.media"):
        result = await convert_stored_prompts(repository, media, SoxrPromptConverter())

    assert (result.converted, result.failed) == (1, 2)
    assert await media.get(TENANT, broken.id) == b"RIFF\x00\x00\x00\x00WAVE"
    assert (await repository.prompts.get(TENANT, broken.id)).value.sample_rate == 8000
    assert parse_wav(await media.get(TENANT, fine.id)).is_prompt_format
    assert f"Stored prompt {broken.id} not converted" in caplog.text
    assert f"Stored prompt {missing.id} not converted" in caplog.text


@pytest.mark.parametrize("source", FORMATS)
async def test_an_upload_is_stored_converted_with_its_length(
    media: MediaStore, source: bytes
) -> None:
    repository = Repository(MemoryStore())

    prompt = await upload_prompt(
        repository,
        media,
        SoxrPromptConverter(),
        tenant_id=TENANT,
        name="Welcome",
        language="en-US",
        data=source,
        uploaded_by="admin",
        now=NOW,
    )

    stored = await media.get(TENANT, prompt.id)
    assert parse_wav(stored).is_prompt_format
    assert len(stored) == PROMPT_HEADER_BYTES + 2 * 16000
    assert (prompt.sample_rate, prompt.duration_s, prompt.size_bytes) == (16000, 1.0, len(stored))
