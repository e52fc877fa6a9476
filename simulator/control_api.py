"""The control API under ``/sim``: set up the directory, place calls, act as the people in them.

Through it a test or a demo plays everyone but the bot: callers dial, hang up and press
keys; agents answer, decline or hang up; users change presence; the clock moves. It also
inspects what the bot did and injects faults.

Unauthenticated by design: the simulator listens on loopback and stands in for the outside
world (callers, agents, Teams admins), not for anything the bot may trust.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, Field, model_validator

from contactcenter.clock import VirtualClock
from simulator.appkeys import (
    CLOCK_KEY,
    CLOUD_KEY,
    CONVERSATIONS_KEY,
    DELIVERY_KEY,
    DIRECTORY_KEY,
    FAULTS_KEY,
)
from simulator.calls import (
    GraphCallState,
    OperationStatus,
    ParticipantRole,
    ParticipantStatus,
    ResultInfo,
    SimCall,
    SimOperation,
)
from simulator.cloud import SimulatedCloud
from simulator.config import MediaMode, SilentPoints
from simulator.directory import (
    E164,
    ApplicationInstanceEntry,
    CamelModel,
    Directory,
    GroupEntry,
    TenantEntry,
    UnknownTenant,
    UserEntry,
)
from simulator.errors import ApiError, parse_model, read_json_object, read_model
from simulator.faults import DropSpec, FaultSpec
from simulator.people import InviteeBehaviour, PresenceSetting

_Entry = TypeVar("_Entry", bound=BaseModel)

MAX_WAIT_S = 60.0


class CallerSpec(CamelModel):
    """Who is calling: a phone number or a Teams user from the directory."""

    phone: str | None = None
    user_id: str | None = None
    display_name: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _one_identity(self) -> CallerSpec:
        if (self.phone is None) == (self.user_id is None):
            raise ValueError("give exactly one of phone and userId")
        if self.phone is not None and not E164.fullmatch(self.phone):
            raise ValueError("phone must be in E.164 form, e.g. +14255550100")
        return self


class TargetSpec(CamelModel):
    """What is called: a resource account, by id or by its phone number."""

    application_instance_id: str | None = None
    phone: str | None = None

    @model_validator(mode="after")
    def _one_identity(self) -> TargetSpec:
        if (self.application_instance_id is None) == (self.phone is None):
            raise ValueError("give exactly one of applicationInstanceId and phone")
        return self


Modality = Literal["audio", "video", "videoBasedScreenSharing"]


class PlaceCallRequest(CamelModel):
    """``POST /sim/calls``: a caller dials a resource account."""

    tenant_id: str = Field(min_length=1)
    target: TargetSpec
    caller: CallerSpec
    requested_modalities: tuple[Modality, ...] = ("audio",)
    # False: the call waits for the bot to act on it, and nobody tells the bot of it (a
    # test posts the incoming notification itself).
    notify: bool = True


# ---------------------------------------------------------------------- directory
def _tenant_json(directory: Directory, tenant_id: str) -> dict[str, Any]:
    tenant = directory.tenant(tenant_id)
    if tenant is None:
        raise ApiError(404, f"Tenant {tenant_id} is not in the directory.")
    return tenant.model_dump(by_alias=True)


async def _entry_body(request: web.Request, id_name: str) -> dict[str, Any]:
    """Read a body whose id is in the path; an id in the body must agree."""
    body = await read_json_object(request)
    path_id = request.match_info[id_name]
    if body.setdefault("id", path_id) != path_id:
        raise ApiError(400, f"The body's id {body['id']!r} differs from the path's {path_id!r}.")
    return body


async def list_tenants(request: web.Request) -> web.Response:
    """GET /sim/tenants."""
    return web.json_response(request.app[DIRECTORY_KEY].to_json())


async def get_tenant(request: web.Request) -> web.Response:
    """GET /sim/tenants/{tenant_id}."""
    return web.json_response(
        _tenant_json(request.app[DIRECTORY_KEY], request.match_info["tenant_id"])
    )


async def put_tenant(request: web.Request) -> web.Response:
    """PUT /sim/tenants/{tenant_id}: create or replace a tenant with its users and accounts."""
    entry = parse_model(TenantEntry, await _entry_body(request, "tenant_id"))
    directory = request.app[DIRECTORY_KEY]
    created = directory.put_tenant(entry)
    return web.json_response(_tenant_json(directory, entry.id), status=201 if created else 200)


async def put_user(request: web.Request) -> web.Response:
    """PUT /sim/tenants/{tenant_id}/users/{user_id}."""
    entry = parse_model(UserEntry, await _entry_body(request, "user_id"))
    return _put_in_tenant(request, entry, request.app[DIRECTORY_KEY].put_user)


async def put_group(request: web.Request) -> web.Response:
    """PUT /sim/tenants/{tenant_id}/groups/{group_id}: a group, or a team (``team``: true)."""
    entry = parse_model(GroupEntry, await _entry_body(request, "group_id"))
    return _put_in_tenant(request, entry, request.app[DIRECTORY_KEY].put_group)


def _put_in_tenant(
    request: web.Request, entry: _Entry, put: Callable[[str, _Entry], bool]
) -> web.Response:
    """Store a directory entry in the path's tenant; 201 if it is new, 404 without the tenant."""
    tenant_id = request.match_info["tenant_id"]
    try:
        created = put(tenant_id, entry)
    except UnknownTenant as err:
        raise ApiError(404, f"Tenant {tenant_id} is not in the directory.") from err
    return web.json_response(entry.model_dump(by_alias=True), status=201 if created else 200)


