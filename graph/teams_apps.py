"""Install the contact center's Teams app for a user through Microsoft Graph.

The bot can only message a user who has the app: when an agent gets a seat, install it
for them (``POST /users/{id}/teamwork/installedApps``, permission
``TeamsAppInstallation.ReadWriteSelfForUser.All``). Teams then sends the bot a
``conversationUpdate`` for the new 1:1 chat, and the bot keeps that conversation.

``teams_app_id`` is the app's id in the tenant's app catalog (``appCatalogs/teamsApps``),
which for an app an admin uploaded differs from the manifest's id (its ``externalId``):
:meth:`TeamsAppInstaller.find_catalog_id` looks it up
(``GET /appCatalogs/teamsApps?$filter=externalId eq '{manifest id}'``, permission
``AppCatalog.Read.All``). A sideloaded app is not in the org catalog: its id is the manifest's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum

from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.app_catalogs.teams_apps.teams_apps_request_builder import (
    TeamsAppsRequestBuilder,
)
from msgraph.generated.models.teams_app_distribution_method import TeamsAppDistributionMethod
from msgraph.generated.models.user_scope_teams_app_installation import (
    UserScopeTeamsAppInstallation,
)

from contactcenter.errors import (
    CallControlError,
    DomainError,
    NotFound,
    Throttled,
    Unavailable,
)
from graph.retry_after import retry_after_seconds

_LOGGER = logging.getLogger(__name__)

# Graph names the app to install by its catalog URL, whichever Graph endpoint is called.
CATALOG_URL = "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps"
_RETRY_STATUSES = frozenset({429, 503, 504})


class InstallOutcome(StrEnum):
    INSTALLED = "installed"
    ALREADY_INSTALLED = "already-installed"


def _status(err: APIError) -> int | None:
    status = err.response_status_code
    return status if isinstance(status, int) else None


def _translate(user_id: str, err: APIError, *, action: str = "install") -> DomainError:
    status = _status(err)
    text = f"Graph {action} of the Teams app for {user_id}: {status}"
    if status == 404:
        return NotFound(text)
    if status == 429:
        return Throttled(text, retry_after=retry_after_seconds(err.response_headers))
    if status is not None and status >= 500:
        return Unavailable(text)
    return CallControlError(text, status=status)


class TeamsAppInstaller:
    """Install the app for users, retrying throttling and transient failures."""

    def __init__(
        self,
        client: GraphServiceClient,
        *,
        max_attempts: int = 3,
        base_delay_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._max_attempts = max_attempts
        self._base_delay_s = base_delay_s
        self._sleep = sleep

    async def find_catalog_id(self, external_id: str) -> str | None:
        """Return the org catalog id of the app whose manifest id is ``external_id``.

        None when the catalog has no such app (a sideloaded app). Raises NotFound when
        Graph refuses the lookup (403: ``AppCatalog.Read.All`` not granted), Throttled or
        Unavailable after the retries, CallControlError for anything else.
        """
        if "'" in external_id:
            raise ValueError(f"not a manifest id: {external_id!r}")
        query = TeamsAppsRequestBuilder.TeamsAppsRequestBuilderGetQueryParameters(
            filter=f"externalId eq '{external_id}'"
        )
        config = RequestConfiguration(query_parameters=query)
        attempt = 0
        while True:
            attempt += 1
            try:
                found = await self._client.app_catalogs.teams_apps.get(request_configuration=config)
            except APIError as err:
                status = _status(err)
                if status == 403:
                    raise NotFound(
                        f"Graph lookup of the Teams app {external_id} in the catalog: 403"
                    ) from err
                if status not in _RETRY_STATUSES or attempt >= self._max_attempts:
                    raise _translate(external_id, err, action="catalog lookup") from err
                delay = retry_after_seconds(err.response_headers)
                if delay is None:
                    delay = self._base_delay_s * 2.0 ** (attempt - 1)
                await self._sleep(delay)
                continue
            apps = [
                app
                for app in (found.value if found is not None and found.value else [])
                if app.id and app.external_id == external_id
            ]
            # An app uploaded to the org catalog wins over any other copy of it.
            apps.sort(
                key=lambda app: app.distribution_method != TeamsAppDistributionMethod.Organization
            )
            return apps[0].id if apps else None

    async def install_for_user(self, user_id: str, teams_app_id: str) -> InstallOutcome:
        """Install the app in the user's personal scope; already installed is fine.

        Raises NotFound for an unknown user or app, Throttled or Unavailable after the
        retries, CallControlError for anything else Graph refuses.
        """
        body = UserScopeTeamsAppInstallation()
        body.additional_data = {"teamsApp@odata.bind": f"{CATALOG_URL}/{teams_app_id}"}
        installed_apps = self._client.users.by_user_id(user_id).teamwork.installed_apps
        attempt = 0
        while True:
            attempt += 1
            try:
                await installed_apps.post(body)
            except APIError as err:
                status = _status(err)
                if status == 409:
                    return InstallOutcome.ALREADY_INSTALLED
                if status not in _RETRY_STATUSES or attempt >= self._max_attempts:
                    raise _translate(user_id, err) from err
                delay = retry_after_seconds(err.response_headers)
                if delay is None:
                    delay = self._base_delay_s * 2.0 ** (attempt - 1)
                _LOGGER.info(
                    "Installing the app for %s: %s, retrying in %.1f s", user_id, status, delay
                )
                await self._sleep(delay)
                continue
            _LOGGER.info("Installed the Teams app for %s", user_id)
            return InstallOutcome.INSTALLED
