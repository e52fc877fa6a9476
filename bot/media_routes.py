"""Prompts over HTTP: Graph fetches them from here, admins upload them here.

:func:`add_media_routes` adds:

* ``GET /media/prompts/{tenantId}/{promptId}.wav`` — public, because Graph fetches
  prompts without our credentials (service-hosted media). Uploaded prompts have
  unguessable ids and never change (a new upload is a new id), so they are cached for a
  year; the standard set (``std.<language>.<name>``, shipped as the package
  ``bot.standard_prompts`` from ``media/prompts/``) for a day.
* ``POST /api/media/prompts?name=&language=`` — an admin uploads a WAV file (the body;
  tab SSO token): any PCM WAV of at most 5 MB (8-32-bit, mono or stereo, 8-48 kHz, plain
  or extensible header), stored converted to what Graph plays (16 kHz mono 16-bit PCM)
  as a media blob, audited (``tab.prompt_upload``, as the tab API's upload).

The composition root opens the media store (:func:`open_media_store`: the data dir, or
Azure Blob Storage when ``BLOB_ACCOUNT_URL`` / ``BLOB_CONNECTION_STRING`` is set) under
:data:`MEDIA_STORE`, and gives the engine :func:`prompt_base_url` and the store. Once the
host's store is open, uploaded prompts stored at another format (before prompts were
converted on upload) are converted, once (:func:`convert_prompts_on_start`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable

from aiohttp import web
from azure.identity.aio import ManagedIdentityCredential

from bot import keys
from bot.http import error_response
from bot.settings import Settings
from contactcenter.errors import DomainError, InvalidInput, NotFound, Unauthorized
from contactcenter.media import (
    DEFAULT_LANGUAGE,
    convert_stored_prompts,
    is_uploaded_prompt_id,
    parse_standard_id,
)
from contactcenter.model import Prompt, Role
from contactcenter.ports import MediaStore, PromptConverter
from graph.recordings import GraphRecordings
from storage.media import BlobMediaStore, DataDirMediaStore
from storage.prompt_audio import SoxrPromptConverter
from tab.access import AccessDenied, resolve_caller
from tab.appkeys import TAB
from tab.prompt_upload import PromptTooLarge, receive_prompt

_LOGGER = logging.getLogger(__name__)

PROMPTS_PATH = "/media/prompts"

# Uploaded prompts never change under their id; the standard set changes with releases.
UPLOADED_CACHE = "public, max-age=31536000, immutable"
STANDARD_CACHE = "public, max-age=86400"


@dataclass(frozen=True, slots=True)
class MediaOptions:
    """Where the standard prompts are read from."""

    standard_prompts_dir: Traversable = field(
        default_factory=lambda: resources.files("bot.standard_prompts")
    )


class StandardPrompts:
    """The standard prompt files, read once each (they are small and never change)."""

    def __init__(self, folder: Traversable) -> None:
        self._folder = folder
        self._read: dict[tuple[str, str], bytes] = {}

    async def get(self, language: str, name: str) -> bytes:
        """Return a standard prompt's file; raise NotFound."""
        key = (language, name)
        data = self._read.get(key)
        if data is None:
            path = self._folder / language / f"{name}.wav"
            try:
                data = await asyncio.to_thread(path.read_bytes)
            except FileNotFoundError:
                raise NotFound(f"no standard prompt {language}/{name}") from None
            self._read[key] = data
        return data


MEDIA_STORE: web.AppKey[MediaStore] = web.AppKey("media_store", MediaStore)
STANDARD_PROMPTS: web.AppKey[StandardPrompts] = web.AppKey("standard_prompts", StandardPrompts)
PROMPT_CONVERTER: web.AppKey[PromptConverter] = web.AppKey("prompt_converter", PromptConverter)


def prompt_base_url(settings: Settings) -> str:
    """Return the URL prompts are served under (``EngineSettings.prompt_base_url``)."""
    return f"{settings.public_base_url}{PROMPTS_PATH}"


def recording_source(app: web.Application) -> GraphRecordings:
    """Return the recording downloader (plain HTTP to loopback only in demo mode)."""
    return GraphRecordings(app[keys.HTTP_SESSION], allow_loopback_http=app[keys.SETTINGS].demo)