async def set_group_member(request: web.Request) -> web.Response:
    """PUT (add) or DELETE (remove) /sim/tenants/{tenant_id}/groups/{group_id}/members/{user_id}.

    A team's member is a member of its channels too, as of a standard channel.
    """
    tenant_id = request.match_info["tenant_id"]
    group_id = request.match_info["group_id"]
    user_id = request.match_info["user_id"]
    directory = request.app[DIRECTORY_KEY]
    if directory.tenant_user(tenant_id, user_id) is None:
        raise ApiError(404, f"User {user_id} is not in tenant {tenant_id}.")
    try:
        directory.set_member(tenant_id, group_id, user_id, member=request.method == "PUT")
    except (UnknownTenant, KeyError) as err:
        raise ApiError(404, f"Group {group_id} is not in tenant {tenant_id}.") from err
    group = directory.group(group_id)
    assert group is not None
    return web.json_response(group.model_dump(by_alias=True))


async def put_application_instance(request: web.Request) -> web.Response:
    """PUT /sim/tenants/{tenant_id}/applicationInstances/{instance_id}."""
    entry = parse_model(ApplicationInstanceEntry, await _entry_body(request, "instance_id"))
    tenant_id = request.match_info["tenant_id"]
    try:
        created = request.app[DIRECTORY_KEY].put_application_instance(tenant_id, entry)
    except UnknownTenant as err:
        raise ApiError(404, f"Tenant {tenant_id} is not in the directory.") from err
    return web.json_response(entry.model_dump(by_alias=True), status=201 if created else 200)


# -------------------------------------------------------------------------- calls
def _source(directory: Directory, caller: CallerSpec) -> dict[str, Any]:
    """Return the caller as Graph's ``participantInfo``."""
    if caller.phone is not None:
        phone: dict[str, Any] = {"id": caller.phone}
        if caller.display_name:
            phone["displayName"] = caller.display_name
        identity: dict[str, Any] = {"phone": phone}
    else:
        assert caller.user_id is not None
        found = directory.user(caller.user_id)
        if found is None:
            raise ApiError(404, f"User {caller.user_id} is not in the directory.")
        home_tenant, user = found
        identity = {
            "user": {
                "id": user.id,
                "displayName": caller.display_name or user.display_name,
                "tenantId": home_tenant,
            }
        }
    return {"@odata.type": "#microsoft.graph.participantInfo", "identity": identity}


