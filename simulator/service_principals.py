"""Fake Graph's service principals: the bot's app, Microsoft Graph, and the app roles granted.

An admin consenting to the bot's application permissions makes Entra record one
``appRoleAssignment`` per permission: principal the bot's service principal, resource
Microsoft Graph's service principal, ``appRoleId`` one of Graph's ``appRoles``. The
simulator keeps one such tenant view (whatever token is sent): the bot's service principal
(``appId`` the simulator's ``app_id``), Microsoft Graph's with the app roles below, and the
set of role names granted, every one of them unless ``SimulatorConfig.granted_app_roles``
or the control API says otherwise.

Graph routes (under ``/v1.0``): ``GET /servicePrincipals?$filter=appId eq '{appId}'``
(``$select`` honoured), ``GET /servicePrincipals/{id}``, ``GET
/servicePrincipals/{id}/appRoleAssignments``. Control routes: ``GET`` / ``PUT
/sim/service-principal/grants`` ``{"granted": [role names]}``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import Field

from simulator.appkeys import SERVICE_PRINCIPALS_KEY
from simulator.directory import CamelModel
from simulator.errors import ApiError, read_model

GRAPH_PREFIX = "/v1.0"
MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# Microsoft Graph's service principal has its own object id in each tenant: this one is made up.
MICROSOFT_GRAPH_SP_ID = "8d1f4a42-3c6e-4f0b-9d2a-51b7c0e6a913"

GRAPH_APP_ROLES: Mapping[str, str] = {
    # Application permissions (app roles) of Microsoft Graph, by value, with Graph's ids.
    "AppCatalog.Read.All": "e12dae10-5a57-4817-b79d-dfbec5348930",
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "Calls.AccessMedia.All": "a7a681dc-756e-4909-b988-f160edc6655f",
    "Calls.Initiate.All": "284383ee-7f6e-4e40-a2a8-e85dcb029101",
    "Calls.InitiateGroupCall.All": "4c277553-8a09-487b-8023-29ee378d8324",
    "Calls.JoinGroupCall.All": "f6b49018-60ab-4f81-83bd-22caeabfed2d",
    "Calls.JoinGroupCallAsGuest.All": "fd7ccf6b-3d28-418b-9701-cd10f5cd2fd4",
    "CallRecords.Read.All": "45bbb07e-7321-4fd7-a8f6-3ff27e6a81c8",
    "ChannelMember.Read.All": "3b55498e-47ec-484f-8136-9013221c06a9",
    "GroupMember.Read.All": "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    "Presence.Read.All": "a70e0c2d-e793-494c-94c4-118fa0a67f42",
    "TeamMember.Read.All": "660b7406-55f1-41ca-a0ed-0b035e182f3e",
    "TeamsAppInstallation.ReadWriteSelfForUser.All": "908de74d-f8b2-4d6b-a9ed-2a17b3b78179",
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
}

_APP_ID_FILTER = re.compile(r"\s*appId\s+eq\s+'([^']*)'\s*", re.IGNORECASE)
# When the simulated consent was given.
_CONSENTED_AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class GrantsSpec(CamelModel):
    """The Microsoft Graph app roles granted to the bot's app (replaces the current set)."""

    granted: list[str] = Field(max_length=len(GRAPH_APP_ROLES))


class ServicePrincipals:
    """The bot's and Microsoft Graph's service principals, and what the bot was granted."""

    def __init__(self, app_id: str, granted: Iterable[str] | None = None) -> None:
        self.app_id = app_id
        self.service_principal_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp:{app_id}"))
        self._granted: tuple[str, ...] = ()
        self.grant(GRAPH_APP_ROLES if granted is None else granted)

    @property
    def granted(self) -> tuple[str, ...]:
        """Return the granted app roles' names."""
        return self._granted

    def grant(self, names: Iterable[str]) -> None:
        """Replace the granted app roles; raise ValueError naming an unknown one."""
        chosen = list(dict.fromkeys(names))
        unknown = [name for name in chosen if name not in GRAPH_APP_ROLES]
        if unknown:
            raise ValueError(f"not a Microsoft Graph app role the simulator knows: {unknown}")
        self._granted = tuple(sorted(chosen))

    def find(self, app_id: str) -> dict[str, Any] | None:
        """Return the service principal of ``app_id``, or None."""
        if app_id.lower() == self.app_id.lower():
            return self._bot()
        if app_id.lower() == MICROSOFT_GRAPH_APP_ID:
            return _microsoft_graph()
        return None

    def get(self, object_id: str) -> dict[str, Any] | None:
        """Return the service principal with this object id, or None."""
        if object_id.lower() == self.service_principal_id:
            return self._bot()
        if object_id.lower() == MICROSOFT_GRAPH_SP_ID:
            return _microsoft_graph()
        return None

    def assignments(self, object_id: str) -> list[dict[str, Any]]:
        """Return the app role assignments granted to a service principal."""
        if object_id.lower() != self.service_principal_id:
            return []
        return [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"assignment:{self.app_id}:{name}")),
                "deletedDateTime": None,
                "appRoleId": GRAPH_APP_ROLES[name],
                "createdDateTime": _CONSENTED_AT.isoformat().replace("+00:00", "Z"),
                "principalDisplayName": "Contact Center",
                "principalId": self.service_principal_id,
                "principalType": "ServicePrincipal",
                "resourceDisplayName": "Microsoft Graph",
                "resourceId": MICROSOFT_GRAPH_SP_ID,
            }
            for name in self._granted
        ]

    def _bot(self) -> dict[str, Any]:
        return {
            "id": self.service_principal_id,
            "appId": self.app_id,
            "displayName": "Contact Center",
            "servicePrincipalType": "Application",
            "accountEnabled": True,
            "appRoles": [],
        }


