"""RIFF/WAVE files: what an uploaded file holds, and the one format prompts are stored in.

Graph plays prompts only as "Wave file (.wav) format, single-channel, 16-bit samples
with a 16,000 (16 KHz) sampling rate" (``mediaInfo.uri``). People upload what they have,
so a file is read here chunk by chunk, ``WAVE_FORMAT_EXTENSIBLE`` headers included (the
standard library's ``wave`` refuses them), and anything that is not PCM audio is refused
with a message saying what the file is and what is accepted. Turning the samples into
16 kHz mono is the job of a :class:`~contactcenter.ports.PromptConverter`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum

from contactcenter.errors import InvalidInput

# What Graph plays, and so what every stored prompt is.
PROMPT_SAMPLE_RATE = 16000
PROMPT_CHANNELS = 1
PROMPT_BITS = 16
# A plain header: RIFF (12 bytes), a 16-byte fmt chunk (24) and the data chunk's header (8).
PROMPT_HEADER_BYTES = 44

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 48000
MAX_CHANNELS = 2
PCM_BITS = frozenset({8, 16, 24, 32})
FLOAT_BITS = frozenset({32})

ACCEPTED = (
    "a WAV file of PCM audio (8, 16, 24 or 32-bit integer, or 32-bit float samples), "
    "mono or stereo, sampled at 8,000-48,000 Hz"
)

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# KSDATAFORMAT_SUBTYPE_PCM and _IEEE_FLOAT share this tail after their 2-byte format code.
_SUBFORMAT_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"

# Format tags people meet, so a refusal can name what the file holds.
_FORMAT_NAMES = {
    0x0002: "Microsoft ADPCM",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0050: "MPEG",
    0x0055: "MP3",
}


class SampleEncoding(StrEnum):
    """How the samples of a WAV file are stored."""

    PCM = "pcm"  # integers: unsigned for 8-bit, signed little-endian otherwise
    FLOAT = "float"  # IEEE 754, little-endian


@dataclass(frozen=True, slots=True)
class WavAudio:
    """The audio of a WAV file: its format and its whole frames, interleaved."""

    encoding: SampleEncoding
    channels: int
    sample_rate: int
    bits: int
    samples: bytes

    @property
    def frame_bytes(self) -> int:
        return self.channels * self.bits // 8

    @property
    def frames(self) -> int:
        return len(self.samples) // self.frame_bytes

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def is_prompt_format(self) -> bool:
        """Return whether Graph plays these samples as they are (16 kHz mono 16-bit PCM)."""
        return (
            self.encoding is SampleEncoding.PCM
            and self.channels == PROMPT_CHANNELS
            and self.bits == PROMPT_BITS
            and self.sample_rate == PROMPT_SAMPLE_RATE
        )

    def describe(self) -> str:
        """Return the format in words, e.g. ``44100 Hz stereo 24-bit PCM``."""
        layout = {1: "mono", 2: "stereo"}.get(self.channels, f"{self.channels}-channel")
        kind = "float" if self.encoding is SampleEncoding.FLOAT else "PCM"
        return f"{self.sample_rate} Hz {layout} {self.bits}-bit {kind}"


def _bad(message: str) -> InvalidInput:
    return InvalidInput(message, field="file")


def _refuse(what: str) -> InvalidInput:
    return _bad(f"{what}; prompts must be {ACCEPTED}")


def parse_wav(data: bytes) -> WavAudio:
    """Return the audio of a WAV file, or raise InvalidInput saying what the file is.

    Accepted: RIFF/WAVE with one ``fmt `` chunk of PCM or IEEE float samples (plain, or
    ``WAVE_FORMAT_EXTENSIBLE`` with the PCM or float sub-format), one or two channels,
    8,000-48,000 Hz, a byte rate and block align that agree with the format, followed by
    a ``data`` chunk of whole frames that fits in the file. Other chunks are skipped.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise _refuse(f"the file is {_what_it_is(data)}, not a WAV file")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end = 8 + riff_size
    if end > len(data):
        raise _refuse("the file is cut short: the RIFF header claims more data than it holds")
    offset = 12
    fmt: _Format | None = None
    while offset + 8 <= end:
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body = offset + 8
        if body + size > end:
            raise _refuse(f"the file is cut short: its {chunk_id!r} chunk runs past the end")
        if chunk_id == b"fmt ":
            if fmt is not None:
                raise _refuse("the file has more than one fmt chunk")
            fmt = _read_format(data[body : body + size])
        elif chunk_id == b"data":
            if fmt is None:
                raise _refuse("the data chunk comes before the fmt chunk")
            return _audio(fmt, data[body : body + size])
        # Chunks are padded to an even length.
        offset = body + size + (size & 1)
    raise _refuse("the file has no fmt chunk" if fmt is None else "the file has no data chunk")


