"""``/api/calling``: Graph's calling notifications, authenticated, parsed and handed over."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

from aiohttp import web

from bot import keys
from bot.http import error_response
from contactcenter.clock import Clock
from contactcenter.errors import NotFound, Unauthorized
from contactcenter.events import CallEvent
from contactcenter.model import Tenant, TenantStatus
from contactcenter.repository import Repository, Versioned
from graph.notifications import InvalidNotification, parse_notifications

_LOGGER = logging.getLogger(__name__)

# Graph wants an answer within seconds; past this, work goes on in the background and
# Graph gets its 202 (the store keeps everything needed to finish it).
INLINE_BUDGET_S = 3.0

TENANT_CACHE_TTL_S: Final = 5.0
"""How long the webhook trusts a tenant document it read: a tenant offboarded by another
process (``contact-center tenant offboard``, another host) is refused here at most this long
after the store says so. A write or fresher read of the tenant in this process ends the
trust at once."""

TENANT_CACHE_SIZE: Final = 1024
"""Tenants whose documents the webhook remembers (least recently used dropped first)."""

SLOW_NOTICE_INTERVAL_S: Final = 10.0
"""At most one warning this often about notifications answered before their work finished."""


async def calling_webhook(request: web.Request) -> web.Response:
    """Validate the bearer token, parse the notifications, apply them, answer 202."""
    app = request.app
    try:
        claims = await app[keys.CALLING_TOKENS].validate(request.headers.get("Authorization"))
    except Unauthorized as err:
        _LOGGER.warning("calling notification refused: %s", err)
        return error_response(401, "invalid or missing bearer token", code="invalidToken")
    if not await app[TENANT_CACHE].is_active(claims.tenant_id):
        _LOGGER.warning("calling notification for unknown tenant %s refused", claims.tenant_id)
        return error_response(403, "this tenant is not served here", code="unknownTenant")
    if request.content_type != "application/json":
        return error_response(415, "expected application/json")
    try:
        events = parse_notifications(await request.read(), tenant_id=claims.tenant_id)
    except InvalidNotification as err:
        return error_response(400, f"malformed notification: {err}", code="invalidNotification")
    if events:
        await _apply(app, events)
    return web.Response(status=202)


class TenantCache:
    """The tenant documents the webhook checked lately, trusted for a few seconds.

    Every notification names its tenant, and Graph sends several per call: reading the
    tenant from the store for each one was a quarter of a call's store requests. An entry
    is trusted while it is younger than ``ttl_s`` *and* is still the value the repository's
    tenant collection last decoded or wrote for that id: any write of the tenant through
    this process (offboarding, a purge's tombstone, the tab's changes) and any read that
    found a newer version replace that value, which ends the trust at once. A change made by
    another process is seen within ``ttl_s``. Unknown tenants are not remembered, so a tenant
    created a moment ago is served at once.
    """

    def __init__(
        self,
        repository: Repository,
        clock: Clock,
        *,
        ttl_s: float = TENANT_CACHE_TTL_S,
        size: int = TENANT_CACHE_SIZE,
    ) -> None:
        """Remember at most ``size`` tenants for at most ``ttl_s`` seconds each."""
        self._tenants = repository.tenants
        self._clock = clock
        self._ttl_s = ttl_s
        self._size = size
        self._entries: OrderedDict[str, tuple[float, Versioned[Tenant]]] = OrderedDict()

    async def is_active(self, tenant_id: str) -> bool:
        """Return whether the tenant exists and is active (served here)."""
        tenant = await self._tenant(tenant_id)
        return tenant is not None and tenant.value.status is TenantStatus.ACTIVE

    def __len__(self) -> int:
        return len(self._entries)

    async def _tenant(self, tenant_id: str) -> Versioned[Tenant] | None:
        now = self._clock.monotonic()
        entry = self._entries.get(tenant_id)
        if entry is not None:
            read_at, tenant = entry
            # The collection's decoded value is replaced by every write and every read of a
            # newer version in this process (and dropped by a delete).
            current = self._tenants.last_known(tenant_id, tenant_id)
            if 0 <= now - read_at < self._ttl_s and current is tenant:
                self._entries.move_to_end(tenant_id)
                return tenant
            del self._entries[tenant_id]
        try:
            tenant = await self._tenants.get(tenant_id, tenant_id)
        except NotFound:
            return None
        self._entries[tenant_id] = (now, tenant)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return tenant


TENANT_CACHE: web.AppKey[TenantCache] = web.AppKey("tenant_cache", TenantCache)
"""The webhook's tenant cache, made with the app's repository (it mirrors its tenants)."""


async def _apply(app: web.Application, events: Sequence[CallEvent]) -> None:
    engine = app[keys.ENGINE]

    async def apply_all() -> None:
        for event in events:
            try:
                await engine.handle(event)
            except Exception:
                # One bad event must not stop the others; the call's timers recover it.
                _LOGGER.exception(
                    "handling %s failed",
                    type(event).__name__,
                    extra={"call_id": event.call_id, "tenant_id": event.tenant_id},
                )

    task = app[keys.BACKGROUND].spawn(apply_all(), name="calling-notification")
    done, _ = await asyncio.wait({task}, timeout=INLINE_BUDGET_S)
    if not done:
        app[SLOW_NOTIFICATIONS].note()


class SlowNotifications:
    """Notifications answered before their work finished, reported as a count now and then.

    An overloaded host is slow for every notification at once: one warning each would add
    thousands of lines a second to the load. The first is reported at once, the rest at
    most every ``interval_s``, counted.
    """

    def __init__(self, clock: Clock, *, interval_s: float = SLOW_NOTICE_INTERVAL_S) -> None:
        """Report at most one warning every ``interval_s`` seconds of ``clock``."""
        self._clock = clock
        self._interval_s = interval_s
        self._reported_at: float | None = None
        self._unreported = 0

    def note(self) -> None:
        """Count one notification whose work goes on after its 202; warn if it is time."""
        self._unreported += 1
        now = self._clock.monotonic()
        if self._reported_at is not None and 0 <= now - self._reported_at < self._interval_s:
            return
        _LOGGER.warning(
            "notification handling is slow: answered %d notification(s) with 202 before "
            "their work finished; it goes on in the background",
            self._unreported,
        )
        self._reported_at = now
        self._unreported = 0


SLOW_NOTIFICATIONS: web.AppKey[SlowNotifications] = web.AppKey(
    "slow_notifications", SlowNotifications
)
"""The webhook's count of notifications answered before their work finished."""