def _target(directory: Directory, tenant_id: str, target: TargetSpec) -> dict[str, Any]:
    """Return the called resource account as Graph's ``invitationParticipantInfo``."""
    if directory.tenant(tenant_id) is None:
        raise ApiError(404, f"Tenant {tenant_id} is not in the directory.")
    app = directory.application_instance(
        tenant_id, instance_id=target.application_instance_id, phone_number=target.phone
    )
    if app is None:
        called = target.application_instance_id or target.phone
        raise ApiError(404, f"No resource account {called} in tenant {tenant_id}.")
    return {
        "@odata.type": "#microsoft.graph.invitationParticipantInfo",
        "identity": {"applicationInstance": {"id": app.id, "displayName": app.display_name}},
    }


def _call(request: web.Request) -> SimCall:
    call_id = request.match_info["call_id"]
    call = request.app[CLOUD_KEY].calls.get(call_id)
    if call is None:
        raise ApiError(404, f"Call {call_id} is not known to the simulator.")
    return call


async def place_call(request: web.Request) -> web.Response:
    """POST /sim/calls: dial; answers once the bot's webhook has answered the notification."""
    spec = await read_model(request, PlaceCallRequest)
    cloud = request.app[CLOUD_KEY]
    directory = request.app[DIRECTORY_KEY]
    targets = [_target(directory, spec.tenant_id, spec.target)]
    call, delivery = await cloud.place_incoming_call(
        tenant_id=spec.tenant_id,
        source=_source(directory, spec.caller),
        targets=targets,
        requested_modalities=list(spec.requested_modalities),
        notify=spec.notify,
    )
    return web.json_response(
        {
            "call": call.view(),
            "webhookStatus": delivery.status if delivery is not None else None,
            "webhookError": delivery.error if delivery is not None else None,
        },
        status=201,
    )


async def wait_until_delivered(request: web.Request) -> web.Response:
    """POST /sim/notifications/delivered: answer once every queued notification was sent."""
    await request.app[CLOUD_KEY].outbox.idle()
    return web.Response(status=204)


async def list_calls(request: web.Request) -> web.Response:
    """GET /sim/calls."""
    return web.json_response(
        {"calls": [call.view() for call in request.app[CLOUD_KEY].calls.all()]}
    )


async def get_call(request: web.Request) -> web.Response:
    """GET /sim/calls/{call_id}: the call, the requests the bot made and the notifications sent."""
    return web.json_response(_call(request).view())


class _WaitQuery(BaseModel):
    state: GraphCallState | None = None
    notifications: int | None = Field(default=None, ge=0)
    requests: int | None = Field(default=None, ge=0)
    timeout: float = Field(default=5.0, gt=0, le=MAX_WAIT_S)


async def wait_for_call(request: web.Request) -> web.Response:
    """GET /sim/calls/{call_id}/wait?state=&notifications=&requests=&timeout=.

    Answer once the call is in ``state`` and has at least that many delivered notifications
    and recorded requests: 200 with the call, 408 on timeout, 409 if it ended otherwise.
    """
    query = parse_model(_WaitQuery, dict(request.query))
    call = _call(request)

    def reached() -> bool:
        return (
            (query.state is None or call.state is query.state)
            and (query.notifications is None or len(call.notifications) >= query.notifications)
            and (query.requests is None or len(call.requests) >= query.requests)
        )

    def unreachable() -> bool:
        # An ended call never changes state again, though its last notifications may still
        # be on their way: only a state it can no longer reach is worth giving up on.
        return call.ended and query.state not in {None, GraphCallState.TERMINATED}

    try:
        async with asyncio.timeout(query.timeout):
            await request.app[CLOUD_KEY].calls.wait_until(lambda: reached() or unreachable())
    except TimeoutError:
        raise ApiError(408, f"Call {call.id} did not get there within {query.timeout}s.") from None
    if not reached():
        raise ApiError(409, f"Call {call.id} ended in state {call.state.value}.")
    return web.json_response(call.view())


