"""RSA signing keys published through an OpenID configuration, cached and refreshed.

Both kinds of bearer token the app accepts (Graph's calling notifications, the tab's single
sign-on tokens) are checked against such keys. Keys are fetched with aiohttp, cached,
refreshed after a while and on an unknown ``kid`` — at most once per ``refresh_floor_s``,
so a flood of forged tokens cannot turn into a flood of requests to the key server — and
concurrent validations share one fetch.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import jwt
from pydantic import BaseModel, ConfigDict, ValidationError

from contactcenter.clock import Clock, SystemClock

_LOGGER = logging.getLogger(__name__)

__all__ = ["SIGNING_ALGORITHM", "SigningKeys"]

SIGNING_ALGORITHM = "RS256"
"""The only algorithm tokens are accepted with (and keys are read for)."""

# After a failed key fetch, try again this soon at the earliest (or after the floor,
# whichever is shorter): long enough to spare a struggling key server, short enough
# that a start-up blip does not refuse tokens for minutes.
_RETRY_AFTER_FAILURE_S = 10.0
_FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)


class _OpenIdConfiguration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    jwks_uri: str


class _KeySet(BaseModel):
    model_config = ConfigDict(extra="ignore")

    keys: list[dict[str, Any]]


class SigningKeys:
    """RSA signing keys published through an OpenID configuration, cached and refreshed.

    ``purpose`` names the keys in log lines (``calling``, ``tab``).
    """

    def __init__(
        self,
        openid_config_url: str,
        *,
        session: aiohttp.ClientSession,
        purpose: str,
        clock: Clock | None = None,
        refresh_floor_s: float = 300.0,
        cache_ttl_s: float = 6 * 3600.0,
    ) -> None:
        self._openid_config_url = openid_config_url
        self._session = session
        self._purpose = purpose
        self._clock = clock or SystemClock()
        self._refresh_floor_s = refresh_floor_s
        self._cache_ttl_s = cache_ttl_s
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._next_fetch_at = float("-inf")
        self._fetch: asyncio.Future[None] | None = None
        self.fetches = 0

    @property
    def openid_config_url(self) -> str:
        return self._openid_config_url

    async def find(self, kid: str) -> Any | None:
        """Return the public key with this ``kid`` (None: no such key), fetching when due."""
        if self._fetch is not None:
            # A fetch is under way: its keys may be the ones this token needs.
            await asyncio.shield(self._fetch)
        now = self._clock.monotonic()
        stale = self._fetched_at is None or now - self._fetched_at >= self._cache_ttl_s
        if (stale or kid not in self._keys) and now >= self._next_fetch_at:
            await self._refresh()
        return self._keys.get(kid)

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
        self.fetches += 1
        try:
            configuration = _OpenIdConfiguration.model_validate(
                await self._get_json(self._openid_config_url)
            )
            key_set = _KeySet.model_validate(await self._get_json(configuration.jwks_uri))
        except (aiohttp.ClientError, TimeoutError, ValueError, ValidationError) as err:
            _LOGGER.warning(
                "Could not fetch the %s signing keys from %s: %s",
                self._purpose,
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
        _LOGGER.info("Fetched %d %s signing keys", len(keys), self._purpose)

    async def _get_json(self, url: str) -> Any:
        async with self._session.get(url, timeout=_FETCH_TIMEOUT) as response:
            response.raise_for_status()
            return await response.json(content_type=None)


def _rsa_keys(jwks: list[dict[str, Any]]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for jwk in jwks:
        kid = jwk.get("kid")
        if jwk.get("kty") != "RSA" or not isinstance(kid, str) or not kid:
            continue
        try:
            keys[kid] = jwt.PyJWK(jwk, algorithm=SIGNING_ALGORITHM).key
        except (jwt.PyJWTError, ValueError) as err:
            _LOGGER.debug("Skipping signing key %s: %s", kid, err)
    return keys
