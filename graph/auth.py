"""Validate the bearer token Graph puts on calling notifications.

Graph signs each ``commsNotifications`` POST with an RS256 JWT whose keys are published
through an OpenID configuration (``api.aps.skype.com`` in production, the local
simulator's in demo mode), cached and refreshed by :class:`~graph.openid_keys.SigningKeys`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt

from contactcenter.clock import Clock, SystemClock
from graph.openid_keys import SIGNING_ALGORITHM, SigningKeys

_LOGGER = logging.getLogger(__name__)

__all__ = ["GRAPH_ISSUERS", "CallingTokenValidator", "TokenClaims", "TokenInvalid"]

GRAPH_ISSUERS = ("https://api.botframework.com", "https://graph.microsoft.com")
"""The issuers Graph's calling notification tokens carry."""

_ALGORITHM = SIGNING_ALGORITHM
_LEEWAY_S = 300.0
_VERIFIED_KEPT = 256


class TokenInvalid(Exception):
    """The notification's bearer token is missing or not acceptable; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
        """Return the token's claims, or raise :class:`TokenInvalid` saying what is wrong."""
        token = _bearer_token(authorization_header)
        verified = self._verified.get(token)
        if verified is not None:
            verified_kid, verified_key, verified_claims = verified
            if await self._keys.find(verified_kid) is verified_key:
                self._check_lifetime(verified_claims)
                return self._claims(verified_claims)
            del self._verified[token]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as err:
            raise TokenInvalid("malformed token") from err
        # Checked before any key is looked at: never let "none" or a symmetric
        # algorithm near a verifier that holds public keys.
        if header.get("alg") != _ALGORITHM:
            raise TokenInvalid("algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenInvalid("no key id")
        key = await self._signing_key(kid)
        claims = self._decode(token, key)
        self._check_lifetime(claims)
        result = self._claims(claims)
        self._verified[token] = (kid, key, claims)
        if len(self._verified) > _VERIFIED_KEPT:
            self._verified.popitem(last=False)
        return result

    def _claims(self, claims: dict[str, Any]) -> TokenClaims:
        tenant_id = claims.get("tid")
        if not isinstance(tenant_id, str) or not tenant_id:
            raise TokenInvalid("no tenant id")
        return TokenClaims(
            tenant_id=tenant_id,
            issuer=str(claims["iss"]),
            audience=self._app_id,
            claims=claims,
        )

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[_ALGORITHM],
                audience=self._app_id,
                issuer=self._issuers,
                options={
                    "require": ["exp", "iss", "aud"],
                    # Lifetime is checked against the injected clock instead.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError as err:
            raise TokenInvalid("bad signature") from err
        except jwt.InvalidAudienceError as err:
            raise TokenInvalid("wrong audience") from err
        except jwt.InvalidIssuerError as err:
            raise TokenInvalid("wrong issuer") from err
        except jwt.MissingRequiredClaimError as err:
            raise TokenInvalid(f"no {err.claim} claim") from err
        except jwt.InvalidAlgorithmError as err:
            raise TokenInvalid("algorithm not allowed") from err
        except jwt.InvalidTokenError as err:
            raise TokenInvalid("malformed token") from err

    def _check_lifetime(self, claims: Mapping[str, Any]) -> None:
        now = self._clock.now().timestamp()
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or isinstance(expires, bool):
            raise TokenInvalid("malformed exp claim")
        if now > expires + _LEEWAY_S:
            raise TokenInvalid("expired")
        not_before = claims.get("nbf")
        if not_before is not None:
            if not isinstance(not_before, int | float) or isinstance(not_before, bool):
                raise TokenInvalid("malformed nbf claim")
            if now < not_before - _LEEWAY_S:
                raise TokenInvalid("not yet valid")

    async def _signing_key(self, kid: str) -> Any:
        key = await self._keys.find(kid)
        if key is None:
            _LOGGER.debug("No signing key with kid %s", kid)
            raise TokenInvalid("unknown signing key")
        return key


def _bearer_token(authorization_header: str | None) -> str:
    if not authorization_header:
        raise TokenInvalid("no authorization header")
    scheme, _, token = authorization_header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise TokenInvalid("not a bearer token")
    token = token.strip()
    if not token:
        raise TokenInvalid("empty bearer token")
    return token
