"""Uploaded prompts: only RIFF WAV, PCM 16-bit mono at 8 or 16 kHz, within the size limit."""

from __future__ import annotations

import io
import struct
import wave

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contactcenter.errors import InvalidInput
from contactcenter.media import MAX_PROMPT_BYTES, WavInfo, validate_wav


def chunk(chunk_id: bytes, body: bytes) -> bytes:
    padding = b"\x00" if len(body) % 2 else b""
    return chunk_id + struct.pack("<I", len(body)) + body + padding


def fmt(
    *, tag: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16, extra: bytes = b""
) -> bytes:
    align = channels * bits // 8
    return chunk(
        b"fmt ", struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits) + extra
    )


def riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pcm(frames: int) -> bytes:
    return chunk(b"data", b"\x10\x00" * frames)


def test_8_khz_mono_16_bit_is_accepted() -> None:
    assert validate_wav(riff(fmt(), pcm(8000))) == WavInfo(8000, 8000, 16000)


def test_16_khz_is_accepted_and_its_length_known() -> None:
    info = validate_wav(riff(fmt(rate=16000), pcm(24000)))
    assert info.duration_s == 1.5


def test_other_chunks_are_skipped_and_odd_ones_padded() -> None:
    listing = chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00abcde")  # odd length, padded
    assert validate_wav(riff(fmt(), listing, pcm(10))).frames == 10


def test_what_the_standard_library_writes_is_accepted() -> None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x00\x01" * 100)
    assert validate_wav(buffer.getvalue()).frames == 100


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a WAV file"),
        (b"ID3\x03\x00" + b"\x00" * 40, "not a WAV file"),
        (b"RIFF\x04\x00\x00\x00AVI ", "not a WAV file"),
        (riff(fmt(tag=3, bits=32), pcm(4)), "audio format 3"),
        (riff(fmt(tag=0xFFFE, extra=b"\x16\x00" + b"\x00" * 22), pcm(4)), "audio format 65534"),
        (riff(fmt(tag=6, bits=8), pcm(4)), "audio format 6"),
        (riff(fmt(channels=2), pcm(4)), "mono"),
        (riff(fmt(bits=8), pcm(4)), "16-bit"),
        (riff(fmt(rate=44100), pcm(4)), "8000 or 16000"),
        (riff(fmt(rate=11025), pcm(4)), "8000 or 16000"),
        (riff(pcm(4), fmt()), "before the fmt chunk"),
        (riff(fmt()), "no data chunk"),
        (riff(chunk(b"LIST", b"xx")), "no fmt chunk"),
        (riff(fmt(), fmt(), pcm(4)), "more than one fmt chunk"),
        (riff(fmt(), chunk(b"data", b"")), "no audio"),
        (riff(fmt(), chunk(b"data", b"\x00\x00\x00")), "whole 16-bit samples"),
        (riff(fmt(), pcm(100))[:-10], "more data than the file holds"),
        (riff(chunk(b"fmt ", b"\x01\x00\x01\x00"), pcm(4)), "too short"),
    ],
    ids=[
        "empty",
        "mp3",
        "avi",
        "float",
        "extensible",
        "a-law",
        "stereo",
        "8-bit",
        "44.1 kHz",
        "11 kHz",
        "data first",
        "no data",
        "no fmt",
        "two fmt",
        "silent",
        "odd data",
        "truncated",
        "short fmt",
    ],
)
def test_anything_else_is_refused_saying_why(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        validate_wav(data)
    assert refused.value.field == "file"


def test_a_file_over_the_limit_is_refused_before_it_is_parsed() -> None:
    big = riff(fmt(), pcm(MAX_PROMPT_BYTES // 2))
    with pytest.raises(InvalidInput, match="at most"):
        validate_wav(big)
    assert validate_wav(big, max_bytes=len(big)).frames == MAX_PROMPT_BYTES // 2


# ------------------------------------------------------------------- fuzzing
def _agrees_with_the_standard_library(data: bytes, info: WavInfo) -> None:
    """An accepted file must be one Python's own reader opens as 16-bit mono PCM."""
    with wave.open(io.BytesIO(data)) as read:
        assert read.getnchannels() == 1
        assert read.getsampwidth() == 2
        assert read.getframerate() == info.sample_rate
        assert read.getnframes() == info.frames


@given(st.binary(max_size=256))
def test_random_bytes_never_crash_the_validator(data: bytes) -> None:
    try:
        info = validate_wav(data)
    except InvalidInput:
        return
    _agrees_with_the_standard_library(data, info)


@st.composite
def mangled_wavs(draw: st.DrawFn) -> bytes:
    """A WAV file built from random parts, then perhaps cut short or with bytes changed."""
    parts = [
        fmt(
            tag=draw(st.sampled_from([1, 1, 1, 3, 6, 0xFFFE])),
            channels=draw(st.sampled_from([1, 1, 2, 0])),
            rate=draw(st.sampled_from([8000, 16000, 11025, 44100, 0])),
            bits=draw(st.sampled_from([16, 16, 8, 24])),
        )
    ]
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, 1)), chunk(b"LIST", draw(st.binary(max_size=9))))
    parts.append(chunk(b"data", draw(st.binary(max_size=64))))
    if draw(st.booleans()):
        parts.reverse()
    data = bytearray(riff(*parts))
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(mangled_wavs())
def test_mangled_files_are_accepted_only_when_they_are_valid(data: bytes) -> None:
    try:
        info = validate_wav(data)
    except InvalidInput as refused:
        field = refused.field
    else:
        _agrees_with_the_standard_library(data, info)
        assert info.sample_rate in (8000, 16000)
        assert info.frames > 0
        return
    assert field == "file"
