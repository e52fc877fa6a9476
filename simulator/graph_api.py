"""Fake Microsoft Graph under ``/v1.0``: cloud-communications calls and presence.

Call actions (``POST .../calls/{id}/<action>``) are looked up by name in
:data:`CALL_ACTIONS`; adding one means writing a handler and registering it there.
Handlers validate the body as Graph does and raise :class:`ApiError` with Graph's error
shape, refusing what Graph refuses (docs/ringing.md lists it). Every request on a call is
recorded on it, refused ones included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from simulator.appkeys import CLOUD_KEY, DIRECTORY_KEY, FAULTS_KEY, SERVICE_PRINCIPALS_KEY
from simulator.calls import (
    PLAY_PROMPT_OPERATION,
    RECORD_OPERATION,
    GraphCallState,
    MediaJob,
    OperationStatus,
    ParticipantRole,
    ParticipantStatus,
    RecordSpec,
    SimCall,
    SimOperation,
    SimParticipant,
)
from simulator.cloud import SimulatedCloud
from simulator.config import is_loopback_host
from simulator.directory import E164
from simulator.errors import ApiError, read_json, read_json_object
from simulator.media import (
    RECORDING_PATH,
    TONES,
    wav_bytes,
)
from simulator.people import PresenceReport
from simulator.roster import Invitee

GRAPH_PREFIX = "/v1.0"

MAX_CLIENT_CONTEXT = 256
MAX_PROMPTS = 20
MAX_REDIRECT_TARGETS = 25
MAX_PRESENCE_IDS = 650
MULTIPLE_INVITEES_REFUSED = "Inviting multiple participants is only supported for group calls"
# Graph documents no answer for a second invitation while one rings on a peer-to-peer call;
# with the silent point ``parallel_invites`` off, the simulator refuses it with this.
PARALLEL_INVITE_REFUSED = (
    "Another invitation is in progress on this peer-to-peer call: invite one participant at "
    "a time until the call is a group call."
)
# The application permission participants/invite needs (the invite page's table).
INVITE_PERMISSION = "Calls.InitiateGroupCall.All"
SUBSCRIBE_TO_TONE_OPERATION = "#microsoft.graph.subscribeToToneOperation"
CANCEL_MEDIA_OPERATION = "#microsoft.graph.cancelMediaProcessingOperation"


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What a call action may need besides the call: the cloud and the simulator's origin."""

    cloud: SimulatedCloud
    # e.g. "http://127.0.0.1:8790": for Location headers and recording URLs.
    origin: str
    # The Microsoft Graph application permissions granted to the bot's app.
    granted: frozenset[str] = frozenset()


CallAction = Callable[[ActionContext, SimCall, dict[str, Any]], Awaitable[web.StreamResponse]]


# ---------------------------------------------------------------------- validation
def _callback_uri(body: Mapping[str, Any], *, required: bool) -> str | None:
    value = body.get("callbackUri")
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ApiError(400, "callbackUri is required.")
    uri = URL(value)
    # Graph insists on https; plain http is allowed on loopback so a local bot can be reached.
    secure = uri.scheme == "https" or (uri.scheme == "http" and is_loopback_host(uri.host))
    if not uri.is_absolute() or not uri.host or not secure:
        raise ApiError(400, f"callbackUri must be an absolute https URL, got {value!r}.")
    return value


def _require_incoming(call: SimCall, action: str) -> None:
    if call.state is not GraphCallState.INCOMING:
        raise ApiError(
            400,
            f"Call {call.id} is {call.state.value}; only an incoming call can be {action}.",
        )


def _require_established(call: SimCall, action: str) -> None:
    if call.state is not GraphCallState.ESTABLISHED:
        raise ApiError(
            400, f"Call {call.id} is {call.state.value}; {action} needs an established call."
        )


def _client_context(body: Mapping[str, Any]) -> str | None:
    value = body.get("clientContext")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_CLIENT_CONTEXT:
        raise ApiError(
            400, f"clientContext must be a string of at most {MAX_CLIENT_CONTEXT} chars."
        )
    return value


