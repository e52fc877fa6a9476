"""Prompts: validating uploaded WAV files, prompt ids, and the standard prompt set.

Graph plays prompts it fetches from our URLs (service-hosted media); it plays RIFF WAV
files of 16-bit mono PCM at 8 or 16 kHz well, so that is what an upload must be. The
header is parsed here chunk by chunk rather than trusted to a library, so a file that
claims one thing and holds another is refused with the reason.

Prompt ids: an uploaded prompt has an unguessable id (32 hex digits: its URL is public,
because Graph fetches it without our credentials); a standard prompt, shipped with the
product, is ``std.<language>.<name>``.
"""

from __future__ import annotations

import re
import secrets
import struct
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from contactcenter.errors import InvalidInput
from contactcenter.model import Prompt
from contactcenter.ports import MediaStore
from contactcenter.repository import Repository

# An upload larger than this is refused (about 2.5 minutes at 16 kHz).
MAX_PROMPT_BYTES = 5 * 1024 * 1024
SAMPLE_RATES = frozenset({8000, 16000})
PCM_FORMAT = 1

STANDARD_PREFIX = "std."
DEFAULT_LANGUAGE = "en-US"

_UPLOADED_ID = re.compile(r"[0-9a-f]{32}")
_LANGUAGE = re.compile(r"[a-z]{2,3}-[A-Z]{2}")
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_STANDARD_ID = re.compile(r"std\.([a-z]{2,3}-[A-Z]{2})\.([a-z0-9]+(?:-[a-z0-9]+)*)")


@dataclass(frozen=True, slots=True)
class WavInfo:
    """What a valid prompt file holds."""

    sample_rate: int
    frames: int
    data_bytes: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


def _bad(message: str) -> InvalidInput:
    return InvalidInput(message, field="file")


