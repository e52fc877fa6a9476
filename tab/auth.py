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

The keys are cached and refreshed by :class:`~graph.openid_keys.SigningKeys`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from contactcenter.clock import Clock, SystemClock
from graph.openid_keys import SIGNING_ALGORITHM, SigningKeys

_LOGGER = logging.getLogger(__name__)

__all__ = [
    "ACCESS_SCOPE",
    "GLOBAL_ADMINISTRATOR_ROLE",
    "SigningKeys",
    "TabIdentity",
    "TabTokenInvalid",
    "TabTokenValidator",
    "bearer_token",
]

ACCESS_SCOPE = "access_as_user"
"""The delegated scope the tab's token must carry."""

GLOBAL_ADMINISTRATOR_ROLE = "62e90394-69f5-4237-9190-012177145e10"
"""Template id of Entra's Global Administrator role, as tokens list it in ``wids``."""

_ALGORITHM = SIGNING_ALGORITHM
_LEEWAY_S = 300.0
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class TabTokenInvalid(Exception):
    """The bearer token is missing or not acceptable; ``reason`` says why (never the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TabIdentity:
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

    async def validate(self, authorization_header: str | None) -> TabIdentity:
        """Return who the token speaks for, or raise :class:`TabTokenInvalid`."""
        return await self.validate_token(bearer_token(authorization_header))

    async def validate_token(self, token: str) -> TabIdentity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as err:
            raise TabTokenInvalid("malformed token") from err
        # Before any key is looked at: never let "none" or a symmetric algorithm near a
        # verifier that holds public keys.
        if header.get("alg") != _ALGORITHM:
            raise TabTokenInvalid("algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TabTokenInvalid("no key id")
        key = await self._keys.find(kid)
        if key is None:
            raise TabTokenInvalid("unknown signing key")
        claims = self._decode(token, key)
        expires_at = self._check_lifetime(claims)
        tenant_id = _guid_claim(claims, "tid")
        object_id = _guid_claim(claims, "oid")
        issuer = claims.get("iss")
        if issuer not in _issuers(tenant_id):
            raise TabTokenInvalid("wrong issuer")
        scopes = claims.get("scp")
        if not isinstance(scopes, str) or ACCESS_SCOPE not in scopes.split():
            raise TabTokenInvalid(f"no {ACCESS_SCOPE} scope")
        roles = claims.get("wids")
        directory_roles = (
            frozenset(r for r in roles if isinstance(r, str))
            if isinstance(roles, list)
            else frozenset()
        )
        return TabIdentity(
            tenant_id=tenant_id.lower(),
            object_id=object_id.lower(),
            name=_text_claim(claims, "name"),
            username=_text_claim(claims, "preferred_username") or _text_claim(claims, "upn"),
            expires_at=expires_at,
            directory_roles=directory_roles,
            claims=claims,
        )

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[_ALGORITHM],
                audience=list(self._audiences),
                options={
                    "require": ["exp", "iss", "aud"],
                    # The issuer depends on the token's tenant: checked after decoding.
                    "verify_iss": False,
                    # Lifetime is checked against the injected clock instead.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError as err:
            raise TabTokenInvalid("bad signature") from err
        except jwt.InvalidAudienceError as err:
            raise TabTokenInvalid("wrong audience") from err
        except jwt.MissingRequiredClaimError as err:
            raise TabTokenInvalid(f"no {err.claim} claim") from err
        except jwt.InvalidAlgorithmError as err:
            raise TabTokenInvalid("algorithm not allowed") from err
        except jwt.InvalidTokenError as err:
            raise TabTokenInvalid("malformed token") from err

    def _check_lifetime(self, claims: Mapping[str, Any]) -> float:
        now = self._clock.now().timestamp()
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or isinstance(expires, bool):
            raise TabTokenInvalid("malformed exp claim")
        if now > expires + _LEEWAY_S:
            raise TabTokenInvalid("expired")
        not_before = claims.get("nbf")
        if not_before is not None:
            if not isinstance(not_before, int | float) or isinstance(not_before, bool):
                raise TabTokenInvalid("malformed nbf claim")
            if now < not_before - _LEEWAY_S:
                raise TabTokenInvalid("not yet valid")
        return float(expires)


def v2_issuer(tenant_id: str) -> str:
    return f"https://login.microsoftonline.com/{tenant_id}/v2.0"


def v1_issuer(tenant_id: str) -> str:
    return f"https://sts.windows.net/{tenant_id}/"


def _issuers(tenant_id: str) -> tuple[str, ...]:
    # Entra writes the tenant id in lower case; accept it as the token spells it too.
    ids = {tenant_id, tenant_id.lower()}
    return tuple(issuer for tid in ids for issuer in (v2_issuer(tid), v1_issuer(tid)))


def bearer_token(authorization_header: str | None) -> str:
    """Return the token of a ``Bearer`` authorization header, or raise TabTokenInvalid."""
    if not authorization_header:
        raise TabTokenInvalid("no authorization header")
    scheme, _, token = authorization_header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise TabTokenInvalid("not a bearer token")
    token = token.strip()
    if not token:
        raise TabTokenInvalid("empty bearer token")
    return token


def _guid_claim(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise TabTokenInvalid(f"no {name} claim")
    if not _GUID.match(value):
        raise TabTokenInvalid(f"malformed {name} claim")
    return value


def _text_claim(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    return value if isinstance(value, str) else ""
