"""Every WAV file the repository ships is what Graph plays: 16 kHz mono 16-bit PCM."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def shipped_wavs() -> list[Path]:
    """Return every WAV file tracked in the repository (the standard prompts among them)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "*.wav"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    return sorted(ROOT / name for name in listed.decode().split("\0") if name)


def test_the_standard_prompts_are_shipped() -> None:
    prompts = [p for p in shipped_wavs() if p.is_relative_to(ROOT / "media" / "prompts")]
    assert len(prompts) >= 56


@pytest.mark.parametrize("path", shipped_wavs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_shipped_wav_is_16_khz_mono_16_bit_pcm(path: Path) -> None:
    # The standard library opens only plain PCM WAV files, so it doubles as the PCM check.
    with wave.open(str(path)) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (16000, 1, 2)
        assert audio.getnframes() > 0
