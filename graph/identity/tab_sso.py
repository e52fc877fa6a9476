"""Validate the tab's single sign-on tokens (Entra ID access tokens for our own API).

Teams hands the tab an access token for the app's ``access_as_user`` scope
(``authentication.getAuthToken()``); the tab sends it as a bearer token on every
``/api/tab/*`` request. A token is accepted when:

* its header says RS256 and names a key (``kid``) published by the configured OpenID
  configuration (Entra's in production, the host's own demo issuer in demo mode);
* it is signed by that key, and is within its lifetime (five minutes of skew allowed);
* its issuer is Entra's v2 (``https://login.microsoftonline.com/{tid}/v2.0``) or v1
  (``https://sts.windows.net/{tid}/``) issuer **of the token's own tenant**;
* its audience is the tab's client id or the App ID URI ``api://<host>/<client id>``;
* its ``scp`` names ``access_as_user``, and ``tid`` and ``oid`` are present.

The keys are cached and refreshed by :class:`~graph.identity.openid_keys.SigningKeys`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contactcenter.clock import Clock, SystemClock
from contactcenter.errors import Unauthorized
from graph.identity.openid_keys import SigningKeys
from graph.identity.tokens import bearer_token, check_lifetime, decode, signing_key_id

_LOGGER = logging.getLogger(__name__)

__all__ = [
    "ACCESS_SCOPE",
    "GLOBAL_ADMINISTRATOR_ROLE",
    "SsoIdentity",
    "TabTokenValidator",
    "v1_issuer",
    "v2_issuer",
]

ACCESS_SCOPE = "access_as_user"
"""The delegated scope the tab's token must carry."""

GLOBAL_ADMINISTRATOR_ROLE = "62e90394-69f5-4237-9190-012177145e10"
"""Template id of Entra's Global Administrator role, as tokens list it in ``wids``."""

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


@dataclass(frozen=True, slots=True)
class SsoIdentity:
    """Who a validated token speaks for."""

    tenant_id: str
    object_id: str
    name: str
    username: str
    expires_at: float
    # Entra directory role template ids (``wids``), when the app asks for them.
    directory_roles: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_global_administrator(self) -> bool:
        return GLOBAL_ADMINISTRATOR_ROLE in self.directory_roles


class TabTokenValidator:
    """Check tab SSO tokens: signature, lifetime, issuer, audience, scope, tenant and user."""

    def __init__(
        self,
        keys: SigningKeys,
        *,
        client_id: str,
        app_id_uri_host: str,
        clock: Clock | None = None,
    ) -> None:
        if not client_id:
            raise ValueError("the tab's client id (the tokens' audience) is required")
        self._keys = keys
        self._client_id = client_id
        self._audiences = (client_id, f"api://{app_id_uri_host}/{client_id}")
        self._clock = clock or SystemClock()

    @property
    def audiences(self) -> tuple[str, ...]:
        return self._audiences

    @property
    def keys(self) -> SigningKeys:
        return self._keys

    async def validate(self, authorization_header: str | None) -> SsoIdentity:
        """Return who the token speaks for, or raise :class:`Unauthorized`."""
        return await self.validate_token(bearer_token(authorization_header))

    async def validate_token(self, token: str) -> SsoIdentity:
        """Return who a bare token speaks for, or raise :class:`Unauthorized`."""
        key = await self._keys.find(signing_key_id(token))
        if key is None:
            raise Unauthorized("unknown signing key")
        # The issuer names the token's own tenant: checked below, once ``tid`` is read.
        claims = decode(token, key, audience=self._audiences)
        expires_at = check_lifetime(claims, self._clock.now().timestamp())
        tenant_id = _guid_claim(claims, "tid")
        object_id = _guid_claim(claims, "oid")
        issuer = claims.get("iss")
        if issuer not in _issuers(tenant_id):
            raise Unauthorized("wrong issuer")
        scopes = claims.get("scp")
        if not isinstance(scopes, str) or ACCESS_SCOPE not in scopes.split():
            raise Unauthorized(f"no {ACCESS_SCOPE} scope")
        roles = claims.get("wids")
        directory_roles = (
            frozenset(r for r in roles if isinstance(r, str))
            if isinstance(roles, list)
            else frozenset()
        )
        return SsoIdentity(
            tenant_id=tenant_id.lower(),
            object_id=object_id.lower(),
            name=_text_claim(claims, "name"),
            username=_text_claim(claims, "preferred_username") or _text_claim(claims, "upn"),
            expires_at=expires_at,
            directory_roles=directory_roles,
            claims=claims,
        )


def v2_issuer(tenant_id: str) -> str:
    """Return Entra's v2.0 token issuer for a tenant."""
    return f"https://login.microsoftonline.com/{tenant_id}/v2.0"


def v1_issuer(tenant_id: str) -> str:
    """Return Entra's v1.0 token issuer for a tenant."""
    return f"https://sts.windows.net/{tenant_id}/"


def _issuers(tenant_id: str) -> tuple[str, ...]:
    # Entra writes the tenant id in lower case; accept it as the token spells it too.
    ids = {tenant_id, tenant_id.lower()}
    return tuple(issuer for tid in ids for issuer in (v2_issuer(tid), v1_issuer(tid)))


def _guid_claim(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise Unauthorized(f"no {name} claim")
    if not _GUID.match(value):
        raise Unauthorized(f"malformed {name} claim")
    return value


def _text_claim(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    return value if isinstance(value, str) else ""
