"""The control API under ``/sim``: set up the tenant directory, place calls, inspect, inject faults.

Unauthenticated by design: the simulator listens on loopback and stands in for the outside
world (callers, Teams admins), not for anything the bot may trust.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field, model_validator

from graph.simulator.appkeys import (
    CLOUD_KEY,
    CONVERSATIONS_KEY,
    DIRECTORY_KEY,
    FAULTS_KEY,
)
from graph.simulator.calls import GraphCallState, SimCall
from graph.simulator.directory import (
    E164,
    ApplicationInstanceEntry,
    CamelModel,
    Directory,
    TenantEntry,
    UnknownTenant,
    UserEntry,
)
from graph.simulator.errors import ApiError, parse_model, read_json_object, read_model
from graph.simulator.faults import FaultSpec

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
    tenant_id = request.match_info["tenant_id"]
    try:
        created = request.app[DIRECTORY_KEY].put_user(tenant_id, entry)
    except UnknownTenant as err:
        raise ApiError(404, f"Tenant {tenant_id} is not in the directory.") from err
    return web.json_response(entry.model_dump(by_alias=True), status=201 if created else 200)


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
    )
    return web.json_response(
        {"call": call.view(), "webhookStatus": delivery.status, "webhookError": delivery.error},
        status=201,
    )


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
    request.app[CLOUD_KEY].hang_up_by_caller(call)
    return web.json_response(call.view(), status=202)


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
    router.add_put(
        "/sim/tenants/{tenant_id}/applicationInstances/{instance_id}", put_application_instance
    )
    router.add_post("/sim/calls", place_call)
    router.add_get("/sim/calls", list_calls)
    router.add_get("/sim/calls/{call_id}", get_call)
    router.add_get("/sim/calls/{call_id}/wait", wait_for_call)
    router.add_post("/sim/calls/{call_id}/hangup", hang_up)
    router.add_post("/sim/faults", add_fault)
    router.add_get("/sim/faults", list_faults)
    router.add_delete("/sim/faults", clear_faults)
    router.add_get("/sim/conversations", list_conversations)
    router.add_get("/sim/conversations/{conversation_id}", get_conversation)