def _bounded_int(body: Mapping[str, Any], name: str, low: int, high: int, default: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(400, f"{name} must be an integer from {low} to {high}, got {value!r}.")
    return value


def _optional_bool(body: Mapping[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError(400, f"{name} must be true or false, got {value!r}.")
    return value


def _media_info(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(400, f"{where} must be a mediaInfo object.")
    uri = value.get("uri")
    parsed = URL(uri) if isinstance(uri, str) else None
    if parsed is None or parsed.scheme not in {"http", "https"} or not parsed.host:
        raise ApiError(400, f"{where}.uri must be an absolute http(s) URL, got {uri!r}.")
    resource_id = value.get("resourceId")
    if resource_id is not None and not isinstance(resource_id, str):
        raise ApiError(400, f"{where}.resourceId must be a string.")
    return {"uri": uri, "resourceId": resource_id}


def _prefetch(media_config: Mapping[str, Any]) -> list[dict[str, Any]]:
    prefetch = media_config.get("preFetchMedia") or []
    if not isinstance(prefetch, list):
        raise ApiError(400, "mediaConfig.preFetchMedia must be a list of mediaInfo.")
    for item in prefetch:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("uri"), str)
            and isinstance(item.get("resourceId"), str)
        ):
            raise ApiError(400, "Each preFetchMedia entry needs a uri and a resourceId.")
    return prefetch


def _service_hosted_media(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Check ``mediaConfig`` is service-hosted; return the media to prefetch."""
    media_config = body.get("mediaConfig")
    if not isinstance(media_config, dict):
        raise ApiError(400, "mediaConfig is required.")
    if media_config.get("@odata.type") != "#microsoft.graph.serviceHostedMediaConfig":
        # App-hosted media needs the real-time media platform, which Graph offers to .NET only.
        raise ApiError(
            400, "mediaConfig must be #microsoft.graph.serviceHostedMediaConfig in the simulator."
        )
    return _prefetch(media_config)


def _prompts(body: Mapping[str, Any], *, most: int, required: bool) -> list[dict[str, Any]]:
    prompts = body.get("prompts")
    if prompts is None and not required:
        return []
    if not isinstance(prompts, list) or (required and not prompts):
        raise ApiError(400, "prompts must be a non-empty list of mediaPrompt.")
    if len(prompts) > most:
        raise ApiError(400, f"At most {most} prompts are supported, got {len(prompts)}.")
    infos = []
    for index, prompt in enumerate(prompts):
        where = f"prompts[{index}]"
        if not isinstance(prompt, dict):
            raise ApiError(400, f"{where} must be a mediaPrompt object.")
        kind = prompt.get("@odata.type", "#microsoft.graph.mediaPrompt")
        if kind != "#microsoft.graph.mediaPrompt":
            raise ApiError(400, f"{where} must be a #microsoft.graph.mediaPrompt, got {kind!r}.")
        infos.append(_media_info(prompt.get("mediaInfo"), f"{where}.mediaInfo"))
    return infos


_PERSON_KINDS = frozenset({"user", "phone"})
_APPLICATION_KINDS = frozenset({"application", "applicationInstance"})


def _identity(
    cloud: SimulatedCloud, info: Any, *, where: str, allow_applications: bool
) -> dict[str, Any]:
    """Validate an ``invitationParticipantInfo`` and return its single identity, cleaned up."""
    if not isinstance(info, dict):
        raise ApiError(400, f"{where} must be an invitationParticipantInfo object.")
    identity_set = info.get("identity")
    if not isinstance(identity_set, dict):
        raise ApiError(400, f"{where}.identity is required.")
    named = {
        kind: value
        for kind, value in identity_set.items()
        if not kind.startswith("@") and value is not None
    }
    if len(named) != 1:
        raise ApiError(400, f"{where}.identity must name exactly one identity.")
    [(kind, identity)] = named.items()
    if not isinstance(identity, dict) or not isinstance(identity.get("id"), str):
        raise ApiError(400, f"{where}.identity.{kind}.id is required.")
    if kind in _APPLICATION_KINDS and not allow_applications:
        raise ApiError(
            400, f"{where}: inviting an application (another bot) into a call is not allowed."
        )
    if kind not in _PERSON_KINDS | _APPLICATION_KINDS:
        raise ApiError(400, f"{where}.identity.{kind} is not supported by the simulator.")
    if kind == "phone" and not E164.fullmatch(identity["id"]):
        raise ApiError(400, f"{where}.identity.phone.id must be in E.164 form.")
    clean = {
        name: value
        for name, value in identity.items()
        if not name.startswith("@") and value is not None
    }
    if kind == "user":
        found = cloud.directory.user(identity["id"])
        if found is not None:
            home_tenant, user = found
            clean.setdefault("displayName", user.display_name)
            clean.setdefault("tenantId", home_tenant)
        clean.setdefault("identityProvider", "AAD")
    return {kind: clean}


def _operation_response(
    context: ActionContext, call: SimCall, operation: SimOperation
) -> web.Response:
    """Answer 200 with the operation and a Location header pointing at it, as Graph does."""
    location = f"{context.origin}{GRAPH_PREFIX}{call.resource_url}/operations/{operation.id}"
    return web.json_response(operation.graph_resource(call), headers={"Location": location})


# ------------------------------------------------------------------------ actions
async def answer(context: ActionContext, call: SimCall, body: dict[str, Any]) -> web.Response:
    """Answer an incoming call with service-hosted media."""
    _require_incoming(call, "answered")
    callback_uri = _callback_uri(body, required=True)
    assert callback_uri is not None
    modalities = body.get("acceptedModalities")
    if not isinstance(modalities, list) or "audio" not in modalities:
        raise ApiError(400, "acceptedModalities must contain audio.")
    prefetch = _service_hosted_media(body)
    context.cloud.answer(call, callback_uri=callback_uri, prefetch=prefetch)
    return web.Response(status=202)


REJECT_REASONS = frozenset({"none", "busy", "forbidden"})


async def reject(context: ActionContext, call: SimCall, body: dict[str, Any]) -> web.Response:
    """Reject an incoming call."""
    _require_incoming(call, "rejected")
    reason = body.get("reason", "none")
    if not isinstance(reason, str) or reason.lower() not in REJECT_REASONS:
        raise ApiError(400, f"reason must be one of None, Busy, Forbidden; got {reason!r}.")
    context.cloud.reject(call, callback_uri=_callback_uri(body, required=False))
    return web.Response(status=202)


async def redirect(context: ActionContext, call: SimCall, body: dict[str, Any]) -> web.Response:
    """Send an unanswered incoming call to up to 25 targets; the bot is out of it."""
    _require_incoming(call, "redirected")
    targets = body.get("targets")
    if not isinstance(targets, list) or not 1 <= len(targets) <= MAX_REDIRECT_TARGETS:
        raise ApiError(400, f"targets must list 1 to {MAX_REDIRECT_TARGETS} participants.")
    identities = [
        _identity(context.cloud, target, where=f"targets[{index}]", allow_applications=True)
        for index, target in enumerate(targets)
    ]
    timeout_s = _bounded_int(body, "timeout", 15, 90, default=60)
    callback_uri = _callback_uri(body, required=False)
    context.cloud.redirect(
        call, targets=identities, timeout_s=float(timeout_s), callback_uri=callback_uri
    )
    return web.Response(status=202)


async def transfer(context: ActionContext, call: SimCall, body: dict[str, Any]) -> web.Response:
    """Transfer an established call to one target; the bot leaves once it is accepted."""
    _require_established(call, "transfer")
    target = body.get("transferTarget")
    if target is None:
        raise ApiError(400, "transferTarget is required.")
    identity = _identity(context.cloud, target, where="transferTarget", allow_applications=True)
    context.cloud.transfer(call, target=identity)
    return web.Response(status=202)


async def play_prompt(context: ActionContext, call: SimCall, body: dict[str, Any]) -> web.Response:
    """Queue prompts to play; Graph answers with a running playPromptOperation."""
    _require_established(call, "playPrompt")
    client_context = _client_context(body)
    prompts = _prompts(body, most=MAX_PROMPTS, required=True)
    cloud = context.cloud
    operation = cloud.new_operation(call, PLAY_PROMPT_OPERATION, client_context)
    operation.media = MediaJob(prompts=prompts, origin=context.origin)
    response = _operation_response(context, call, operation)
    cloud.media.enqueue(call, operation)
    return response


async def record_response(
    context: ActionContext, call: SimCall, body: dict[str, Any]
) -> web.Response:
    """Record the caller after an optional prompt; the completion says where the file is."""
    _require_established(call, "recordResponse")
    client_context = _client_context(body)
    prompts = _prompts(body, most=1, required=False)
    max_duration = _bounded_int(body, "maxRecordDurationInSeconds", 1, 120, default=5)
    _bounded_int(body, "initialSilenceTimeoutInSeconds", 1, 120, default=5)
    _bounded_int(body, "maxSilenceTimeoutInSeconds", 1, 120, default=5)
    _optional_bool(body, "playBeep", default=True)
    barge_in = _optional_bool(body, "bargeInAllowed", default=False)
    stop_tones = body.get("stopTones") or []
    if not isinstance(stop_tones, list) or not all(tone in TONES for tone in stop_tones):
        raise ApiError(400, "stopTones must be a list of 0-9, * and #.")
    cloud = context.cloud
    operation = cloud.new_operation(call, RECORD_OPERATION, client_context)
    operation.fields["recordingLocation"] = None
    operation.media = MediaJob(
        prompts=prompts,
        origin=context.origin,
        record=RecordSpec(max_duration_s=max_duration, stop_tones=frozenset(stop_tones)),
    )
    response = _operation_response(context, call, operation)
    cloud.media.enqueue(call, operation, barge_in=barge_in)
    return response


async def subscribe_to_tone(
    context: ActionContext, call: SimCall, body: dict[str, Any]
) -> web.Response:
    """Subscribe to the caller's key presses; completed at once, so no notification follows."""
    _require_established(call, "subscribeToTone")
    client_context = _client_context(body)
    operation = context.cloud.new_operation(
        call, SUBSCRIBE_TO_TONE_OPERATION, client_context, status=OperationStatus.COMPLETED
    )
    call.tones_subscribed = True
    return _operation_response(context, call, operation)


async def cancel_media_processing(
    context: ActionContext, call: SimCall, body: dict[str, Any]
) -> web.Response:
    """Cancel the running and queued prompts and recordings; they end failed (400/8508)."""
    _require_established(call, "cancelMediaProcessing")
    client_context = _client_context(body)
    operation = context.cloud.new_operation(
        call, CANCEL_MEDIA_OPERATION, client_context, status=OperationStatus.COMPLETED
    )
    response = _operation_response(context, call, operation)
    context.cloud.media.cancel_all(call)
    return response


async def keep_alive(context: ActionContext, call: SimCall, body: dict[str, Any]) -> web.Response:
    """Keep the call from ending for want of keepAlive."""
    context.cloud.keep_alive(call)
    return web.Response(status=200)


async def invite(context: ActionContext, call: SimCall, body: dict[str, Any]) -> web.Response:
    """Invite participants: one per request unless the call is already a group call."""
    if INVITE_PERMISSION not in context.granted:
        raise ApiError(
            403, f"The application is not authorized to invite participants: {INVITE_PERMISSION}."
        )
    _require_established(call, "participants/invite")
    participants = body.get("participants")
    if not isinstance(participants, list) or not participants:
        raise ApiError(400, "participants must be a non-empty list of invitationParticipantInfo.")
    if len(participants) > 1 and not call.group_call:
        raise ApiError(400, MULTIPLE_INVITEES_REFUSED)
    cloud = context.cloud
    ways = cloud.silent_points
    client_context = _client_context(body)
    invitees: list[Invitee] = []
    for index, info in enumerate(participants):
        where = f"participants[{index}]"
        identity = _identity(cloud, info, where=where, allow_applications=False)
        participant_id = info.get("participantId")
        replaces = info.get("replacesCallId")
        if participant_id is not None and (
            not isinstance(participant_id, str) or call.participant(participant_id) is not None
        ):
            raise ApiError(400, f"{where}.participantId must be a new participant id.")
        if replaces is not None and not isinstance(replaces, str):
            raise ApiError(400, f"{where}.replacesCallId must be a string.")
        if not ways.bot_participant_ids:
            # Graph names the participant itself; the answer and the roster say how.
            participant_id = None
        invitee = Invitee(identity, participant_id=participant_id, replaces_call_id=replaces)
        if _already_there(call, invitee, invitees):
            raise ApiError(400, f"{where} is already in the call or being invited to it.")
        invitees.append(invitee)
    if not ways.parallel_invites and not call.group_call and _someone_ringing(call):
        raise ApiError(409, PARALLEL_INVITE_REFUSED)
    operation = cloud.roster.invite(call, invitees, client_context=client_context)
    return _operation_response(context, call, operation)


def _someone_ringing(call: SimCall) -> bool:
    return any(
        p.role is ParticipantRole.INVITEE and p.status is ParticipantStatus.RINGING
        for p in call.participants.values()
    )


def _already_there(call: SimCall, invitee: Invitee, earlier: list[Invitee]) -> bool:
    [(kind, identity)] = invitee.identity.items()
    wanted = str(identity["id"]).lower()

    def same(identity_set: dict[str, Any]) -> bool:
        other = identity_set.get(kind)
        return isinstance(other, dict) and str(other.get("id", "")).lower() == wanted

    live = (p for p in call.participants.values() if p.status.value in {"ringing", "joined"})
    return any(same(p.identity) for p in live) or any(same(e.identity) for e in earlier)


CALL_ACTIONS: Final[Mapping[str, CallAction]] = MappingProxyType(
    {
        "answer": answer,
        "reject": reject,
        "redirect": redirect,
        "transfer": transfer,
        "playPrompt": play_prompt,
        "recordResponse": record_response,
        "subscribeToTone": subscribe_to_tone,
        "cancelMediaProcessing": cancel_media_processing,
        "keepAlive": keep_alive,
        "participants/invite": invite,
    }
)


# ------------------------------------------------------------------------- routes
def _live_call(cloud: SimulatedCloud, call_id: str) -> SimCall:
    call = cloud.calls.get(call_id)
    # Graph forgets a call once it has terminated.
    if call is None or call.ended:
        raise ApiError(404, f"Call {call_id} was not found.")
    return call


def _context(request: web.Request) -> ActionContext:
    return ActionContext(
        cloud=request.app[CLOUD_KEY],
        origin=str(request.url.origin()),
        granted=frozenset(request.app[SERVICE_PRINCIPALS_KEY].granted),
    )


async def _on_call(
    request: web.Request,
    handle: Callable[[ActionContext, SimCall, Any], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Run ``handle`` on the addressed call, recording the request and its outcome on it."""
    context = _context(request)
    cloud = context.cloud
    call_id = request.match_info["call_id"]
    body = await read_json(request) if request.can_read_body else None
    call = cloud.calls.get(call_id)
    status = 500
    try:
        response = await handle(context, _live_call(cloud, call_id), body)
    except ApiError as err:
        status = err.status
        raise
    else:
        status = response.status
        return response
    finally:
        # Requests on an ended call are recorded too: a test may want to see them.
        if call is not None:
            cloud.record_request(
                call, method=request.method, path=request.path, body=body, status=status
            )


async def call_action(request: web.Request) -> web.StreamResponse:
    """POST /v1.0/communications/calls/{call_id}/{action}."""
    name = request.match_info["action"]
    action = CALL_ACTIONS.get(name)

    async def handle(context: ActionContext, call: SimCall, body: Any) -> web.StreamResponse:
        if action is None:
            raise ApiError(400, f"Resource not found for the segment '{name}'.", code="BadRequest")
        if body is None:
            # keepAlive has no body at all.
            body = {}
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return await action(context, call, body)

    return await _on_call(request, handle)


async def get_call(request: web.Request) -> web.StreamResponse:
    """GET /v1.0/communications/calls/{call_id}."""

    async def handle(context: ActionContext, call: SimCall, body: Any) -> web.StreamResponse:
        return web.json_response(call.graph_resource())

    return await _on_call(request, handle)


async def delete_call(request: web.Request) -> web.StreamResponse:
    """DELETE /v1.0/communications/calls/{call_id}: the bot hangs up."""

    async def handle(context: ActionContext, call: SimCall, body: Any) -> web.StreamResponse:
        context.cloud.hang_up_by_bot(call)
        return web.Response(status=204)

    return await _on_call(request, handle)


def _participant(call: SimCall, participant_id: str) -> SimParticipant:
    """Find a participant by its id, as Graph addresses them; pending invitees count."""
    wanted = participant_id.lower()
    for participant in call.participants.values():
        if participant.id.lower() == wanted and participant.status.value in {"ringing", "joined"}:
            return participant
    raise ApiError(404, f"Participant {participant_id} was not found in call {call.id}.")


async def list_participants(request: web.Request) -> web.StreamResponse:
    """GET /v1.0/communications/calls/{call_id}/participants: who is in the call."""

    async def handle(context: ActionContext, call: SimCall, body: Any) -> web.StreamResponse:
        return web.json_response({"value": context.cloud.roster.roster_json(call)})

    return await _on_call(request, handle)


async def get_participant(request: web.Request) -> web.StreamResponse:
    """GET /v1.0/communications/calls/{call_id}/participants/{participant_id}."""

    async def handle(context: ActionContext, call: SimCall, body: Any) -> web.StreamResponse:
        participant = _participant(call, request.match_info["participant_id"])
        return web.json_response(participant.graph_resource())

    return await _on_call(request, handle)


async def delete_participant(request: web.Request) -> web.StreamResponse:
    """DELETE .../participants/{participant_id}: remove someone, or cancel their invitation."""

    async def handle(context: ActionContext, call: SimCall, body: Any) -> web.StreamResponse:
        participant = _participant(call, request.match_info["participant_id"])
        context.cloud.roster.remove(call, participant)
        return web.Response(status=204)

    return await _on_call(request, handle)


async def get_operation(request: web.Request) -> web.StreamResponse:
    """GET /v1.0/communications/calls/{call_id}/operations/{operation_id}."""

    async def handle(context: ActionContext, call: SimCall, body: Any) -> web.StreamResponse:
        wanted = request.match_info["operation_id"].replace("-", "").lower()
        for operation in call.operations.values():
            if operation.id.replace("-", "").lower() == wanted:
                return web.json_response(operation.graph_resource(call))
        raise ApiError(404, f"Operation {request.match_info['operation_id']} was not found.")

    return await _on_call(request, handle)


async def create_call(request: web.Request) -> web.StreamResponse:
    """POST /v1.0/communications/calls: the bot calls someone (a callback)."""
    context = _context(request)
    cloud = context.cloud
    body = await read_json_object(request)
    callback_uri = _callback_uri(body, required=True)
    assert callback_uri is not None
    tenant_id = body.get("tenantId")
    directory = request.app[DIRECTORY_KEY]
    if not isinstance(tenant_id, str) or directory.tenant(tenant_id) is None:
        raise ApiError(400, f"tenantId must name a tenant the simulator knows, got {tenant_id!r}.")
    source = body.get("source")
    identity_set = source.get("identity") if isinstance(source, dict) else None
    instance = identity_set.get("applicationInstance") if isinstance(identity_set, dict) else None
    instance_id = instance.get("id") if isinstance(instance, dict) else None
    account = (
        directory.application_instance(tenant_id, instance_id=instance_id)
        if isinstance(instance_id, str)
        else None
    )
    if account is None:
        raise ApiError(
            400,
            "source.identity.applicationInstance must name one of the tenant's resource accounts.",
        )
    targets = body.get("targets")
    if not isinstance(targets, list) or len(targets) != 1:
        raise ApiError(400, "targets must name exactly one participant for a peer-to-peer call.")
    target = _identity(cloud, targets[0], where="targets[0]", allow_applications=False)
    modalities = body.get("requestedModalities")
    if not isinstance(modalities, list) or "audio" not in modalities:
        raise ApiError(400, "requestedModalities must contain audio.")
    prefetch = _service_hosted_media(body)
    call = cloud.place_outgoing_call(
        tenant_id=tenant_id,
        source={
            "@odata.type": "#microsoft.graph.participantInfo",
            "identity": {
                "applicationInstance": {"id": account.id, "displayName": account.display_name}
            },
        },
        target={"@odata.type": "#microsoft.graph.invitationParticipantInfo", "identity": target},
        requested_modalities=[str(m) for m in modalities],
        callback_uri=callback_uri,
        prefetch=prefetch,
    )
    cloud.record_request(call, method=request.method, path=request.path, body=body, status=201)
    return web.json_response(
        call.graph_resource(),
        status=201,
        headers={"Location": f"{context.origin}{GRAPH_PREFIX}{call.resource_url}"},
    )


async def get_presences(request: web.Request) -> web.StreamResponse:
    """POST /v1.0/communications/getPresencesByUserId: presence of up to 650 users."""
    body = await read_json_object(request)
    ids = body.get("ids")
    if (
        not isinstance(ids, list)
        or not 1 <= len(ids) <= MAX_PRESENCE_IDS
        or not all(isinstance(user_id, str) and user_id for user_id in ids)
    ):
        raise ApiError(400, f"ids must list 1 to {MAX_PRESENCE_IDS} user ids.")
    cloud = request.app[CLOUD_KEY]
    directory = request.app[DIRECTORY_KEY]
    value = [
        (
            cloud.people.presence(user_id)
            if directory.user(user_id) is not None or directory.user(user_id.lower()) is not None
            else PresenceReport(user_id, "PresenceUnknown", "PresenceUnknown")
        ).to_json()
        for user_id in dict.fromkeys(ids)
    ]
    return web.json_response({"value": value})


async def download_recording(request: web.Request) -> web.StreamResponse:
    """GET /media/recordings/{recording_id}: the file a recordOperation points at."""
    recording = request.app[CLOUD_KEY].media.recordings.get(request.match_info["recording_id"])
    if recording is None:
        raise ApiError(404, "No such recording.")
    if not recording.authorized(request.headers.get("Authorization")):
        raise ApiError(
            401,
            "The recording needs its recordingAccessToken as a bearer token.",
            code="InvalidAuthenticationToken",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return web.Response(body=wav_bytes(recording.seconds), content_type="application/octet-stream")


@web.middleware
async def graph_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require a bearer token on fake Graph, then apply any injected fault."""
    if not request.path.startswith(f"{GRAPH_PREFIX}/"):
        return await handler(request)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    # Any non-empty bearer token will do: the simulator checks that the bot sends one, not
    # that it came from Entra ID.
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Access token is empty.", code="InvalidAuthenticationToken")
    fault = await request.app[FAULTS_KEY].apply(request)
    if fault is not None:
        return fault
    return await handler(request)


def add_graph_routes(app: web.Application) -> None:
    """Serve fake Graph's call and presence endpoints, and the recordings' file location."""
    communications = f"{GRAPH_PREFIX}/communications"
    calls = f"{communications}/calls"
    call = f"{calls}/{{call_id}}"
    router = app.router
    router.add_post(calls, create_call)
    router.add_post(f"{communications}/getPresencesByUserId", get_presences)
    router.add_get(call, get_call)
    router.add_delete(call, delete_call)
    router.add_get(f"{call}/participants", list_participants)
    router.add_get(f"{call}/participants/{{participant_id}}", get_participant)
    router.add_delete(f"{call}/participants/{{participant_id}}", delete_participant)
    router.add_get(f"{call}/operations/{{operation_id}}", get_operation)
    router.add_post(f"{call}/{{action:.+}}", call_action)
    router.add_get(f"{RECORDING_PATH}/{{recording_id}}", download_recording)
