"""The organization-wide part of the admin console: settings, the prompt library, consent.

Settings are fields of the tenant document, changed with one compare-and-set and audited
with the document before and after. Prompts are uploaded through the same validation and
storage as the host's media upload route (``tab.prompt_upload``), and a prompt a queue or
an IVR plays cannot be deleted. Which Microsoft Graph application permissions the app holds
is read from Graph when asked, through the host's admin-consent port.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import replace

from aiohttp import web

from contactcenter.errors import DomainError, InvalidInput, Unavailable
from contactcenter.hours import time_zone_names
from contactcenter.media import MAX_PROMPT_BYTES, is_uploaded_prompt_id
from contactcenter.model import BusinessHours, Ivr, Prompt, Queue, QueueAction, Tenant
from contactcenter.repository import Repository
from tab.crud import record_change
from tab.dependencies import TabSettings
from tab.derived_shapes import changes, fill
from tab.endpoints import ApiError, TabRequest
from tab.openapi import RawContent, raw_body, raw_response
from tab.prompt_upload import PromptTooLarge, receive_prompt
from tab.tenant_schemas import (
    ConsentView,
    PermissionView,
    PromptListView,
    PromptUploadQuery,
    PromptUseView,
    PromptView,
    TenantSettingsBody,
    TenantSettingsView,
    TimeZonesView,
)

_LOGGER = logging.getLogger(__name__)

WAV_MEDIA_TYPES = ("audio/wav", "audio/x-wav", "audio/wave", "application/octet-stream")

PROMPT_FILE = RawContent(
    media_types=WAV_MEDIA_TYPES,
    description=(
        "The prompt's audio as the raw body: a PCM WAV file (8-32-bit, mono or stereo, "
        f"8-48 kHz), at most {MAX_PROMPT_BYTES} bytes; stored as 16 kHz mono (16-bit). A "
        "larger body is refused with 413, another media type with 415, a file that is not "
        "such a WAV with 422 naming the field `file`; nothing is stored then."
    ),
    max_bytes=MAX_PROMPT_BYTES,
)
PROMPT_AUDIO = RawContent(media_types=("audio/wav",), description="The prompt's WAV file.")


# ==================================================================== settings
def settings_view(tenant: Tenant) -> TenantSettingsView:
    """Return the organization's name and settings."""
    return fill(TenantSettingsView, tenant)


async def get_settings(call: TabRequest) -> TenantSettingsView:
    """Return the organization's time zone, call-record retention and not-ready reasons."""
    tenant_id = call.caller.tenant_id
    tenant = (await call.deps.repository.tenants.get(tenant_id, tenant_id)).value
    return settings_view(tenant)


async def list_time_zones(call: TabRequest) -> TimeZonesView:
    """Return the IANA time zones a schedule may name, and the organization's."""
    return TimeZonesView(
        time_zones=list(time_zone_names()), organization_time_zone=call.caller.tenant.time_zone
    )


async def update_settings(call: TabRequest) -> TenantSettingsView:
    """Replace the organization's settings; an unchanged body changes (and audits) nothing."""
    body = call.body(TenantSettingsBody)
    caller = call.caller
    before: Tenant | None = None

    def change(tenant: Tenant) -> Tenant | None:
        nonlocal before
        before = tenant
        new = replace(tenant, **changes(body, tenant))
        return None if new == tenant else new

    saved = await call.deps.repository.tenants.update(caller.tenant_id, caller.tenant_id, change)
    assert saved is not None
    if before is not None and saved.value != before:
        await record_change(
            call,
            "tenant.settings",
            target_type="tenant",
            target_id=caller.tenant_id,
            before=before,
            after=saved.value,
        )
    return settings_view(saved.value)


# ===================================================================== prompts
def _action_uses(
    prefix: str, actions: Iterable[tuple[str, QueueAction | None]]
) -> Iterator[tuple[str, str]]:
    for usage, action in actions:
        if action is not None and action.prompt_id:
            yield action.prompt_id, f"{prefix}{usage}"


