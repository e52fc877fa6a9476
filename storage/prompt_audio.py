"""Prompt audio converted to what Graph plays, with numpy and soxr.

Implements :class:`~contactcenter.ports.PromptConverter`: the samples of a parsed WAV file
(8/16/24/32-bit integers or 32-bit floats, mono or stereo) are decoded to floats, mixed
down to mono by averaging, resampled to 16 kHz with soxr (the SoX resampler, a maintained
library with a proper anti-aliasing filter) and written as 16-bit integers.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import soxr

from contactcenter.wav import PROMPT_SAMPLE_RATE, SampleEncoding, WavAudio

if TYPE_CHECKING:
    from contactcenter.ports import PromptConverter

Samples = npt.NDArray[np.float64]

# soxr's "high quality" preset: a steep low-pass filter, far below audible artefacts.
QUALITY = "HQ"
_INT16_SCALE = 32768.0


class SoxrPromptConverter:
    """Converts prompt audio off the event loop (a long file takes milliseconds of CPU)."""

    async def to_prompt_samples(self, audio: WavAudio) -> bytes:
        return await asyncio.to_thread(prompt_samples, audio)


def prompt_samples(audio: WavAudio) -> bytes:
    """Return ``audio`` as 16 kHz mono 16-bit little-endian PCM samples."""
    mono = decode(audio).mean(axis=1)
    if audio.sample_rate != PROMPT_SAMPLE_RATE:
        mono = soxr.resample(mono, audio.sample_rate, PROMPT_SAMPLE_RATE, quality=QUALITY)
    scaled = np.rint(np.asarray(mono, dtype=np.float64) * _INT16_SCALE)
    return np.clip(scaled, -32768, 32767).astype("<i2").tobytes()


def decode(audio: WavAudio) -> Samples:
    """Return the samples as floats in [-1, 1], one row per frame, one column per channel."""
    raw = audio.samples
    if audio.encoding is SampleEncoding.FLOAT:
        values = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        values = np.clip(np.nan_to_num(values), -1.0, 1.0)
    elif audio.bits == 8:
        # 8-bit WAV samples are unsigned, centred on 128.
        values = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif audio.bits == 16:
        values = np.frombuffer(raw, dtype="<i2").astype(np.float64) / _INT16_SCALE
    elif audio.bits == 24:
        values = _int24(raw) / float(1 << 23)
    else:
        values = np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)
    return values.reshape(-1, audio.channels)


def _int24(raw: bytes) -> Samples:
    """Return packed little-endian signed 24-bit integers as floats."""
    triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
    values = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
    values = np.where(values & 0x800000, values - 0x1000000, values)
    return values.astype(np.float64)


def _conforms(converter: SoxrPromptConverter) -> PromptConverter:
    return converter
