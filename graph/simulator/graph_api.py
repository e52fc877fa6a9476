"""Fake Microsoft Graph under ``/v1.0``: the cloud-communications call actions.

Actions are looked up by name in :data:`CALL_ACTIONS`; adding one (playPrompt,
subscribeToTone, participants/invite, ...) means writing a handler and registering it there.
Handlers validate the body as Graph does and raise :class:`ApiError` with Graph's error shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from graph.simulator.appkeys import CLOUD_KEY, FAULTS_KEY
from graph.simulator.calls import GraphCallState, SimCall
from graph.simulator.cloud import SimulatedCloud
from graph.simulator.config import is_loopback_host
from graph.simulator.errors import ApiError, read_json

GRAPH_PREFIX = "/v1.0"

CallAction = Callable[[SimulatedCloud, SimCall, dict[str, Any]], Awaitable[web.StreamResponse]]


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


def _prefetch(media_config: Mapping[str, Any]) -> list[dict[str, Any]]:
    prefetch = media_config.get("preFetchMedia", [])
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


# ------------------------------------------------------------------------ actions
async def answer(cloud: SimulatedCloud, call: SimCall, body: dict[str, Any]) -> web.Response:
    """Answer an incoming call with service-hosted media."""
    _require_incoming(call, "answered")
    callback_uri = _callback_uri(body, required=True)
    assert callback_uri is not None
    modalities = body.get("acceptedModalities")
    if not isinstance(modalities, list) or "audio" not in modalities:
        raise ApiError(400, "acceptedModalities must contain audio.")
    media_config = body.get("mediaConfig")
    if not isinstance(media_config, dict):
        raise ApiError(400, "mediaConfig is required.")
    if media_config.get("@odata.type") != "#microsoft.graph.serviceHostedMediaConfig":
        # App-hosted media needs the real-time media platform, which Graph offers to .NET only.
        raise ApiError(
            400, "mediaConfig must be #microsoft.graph.serviceHostedMediaConfig in the simulator."
        )
    cloud.answer(call, callback_uri=callback_uri, prefetch=_prefetch(media_config))
    return web.Response(status=202)


REJECT_REASONS = frozenset({"none", "busy", "forbidden"})


async def reject(cloud: SimulatedCloud, call: SimCall, body: dict[str, Any]) -> web.Response:
    """Reject an incoming call."""
    _require_incoming(call, "rejected")
    reason = body.get("reason", "none")
    if not isinstance(reason, str) or reason.lower() not in REJECT_REASONS:
        raise ApiError(400, f"reason must be one of None, Busy, Forbidden; got {reason!r}.")
    cloud.reject(call, callback_uri=_callback_uri(body, required=False))
    return web.Response(status=202)


CALL_ACTIONS: Final[Mapping[str, CallAction]] = MappingProxyType(
    {
        "answer": answer,
        "reject": reject,
    }
)


# ------------------------------------------------------------------------- routes
def _live_call(cloud: SimulatedCloud, call_id: str) -> SimCall:
    call = cloud.calls.get(call_id)
    # Graph forgets a call once it has terminated.
    if call is None or call.ended:
        raise ApiError(404, f"Call {call_id} was not found.")
    return call


async def _on_call(
    request: web.Request,
    handle: Callable[[SimulatedCloud, SimCall, Any], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Run ``handle`` on the addressed call, recording the request and its outcome on it."""
    cloud = request.app[CLOUD_KEY]
    call_id = request.match_info["call_id"]
    body = await read_json(request) if request.can_read_body else None
    call = cloud.calls.get(call_id)
    status = 500
    try:
        response = await handle(cloud, _live_call(cloud, call_id), body)
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

    async def handle(cloud: SimulatedCloud, call: SimCall, body: Any) -> web.StreamResponse:
        if action is None:
            raise ApiError(400, f"Resource not found for the segment '{name}'.", code="BadRequest")
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return await action(cloud, call, body)

    return await _on_call(request, handle)


async def get_call(request: web.Request) -> web.StreamResponse:
    """GET /v1.0/communications/calls/{call_id}."""

    async def handle(cloud: SimulatedCloud, call: SimCall, body: Any) -> web.StreamResponse:
        return web.json_response(call.graph_resource())

    return await _on_call(request, handle)


async def delete_call(request: web.Request) -> web.StreamResponse:
    """DELETE /v1.0/communications/calls/{call_id}: the bot hangs up."""

    async def handle(cloud: SimulatedCloud, call: SimCall, body: Any) -> web.StreamResponse:
        cloud.hang_up_by_bot(call)
        return web.Response(status=204)

    return await _on_call(request, handle)


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
    """Serve fake Graph's call endpoints."""
    calls = f"{GRAPH_PREFIX}/communications/calls"
    app.router.add_get(f"{calls}/{{call_id}}", get_call)
    app.router.add_delete(f"{calls}/{{call_id}}", delete_call)
    app.router.add_post(f"{calls}/{{call_id}}/{{action:.+}}", call_action)