def _hours_uses(hours: BusinessHours | None) -> Iterator[tuple[str, str]]:
    if hours is None:
        return
    actions: list[tuple[str, QueueAction | None]] = [
        ("closedAction", hours.closed_action),
        ("holidayAction", hours.holiday_action),
        ("closedNowAction", hours.closed_now_action),
    ]
    actions += [
        (f"holidaySets[{index}].action", holiday_set.action)
        for index, holiday_set in enumerate(hours.holiday_sets)
    ]
    yield from _action_uses("hours.", actions)


def queue_prompt_uses(queue: Queue) -> Iterator[tuple[str, str]]:
    """Yield (prompt id, where) for every prompt a queue plays."""
    for usage, prompt_id in (
        ("greeting", queue.greeting_prompt_id),
        ("music", queue.music_prompt_id),
        ("comfort", queue.comfort_prompt_id),
    ):
        if prompt_id:
            yield prompt_id, usage
    yield from _action_uses(
        "",
        [
            ("overflowAction", queue.overflow_action),
            ("timeoutAction", queue.timeout_action),
            ("noAgentAction", queue.no_agent_action),
        ],
    )
    yield from _hours_uses(queue.hours)


def ivr_prompt_uses(ivr: Ivr) -> Iterator[tuple[str, str]]:
    """Yield (prompt id, where) for every prompt an IVR plays."""
    if ivr.greeting_prompt_id:
        yield ivr.greeting_prompt_id, "greeting"
    for menu in ivr.menus:
        if menu.prompt_id:
            yield menu.prompt_id, f"menu {menu.name or menu.id}"
    yield from _hours_uses(ivr.hours)


async def prompt_uses(repo: Repository, tenant_id: str) -> dict[str, list[PromptUseView]]:
    """Return, by prompt id, the queues and IVRs that play each prompt."""
    uses: dict[str, list[PromptUseView]] = {}
    for queue in (found.value for found in await repo.queues.find(tenant_id)):
        for prompt_id, usage in queue_prompt_uses(queue):
            uses.setdefault(prompt_id, []).append(
                PromptUseView(kind="queue", id=queue.id, name=queue.name, usage=usage)
            )
    for ivr in (found.value for found in await repo.ivrs.find(tenant_id)):
        for prompt_id, usage in ivr_prompt_uses(ivr):
            uses.setdefault(prompt_id, []).append(
                PromptUseView(kind="ivr", id=ivr.id, name=ivr.name, usage=usage)
            )
    return uses


def _prompt_view(
    prompt: Prompt, names: dict[str, str], uses: dict[str, list[PromptUseView]]
) -> PromptView:
    return PromptView(
        id=prompt.id,
        name=prompt.name,
        language=prompt.language,
        duration_s=prompt.duration_s,
        sample_rate=prompt.sample_rate,
        size_bytes=prompt.size_bytes,
        uploaded_at=prompt.uploaded_at,
        uploaded_by=prompt.uploaded_by,
        uploaded_by_name=names.get(prompt.uploaded_by, prompt.uploaded_by),
        used_by=uses.get(prompt.id, []),
    )


async def _user_names(repo: Repository, tenant_id: str) -> dict[str, str]:
    return {u.value.id: u.value.display_name for u in await repo.users.find(tenant_id)}


async def list_prompts(call: TabRequest) -> PromptListView:
    """List the organization's uploaded prompts, newest first, with where each is played."""
    repo = call.deps.repository
    tenant_id = call.caller.tenant_id
    prompts = [found.value for found in await repo.prompts.find(tenant_id)]
    prompts.sort(key=lambda p: (p.uploaded_at is not None, p.uploaded_at, p.id), reverse=True)
    names = await _user_names(repo, tenant_id)
    uses = await prompt_uses(repo, tenant_id)
    return PromptListView(
        prompts=[_prompt_view(p, names, uses) for p in prompts], max_bytes=MAX_PROMPT_BYTES
    )


