"""``/api/calling``: Graph's calling notifications, authenticated, parsed and handed over."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiohttp import web

from bot import keys
from bot.http import error_response
from contactcenter.errors import NotFound
from contactcenter.events import CallEvent
from contactcenter.model import TenantStatus
from graph.auth import TokenInvalid
from graph.notifications import InvalidNotification, parse_notifications

_LOGGER = logging.getLogger(__name__)

# Graph wants an answer within seconds; past this, work goes on in the background and
# Graph gets its 202 (the store keeps everything needed to finish it).
INLINE_BUDGET_S = 3.0


async def calling_webhook(request: web.Request) -> web.Response:
    """Validate the bearer token, parse the notifications, apply them, answer 202."""
    app = request.app
    try:
        claims = await app[keys.CALLING_TOKENS].validate(request.headers.get("Authorization"))
    except TokenInvalid as err:
        _LOGGER.warning("calling notification refused: %s", err)
        return error_response(401, "invalid or missing bearer token", code="invalidToken")
    if not await _is_known_tenant(app, claims.tenant_id):
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


async def _is_known_tenant(app: web.Application, tenant_id: str) -> bool:
    try:
        tenant = await app[keys.REPOSITORY].tenants.get(tenant_id, tenant_id)
    except NotFound:
        return False
    return tenant.value.status is TenantStatus.ACTIVE


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
        _LOGGER.warning("notification handling is slow; answering 202 and finishing later")