async def hang_up(request: web.Request) -> web.Response:
    """POST /sim/calls/{call_id}/hangup: the caller hangs up."""
    call = _call(request)
    if call.ended:
        raise ApiError(404, f"Call {call.id} has already ended.")
    request.app[CLOUD_KEY].hang_up_by_remote(call)
    return web.json_response(call.view(), status=202)


async def answer_call(request: web.Request) -> web.Response:
    """POST /sim/calls/{call_id}/answer: whom the bot called picks up."""
    call = _call(request)
    callee = next(
        (
            p
            for p in call.participants.values()
            if p.role is ParticipantRole.CALLEE and p.status is ParticipantStatus.RINGING
        ),
        None,
    )
    if callee is None:
        raise ApiError(409, f"Call {call.id} has no callee ringing.")
    request.app[CLOUD_KEY].roster.answer(call, callee)
    return web.json_response(call.view())


async def participant_action(request: web.Request) -> web.Response:
    """POST /sim/calls/{call_id}/participants/{participant}/answer|decline|hangup.

    ``participant`` is a participant id, a user id or a phone number; the latest
    participant it names is the one who acts.
    """
    call = _call(request)
    ref = request.match_info["participant"]
    participant = call.participant(ref)
    if participant is None:
        raise ApiError(404, f"Call {call.id} has no participant {ref}.")
    roster = request.app[CLOUD_KEY].roster
    action = request.match_info["action"]
    if action == "answer":
        roster.answer(call, participant)
    elif action == "decline":
        roster.decline(call, participant)
    else:
        roster.hang_up(call, participant)
    return web.json_response(participant.view())


class _TonesRequest(CamelModel):
    tones: str = Field(pattern=r"^[0-9*#]{1,100}$")


async def press_tones(request: web.Request) -> web.Response:
    """POST /sim/calls/{call_id}/tones: the caller presses keys, e.g. ``{"tones": "12#"}``."""
    spec = await read_model(request, _TonesRequest)
    call = _call(request)
    if call.state is not GraphCallState.ESTABLISHED:
        raise ApiError(409, f"Call {call.id} is {call.state.value}; keys reach established calls.")
    media = request.app[CLOUD_KEY].media
    # A stop tone ends a recording only once it records, after its prompt was fetched.
    await media.settled(call)
    sequence_ids = media.press_tones(call, spec.tones)
    return web.json_response({"sequenceIds": sequence_ids})


class _RecordRequest(CamelModel):
    seconds: float = Field(gt=0, le=600)


async def _playing(cloud: SimulatedCloud, call: SimCall) -> SimOperation:
    await cloud.media.settled(call)
    operation = cloud.media.playing(call)
    if operation is None or operation.media is None or not operation.media.playing:
        raise ApiError(409, f"Call {call.id} has no prompt or recording playing.")
    return operation


async def record(request: web.Request) -> web.Response:
    """POST /sim/calls/{call_id}/record: the caller speaks ``seconds`` into the recording."""
    spec = await read_model(request, _RecordRequest)
    call = _call(request)
    cloud = request.app[CLOUD_KEY]
    operation = await _playing(cloud, call)
    if operation.media is None or operation.media.record is None:
        raise ApiError(409, f"Call {call.id} is playing a prompt, not recording.")
    cloud.media.complete(
        call, operation, recorded_s=spec.seconds, completion_reason="maxSilenceTimeout"
    )
    return web.json_response(operation.view())


class _CompleteRequest(CamelModel):
    status: OperationStatus = OperationStatus.COMPLETED
    code: int = Field(default=500, ge=100, le=999)
    subcode: int = Field(default=0, ge=0)
    message: str = Field(default="Action failed.", max_length=500)


def _finish_media(
    cloud: SimulatedCloud, call: SimCall, operation: SimOperation, spec: _CompleteRequest
) -> None:
    if spec.status is OperationStatus.COMPLETED:
        cloud.media.complete(call, operation)
    elif spec.status is OperationStatus.FAILED:
        cloud.media.fail(call, operation, ResultInfo(spec.code, spec.subcode, spec.message))
    else:
        raise ApiError(400, "status must be completed or failed.")


