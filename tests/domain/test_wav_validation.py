"""Uploaded prompt files: any PCM WAV people have is read; anything else is refused saying why."""

from __future__ import annotations

import io
import re
import struct
import wave

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contactcenter.errors import InvalidInput
from contactcenter.media import MAX_PROMPT_BYTES, read_prompt_upload
from contactcenter.wav import (
    ACCEPTED,
    PROMPT_HEADER_BYTES,
    SampleEncoding,
    WavAudio,
    parse_wav,
    prompt_wav,
)

PCM_SUBFORMAT = b"\x01\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


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


def extensible(
    *, channels: int = 2, rate: int = 48000, bits: int = 24, sub: bytes = PCM_SUBFORMAT
) -> bytes:
    tail = struct.pack("<HHI", 22, bits, 3) + sub
    return fmt(tag=0xFFFE, channels=channels, rate=rate, bits=bits, extra=tail)


def riff(*chunks: bytes, form: bytes = b"WAVE") -> bytes:
    body = form + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pcm(frames: int, frame_bytes: int = 2) -> bytes:
    return chunk(b"data", b"\x10" * frames * frame_bytes)


def test_8_khz_mono_16_bit_is_read() -> None:
    audio = parse_wav(riff(fmt(), pcm(8000)))

    assert audio == WavAudio(SampleEncoding.PCM, 1, 8000, 16, b"\x10" * 16000)
    assert audio.frames == 8000
    assert audio.duration_s == 1.0
    assert not audio.is_prompt_format


def test_16_khz_mono_16_bit_pcm_is_already_what_graph_plays() -> None:
    audio = parse_wav(riff(fmt(rate=16000), pcm(24000)))

    assert audio.is_prompt_format
    assert audio.duration_s == 1.5


@pytest.mark.parametrize(
    ("header", "frame_bytes", "described"),
    [
        (fmt(channels=2, rate=44100), 4, "44100 Hz stereo 16-bit PCM"),
        (fmt(bits=8, rate=11025), 1, "11025 Hz mono 8-bit PCM"),
        (fmt(bits=24, rate=48000), 3, "48000 Hz mono 24-bit PCM"),
        (fmt(bits=32, rate=32000), 4, "32000 Hz mono 32-bit PCM"),
        (fmt(tag=3, bits=32, rate=22050), 4, "22050 Hz mono 32-bit float"),
        (extensible(), 6, "48000 Hz stereo 24-bit PCM"),
        (extensible(channels=1, bits=16, rate=16000), 2, "16000 Hz mono 16-bit PCM"),
    ],
    ids=["44.1 kHz stereo", "8-bit", "24-bit", "32-bit", "float", "extensible", "extensible 16k"],
)
def test_the_wav_files_people_have_are_read(
    header: bytes, frame_bytes: int, described: str
) -> None:
    audio = parse_wav(riff(header, pcm(100, frame_bytes)))

    assert audio.describe() == described
    assert audio.frames == 100


def test_other_chunks_are_skipped_and_odd_ones_padded() -> None:
    listing = chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00abcde")  # odd length, padded
    assert parse_wav(riff(fmt(), listing, pcm(10))).frames == 10


def test_what_the_standard_library_writes_is_read() -> None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(3)
        out.setframerate(44100)
        out.writeframes(b"\x00\x01\x02" * 200)
    assert parse_wav(buffer.getvalue()).frames == 100


