"""Fake Graph's Teams app installations for users: ``/v1.0/users/{id}/teamwork/installedApps``.

Installing the bot's app for a user makes Teams send the bot a ``conversationUpdate`` for
the new 1:1 chat (the bot then keeps the conversation reference to message the user). The
simulator delivers it before answering 201, so that a test or a host that awaits the
install finds the reference stored.

The org app catalog (``/v1.0/appCatalogs/teamsApps``) starts empty: the bot's app is
sideloaded, and an install names it by its manifest id. ``PUT /sim/app-catalog/{externalId}``
uploads an app to the org catalog, where it gets an id of its own; an install must then
name it by that id (naming it by its manifest id answers 404, as for any unknown app).
"""

from __future__ import annotations

import itertools
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from simulator.appkeys import DELIVERY_KEY, DIRECTORY_KEY, INSTALLATIONS_KEY
from simulator.connector import ActivityDelivery, DeliveredActivity
from simulator.errors import ApiError, read_json_object

_LOGGER = logging.getLogger(__name__)

GRAPH_PREFIX = "/v1.0"
_BIND = "teamsApp@odata.bind"
_CATALOG = "/appCatalogs/teamsApps/"


def personal_conversation_id(user_id: str) -> str:
    """Return the id of the bot's 1:1 chat with a user (stable per user)."""
    return f"a:{user_id}"


@dataclass(frozen=True, slots=True)
class Installation:
    """The bot's app installed for one user."""

    id: str
    user_id: str
    tenant_id: str
    teams_app_id: str
    conversation_id: str
    delivered: DeliveredActivity | None

    def to_json(self) -> dict[str, Any]:
        """Return Graph's ``userScopeTeamsAppInstallation`` shape."""
        return {
            "@odata.type": "#microsoft.graph.userScopeTeamsAppInstallation",
            "id": self.id,
            "teamsApp": {"id": self.teams_app_id},
            "chat": {"id": self.conversation_id},
        }


@dataclass(frozen=True, slots=True)
class CatalogApp:
    """An app an admin uploaded to the org app catalog."""

    id: str
    external_id: str
    display_name: str

    def to_json(self) -> dict[str, Any]:
        """Return Graph's ``teamsApp`` shape."""
        return {
            "id": self.id,
            "externalId": self.external_id,
            "displayName": self.display_name,
            "distributionMethod": "organization",
        }


class Installations:
    """Which users have which Teams apps installed, and the org app catalog."""

    def __init__(self) -> None:
        self._by_user: dict[str, dict[str, Installation]] = {}
        self._ids = itertools.count(1)
        self._catalog: dict[str, CatalogApp] = {}

    def catalog(self) -> list[CatalogApp]:
        """Return the apps of the org catalog."""
        return list(self._catalog.values())

    def upload(self, external_id: str, display_name: str, app_id: str = "") -> CatalogApp:
        """Put an app in the org catalog (replacing an earlier upload of it); return it."""
        app = CatalogApp(
            id=app_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"teams-app:{external_id}")),
            external_id=external_id,
            display_name=display_name,
        )
        self._catalog[external_id] = app
        return app

    def remove_upload(self, external_id: str) -> bool:
        """Take an app out of the org catalog; tell whether it was there."""
        return self._catalog.pop(external_id, None) is not None

    def installable(self, teams_app_id: str) -> bool:
        """Tell whether an install may name this app id.

        A catalog app is named by its catalog id; an id no catalog app has is a sideloaded
        app's manifest id, unless an app with that manifest id was uploaded to the catalog.
        """
        if any(app.id == teams_app_id for app in self._catalog.values()):
            return True
        return teams_app_id not in self._catalog

    def for_user(self, user_id: str) -> list[Installation]:
        """Return a user's installations."""
        return list(self._by_user.get(user_id, {}).values())

    def find(self, user_id: str, teams_app_id: str) -> Installation | None:
        """Return the installation of one app for one user, or None."""
        return self._by_user.get(user_id, {}).get(teams_app_id)

    def next_id(self) -> str:
        """Return a fresh installation id."""
        return f"installation-{next(self._ids)}"

    def add(self, installation: Installation) -> None:
        """Record an installation."""
        self._by_user.setdefault(installation.user_id, {})[installation.teams_app_id] = installation


def _teams_app_id(body: dict[str, Any]) -> str:
    bind = body.get(_BIND)
    if not isinstance(bind, str) or _CATALOG not in bind:
        raise ApiError(
            400, f"The body needs {_BIND}: '.../appCatalogs/teamsApps/{{id}}'.", code="BadRequest"
        )
    app_id = bind.rsplit(_CATALOG, 1)[1].strip("/")
    if not app_id or "/" in app_id:
        raise ApiError(400, f"{_BIND} does not name a Teams app.", code="BadRequest")
    return app_id


def _user(request: web.Request) -> tuple[str, str, str]:
    """Return (tenant id, user id, display name) of the path's user, or answer 404."""
    user_id = request.match_info["user_id"]
    found = request.app[DIRECTORY_KEY].user(user_id)
    if found is None:
        raise ApiError(404, f"User {user_id} was not found.", code="Request_ResourceNotFound")
    tenant_id, entry = found
    return tenant_id, user_id, entry.display_name


