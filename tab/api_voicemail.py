"""The agent's voicemails: my queues' messages, their recordings, and marking them handled.

Only agents of a voicemail's queue see it: to anyone else it does not exist (404).
Marking handled goes through :func:`contactcenter.voicemail.handle_voicemail`, as the
card's button does, so every agent's card shows who handled the message.
"""

from __future__ import annotations

import contextlib
import logging

from aiohttp import web

from contactcenter.errors import NotFound
from contactcenter.model import Queue, Voicemail
from contactcenter.repository import Repository
from contactcenter.voicemail import handle_voicemail, is_agent_of_queue, voicemails_of
from tab.endpoints import ApiError, TabRequest
from tab.live import party_view
from tab.openapi import RawContent, raw_response
from tab.voicemail_schemas import (
    VoicemailHandlerView,
    VoicemailListView,
    VoicemailsQuery,
    VoicemailView,
)

_LOGGER = logging.getLogger(__name__)

# Recordings are what Graph's recordResponse made: WAV.
RECORDING_MEDIA_TYPE = "audio/wav"


class _Names:
    """Display names of the agents who handled voicemails, read once each."""

    def __init__(self, repository: Repository, tenant_id: str) -> None:
        self._repository = repository
        self._tenant_id = tenant_id
        self._known: dict[str, str] = {}

    async def of(self, user_id: str) -> str:
        known = self._known.get(user_id)
        if known is not None:
            return known
        name = user_id
        try:
            name = (await self._repository.agents.get(self._tenant_id, user_id)).value.display_name
        except NotFound:
            with contextlib.suppress(NotFound):
                name = (
                    await self._repository.users.get(self._tenant_id, user_id)
                ).value.display_name
        self._known[user_id] = name
        return name


async def _view(voicemail: Voicemail, names: _Names, queue_name: str) -> VoicemailView:
    handler = voicemail.handled_by
    return VoicemailView(
        id=voicemail.id,
        queue_id=voicemail.queue_id,
        queue_name=voicemail.queue_name or queue_name,
        caller=party_view(voicemail.caller),
        recorded_at=voicemail.recorded_at,
        duration_s=voicemail.duration_s,
        ivr_path=list(voicemail.ivr_path),
        has_recording=bool(voicemail.media_id),
        handled_by=(
            VoicemailHandlerView(id=handler, display_name=await names.of(handler))
            if handler is not None
            else None
        ),
        handled_at=voicemail.handled_at,
    )


async def _my_queues(call: TabRequest) -> list[Queue]:
    caller = call.caller
    queues = await call.deps.repository.queues.find(caller.tenant_id)
    return [q.value for q in queues if caller.user_id in q.value.members]


async def _my_voicemail(call: TabRequest) -> Voicemail:
    """Return the path's voicemail if I am an agent of its queue; 404 otherwise."""
    caller = call.caller
    repository = call.deps.repository
    try:
        voicemail = (
            await repository.voicemails.get(caller.tenant_id, call.param("voicemailId"))
        ).value
    except NotFound:
        raise ApiError(404, "no such voicemail", code="voicemailNotFound") from None
    if not await is_agent_of_queue(repository, voicemail, caller.user_id):
        raise ApiError(404, "no such voicemail", code="voicemailNotFound")
    return voicemail


async def my_voicemails(call: TabRequest) -> VoicemailListView:
    """Return my queues' voicemails: unhandled first, then the latest handled ones."""
    limit = call.query(VoicemailsQuery).limit
    caller = call.caller
    repository = call.deps.repository
    names = _Names(repository, caller.tenant_id)
    waiting: list[tuple[Voicemail, str]] = []
    handled: list[tuple[Voicemail, str]] = []
    for queue in await _my_queues(call):
        for found in await voicemails_of(repository, caller.tenant_id, queue.id, limit=limit):
            voicemail = found.value
            (waiting if voicemail.handled_by is None else handled).append((voicemail, queue.name))
        # Unhandled ones older than the latest ``limit`` are still work to do.
        for found in await voicemails_of(
            repository, caller.tenant_id, queue.id, unhandled_only=True, limit=limit
        ):
            if all(found.value.id != known.id for known, _ in waiting):
                waiting.append((found.value, queue.name))
    waiting.sort(key=lambda item: item[0].recorded_at, reverse=True)
    handled.sort(key=lambda item: item[0].recorded_at, reverse=True)
    listed = (waiting + handled)[:limit]
    return VoicemailListView(voicemails=[await _view(vm, names, name) for vm, name in listed])


@raw_response(RawContent(media_types=(RECORDING_MEDIA_TYPE,), description="The recording (WAV)."))
async def my_voicemail_audio(call: TabRequest) -> web.StreamResponse:
    """Play a voicemail of one of my queues: its recording."""
    voicemail = await _my_voicemail(call)
    if not voicemail.media_id:
        raise ApiError(404, "this voicemail has no recording", code="noRecording")
    try:
        data = await call.deps.media.get(voicemail.tenant_id, voicemail.media_id)
    except NotFound:
        _LOGGER.warning(
            "Recording %s of voicemail %s is missing",
            voicemail.media_id,
            voicemail.id,
            extra={"tenant_id": voicemail.tenant_id, "call_id": voicemail.call_id},
        )
        raise ApiError(404, "the recording is missing", code="noRecording") from None
    return web.Response(
        body=data,
        content_type=RECORDING_MEDIA_TYPE,
        headers={"Cache-Control": "private, no-store"},
    )


async def mark_my_voicemail_handled(call: TabRequest) -> VoicemailView:
    """Mark a voicemail of one of my queues handled (409 if another agent did first)."""
    voicemail = await _my_voicemail(call)
    caller = call.caller
    repository = call.deps.repository
    handling = await handle_voicemail(
        repository,
        call.deps.notifier,
        caller.tenant_id,
        voicemail.id,
        caller.user_id,
        call.deps.clock.now(),
    )
    handled = handling.voicemail
    names = _Names(repository, caller.tenant_id)
    if not handling.changed and handled.handled_by != caller.user_id:
        who = await names.of(handled.handled_by or "")
        raise ApiError(409, f"{who} handled this voicemail already", code="voicemailAlreadyHandled")
    return await _view(handled, names, voicemail.queue_name)