async def _complete_body(request: web.Request) -> _CompleteRequest:
    if not (await request.read()).strip():
        return _CompleteRequest()
    return await read_model(request, _CompleteRequest)


async def complete_media(request: web.Request) -> web.Response:
    """POST /sim/calls/{call_id}/media/complete: end the prompt or recording playing now."""
    spec = await _complete_body(request)
    call = _call(request)
    cloud = request.app[CLOUD_KEY]
    operation = await _playing(cloud, call)
    _finish_media(cloud, call, operation, spec)
    return web.json_response(operation.view())


async def complete_operation(request: web.Request) -> web.Response:
    """POST /sim/calls/{call_id}/operations/{operation_id}/complete (it must be playing)."""
    spec = await _complete_body(request)
    call = _call(request)
    cloud = request.app[CLOUD_KEY]
    operation = call.operations.get(request.match_info["operation_id"])
    if operation is None:
        raise ApiError(
            404, f"Call {call.id} has no operation {request.match_info['operation_id']}."
        )
    if await _playing(cloud, call) is not operation:
        raise ApiError(409, f"Operation {operation.id} is not the one playing.")
    _finish_media(cloud, call, operation, spec)
    return web.json_response(operation.view())


# --------------------------------------------------------------------------- people
def _tenant_user(request: web.Request) -> str:
    tenant_id = request.match_info["tenant_id"]
    user_id = request.match_info["user_id"]
    directory = request.app[DIRECTORY_KEY]
    if directory.tenant(tenant_id) is None:
        raise ApiError(404, f"Tenant {tenant_id} is not in the directory.")
    if directory.tenant_user(tenant_id, user_id) is None:
        raise ApiError(404, f"User {user_id} is not in tenant {tenant_id}.")
    return user_id


def _behaviour_json(behaviour: InviteeBehaviour) -> dict[str, Any]:
    return behaviour.model_dump(by_alias=True)


async def put_user_behaviour(request: web.Request) -> web.Response:
    """PUT /sim/tenants/{tenant_id}/users/{user_id}/behaviour: how the user responds to rings."""
    user_id = _tenant_user(request)
    behaviour = await read_model(request, InviteeBehaviour)
    request.app[CLOUD_KEY].people.set_user_behaviour(user_id, behaviour)
    return web.json_response(_behaviour_json(behaviour))


async def get_user_behaviour(request: web.Request) -> web.Response:
    """GET /sim/tenants/{tenant_id}/users/{user_id}/behaviour."""
    user_id = _tenant_user(request)
    return web.json_response(_behaviour_json(request.app[CLOUD_KEY].people.user_behaviour(user_id)))


def _phone(request: web.Request) -> str:
    number = request.match_info["number"]
    if not E164.fullmatch(number):
        raise ApiError(400, f"{number!r} is not a phone number in E.164 form.")
    return number


async def put_phone_behaviour(request: web.Request) -> web.Response:
    """PUT /sim/phones/{number}/behaviour: how a phone number responds to rings."""
    number = _phone(request)
    behaviour = await read_model(request, InviteeBehaviour)
    request.app[CLOUD_KEY].people.set_phone_behaviour(number, behaviour)
    return web.json_response(_behaviour_json(behaviour))


async def get_phone_behaviour(request: web.Request) -> web.Response:
    """GET /sim/phones/{number}/behaviour."""
    number = _phone(request)
    return web.json_response(_behaviour_json(request.app[CLOUD_KEY].people.phone_behaviour(number)))


async def put_presence(request: web.Request) -> web.Response:
    """PUT /sim/tenants/{tenant_id}/users/{user_id}/presence: the user's own presence."""
    user_id = _tenant_user(request)
    setting = await read_model(request, PresenceSetting)
    people = request.app[CLOUD_KEY].people
    people.set_presence(user_id, setting)
    return web.json_response(people.presence(user_id).to_json())


