"""Prompts: uploaded WAV files converted to what Graph plays, prompt ids, the standard set.

Graph plays prompts it fetches from our URLs (service-hosted media) and only as 16 kHz
mono 16-bit PCM WAV files. An upload may be any PCM WAV people have (see
:mod:`contactcenter.wav`); it is stored converted, and prompts stored before this rule
are converted once when the host starts (:func:`convert_stored_prompts`).

Prompt ids: an uploaded prompt has an unguessable id (32 hex digits: its URL is public,
because Graph fetches it without our credentials); a standard prompt, shipped with the
product, is ``std.<language>.<name>``.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from contactcenter.errors import DomainError, InvalidInput, NotFound
from contactcenter.inbound import unsafe_character
from contactcenter.model import Prompt
from contactcenter.ports import MediaStore, PromptConverter
from contactcenter.repository import Repository
from contactcenter.wav import (
    PROMPT_BITS,
    PROMPT_HEADER_BYTES,
    PROMPT_SAMPLE_RATE,
    WavAudio,
    parse_wav,
    prompt_wav,
)

_LOGGER = logging.getLogger(__name__)

# An upload larger than this is refused, and so is audio that would not fit in it once
# converted: about 2.7 minutes at 16 kHz.
MAX_PROMPT_BYTES = 5 * 1024 * 1024
_PROMPT_BYTE_RATE = PROMPT_SAMPLE_RATE * PROMPT_BITS // 8
MAX_PROMPT_SECONDS = (MAX_PROMPT_BYTES - PROMPT_HEADER_BYTES) // _PROMPT_BYTE_RATE

STANDARD_PREFIX = "std."
DEFAULT_LANGUAGE = "en-US"

_UPLOADED_ID = re.compile(r"[0-9a-f]{32}")
_LANGUAGE = re.compile(r"[a-z]{2,3}-[A-Z]{2}")
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_STANDARD_ID = re.compile(r"std\.([a-z]{2,3}-[A-Z]{2})\.([a-z0-9]+(?:-[a-z0-9]+)*)")


def read_prompt_upload(data: bytes, *, max_bytes: int = MAX_PROMPT_BYTES) -> WavAudio:
    """Return the audio of an uploaded prompt file, or raise InvalidInput saying why not.

    The file must be at most ``max_bytes``, a WAV file :func:`~contactcenter.wav.parse_wav`
    accepts, and short enough to fit in ``max_bytes`` once converted to 16 kHz.
    """
    if len(data) > max_bytes:
        raise InvalidInput(
            f"the file is {len(data)} bytes; prompts may be at most {max_bytes} bytes",
            field="file",
        )
    audio = parse_wav(data)
    converted = PROMPT_HEADER_BYTES + round(audio.duration_s * PROMPT_SAMPLE_RATE) * 2
    if converted > max_bytes:
        limit = (max_bytes - PROMPT_HEADER_BYTES) // _PROMPT_BYTE_RATE
        raise InvalidInput(
            f"the audio lasts {audio.duration_s:.1f} s; prompts may last at most {limit} s",
            field="file",
        )
    return audio


async def prompt_file(audio: WavAudio, converter: PromptConverter) -> bytes:
    """Return ``audio`` as a prompt file Graph plays: 16 kHz mono 16-bit PCM, plain header."""
    if audio.is_prompt_format:
        return prompt_wav(audio.samples)
    return prompt_wav(await converter.to_prompt_samples(audio))


def wav_duration_s(data: bytes) -> float:
    """Return the length of a WAV file's audio in seconds, or 0.0 if it is not one we read."""
    try:
        return parse_wav(data).duration_s
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
    converter: PromptConverter,
    *,
    tenant_id: str,
    name: str,
    language: str,
    data: bytes,
    uploaded_by: str,
    now: datetime,
) -> Prompt:
    """Validate, convert and store an uploaded prompt; nothing is kept when any step fails.

    The audio is written first and the prompt document second, so a prompt never names
    audio that is not there; if the document cannot be written the audio is removed.
    """
    audio = read_prompt_upload(data)
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"a prompt needs a name of 1-{MAX_NAME_LENGTH} characters", field="name")
    if (found := unsafe_character(name)) is not None:
        raise InvalidInput(
            f"must not hold control or bidirectional-override characters (found {found})",
            field="name",
        )
    language = check_language(language)
    stored = await prompt_file(audio, converter)
    prompt = Prompt(
        id=new_prompt_id(),
        tenant_id=tenant_id,
        name=name,
        language=language,
        duration_s=_duration_s(stored),
        sample_rate=PROMPT_SAMPLE_RATE,
        size_bytes=len(stored),
        uploaded_at=now,
        uploaded_by=uploaded_by,
    )
    await media.put(tenant_id, prompt.id, stored)
    try:
        await repository.prompts.create(prompt)
    except BaseException:
        await media.delete(tenant_id, prompt.id)
        raise
    return prompt


def _duration_s(prompt: bytes) -> float:
    return round((len(prompt) - PROMPT_HEADER_BYTES) / _PROMPT_BYTE_RATE, 3)


# ------------------------------------------------------------- stored prompts
@dataclass(frozen=True, slots=True)
class StoredPromptConversion:
    """What :func:`convert_stored_prompts` did."""

    converted: int = 0
    already: int = 0
    failed: int = 0


async def convert_stored_prompts(
    repository: Repository, media: MediaStore, converter: PromptConverter
) -> StoredPromptConversion:
    """Convert every uploaded prompt stored at another format than Graph plays; log counts.

    A prompt document names its sample rate, so only prompts whose document says another
    rate are read. Idempotent: audio already at 16 kHz is left as it is and only its
    document is corrected (a start that stopped between the two writes), and a prompt
    converted once is not read again. A prompt that cannot be read or converted is logged
    and left as it was; it does not stop the host.
    """
    result = StoredPromptConversion()
    for found in await repository.prompts.find(None):
        prompt = found.value
        if prompt.sample_rate == PROMPT_SAMPLE_RATE:
            continue
        try:
            converted = await _convert_stored_prompt(repository, media, converter, prompt)
        except DomainError as err:
            _LOGGER.warning(
                "Stored prompt %s not converted: %s",
                prompt.id,
                err,
                extra={"tenant_id": prompt.tenant_id},
            )
            result = replace(result, failed=result.failed + 1)
            continue
        if converted:
            result = replace(result, converted=result.converted + 1)
        else:
            result = replace(result, already=result.already + 1)
    if result.converted or result.failed or result.already:
        _LOGGER.info(
            "Stored prompts converted to %d Hz: %d converted, %d already converted, %d failed",
            PROMPT_SAMPLE_RATE,
            result.converted,
            result.already,
            result.failed,
        )
    return result


async def _convert_stored_prompt(
    repository: Repository, media: MediaStore, converter: PromptConverter, prompt: Prompt
) -> bool:
    """Convert one stored prompt and correct its document; return whether audio changed."""
    data = await media.get(prompt.tenant_id, prompt.id)
    audio = parse_wav(data)
    changed = not audio.is_prompt_format
    stored = await prompt_file(audio, converter) if changed else data
    if changed:
        await media.put(prompt.tenant_id, prompt.id, stored)

    def corrected(current: Prompt) -> Prompt:
        return replace(
            current,
            sample_rate=PROMPT_SAMPLE_RATE,
            size_bytes=len(stored),
            duration_s=round(audio.duration_s, 3),
        )

    try:
        await repository.prompts.update(prompt.tenant_id, prompt.id, corrected)
    except NotFound:
        # Deleted while we converted it: its audio goes with it.
        await media.delete(prompt.tenant_id, prompt.id)
    return changed