def _microsoft_graph() -> dict[str, Any]:
    return {
        "id": MICROSOFT_GRAPH_SP_ID,
        "appId": MICROSOFT_GRAPH_APP_ID,
        "displayName": "Microsoft Graph",
        "servicePrincipalType": "Application",
        "accountEnabled": True,
        "appRoles": [
            {
                "allowedMemberTypes": ["Application"],
                "description": f"Allows the app to use {name} without a signed-in user.",
                "displayName": name,
                "id": role_id,
                "isEnabled": True,
                "origin": "Application",
                "value": name,
            }
            for name, role_id in GRAPH_APP_ROLES.items()
        ],
    }


def _selected(item: dict[str, Any], select: str | None) -> dict[str, Any]:
    """Keep only the ``$select``-ed properties, as Graph does."""
    if not select:
        return item
    wanted = {name.strip() for name in select.split(",") if name.strip()}
    return {key: value for key, value in item.items() if key in wanted}


# ------------------------------------------------------------------------ fake Graph
async def list_service_principals(request: web.Request) -> web.Response:
    """GET: the service principal of one app (``$filter=appId eq '...'``)."""
    query = request.query.get("$filter")
    match = _APP_ID_FILTER.fullmatch(query or "")
    if match is None:
        raise ApiError(
            400,
            "The simulator supports only $filter=appId eq '<appId>' on servicePrincipals.",
            code="Request_UnsupportedQuery",
        )
    found = request.app[SERVICE_PRINCIPALS_KEY].find(match[1])
    select = request.query.get("$select")
    return web.json_response(
        {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals",
            "value": [] if found is None else [_selected(found, select)],
        }
    )


def _principal(request: web.Request) -> tuple[str, dict[str, Any]]:
    object_id = request.match_info["sp_id"]
    found = request.app[SERVICE_PRINCIPALS_KEY].get(object_id)
    if found is None:
        raise ApiError(
            404,
            f"Resource '{object_id}' does not exist or one of its queried reference-property "
            "objects are not present.",
            code="Request_ResourceNotFound",
        )
    return object_id, found


async def get_service_principal(request: web.Request) -> web.Response:
    """GET: one service principal by object id."""
    _, found = _principal(request)
    return web.json_response(_selected(found, request.query.get("$select")))


async def list_app_role_assignments(request: web.Request) -> web.Response:
    """GET: the app roles granted to a service principal (application permissions)."""
    object_id, _ = _principal(request)
    assignments = request.app[SERVICE_PRINCIPALS_KEY].assignments(object_id)
    return web.json_response(
        {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals"
            f"('{object_id}')/appRoleAssignments",
            "value": assignments,
        }
    )


# ---------------------------------------------------------------------- control API
def _grants_view(principals: ServicePrincipals) -> dict[str, Any]:
    return {
        "appId": principals.app_id,
        "servicePrincipalId": principals.service_principal_id,
        "granted": list(principals.granted),
        "known": sorted(GRAPH_APP_ROLES),
    }


async def get_grants(request: web.Request) -> web.Response:
    """GET: which app roles the bot's app holds."""
    return web.json_response(_grants_view(request.app[SERVICE_PRINCIPALS_KEY]))


async def put_grants(request: web.Request) -> web.Response:
    """PUT: replace the app roles the bot's app holds (as if an admin consented or revoked)."""
    spec = await read_model(request, GrantsSpec)
    principals = request.app[SERVICE_PRINCIPALS_KEY]
    try:
        principals.grant(spec.granted)
    except ValueError as err:
        raise ApiError(400, str(err)) from err
    return web.json_response(_grants_view(principals))


def add_service_principal_routes(app: web.Application) -> None:
    """Serve the service principal endpoints of fake Graph and their control routes."""
    base = f"{GRAPH_PREFIX}/servicePrincipals"
    app.router.add_get(base, list_service_principals)
    app.router.add_get(f"{base}/{{sp_id}}", get_service_principal)
    app.router.add_get(f"{base}/{{sp_id}}/appRoleAssignments", list_app_role_assignments)
    app.router.add_get("/sim/service-principal/grants", get_grants)
    app.router.add_put("/sim/service-principal/grants", put_grants)