def validate_wav(data: bytes, *, max_bytes: int = MAX_PROMPT_BYTES) -> WavInfo:
    """Return what a prompt file holds, or raise InvalidInput saying what is wrong with it.

    Accepted: RIFF/WAVE with one ``fmt `` chunk of format 1 (PCM; not the extensible
    format), one channel, 16 bits, 8000 or 16000 Hz, consistent byte rate and block
    align, followed by a ``data`` chunk of whole frames that fits in the file.
    """
    if len(data) > max_bytes:
        raise _bad(f"the file is {len(data)} bytes; prompts may be at most {max_bytes} bytes")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise _bad("not a WAV file (no RIFF/WAVE header)")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end = 8 + riff_size
    if end > len(data):
        raise _bad("the RIFF header claims more data than the file holds")
    offset = 12
    fmt: tuple[int, int, int, int, int, int] | None = None
    while offset + 8 <= end:
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body = offset + 8
        if body + size > end:
            raise _bad(f"chunk {chunk_id!r} runs past the end of the file")
        if chunk_id == b"fmt ":
            if fmt is not None:
                raise _bad("more than one fmt chunk")
            if size < 16:
                raise _bad("the fmt chunk is too short")
            fmt = struct.unpack_from("<HHIIHH", data, body)
            _check_format(*fmt)
        elif chunk_id == b"data":
            if fmt is None:
                raise _bad("the data chunk comes before the fmt chunk")
            if size == 0:
                raise _bad("the file holds no audio")
            if size % 2:
                raise _bad("the data chunk does not hold whole 16-bit samples")
            sample_rate = fmt[2]
            return WavInfo(sample_rate=sample_rate, frames=size // 2, data_bytes=size)
        # Chunks are padded to an even length.
        offset = body + size + (size & 1)
    raise _bad("no fmt chunk" if fmt is None else "no data chunk")


def _check_format(
    format_tag: int, channels: int, rate: int, byte_rate: int, block_align: int, bits: int
) -> None:
    if format_tag != PCM_FORMAT:
        raise _bad(f"audio format {format_tag} is not plain PCM (1)")
    if channels != 1:
        raise _bad(f"{channels} channels; prompts must be mono")
    if bits != 16:
        raise _bad(f"{bits}-bit samples; prompts must be 16-bit")
    if rate not in SAMPLE_RATES:
        raise _bad(f"{rate} Hz; prompts must be 8000 or 16000 Hz")
    if block_align != 2 or byte_rate != rate * 2:
        raise _bad("the byte rate or block align does not match 16-bit mono")


def wav_duration_s(data: bytes) -> float:
    """Return the length of a 16-bit mono PCM WAV (8 or 16 kHz), or 0.0 if it is not one."""
    try:
        return validate_wav(data, max_bytes=len(data)).duration_s
    except InvalidInput:
        return 0.0


# ------------------------------------------------------------------------- ids
def new_prompt_id() -> str:
    """Return a fresh, unguessable id for an uploaded prompt (or a recording)."""
    return secrets.token_hex(16)


def is_uploaded_prompt_id(prompt_id: str) -> bool:
    return _UPLOADED_ID.fullmatch(prompt_id) is not None


def parse_standard_id(prompt_id: str) -> tuple[str, str] | None:
    """Return (language, name) of a standard prompt id, or None."""
    match = _STANDARD_ID.fullmatch(prompt_id)
    return None if match is None else (match[1], match[2])


def is_prompt_id(prompt_id: str) -> bool:
    """Return whether ``prompt_id`` is a well-formed prompt id (uploaded or standard)."""
    return is_uploaded_prompt_id(prompt_id) or parse_standard_id(prompt_id) is not None


def standard_prompt(name: str, language: str = DEFAULT_LANGUAGE) -> str:
    """Return the id of a standard prompt in ``language``."""
    if not _LANGUAGE.fullmatch(language) or not _NAME.fullmatch(name):
        raise InvalidInput(f"no standard prompt {language}/{name}", field="promptId")
    return f"{STANDARD_PREFIX}{language}.{name}"


def check_language(language: str) -> str:
    """Return a language tag such as en-US, or raise InvalidInput."""
    if not _LANGUAGE.fullmatch(language):
        raise InvalidInput(f"{language!r} is not a language tag like en-US", field="language")
    return language


class StandardPrompt(StrEnum):
    """The standard prompt set's parts (one WAV per language and name)."""

    GREETING = "greeting"
    MUSIC = "music"
    COMFORT = "comfort"
    YOU_ARE_NUMBER = "you-are-number"
    IN_LINE = "in-line"
    ESTIMATED_WAIT = "estimated-wait"
    MINUTE = "minute"
    MINUTES = "minutes"
    LESS_THAN_ONE_MINUTE = "less-than-one-minute"
    MORE_THAN = "more-than"
    PRESS = "press"
    STAR = "star"
    POUND = "pound"
    CLOSED = "closed"
    HOLIDAY = "holiday"
    UNAVAILABLE = "unavailable"
    VOICEMAIL = "voicemail"
    VOICEMAIL_THANKS = "voicemail-thanks"
    CALLBACK_OFFER = "callback-offer"
    CALLBACK_CONFIRMED = "callback-confirmed"
    CALLBACK_UNAVAILABLE = "callback-unavailable"
    CALLBACK_INTRO = "callback-intro"
    INVALID_OPTION = "invalid-option"
    NO_INPUT = "no-input"
    CHOOSE = "choose"
    TRANSFERRING = "transferring"
    GOODBYE = "goodbye"


def number_prompt_name(number: int) -> str:
    """Return the standard prompt name of a number that has one of its own (0-19, tens)."""
    return f"number-{number}"


# ---------------------------------------------------------------------- uploads
MAX_NAME_LENGTH = 100


async def upload_prompt(
    repository: Repository,
    media: MediaStore,
    *,
    tenant_id: str,
    name: str,
    language: str,
    data: bytes,
    uploaded_by: str,
    now: datetime,
) -> Prompt:
    """Validate and store an uploaded prompt; nothing is kept when any step fails.

    The audio is written first and the prompt document second, so a prompt never names
    audio that is not there; if the document cannot be written the audio is removed.
    """
    info = validate_wav(data)
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"a prompt needs a name of 1-{MAX_NAME_LENGTH} characters", field="name")
    prompt = Prompt(
        id=new_prompt_id(),
        tenant_id=tenant_id,
        name=name,
        language=check_language(language),
        duration_s=round(info.duration_s, 3),
        sample_rate=info.sample_rate,
        size_bytes=len(data),
        uploaded_at=now,
        uploaded_by=uploaded_by,
    )
    await media.put(tenant_id, prompt.id, data)
    try:
        await repository.prompts.create(prompt)
    except BaseException:
        await media.delete(tenant_id, prompt.id)
        raise
    return prompt
