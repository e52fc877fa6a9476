"""What the tab needs from the world, as Protocols the host's adapters implement.

The tab imports neither the host nor the adapters: the host builds these (Graph and
Microsoft identity in ``graph/``, stores in ``storage/``) and hands them over. Errors cross
as the domain's (:mod:`contactcenter.errors`).
"""

from __future__ import annotations

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
