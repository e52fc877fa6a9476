"""Generate the standard prompt set: ``media/prompts/<language>/<name>.wav``.

Speech comes from espeak-ng (Debian: ``apt-get install espeak-ng``), resampled with soxr
(a dependency of the product); the music on hold is an original melody synthesized here
from sine tones. Everything is written as 16 kHz, 16-bit mono PCM WAV: the only format
Graph plays prompts in. The files are committed, so this only runs to change or add
prompts (with the project's virtualenv, which has soxr):

    .venv/bin/python tools/make_prompts.py [--language en-US] [--out media/prompts]

Announcements are assembled from these parts (Graph has no text-to-speech): numbers 0-19
and the tens up to 90 make every number up to 99 ("twenty" + "one").
"""

from __future__ import annotations

import argparse
import array
import io
import math
import shutil
import subprocess
import sys
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soxr

RATE = 16000
PEAK = 0.7 * 32767

ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = {20: "twenty", 30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy"}
TENS |= {80: "eighty", 90: "ninety"}

# name -> what is said, per language. Numbers are added by ``speech_prompts``.
SPEECH: dict[str, dict[str, str]] = {
    "en-US": {
        "greeting": "Thank you for calling. Please stay on the line: the next available "
        "agent will be with you shortly.",
        "comfort": "Thank you for waiting. Your call is important to us.",
        "you-are-number": "You are number",
        "in-line": "in line.",
        "estimated-wait": "Your estimated wait is",
        "minute": "minute.",
        "minutes": "minutes.",
        "less-than-one-minute": "less than one minute.",
        "more-than": "more than",
        "press": "press",
        "star": "star.",
        "pound": "pound.",
        "closed": "We are closed right now. Please call again during our business hours. Goodbye.",
        "holiday": "We are closed for the holiday. Please call again on the next business "
        "day. Goodbye.",
        "unavailable": "Sorry, nobody can take your call right now. Please call again later. "
        "Goodbye.",
        "voicemail": "Please leave a message after the tone. Press the pound key when you "
        "are done.",
        "voicemail-thanks": "Thank you, your message has been recorded. Goodbye.",
        "callback-offer": "To keep your place in line and have us call you back, press",
        "callback-confirmed": "Thank you. You keep your place in line, and we will call you "
        "back as soon as an agent is free. Goodbye.",
        "callback-unavailable": "Sorry, we cannot call you back at this number.",
        "callback-intro": "Hello, we are calling you back as you asked. Please hold while "
        "we connect you to an agent.",
        "invalid-option": "Sorry, that is not a valid option.",
        "no-input": "Sorry, we did not get your selection.",
        "choose": "Please make your selection now.",
        "transferring": "Please hold while we transfer your call.",
        "goodbye": "Goodbye.",
        # The demo tenant's main menu.
        "demo-main-menu": "Welcome to Contoso. For sales, press 1. For support, press 2. "
        "To leave a voicemail, press 9.",
    }
}

VOICES = {"en-US": "en-us"}


def speech_prompts(language: str) -> dict[str, str]:
    """Return every spoken prompt of a language, numbers included."""
    prompts = dict(SPEECH[language])
    for number, word in enumerate(ONES):
        prompts[f"number-{number}"] = word
    for number, word in TENS.items():
        prompts[f"number-{number}"] = word
    return prompts


# ------------------------------------------------------------------------- audio
def read_samples(data: bytes) -> tuple[list[float], int]:
    """Return the samples (-1..1) and rate of a 16-bit mono WAV."""
    with wave.open(io.BytesIO(data)) as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise SystemExit("espeak-ng did not produce 16-bit mono audio")
        raw = array.array("h", wav.readframes(wav.getnframes()))
        rate = wav.getframerate()
    if sys.byteorder == "big":
        raw.byteswap()
    return [s / 32768 for s in raw], rate


def resample(samples: Sequence[float], rate_in: int, rate_out: int) -> list[float]:
    """Resample with soxr, whose low-pass filter cuts what the new rate cannot hold."""
    if rate_in == rate_out:
        return list(samples)
    resampled = soxr.resample(np.asarray(samples, dtype=np.float64), rate_in, rate_out, "HQ")
    return [float(s) for s in resampled]


def trim(samples: list[float], *, threshold: float = 0.01, pad_s: float = 0.08) -> list[float]:
    """Cut leading and trailing silence, keeping a short pad on both sides."""
    loud = [i for i, s in enumerate(samples) if abs(s) > threshold]
    if not loud:
        return samples
    pad = int(pad_s * RATE)
    return samples[max(0, loud[0] - pad) : loud[-1] + pad]


def wav_bytes(samples: Sequence[float], *, normalize: bool = True) -> bytes:
    """Encode samples as a 16 kHz 16-bit mono PCM WAV file."""
    peak = max((abs(s) for s in samples), default=0.0)
    gain = PEAK / peak if normalize and peak > 0 else 32767
    pcm = array.array("h", (max(-32768, min(32767, round(s * gain))) for s in samples))
    if sys.byteorder == "big":
        pcm.byteswap()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(pcm.tobytes())
    return buffer.getvalue()


def speak(text: str, voice: str) -> bytes:
    """Say ``text`` with espeak-ng; return a 16 kHz WAV file."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SystemExit("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    spoken = subprocess.run(  # noqa: S603 - a fixed program, our own text
        [espeak, "-v", voice, "-s", "150", "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    samples, rate = read_samples(spoken)
    return wav_bytes(trim(resample(samples, rate, RATE)))


# ------------------------------------------------------------------------- music
# An original tune: two bars of a calm arpeggio in C major (pentatonic), then a variation,
# over a soft bass. Semitones from A4 (440 Hz); None is a rest. Each step is an eighth.
MELODY: tuple[int | None, ...] = (
    3, 7, 10, 14, 12, 10, 7, 10,
    5, 8, 12, 15, 14, 12, 8, None,
    3, 7, 10, 15, 14, 10, 12, 7,
    -2, 3, 7, 10, 8, 7, 3, None,
)  # fmt: skip
BASS: tuple[int, ...] = (-21, -16, -19, -26)  # one per bar: C, F, D, G (octaves down)
STEP_S = 0.25


def _note(semitones: int, length_s: float, *, volume: float, bright: float) -> list[float]:
    frequency = 440.0 * 2 ** (semitones / 12)
    count = int(length_s * RATE)
    attack, release = int(0.02 * RATE), int(0.6 * count)
    out = []
    for i in range(count):
        t = i / RATE
        envelope = min(1.0, i / attack) * (1.0 if i < count - release else (count - i) / release)
        tone = math.sin(2 * math.pi * frequency * t) + bright * math.sin(
            4 * math.pi * frequency * t
        )
        out.append(volume * envelope * tone)
    return out


def hold_music() -> bytes:
    """Return the music on hold: 8 seconds that loop without a click."""
    total = int(len(MELODY) * STEP_S * RATE)
    mix = [0.0] * total
    for index, semitones in enumerate(MELODY):
        if semitones is None:
            continue
        start = int(index * STEP_S * RATE)
        for i, sample in enumerate(_note(semitones, STEP_S * 1.6, volume=0.35, bright=0.25)):
            if start + i < total:
                mix[start + i] += sample
    bar = total // len(BASS)
    for index, semitones in enumerate(BASS):
        for i, sample in enumerate(_note(semitones, bar / RATE, volume=0.3, bright=0.1)):
            mix[index * bar + i] += sample
    # Fade the very ends so the loop point is silent on both sides.
    fade = int(0.01 * RATE)
    for i in range(fade):
        mix[i] *= i / fade
        mix[total - 1 - i] *= i / fade
    return wav_bytes(mix)


# -------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", default="en-US", choices=sorted(SPEECH))
    parser.add_argument("--out", type=Path, default=Path("media/prompts"))
    parser.add_argument("--only", nargs="*", help="generate only these prompt names")
    args = parser.parse_args(argv)
    folder: Path = args.out / args.language
    folder.mkdir(parents=True, exist_ok=True)
    wanted = set(args.only or ())
    prompts = speech_prompts(args.language)
    for name, text in sorted(prompts.items()):
        if wanted and name not in wanted:
            continue
        (folder / f"{name}.wav").write_bytes(speak(text, VOICES[args.language]))
    if not wanted or "music" in wanted:
        (folder / "music.wav").write_bytes(hold_music())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