@dataclass(frozen=True, slots=True)
class _Format:
    encoding: SampleEncoding
    channels: int
    sample_rate: int
    bits: int

    @property
    def block_align(self) -> int:
        return self.channels * self.bits // 8


def _read_format(body: bytes) -> _Format:
    if len(body) < 16:
        raise _refuse("the fmt chunk is too short")
    tag, channels, rate, byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == WAVE_FORMAT_EXTENSIBLE:
        if len(body) < 40:
            raise _refuse("the extensible fmt chunk is too short")
        (valid_bits,) = struct.unpack_from("<H", body, 18)
        subformat = body[24:40]
        if subformat[2:] != _SUBFORMAT_TAIL:
            raise _refuse(f"the extensible sub-format {subformat.hex()} is not PCM or float")
        if valid_bits > bits:
            raise _refuse(f"{valid_bits} valid bits do not fit {bits}-bit samples")
        (tag,) = struct.unpack_from("<H", subformat)
    if tag == WAVE_FORMAT_PCM:
        encoding = SampleEncoding.PCM
        if bits not in PCM_BITS:
            raise _refuse(f"the file holds {bits}-bit PCM samples")
    elif tag == WAVE_FORMAT_IEEE_FLOAT:
        encoding = SampleEncoding.FLOAT
        if bits not in FLOAT_BITS:
            raise _refuse(f"the file holds {bits}-bit float samples")
    else:
        name = _FORMAT_NAMES.get(tag, "compressed or unknown")
        raise _refuse(f"the file holds {name} audio (audio format {tag}), not PCM")
    if channels == 0 or channels > MAX_CHANNELS:
        raise _refuse(f"the file has {channels} channels")
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise _refuse(f"the file is sampled at {rate} Hz")
    found = _Format(encoding, channels, rate, bits)
    if block_align != found.block_align or byte_rate != rate * found.block_align:
        raise _refuse(
            f"the byte rate or block align does not match {channels}-channel {bits}-bit audio"
        )
    return found


def _audio(fmt: _Format, samples: bytes) -> WavAudio:
    if not samples:
        raise _refuse("the file holds no audio")
    if len(samples) % fmt.block_align:
        raise _refuse("the file is cut short: its data chunk does not hold whole frames")
    return WavAudio(fmt.encoding, fmt.channels, fmt.sample_rate, fmt.bits, samples)


def _what_it_is(data: bytes) -> str:
    """Name what a file that is not RIFF/WAVE seems to be, from its first bytes."""
    if not data:
        return "empty"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "an MP3 file"
    if data[:4] == b"OggS":
        return "an Ogg file"
    if data[:4] == b"fLaC":
        return "a FLAC file"
    if data[4:8] == b"ftyp":
        return "an MP4/M4A file"
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return "an AIFF file"
    if data[:5] == b"#!AMR":
        return "an AMR file"
    if data[:4] == b"RF64":
        return "an RF64 (64-bit RIFF) file"
    if data[:4] == b"RIFF" and len(data) >= 12:
        return f"a RIFF file of type {data[8:12]!r}"
    return "not audio we recognise (no RIFF/WAVE header)"


def prompt_wav(samples: bytes) -> bytes:
    """Return a prompt file: 16 kHz mono 16-bit PCM ``samples`` behind a plain 44-byte header."""
    if len(samples) % 2:
        raise ValueError("16-bit samples come in pairs of bytes")
    block_align = PROMPT_CHANNELS * PROMPT_BITS // 8
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        PROMPT_HEADER_BYTES - 8 + len(samples),
        b"WAVE",
        b"fmt ",
        16,
        WAVE_FORMAT_PCM,
        PROMPT_CHANNELS,
        PROMPT_SAMPLE_RATE,
        PROMPT_SAMPLE_RATE * block_align,
        block_align,
        PROMPT_BITS,
        b"data",
        len(samples),
    )
    return header + samples