async def get_presence(request: web.Request) -> web.Response:
    """GET /sim/tenants/{tenant_id}/users/{user_id}/presence: as Graph reports it now."""
    user_id = _tenant_user(request)
    return web.json_response(request.app[CLOUD_KEY].people.presence(user_id).to_json())


# ------------------------------------------------------------------ settings, clock
class _SettingsPatch(CamelModel):
    media_mode: MediaMode | None = None
    prompt_duration_s: float | None = Field(default=None, ge=0, le=3600)
    record_duration_s: float | None = Field(default=None, gt=0, le=600)
    invite_timeout_s: float | None = Field(default=None, gt=0, le=3600)
    default_user_behaviour: InviteeBehaviour | None = None
    default_phone_behaviour: InviteeBehaviour | None = None


def _settings_json(cloud: SimulatedCloud) -> dict[str, Any]:
    settings = cloud.settings
    return {
        "mediaMode": settings.media_mode.value,
        "promptDurationS": settings.prompt_duration_s,
        "recordDurationS": settings.record_duration_s,
        "inviteTimeoutS": settings.invite_timeout_s,
        "defaultUserBehaviour": _behaviour_json(cloud.people.default_user_behaviour),
        "defaultPhoneBehaviour": _behaviour_json(cloud.people.default_phone_behaviour),
    }


async def get_settings(request: web.Request) -> web.Response:
    """GET /sim/settings."""
    return web.json_response(_settings_json(request.app[CLOUD_KEY]))


async def patch_settings(request: web.Request) -> web.Response:
    """PATCH /sim/settings: change media timing, the invite timeout or default behaviours."""
    patch = await read_model(request, _SettingsPatch)
    cloud = request.app[CLOUD_KEY]
    settings = cloud.settings
    if patch.media_mode is not None:
        settings.media_mode = patch.media_mode
    if patch.prompt_duration_s is not None:
        settings.prompt_duration_s = patch.prompt_duration_s
    if patch.record_duration_s is not None:
        settings.record_duration_s = patch.record_duration_s
    if patch.invite_timeout_s is not None:
        settings.invite_timeout_s = patch.invite_timeout_s
    if patch.default_user_behaviour is not None:
        cloud.people.default_user_behaviour = patch.default_user_behaviour
    if patch.default_phone_behaviour is not None:
        cloud.people.default_phone_behaviour = patch.default_phone_behaviour
    return web.json_response(_settings_json(cloud))


async def get_silent_points(request: web.Request) -> web.Response:
    """GET /sim/silent-points: which way the simulator goes where Graph's docs are silent."""
    return web.json_response(request.app[CLOUD_KEY].silent_points.model_dump(by_alias=True))


async def put_silent_points(request: web.Request) -> web.Response:
    """PUT /sim/silent-points: choose them (switches left out take their defaults)."""
    cloud = request.app[CLOUD_KEY]
    cloud.silent_points = await read_model(request, SilentPoints)
    return web.json_response(cloud.silent_points.model_dump(by_alias=True))


class _AdvanceRequest(CamelModel):
    seconds: float = Field(gt=0, le=30 * 86_400)


async def advance_clock(request: web.Request) -> web.Response:
    """POST /sim/clock/advance: move a virtual clock on, running every timer that falls due."""
    spec = await read_model(request, _AdvanceRequest)
    clock = request.app[CLOCK_KEY]
    if not isinstance(clock, VirtualClock):
        raise ApiError(409, "The simulator runs on the system clock; only a virtual one moves.")
    cloud = request.app[CLOUD_KEY]
    # Prompts being fetched start their timers once fetched: let them, before time moves.
    for call in cloud.calls.all():
        if not call.ended:
            await cloud.media.settled(call)
    ran = cloud.timers.advance(spec.seconds, clock.advance)
    return web.json_response({"now": clock.now().isoformat(), "timersRun": ran})