@raw_body(PROMPT_FILE)
async def upload_prompt(call: TabRequest) -> PromptView:
    """Upload a prompt: a WAV file as the body, its name and language in the query."""
    query = call.query(PromptUploadQuery)
    if call.request.content_type not in WAV_MEDIA_TYPES:
        raise ApiError(415, "send the prompt as audio/wav", code="unsupportedMediaType")
    try:
        prompt = await receive_prompt(
            call.request, call.caller, call.tab, name=query.name, language=query.language
        )
    except PromptTooLarge as err:
        raise ApiError(413, str(err), code="payloadTooLarge") from err
    except InvalidInput:
        raise
    except DomainError as err:
        _LOGGER.warning("Prompt upload failed: %s", err, extra={"tenant_id": call.caller.tenant_id})
        raise ApiError(503, "the prompt could not be stored", code="unavailable") from err
    names = {call.caller.user_id: call.caller.user.display_name}
    return _prompt_view(prompt, names, {})


def _prompt_id(call: TabRequest) -> str:
    prompt_id = call.param("promptId")
    if not is_uploaded_prompt_id(prompt_id):
        raise ApiError(404, "no such prompt")
    return prompt_id


@raw_response(PROMPT_AUDIO)
async def play_prompt(call: TabRequest) -> web.Response:
    """Return an uploaded prompt's audio, for the console's player."""
    tenant_id = call.caller.tenant_id
    prompt = (await call.deps.repository.prompts.get(tenant_id, _prompt_id(call))).value
    data = await call.deps.media.get(tenant_id, prompt.id)
    return web.Response(
        body=data,
        content_type="audio/wav",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


async def delete_prompt(call: TabRequest) -> None:
    """Delete an uploaded prompt that no queue or IVR plays (409 while one does)."""
    caller = call.caller
    repo = call.deps.repository
    found = await repo.prompts.get(caller.tenant_id, _prompt_id(call))
    prompt = found.value
    uses = (await prompt_uses(repo, caller.tenant_id)).get(prompt.id, [])
    if uses:
        raise ApiError(
            409,
            f"{prompt.name} is played by {len(uses)} queue or IVR settings: change them first",
            code="promptInUse",
            details=[
                {"field": f"{use.kind}s", "message": f"{use.name} plays it ({use.usage})"}
                for use in uses
            ],
        )
    # The document first: a prompt never names audio that is gone; audio left behind
    # by a failure is unreachable and harmless.
    await repo.prompts.delete(caller.tenant_id, prompt.id, etag=found.etag)
    try:
        await call.deps.media.delete(caller.tenant_id, prompt.id)
    except DomainError:
        _LOGGER.warning(
            "The audio of deleted prompt %s was not removed",
            prompt.id,
            extra={"tenant_id": caller.tenant_id},
        )
    await record_change(
        call, "prompt.delete", target_type="prompt", target_id=prompt.id, before=prompt
    )


# ===================================================================== consent
def consent_redirect_uri(settings: TabSettings) -> str:
    """Return where Entra sends the admin back after consent (a registered redirect URI)."""
    return f"{settings.public_base_url}/tab/"


async def get_consent(call: TabRequest) -> ConsentView:
    """Return the admin-consent URL and which required Graph permissions are granted."""
    settings = call.deps.settings
    consent = call.deps.consent
    try:
        granted = await consent.granted_permissions()
    except Unavailable as err:
        raise ApiError(502, str(err), code="graphFailed") from err
    return ConsentView(
        consent_url=consent.consent_url(call.caller.tenant_id, consent_redirect_uri(settings)),
        app_id=settings.app_id,
        service_principal_found=granted.service_principal_found,
        permissions=[
            PermissionView(
                name=permission.name,
                purpose=permission.purpose,
                granted=granted.granted(permission.name),
            )
            for permission in consent.required
        ],
    )