def test_a_prompt_file_has_a_plain_header_and_reads_back_as_16_khz_mono() -> None:
    samples = b"\x01\x02" * 16000

    data = prompt_wav(samples)

    assert len(data) == PROMPT_HEADER_BYTES + len(samples)
    audio = parse_wav(data)
    assert audio.is_prompt_format
    assert audio.samples == samples
    with wave.open(io.BytesIO(data)) as read:
        assert (read.getnchannels(), read.getsampwidth(), read.getframerate()) == (1, 2, 16000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty, not a WAV file"),
        (b"ID3\x03\x00" + b"\x00" * 40, "the file is an MP3 file, not a WAV file"),
        (b"\xff\xfb\x90\x64" + b"\x00" * 40, "the file is an MP3 file, not a WAV file"),
        (b"OggS" + b"\x00" * 40, "an Ogg file"),
        (b"fLaC" + b"\x00" * 40, "a FLAC file"),
        (b"RIFF\x04\x00\x00\x00AVI ", "a RIFF file of type b'AVI '"),
        (b"hello, not audio at all", "not a WAV file"),
        (riff(fmt(tag=6, bits=8), pcm(4, 1)), "A-law audio (audio format 6), not PCM"),
        (riff(fmt(tag=7, bits=8), pcm(4, 1)), "mu-law audio (audio format 7), not PCM"),
        (riff(fmt(tag=2, bits=4), pcm(4, 1)), "Microsoft ADPCM audio (audio format 2)"),
        (riff(fmt(tag=0x55, bits=16), pcm(4)), "MP3 audio (audio format 85)"),
        (riff(fmt(tag=3, bits=64), pcm(4, 8)), "64-bit float samples"),
        (riff(fmt(bits=12), pcm(4)), "12-bit PCM samples"),
        (riff(extensible(sub=b"\x02" + PCM_SUBFORMAT[1:]), pcm(4, 6)), "Microsoft ADPCM"),
        (riff(extensible(sub=b"\x01" * 16), pcm(4, 6)), "sub-format"),
        (riff(fmt(tag=0xFFFE, channels=2, rate=48000, bits=24), pcm(4, 6)), "too short"),
        (riff(fmt(channels=3), pcm(4, 6)), "the file has 3 channels"),
        (riff(fmt(channels=0), pcm(4)), "the file has 0 channels"),
        (riff(fmt(rate=4000), pcm(4)), "sampled at 4000 Hz"),
        (riff(fmt(rate=96000), pcm(4)), "sampled at 96000 Hz"),
        (riff(pcm(4), fmt()), "before the fmt chunk"),
        (riff(fmt()), "no data chunk"),
        (riff(chunk(b"LIST", b"xx")), "no fmt chunk"),
        (riff(fmt(), fmt(), pcm(4)), "more than one fmt chunk"),
        (riff(fmt(), chunk(b"data", b"")), "no audio"),
        (riff(fmt(), chunk(b"data", b"\x00\x00\x00")), "does not hold whole frames"),
        (riff(fmt(), pcm(100))[:-10], "cut short"),
        (riff(chunk(b"fmt ", b"\x01\x00\x01\x00"), pcm(4)), "too short"),
    ],
    ids=[
        "empty",
        "mp3 with tags",
        "mp3 frames",
        "ogg",
        "flac",
        "avi",
        "text",
        "a-law",
        "mu-law",
        "adpcm",
        "mp3 in wav",
        "64-bit float",
        "12-bit",
        "extensible adpcm",
        "extensible unknown",
        "extensible too short",
        "3 channels",
        "no channels",
        "4 kHz",
        "96 kHz",
        "data first",
        "no data",
        "no fmt",
        "two fmt",
        "silent",
        "partial frame",
        "truncated",
        "short fmt",
    ],
)
def test_anything_else_is_refused_saying_what_it_is_and_what_is_accepted(
    data: bytes, message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)) as refused:
        parse_wav(data)

    assert refused.value.field == "file"
    assert str(refused.value).endswith(f"prompts must be {ACCEPTED}")


def test_an_upload_over_the_limit_is_refused_before_it_is_read() -> None:
    big = riff(fmt(), pcm(MAX_PROMPT_BYTES // 2))

    with pytest.raises(InvalidInput, match=f"at most {MAX_PROMPT_BYTES} bytes"):
        read_prompt_upload(big)


def test_audio_too_long_to_fit_the_limit_once_converted_is_refused() -> None:
    # 8-bit 8 kHz mono is a quarter of the size of what Graph plays.
    three_minutes = riff(fmt(bits=8), pcm(8000 * 180, 1))
    assert len(three_minutes) < MAX_PROMPT_BYTES

    with pytest.raises(
        InvalidInput, match=r"the audio lasts 180.0 s; prompts may last at most 163 s"
    ):
        read_prompt_upload(three_minutes)


def test_an_upload_that_fits_is_read() -> None:
    assert read_prompt_upload(riff(fmt(channels=2, rate=44100), pcm(4410, 4))).duration_s == 0.1


# ------------------------------------------------------------------- fuzzing
def _agrees_with_the_standard_library(data: bytes, audio: WavAudio) -> None:
    """A plain PCM file accepted here must be one Python's own reader opens the same way."""
    with wave.open(io.BytesIO(data)) as read:
        assert read.getnchannels() == audio.channels
        assert read.getsampwidth() * 8 == audio.bits
        assert read.getframerate() == audio.sample_rate
        assert read.getnframes() == audio.frames


@given(st.binary(max_size=256))
def test_random_bytes_never_crash_the_reader(data: bytes) -> None:
    try:
        parse_wav(data)
    except InvalidInput as refused:
        field = refused.field
    else:
        return
    assert field == "file"


@st.composite
def mangled_wavs(draw: st.DrawFn) -> bytes:
    """A WAV file built from random parts, then perhaps cut short or with bytes changed."""
    parts = [
        fmt(
            tag=draw(st.sampled_from([1, 1, 1, 3, 6, 0xFFFE])),
            channels=draw(st.sampled_from([1, 1, 2, 3, 0])),
            rate=draw(st.sampled_from([8000, 16000, 11025, 44100, 96000, 0])),
            bits=draw(st.sampled_from([16, 16, 8, 24, 32, 12])),
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
def test_mangled_files_are_read_only_when_they_are_valid(data: bytes) -> None:
    try:
        audio = parse_wav(data)
    except InvalidInput as refused:
        field = refused.field
    else:
        field = None
    if field is not None:
        assert field == "file"
        return
    assert audio.frames > 0
    assert 8000 <= audio.sample_rate <= 48000
    assert audio.channels in (1, 2)
    # The standard library reads plain PCM headers only (not float, not extensible).
    tag = struct.unpack_from("<H", data, data.find(b"fmt ") + 8)[0]
    if tag == 1:
        _agrees_with_the_standard_library(data, audio)