# ------------------------------------------------------------------------- faults
async def add_fault(request: web.Request) -> web.Response:
    """POST /sim/faults."""
    fault = request.app[FAULTS_KEY].add(await read_model(request, FaultSpec))
    return web.json_response(fault.to_json(), status=201)


async def list_faults(request: web.Request) -> web.Response:
    """GET /sim/faults."""
    return web.json_response(
        {"faults": [fault.to_json() for fault in request.app[FAULTS_KEY].all()]}
    )


async def add_notification_drop(request: web.Request) -> web.Response:
    """POST /sim/notification-drops."""
    drop = request.app[FAULTS_KEY].add_drop(await read_model(request, DropSpec))
    return web.json_response(drop.to_json(), status=201)


async def list_notification_drops(request: web.Request) -> web.Response:
    """GET /sim/notification-drops."""
    return web.json_response(
        {"drops": [drop.to_json() for drop in request.app[FAULTS_KEY].drops()]}
    )


async def clear_faults(request: web.Request) -> web.Response:
    """DELETE /sim/faults."""
    request.app[FAULTS_KEY].clear()
    return web.Response(status=204)


# ------------------------------------------------------------------ conversations
async def list_conversations(request: web.Request) -> web.Response:
    """GET /sim/conversations: what the bot sent through the fake Bot Connector."""
    conversations = request.app[CONVERSATIONS_KEY].all()
    return web.json_response({"conversations": [c.to_json() for c in conversations]})


async def get_conversation(request: web.Request) -> web.Response:
    """GET /sim/conversations/{conversation_id}."""
    conversation_id = request.match_info["conversation_id"]
    conversation = request.app[CONVERSATIONS_KEY].get(conversation_id)
    if conversation is None:
        raise ApiError(404, f"Conversation {conversation_id} has no activities.")
    return web.json_response(conversation.to_json())


class SendActivityRequest(CamelModel):
    """``POST /sim/conversations/{id}/activities``: Teams sends the bot an activity.

    ``activity`` needs at least a ``type``; the simulator fills in ids, channel, service URL,
    conversation and tenant. ``userId`` (a directory user) fills in ``from`` when it is
    missing. ``token`` replaces the signed bearer token, to send what an impostor would.
    """

    tenant_id: str = Field(min_length=1, max_length=128)
    user_id: str | None = Field(default=None, max_length=128)
    activity: dict[str, Any]
    token: str | None = None


async def send_to_bot(request: web.Request) -> web.Response:
    """POST /sim/conversations/{conversation_id}/activities: deliver an activity to the bot.

    Answers once the bot answered: its status, its body (an invoke's response), and what
    the bot sent to the conversation meanwhile.
    """
    conversation_id = request.match_info["conversation_id"]
    body = await read_model(request, SendActivityRequest)
    partial = dict(body.activity)
    if body.user_id is not None and "from" not in partial:
        entry = request.app[DIRECTORY_KEY].tenant_user(body.tenant_id, body.user_id)
        partial["from"] = {
            "id": f"29:{body.user_id}",
            "aadObjectId": body.user_id,
            "name": entry.display_name if entry is not None else "",
        }
    delivery = request.app[DELIVERY_KEY]
    activity = delivery.complete(
        conversation_id,
        partial,
        service_url=str(request.url.origin()),
        tenant_id=body.tenant_id,
    )
    delivered = await delivery.deliver(conversation_id, activity, token=body.token)
    return web.json_response(delivered.to_json())


class _ConversationWaitQuery(BaseModel):
    events: int = Field(default=1, ge=0)
    incoming: int = Field(default=0, ge=0)
    timeout: float = Field(default=10.0, gt=0, le=MAX_WAIT_S)


