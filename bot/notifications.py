"""``/api/notifications``: Graph change notifications (subscription handshake and delivery)."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot import keys
from bot.http import error_response
from contactcenter.errors import NotFound
from contactcenter.inbound import InvalidJson, parse_json
from contactcenter.model import TenantStatus

_LOGGER = logging.getLogger(__name__)

SUBSCRIPTIONS = "subscriptions"


class ChangeNotification(BaseModel):
    """One item of a change-notification collection (only the fields we check)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    subscription_id: str = Field(alias="subscriptionId", min_length=1)
    client_state: str | None = Field(default=None, alias="clientState")
    change_type: str = Field(alias="changeType")
    resource: str
    tenant_id: str | None = Field(default=None, alias="tenantId")


class ChangeNotificationCollection(BaseModel):
    value: list[ChangeNotification]


# Graph's validation tokens are a short line of printable text. Anything longer, or with
# control characters (line breaks, escapes, NUL), is not Graph's: it is refused rather
# than echoed, so the handshake cannot be used to reflect arbitrary content.
MAX_VALIDATION_TOKEN_CHARS = 1024


def sane_validation_token(token: str) -> bool:
    """Tell whether a validationToken may be echoed: 1-1024 printable characters."""
    return 0 < len(token) <= MAX_VALIDATION_TOKEN_CHARS and token.isprintable()


async def change_notifications(request: web.Request) -> web.Response:
    """Answer the validation handshake, or accept notifications whose clientState matches."""
    token = request.query.get("validationToken")
    if token is not None:
        if not sane_validation_token(token):
            return error_response(400, "invalid validationToken", code="invalidValidationToken")
        # Graph checks that we echo the token as plain text within 10 seconds.
        return web.Response(
            text=token,
            content_type="text/plain",
            headers={"Content-Security-Policy": "default-src 'none'"},
        )
    if request.content_type != "application/json":
        return error_response(415, "expected application/json")
    try:
        document = parse_json(await request.read())
    except InvalidJson as err:
        return error_response(400, str(err), code="invalidJson")
    try:
        collection = ChangeNotificationCollection.model_validate(document)
    except ValidationError as err:
        return error_response(400, f"malformed change notification: {err.error_count()} errors")
    accepted = 0
    for item in collection.value:
        if await _client_state_matches(request.app, item):
            accepted += 1
        else:
            _LOGGER.warning(
                "change notification for subscription %s refused: unknown subscription or "
                "wrong clientState",
                item.subscription_id,
            )
    # Graph retries anything but 2xx; a forged item is dropped, not retried.
    return web.Response(status=202)


async def _client_state_matches(app: web.Application, item: ChangeNotification) -> bool:
    if item.tenant_id is None:
        return False
    try:
        doc = await app[keys.STORE].read(SUBSCRIPTIONS, item.tenant_id, item.subscription_id)
    except NotFound:
        return False
    expected = str(doc.body.get("clientState", ""))
    if not (
        expected and hmac.compare_digest(expected.encode(), (item.client_state or "").encode())
    ):
        return False
    # A terminated tenant's subscriptions live until its data is purged: refuse them now.
    try:
        tenant = await app[keys.REPOSITORY].tenants.get(item.tenant_id, item.tenant_id)
    except NotFound:
        return False
    return tenant.value.status is TenantStatus.ACTIVE