async def install_app(request: web.Request) -> web.Response:
    """POST: install an app for a user; Teams then tells the bot about the new 1:1 chat."""
    tenant_id, user_id, display_name = _user(request)
    teams_app_id = _teams_app_id(await read_json_object(request))
    installations = request.app[INSTALLATIONS_KEY]
    if not installations.installable(teams_app_id):
        raise ApiError(404, f"Teams app {teams_app_id} was not found.", code="NotFound")
    if installations.find(user_id, teams_app_id) is not None:
        raise ApiError(409, "The app is already installed for this user.", code="Conflict")
    conversation_id = personal_conversation_id(user_id)
    delivery: ActivityDelivery = request.app[DELIVERY_KEY]
    activity = delivery.complete(
        conversation_id,
        {
            "type": "conversationUpdate",
            "membersAdded": [{"id": delivery.bot_id}],
            "from": {"id": f"29:{user_id}", "aadObjectId": user_id, "name": display_name},
            "conversation": {"conversationType": "personal"},
        },
        service_url=str(request.url.origin()),
        tenant_id=tenant_id,
    )
    delivered = await delivery.deliver(conversation_id, activity)
    if delivered.error or (delivered.status or 500) >= 400:
        _LOGGER.warning(
            "The bot did not take the install of %s: %s %s",
            user_id,
            delivered.status,
            delivered.error or "",
        )
    installation = Installation(
        id=installations.next_id(),
        user_id=user_id,
        tenant_id=tenant_id,
        teams_app_id=teams_app_id,
        conversation_id=conversation_id,
        delivered=delivered,
    )
    installations.add(installation)
    # Graph answers 201 with no body.
    return web.Response(status=201)


async def list_installed_apps(request: web.Request) -> web.Response:
    """GET: a user's installed apps."""
    _, user_id, _ = _user(request)
    installed = request.app[INSTALLATIONS_KEY].for_user(user_id)
    return web.json_response({"value": [item.to_json() for item in installed]})


_FILTER_CLAUSE = re.compile(r"\s*(id|externalId|distributionMethod)\s+eq\s+'([^']*)'\s*")


def _catalog_filter(raw: str) -> list[tuple[str, str]]:
    """Parse ``$filter``: clauses ``field eq 'value'`` joined by ``and``; else answer 400."""
    clauses: list[tuple[str, str]] = []
    for part in re.split(r"\s+and\s+", raw.strip()) if raw.strip() else []:
        match = _FILTER_CLAUSE.fullmatch(part)
        if match is None:
            raise ApiError(
                400,
                f"Unsupported $filter {raw!r}: only id, externalId and distributionMethod "
                "eq '...', joined by and.",
                code="BadRequest",
            )
        clauses.append((match.group(1), match.group(2)))
    return clauses


async def list_catalog_apps(request: web.Request) -> web.Response:
    """GET: the org app catalog's apps, filtered as ``$filter`` says."""
    installations = request.app[INSTALLATIONS_KEY]
    clauses = _catalog_filter(request.query.get("$filter", ""))
    found = [
        app.to_json()
        for app in installations.catalog()
        if all(app.to_json()[name] == value for name, value in clauses)
    ]
    return web.json_response(
        {
            "@odata.context": f"{request.url.origin()}{GRAPH_PREFIX}/$metadata#appCatalogs/teamsApps",
            "value": found,
        }
    )


async def upload_catalog_app(request: web.Request) -> web.Response:
    """Control PUT: upload an app to the org catalog (``{"id"?, "displayName"?}``)."""
    external_id = request.match_info["external_id"]
    body = await read_json_object(request) if request.can_read_body else {}
    app_id = body.get("id", "")
    name = body.get("displayName", "Contact Center")
    if not isinstance(app_id, str) or not isinstance(name, str):
        raise ApiError(400, "id and displayName are strings.", code="BadRequest")
    app = request.app[INSTALLATIONS_KEY].upload(external_id, name, app_id)
    return web.json_response(app.to_json())


async def remove_catalog_app(request: web.Request) -> web.Response:
    """Control DELETE: take an app out of the org catalog."""
    if not request.app[INSTALLATIONS_KEY].remove_upload(request.match_info["external_id"]):
        raise ApiError(404, "No such app in the org catalog.", code="NotFound")
    return web.Response(status=204)


def add_installation_routes(app: web.Application) -> None:
    """Serve the installed-apps and app catalog endpoints of fake Graph, and their controls."""
    path = f"{GRAPH_PREFIX}/users/{{user_id}}/teamwork/installedApps"
    app.router.add_post(path, install_app)
    app.router.add_get(path, list_installed_apps)
    app.router.add_get(f"{GRAPH_PREFIX}/appCatalogs/teamsApps", list_catalog_apps)
    catalog = "/sim/app-catalog/{external_id}"
    app.router.add_put(catalog, upload_catalog_app)
    app.router.add_delete(catalog, remove_catalog_app)
