"""Which Microsoft Graph application permissions the app needs, and which it has been granted.

The required list below is the one place the product names its Graph application
permissions (docs/deploy.md explains them to whoever registers the app; a test checks that
it names no permission this list lacks). An admin grants
them with the admin-consent URL (:func:`admin_consent_url`). What has been granted is read
from Graph (permission ``Application.Read.All``), as Entra records it:

1. ``GET /servicePrincipals?$filter=appId eq '{appId}'`` finds the app's service principal
   in the tenant (none: nobody has consented yet, so nothing is granted);
2. ``GET /servicePrincipals/{id}/appRoleAssignments`` lists the app roles granted to it,
   each an ``appRoleId`` on a resource service principal (``resourceId``);
3. ``GET /servicePrincipals?$filter=appId eq '00000003-0000-0000-c000-000000000000'`` finds
   Microsoft Graph's own service principal, whose ``appRoles`` name those role ids
   (``Calls.Initiate.All``...).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from azure.core.exceptions import AzureError
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.service_principals.service_principals_request_builder import (
    ServicePrincipalsRequestBuilder,
)

from contactcenter.errors import Unavailable

_LOGGER = logging.getLogger(__name__)

MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
"""Microsoft Graph's application id, the same in every tenant."""

LOGIN_BASE_URL = "https://login.microsoftonline.com"


@dataclass(frozen=True, slots=True)
class GraphPermission:
    """A Microsoft Graph application permission (app role) and why the product needs it."""

    name: str
    purpose: str


REQUIRED_PERMISSIONS: tuple[GraphPermission, ...] = (
    GraphPermission(
        "Calls.Initiate.All",
        "Transfer and redirect calls, play prompts, and place callback calls.",
    ),
    GraphPermission(
        "Calls.InitiateGroupCall.All", "Ring an agent by inviting them into the caller's call."
    ),
    GraphPermission(
        "Calls.JoinGroupCall.All",
        "Cancel an unanswered invitation and stop the other ringing agents.",
    ),
    GraphPermission(
        "Calls.AccessMedia.All", "Read IVR menu keys and record voicemail (service-hosted media)."
    ),
    GraphPermission("Presence.Read.All", "Read the agents' Teams presence for routing."),
    GraphPermission(
        "TeamsAppInstallation.ReadWriteSelfForUser.All",
        "Install the app for an agent who gets a seat, so the bot can send alert cards.",
    ),
    GraphPermission(
        "User.Read.All",
        "Find people by name, mail or sign-in name when adding agents, and read their "
        "licences (whether they can take Teams calls).",
    ),
    GraphPermission(
        "GroupMember.Read.All",
        "Read the members of an Entra group whose members are a queue's agents.",
    ),
    GraphPermission(
        "TeamMember.Read.All",
        "Read the members of a Teams team whose members are a queue's agents.",
    ),
    GraphPermission(
        "ChannelMember.Read.All",
        "Read the members of a Teams channel whose members are a queue's agents.",
    ),
    GraphPermission(
        "Application.Read.All",
        "Show the admin console which of these permissions are granted.",
    ),
    GraphPermission(
        "AppCatalog.Read.All",
        "Find the app's id in the organization's app catalog, to install it for agents.",
    ),
)
"""Every Graph application permission the product uses, each for a call it makes."""


def required_permission_names() -> tuple[str, ...]:
    """Return the names of the required permissions, in order."""
    return tuple(permission.name for permission in REQUIRED_PERMISSIONS)


def admin_consent_url(*, tenant_id: str, client_id: str, redirect_uri: str) -> str:
    """Return the URL where a tenant's admin grants the app its application permissions.

    The admin-consent endpoint grants every permission configured on the app registration;
    ``redirect_uri`` must be one of the registration's redirect URIs.
    """
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri})
    return f"{LOGIN_BASE_URL}/{tenant_id}/adminconsent?{query}"


