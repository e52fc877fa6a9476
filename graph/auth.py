"""Validate the bearer token Graph puts on calling notifications.

Graph signs each ``commsNotifications`` POST with an RS256 JWT whose keys are published
through an OpenID configuration (``api.aps.skype.com`` in production, the local
simulator's in demo mode). Keys are fetched with aiohttp, cached, refreshed after a
while and on an unknown ``kid`` — at most once per ``refresh_floor_s``, so a flood of
forged tokens cannot turn into a flood of requests to the key server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
from pydantic import BaseModel, ConfigDict, ValidationError

from contactcenter.clock import Clock, SystemClock

_LOGGER = logging.getLogger(__name__)

__all__ = ["GRAPH_ISSUERS", "CallingTokenValidator", "TokenClaims", "TokenInvalid"]

GRAPH_ISSUERS = ("https://api.botframework.com", "https://graph.microsoft.com")
"""The issuers Graph's calling notification tokens carry."""

_ALGORITHM = "RS256"
_LEEWAY_S = 300.0
# After a failed key fetch, try again this soon at the earliest (or after the floor,
# whichever is shorter): long enough to spare a struggling key server, short enough
# that a start-up blip does not refuse notifications for minutes.
_RETRY_AFTER_FAILURE_S = 10.0
_FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)


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


class _OpenIdConfiguration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    jwks_uri: str


class _KeySet(BaseModel):
    model_config = ConfigDict(extra="ignore")

    keys: list[dict[str, Any]]


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
        self._openid_config_url = openid_config_url
        self._app_id = app_id
        self._session = session
        self._clock = clock or SystemClock()
        self._refresh_floor_s = refresh_floor_s
        self._cache_ttl_s = cache_ttl_s
        self._issuers = tuple(issuers)
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._next_fetch_at = float("-inf")
        self._fetch: asyncio.Future[None] | None = None

    async def validate(self, authorization_header: str | None) -> TokenClaims:
        """Return the token's claims, or raise :class:`TokenInvalid` saying what is wrong."""
        token = _bearer_token(authorization_header)
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

    # ------------------------------------------------------------------ keys
    async def _signing_key(self, kid: str) -> Any:
        if self._fetch is not None:
            # A fetch is under way: its keys may be the ones this token needs.
            await asyncio.shield(self._fetch)
        now = self._clock.monotonic()
        stale = self._fetched_at is None or now - self._fetched_at >= self._cache_ttl_s
        if (stale or kid not in self._keys) and now >= self._next_fetch_at:
            await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            _LOGGER.debug("No signing key with kid %s", kid)
            raise TokenInvalid("unknown signing key")
        return key

    async def _refresh(self) -> None:
        """Fetch the keys once, however many validations are waiting for them."""
        if self._fetch is None:
            self._fetch = asyncio.ensure_future(self._fetch_keys())
            self._fetch.add_done_callback(self._fetch_done)
        await asyncio.shield(self._fetch)

    def _fetch_done(self, fetch: asyncio.Future[None]) -> None:
        self._fetch = None
        if not fetch.cancelled():
            # The outcome is logged by _fetch_keys; read it so it is not reported unread.
            fetch.exception()

    async def _fetch_keys(self) -> None:
        started = self._clock.monotonic()
        # Set before awaiting, so validations arriving meanwhile join this fetch.
        self._next_fetch_at = started + min(_RETRY_AFTER_FAILURE_S, self._refresh_floor_s)
        try:
            configuration = _OpenIdConfiguration.model_validate(
                await self._get_json(self._openid_config_url)
            )
            key_set = _KeySet.model_validate(await self._get_json(configuration.jwks_uri))
        except (aiohttp.ClientError, TimeoutError, ValueError, ValidationError) as err:
            _LOGGER.warning(
                "Could not fetch the calling signing keys from %s: %s",
                self._openid_config_url,
                err,
            )
            return
        keys = _rsa_keys(key_set.keys)
        if not keys:
            _LOGGER.warning("The key set from %s has no RSA signing keys", self._openid_config_url)
            return
        self._keys = keys
        self._fetched_at = started
        self._next_fetch_at = started + self._refresh_floor_s
        _LOGGER.info("Fetched %d calling signing keys", len(keys))

    async def _get_json(self, url: str) -> Any:
        async with self._session.get(url, timeout=_FETCH_TIMEOUT) as response:
            response.raise_for_status()
            return await response.json(content_type=None)


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


def _rsa_keys(jwks: list[dict[str, Any]]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for jwk in jwks:
        kid = jwk.get("kid")
        if jwk.get("kty") != "RSA" or not isinstance(kid, str) or not kid:
            continue
        try:
            keys[kid] = jwt.PyJWK(jwk, algorithm=_ALGORITHM).key
        except (jwt.PyJWTError, ValueError) as err:
            _LOGGER.debug("Skipping signing key %s: %s", kid, err)
    return keys
