"""What the tab needs from the world, as Protocols the host's adapters implement.

The tab imports neither the host nor the adapters: the host builds these (Graph and
Microsoft identity in ``graph/``, stores in ``storage/``) and hands them over. Errors cross
as the domain's (:mod:`contactcenter.errors`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol


class TabIdentity(Protocol):
    """Who a validated sign-in token speaks for."""

    @property
    def tenant_id(self) -> str: ...

    @property
    def object_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def username(self) -> str: ...

    @property
    def expires_at(self) -> float:
        """When the token expires, in seconds since the epoch."""
        ...

    @property
    def is_global_administrator(self) -> bool:
        """Whether the token says the user holds Entra's Global Administrator role."""
        ...


class TokenValidator(Protocol):
    """Check the bearer token of a tab request (Entra SSO, or demo mode's own issuer)."""

    async def validate(self, authorization_header: str | None) -> TabIdentity:
        """Return who the token speaks for; raise ``Unauthorized`` saying why not."""
        ...


class DemoSignIn(Protocol):
    """Demo mode's token issuer: what it publishes, and tokens for the sign-in picker."""

    def openid_configuration(self) -> dict[str, Any]: ...

    def jwks(self) -> dict[str, Any]: ...

    def token_for(
        self, tenant_id: str, user_id: str, *, name: str, username: str
    ) -> tuple[str, int]:
        """Return a token for the user and when it expires (seconds since the epoch)."""
        ...


class GraphPermission(Protocol):
    """A Microsoft Graph application permission the product needs, and why."""

    @property
    def name(self) -> str: ...

    @property
    def purpose(self) -> str: ...


class GrantedPermissions(Protocol):
    """The Graph application permissions an app has been granted."""

    @property
    def service_principal_found(self) -> bool:
        """False: the app has no service principal in the tenant (nobody consented yet)."""
        ...

    def granted(self, name: str) -> bool: ...


class AdminConsent(Protocol):
    """The app's admin consent: what it needs, where an admin grants it, what is granted."""

    @property
    def required(self) -> Sequence[GraphPermission]: ...

    def consent_url(self, tenant_id: str, redirect_uri: str) -> str:
        """Return where an admin of the tenant grants the app its permissions."""
        ...

    async def granted_permissions(self) -> GrantedPermissions:
        """Return what is granted; raise ``Unavailable`` when Graph does not say."""
        ...


class PeriodicWork(Protocol):
    """The host's background tasks: owned by the host, cancelled when it shuts down."""

    def every(
        self, interval_s: float, work: Callable[[], Awaitable[object]], *, name: str
    ) -> asyncio.Task[Any]:
        """Run ``work`` every ``interval_s`` seconds until shutdown; failures are logged."""
        ...


class SeatAssigned(Protocol):
    """What follows an agent getting a seat: the host installs the Teams app for them.

    Called on every assignment, also a repeated one (it completes what a crash left
    undone); it only starts background work and never fails the assignment.
    """

    def seat_assigned(self, tenant_id: str, agent_id: str) -> None: ...