class ConsentUnreadable(Unavailable):
    """Graph did not say which permissions are granted; ``status`` is its HTTP status, if any."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class GrantedPermissions:
    """The Microsoft Graph application permissions granted to an app in a tenant."""

    # False: the app has no service principal in the tenant (nobody consented yet).
    service_principal_found: bool
    names: frozenset[str]

    def granted(self, name: str) -> bool:
        return name in self.names


class ConsentReader:
    """Read an app's granted Microsoft Graph application permissions through msgraph-sdk."""

    def __init__(self, client: GraphServiceClient) -> None:
        self._client = client

    async def granted_permissions(self, app_id: str) -> GrantedPermissions:
        """Return the Graph application permissions granted to ``app_id``.

        Raises ConsentUnreadable when Graph refuses or fails (no retries: an admin is
        waiting, and can ask again).
        """
        try:
            return await self._read(app_id)
        except APIError as err:
            status = err.response_status_code if isinstance(err.response_status_code, int) else None
            _LOGGER.warning("Reading the granted Graph permissions failed: %s", status)
            raise ConsentUnreadable(_refusal(status), status=status) from err
        except AzureError as err:
            # The credential could not get a token for Graph.
            _LOGGER.warning("No token for Microsoft Graph: %s", type(err).__name__)
            raise ConsentUnreadable("the app could not sign in to Microsoft Graph") from err
        except httpx.HTTPError as err:
            _LOGGER.warning("Reading the granted Graph permissions failed: %s", type(err).__name__)
            raise ConsentUnreadable("Microsoft Graph could not be reached") from err

    async def _read(self, app_id: str) -> GrantedPermissions:
        ours = await self._service_principal(app_id, select=["id", "appId"])
        if ours is None or not ours.id:
            return GrantedPermissions(service_principal_found=False, names=frozenset())
        assignments = await self._assignments(str(ours.id))
        graph = await self._service_principal(MICROSOFT_GRAPH_APP_ID, select=["id", "appRoles"])
        if graph is None or not graph.id:
            return GrantedPermissions(service_principal_found=True, names=frozenset())
        role_names = {
            str(role.id): str(role.value)
            for role in graph.app_roles or ()
            if role.id and role.value
        }
        names = {
            role_names[str(assignment.app_role_id)]
            for assignment in assignments
            if str(assignment.resource_id) == str(graph.id)
            and str(assignment.app_role_id) in role_names
        }
        return GrantedPermissions(service_principal_found=True, names=frozenset(names))

    async def _service_principal(self, app_id: str, *, select: list[str]) -> Any:
        """Return the tenant's service principal of ``app_id``, or None."""
        parameters = (
            ServicePrincipalsRequestBuilder.ServicePrincipalsRequestBuilderGetQueryParameters(
                filter=f"appId eq '{_quoted(app_id)}'", select=select
            )
        )
        found = await self._client.service_principals.get(
            request_configuration=RequestConfiguration(query_parameters=parameters)
        )
        matches = list(found.value or ()) if found is not None else []
        return matches[0] if matches else None

    async def _assignments(self, service_principal_id: str) -> list[Any]:
        """Return every app role assignment granted to a service principal, page by page."""
        builder = self._client.service_principals.by_service_principal_id(
            service_principal_id
        ).app_role_assignments
        assignments: list[Any] = []
        page = await builder.get()
        while page is not None:
            assignments.extend(page.value or ())
            if not page.odata_next_link:
                break
            page = await builder.with_url(page.odata_next_link).get()
        return assignments


class AppConsent:
    """The app's admin consent, read with the host's Graph client (the tab's consent port)."""

    def __init__(self, client: GraphServiceClient, *, app_id: str) -> None:
        self._reader = ConsentReader(client)
        self._app_id = app_id

    @property
    def required(self) -> tuple[GraphPermission, ...]:
        return REQUIRED_PERMISSIONS

    def consent_url(self, tenant_id: str, redirect_uri: str) -> str:
        """Return where an admin of the tenant grants the app its permissions."""
        return admin_consent_url(
            tenant_id=tenant_id, client_id=self._app_id, redirect_uri=redirect_uri
        )

    async def granted_permissions(self) -> GrantedPermissions:
        """Return what the app is granted where the host's Graph client signs in.

        Raises ConsentUnreadable when Graph refuses or fails.
        """
        return await self._reader.granted_permissions(self._app_id)


def _quoted(value: str) -> str:
    """Escape a string for an OData literal (a quote is doubled)."""
    return value.replace("'", "''")


def _refusal(status: int | None) -> str:
    if status in {401, 403}:
        return (
            "Microsoft Graph refused to list the app's permissions: the app needs "
            "Application.Read.All to read them (grant admin consent)"
        )
    if status == 429:
        return "Microsoft Graph is throttling requests: try again in a minute"
    return f"Microsoft Graph failed to list the app's permissions ({status or 'no answer'})"