def add_media_routes(app: web.Application, options: MediaOptions) -> None:
    """Add the prompt routes: Graph's fetch of a prompt, and an admin's upload."""
    app[STANDARD_PROMPTS] = StandardPrompts(options.standard_prompts_dir)
    app[PROMPT_CONVERTER] = SoxrPromptConverter()
    app.router.add_get(PROMPTS_PATH + "/{tenant_id}/{prompt_id}.wav", serve_prompt)
    app.router.add_post("/api/media/prompts", upload)


async def open_media_store(settings: Settings) -> MediaStore:
    """Open Blob Storage when it is configured, the data dir otherwise."""
    if settings.blob_connection_string:
        return await BlobMediaStore.open(
            connection_string=settings.blob_connection_string,
            create_container=settings.demo,
        )
    if settings.blob_account_url:
        return await BlobMediaStore.open(
            account_url=settings.blob_account_url,
            credential=ManagedIdentityCredential(client_id=settings.microsoft_app_id or None),
        )
    return DataDirMediaStore(settings.data_dir / "media")


async def convert_prompts_on_start(app: web.Application) -> AsyncIterator[None]:
    """Convert prompts stored at another format than Graph plays, once, on start.

    Register it after the document store's cleanup context: it needs the repository.
    """
    await convert_stored_prompts(app[keys.REPOSITORY], app[MEDIA_STORE], app[PROMPT_CONVERTER])
    yield


# --------------------------------------------------------------------- serving
async def serve_prompt(request: web.Request) -> web.StreamResponse:
    """Answer Graph's fetch of a prompt (no authentication: ids are unguessable)."""
    tenant_id = request.match_info["tenant_id"]
    prompt_id = request.match_info["prompt_id"]
    try:
        data, cache = await _prompt_bytes(request.app, tenant_id, prompt_id)
    except (NotFound, InvalidInput):
        return error_response(404, "no such prompt")
    etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
    headers = {"Cache-Control": cache, "ETag": etag}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=data, content_type="audio/wav", headers=headers)


async def _prompt_bytes(app: web.Application, tenant_id: str, prompt_id: str) -> tuple[bytes, str]:
    """Return a prompt's audio and its cache policy; raise NotFound."""
    standard = parse_standard_id(prompt_id)
    if standard is not None:
        return await app[STANDARD_PROMPTS].get(*standard), STANDARD_CACHE
    if is_uploaded_prompt_id(prompt_id):
        return await app[MEDIA_STORE].get(tenant_id, prompt_id), UPLOADED_CACHE
    raise NotFound(prompt_id)


# --------------------------------------------------------------------- upload
def prompt_url(settings: Settings, prompt: Prompt) -> str:
    """Return the public URL Graph fetches an uploaded prompt from."""
    return f"{prompt_base_url(settings)}/{prompt.tenant_id}/{prompt.id}.wav"


async def upload(request: web.Request) -> web.Response:
    """Store an admin's WAV prompt; 401/403 without an admin's token, 413/422 for bad files."""
    app = request.app
    tab = app[TAB]
    try:
        identity = await tab.deps.validator.validate(request.headers.get("Authorization"))
    except Unauthorized as err:
        _LOGGER.info("prompt upload refused: %s", err)
        return error_response(401, "invalid or missing bearer token", code="invalidToken")
    try:
        caller = await resolve_caller(identity, tab.deps.settings, tab.deps.repository, tab.audit)
    except AccessDenied as err:
        return error_response(403, err.message, code=err.code)
    if not caller.has(Role.ADMIN):
        return error_response(403, "only admins may upload prompts", code="forbidden")
    try:
        prompt = await receive_prompt(
            request,
            caller,
            tab,
            name=request.query.get("name", ""),
            language=request.query.get("language", DEFAULT_LANGUAGE),
        )
    except PromptTooLarge as err:
        return error_response(413, str(err), code="payloadTooLarge")
    except InvalidInput as err:
        return error_response(
            422,
            str(err),
            code="invalidPrompt",
            details=[{"field": err.field or "file", "message": str(err)}],
        )
    except DomainError as err:
        _LOGGER.warning("prompt upload failed: %s", err)
        return error_response(503, "the prompt could not be stored", code="unavailable")
    return web.json_response(
        {
            "id": prompt.id,
            "name": prompt.name,
            "language": prompt.language,
            "durationS": prompt.duration_s,
            "sampleRate": prompt.sample_rate,
            "sizeBytes": prompt.size_bytes,
            "url": prompt_url(app[keys.SETTINGS], prompt),
        },
        status=201,
    )
