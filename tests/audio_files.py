"""WAV files for tests: tones in the PCM formats people upload."""

from __future__ import annotations

import math
import struct

import numpy as np

PCM_SUBFORMAT = b"\x01\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def tone_wav(
    *,
    rate: int,
    channels: int = 1,
    bits: int = 16,
    seconds: float = 1.0,
    hz: float = 440.0,
    extensible: bool = False,
) -> bytes:
    """Return a sine tone at half scale as a WAV file of the given PCM format."""
    frames = round(rate * seconds)
    wave_ = 0.5 * np.sin(2 * math.pi * hz * np.arange(frames) / rate)
    if bits == 8:
        ints = np.rint(wave_ * 127 + 128).astype(np.uint8)
        raw = np.repeat(ints[:, None], channels, axis=1).tobytes()
    elif bits == 24:
        ints = np.rint(wave_ * (2**23 - 1)).astype("<i4")
        triples = ints.view(np.uint8).reshape(-1, 4)[:, :3]
        raw = np.repeat(triples[:, None, :], channels, axis=1).tobytes()
    else:
        dtype = "<i2" if bits == 16 else "<i4"
        ints = np.rint(wave_ * (2 ** (bits - 1) - 1)).astype(dtype)
        raw = np.repeat(ints[:, None], channels, axis=1).tobytes()
    align = channels * bits // 8
    if extensible:
        fmt = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * align, align, bits)
        fmt += struct.pack("<HHI", 22, bits, 3) + PCM_SUBFORMAT
    else:
        fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * align, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(raw)) + raw
    return b"RIFF" + struct.pack("<I", len(body)) + body
