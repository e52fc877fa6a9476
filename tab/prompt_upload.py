"""An admin's uploaded prompt: read within the size limit, validated, stored and audited.

Both upload routes go through here: the tab API's prompt library and the host's
``POST /api/media/prompts``.
"""

from __future__ import annotations

from aiohttp import web

from contactcenter.media import MAX_PROMPT_BYTES, upload_prompt
from contactcenter.model import Prompt
from tab.access import Caller
from tab.appkeys import TabState


class PromptTooLarge(Exception):
    """An uploaded prompt file is larger than :data:`MAX_PROMPT_BYTES`."""

    def __init__(self) -> None:
        super().__init__(f"prompts may be at most {MAX_PROMPT_BYTES} bytes")


async def read_prompt_file(request: web.Request) -> bytes:
    """Read an uploaded prompt file (the request body), refusing it once it passes the limit."""
    if (request.content_length or 0) > MAX_PROMPT_BYTES:
        raise PromptTooLarge
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data.extend(chunk)
        if len(data) > MAX_PROMPT_BYTES:
            raise PromptTooLarge
    return bytes(data)


async def receive_prompt(
    request: web.Request, caller: Caller, tab: TabState, *, name: str, language: str
) -> Prompt:
    """Read an admin's uploaded WAV from the request body, validate, store and audit it.

    Raises PromptTooLarge, InvalidInput when the file or its name or language is not
    acceptable (nothing is stored), or another DomainError when it could not be stored.
    """
    data = await read_prompt_file(request)
    prompt = await upload_prompt(
        tab.deps.repository,
        tab.deps.media,
        tab.deps.prompt_converter,
        tenant_id=caller.tenant_id,
        name=name,
        language=language,
        data=data,
        uploaded_by=caller.user_id,
        now=tab.deps.clock.now(),
    )
    await tab.audit.record(
        caller.tenant_id,
        caller.actor,
        "prompt.upload",
        target_type="prompt",
        target_id=prompt.id,
        after=prompt,
    )
    return prompt
