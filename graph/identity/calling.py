"""Validate the bearer token Graph puts on calling notifications.

Graph signs each ``commsNotifications`` POST with an RS256 JWT whose keys are published
through an OpenID configuration (``api.aps.skype.com`` in production, the local
simulator's in demo mode), cached and refreshed by
:class:`~graph.identity.openid_keys.SigningKeys`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from contactcenter.clock import Clock, SystemClock
from contactcenter.errors import Unauthorized
from graph.identity.openid_keys import SigningKeys
from graph.identity.tokens import bearer_token, check_lifetime, decode, signing_key_id

_LOGGER = logging.getLogger(__name__)

__all__ = ["GRAPH_ISSUERS", "CallingTokenValidator", "TokenClaims"]

GRAPH_ISSUERS = ("https://api.botframework.com", "https://graph.microsoft.com")
"""The issuers Graph's calling notification tokens carry."""

_VERIFIED_KEPT = 256


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The claims of a validated token; ``tenant_id`` is its ``tid``."""

    tenant_id: str
    issuer: str
    audience: str
    claims: Mapping[str, Any] = field(repr=False)


class CallingTokenValidator:
    """Check Graph's calling notification tokens against keys from an OpenID configuration."""

    def __init__(
        self,
        openid_config_url: str,
        app_id: str,
        *,
        session: aiohttp.ClientSession,
        clock: Clock | None = None,
        refresh_floor_s: float = 300.0,
        cache_ttl_s: float = 6 * 3600.0,
        issuers: Sequence[str] = GRAPH_ISSUERS,
    ) -> None:
        if not app_id:
            raise ValueError("the app id (the tokens' audience) is required")
        self._app_id = app_id
        self._clock = clock or SystemClock()
        self._issuers = tuple(issuers)
        self._keys = SigningKeys(
            openid_config_url,
            session=session,
            purpose="calling",
            clock=self._clock,
            refresh_floor_s=refresh_floor_s,
            cache_ttl_s=cache_ttl_s,
        )
        # Graph signs many notifications with one token: a token whose signature and
        # claims were verified (its exact text, with the key that verified it) needs only
        # its lifetime checked again while that key is still the one published for its kid.
        self._verified: OrderedDict[str, tuple[str, Any, dict[str, Any]]] = OrderedDict()

    async def validate(self, authorization_header: str | None) -> TokenClaims:
        """Return the token's claims, or raise :class:`Unauthorized` saying what is wrong."""
        token = bearer_token(authorization_header)
        verified = self._verified.get(token)
        if verified is not None:
            verified_kid, verified_key, verified_claims = verified
            if await self._keys.find(verified_kid) is verified_key:
                check_lifetime(verified_claims, self._clock.now().timestamp())
                return self._claims(verified_claims)
            del self._verified[token]
        kid = signing_key_id(token)
        key = await self._signing_key(kid)
        claims = decode(token, key, audience=self._app_id, issuers=self._issuers)
        check_lifetime(claims, self._clock.now().timestamp())
        result = self._claims(claims)
        self._verified[token] = (kid, key, claims)
        if len(self._verified) > _VERIFIED_KEPT:
            self._verified.popitem(last=False)
        return result

    def _claims(self, claims: dict[str, Any]) -> TokenClaims:
        tenant_id = claims.get("tid")
        if not isinstance(tenant_id, str) or not tenant_id:
            raise Unauthorized("no tenant id")
        return TokenClaims(
            tenant_id=tenant_id,
            issuer=str(claims["iss"]),
            audience=self._app_id,
            claims=claims,
        )

    async def _signing_key(self, kid: str) -> Any:
        key = await self._keys.find(kid)
        if key is None:
            _LOGGER.debug("No signing key with kid %s", kid)
            raise Unauthorized("unknown signing key")
        return key
