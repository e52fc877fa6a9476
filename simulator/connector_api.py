"""The fake Bot Connector's HTTP endpoints: ``/v3/conversations/{id}/activities`` and teams."""

from __future__ import annotations

import logging

from aiohttp import web

from simulator.appkeys import CONVERSATIONS_KEY, FAULTS_KEY
from simulator.errors import ApiError, read_json_object

_LOGGER = logging.getLogger(__name__)


def _has_bearer(request: web.Request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


async def send_activity(request: web.Request) -> web.Response:
    """Record a new activity (or a reply) and answer with its id."""
    fault = await request.app[FAULTS_KEY].apply(request)
    if fault is not None:
        return fault
    conversation_id = request.match_info["conversation_id"]
    activity = await read_json_object(request)
    activity_id = request.app[CONVERSATIONS_KEY].send(
        conversation_id, activity, authorized=_has_bearer(request)
    )
    _LOGGER.debug("Activity %s sent to conversation %s", activity_id, conversation_id)
    return web.json_response({"id": activity_id})


async def update_activity(request: web.Request) -> web.Response:
    """Replace an activity sent earlier, such as a card being updated in place."""
    fault = await request.app[FAULTS_KEY].apply(request)
    if fault is not None:
        return fault
    conversation_id = request.match_info["conversation_id"]
    activity_id = request.match_info["activity_id"]
    activity = await read_json_object(request)
    request.app[CONVERSATIONS_KEY].update(
        conversation_id, activity_id, activity, authorized=_has_bearer(request)
    )
    return web.json_response({"id": activity_id})


async def team_channels(request: web.Request) -> web.Response:
    """List a team's channels (those seen on activities delivered to the bot)."""
    team_id = request.match_info["team_id"]
    team = request.app[CONVERSATIONS_KEY].team(team_id)
    if team is None:
        raise ApiError(404, f"Team {team_id} not found.", code="NotFound")
    return web.json_response(team.channels_json())


def add_connector_routes(app: web.Application) -> None:
    """Serve the Bot Connector endpoints the bot posts to."""
    app.router.add_post("/v3/conversations/{conversation_id}/activities", send_activity)
    # A reply to an activity is posted to that activity's own URL.
    app.router.add_post(
        "/v3/conversations/{conversation_id}/activities/{activity_id}", send_activity
    )
    app.router.add_put(
        "/v3/conversations/{conversation_id}/activities/{activity_id}", update_activity
    )
    app.router.add_get("/v3/teams/{team_id}/conversations", team_channels)