async def wait_for_conversation(request: web.Request) -> web.Response:
    """GET /sim/conversations/{conversation_id}/wait?events=&incoming=&timeout=.

    Answer once the bot sent or updated at least ``events`` activities there and at least
    ``incoming`` activities were delivered: 200 with the conversation, 408 on timeout.
    """
    query = parse_model(_ConversationWaitQuery, dict(request.query))
    conversation_id = request.match_info["conversation_id"]
    conversations = request.app[CONVERSATIONS_KEY]

    def reached() -> bool:
        conversation = conversations.get(conversation_id)
        return (
            conversation is not None
            and len(conversation.events) >= query.events
            and len(conversation.incoming) >= query.incoming
        )

    try:
        async with asyncio.timeout(query.timeout):
            await conversations.wait_until(reached)
    except TimeoutError:
        raise ApiError(
            408, f"Conversation {conversation_id} did not get there within {query.timeout}s."
        ) from None
    conversation = conversations.get(conversation_id)
    assert conversation is not None
    return web.json_response(conversation.to_json())


async def health(request: web.Request) -> web.Response:
    """GET /sim/health."""
    return web.json_response({"status": "ok"})


def add_control_routes(app: web.Application) -> None:
    """Serve the control API."""
    router = app.router
    router.add_get("/sim/health", health)
    router.add_get("/sim/tenants", list_tenants)
    router.add_get("/sim/tenants/{tenant_id}", get_tenant)
    router.add_put("/sim/tenants/{tenant_id}", put_tenant)
    router.add_put("/sim/tenants/{tenant_id}/users/{user_id}", put_user)
    router.add_put("/sim/tenants/{tenant_id}/groups/{group_id}", put_group)
    members = "/sim/tenants/{tenant_id}/groups/{group_id}/members/{user_id}"
    router.add_put(members, set_group_member)
    router.add_delete(members, set_group_member)
    router.add_put(
        "/sim/tenants/{tenant_id}/applicationInstances/{instance_id}", put_application_instance
    )
    router.add_post("/sim/calls", place_call)
    router.add_get("/sim/calls", list_calls)
    router.add_get("/sim/calls/{call_id}", get_call)
    router.add_get("/sim/calls/{call_id}/wait", wait_for_call)
    router.add_post("/sim/notifications/delivered", wait_until_delivered)
    router.add_post("/sim/calls/{call_id}/hangup", hang_up)
    router.add_post("/sim/calls/{call_id}/answer", answer_call)
    router.add_post(
        "/sim/calls/{call_id}/participants/{participant}/{action:answer|decline|hangup}",
        participant_action,
    )
    router.add_post("/sim/calls/{call_id}/tones", press_tones)
    router.add_post("/sim/calls/{call_id}/record", record)
    router.add_post("/sim/calls/{call_id}/media/complete", complete_media)
    router.add_post("/sim/calls/{call_id}/operations/{operation_id}/complete", complete_operation)
    router.add_get("/sim/tenants/{tenant_id}/users/{user_id}/behaviour", get_user_behaviour)
    router.add_put("/sim/tenants/{tenant_id}/users/{user_id}/behaviour", put_user_behaviour)
    router.add_get("/sim/tenants/{tenant_id}/users/{user_id}/presence", get_presence)
    router.add_put("/sim/tenants/{tenant_id}/users/{user_id}/presence", put_presence)
    router.add_get("/sim/phones/{number}/behaviour", get_phone_behaviour)
    router.add_put("/sim/phones/{number}/behaviour", put_phone_behaviour)
    router.add_get("/sim/settings", get_settings)
    router.add_patch("/sim/settings", patch_settings)
    router.add_get("/sim/silent-points", get_silent_points)
    router.add_put("/sim/silent-points", put_silent_points)
    router.add_post("/sim/clock/advance", advance_clock)
    router.add_post("/sim/faults", add_fault)
    router.add_post("/sim/notification-drops", add_notification_drop)
    router.add_get("/sim/notification-drops", list_notification_drops)
    router.add_get("/sim/faults", list_faults)
    router.add_delete("/sim/faults", clear_faults)
    router.add_get("/sim/conversations", list_conversations)
    router.add_get("/sim/conversations/{conversation_id}", get_conversation)
    router.add_post("/sim/conversations/{conversation_id}/activities", send_to_bot)
    router.add_get("/sim/conversations/{conversation_id}/wait", wait_for_conversation)
