"""The admin console's webhook export settings: where call records go, and how that went.

A webhook is a URL and a secret (HMAC-SHA256 signing key, at least 16 characters); the
secret is write-only: answers show its last four characters, and the audit log never
holds it. URLs must be https; plain http is accepted on loopback only when the host
allows it (tests and demos).
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import replace
from urllib.parse import urlsplit

from aiohttp import web

from contactcenter.export import ENDPOINTS, OUTBOX, Delivery, WebhookEndpoint
from contactcenter.repository import Collection
from tab.analytics import ANALYTICS
from tab.analytics_schemas import (
    DeliveriesQuery,
    DeliveryListView,
    DeliveryView,
    WebhookBody,
    WebhookListView,
    WebhookView,
)
from tab.appkeys import TAB
from tab.crud import record_change
from tab.endpoints import TabRequest, validation_failed

_REDACTED = "(redacted)"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook_url(url: str, *, allow_loopback_http: bool) -> str | None:
    """Return what is wrong with a webhook URL, or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return "the URL has no host"
    if parts.username or parts.password:
        return "credentials do not belong in the URL: use the secret"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and allow_loopback_http and _loopback(host):
        return None
    return "must be an https:// URL"


def _endpoints(app: web.Application) -> Collection[WebhookEndpoint]:
    # Webhook settings live in the store: they need no analytics state on this host.
    return Collection(app[TAB].deps.store, ENDPOINTS, WebhookEndpoint)


def _changed(app: web.Application, tenant_id: str) -> None:
    state = app.get(ANALYTICS)
    if state is not None:
        state.exporter.endpoints_changed(tenant_id)


def _allow_loopback_http(app: web.Application) -> bool:
    state = app.get(ANALYTICS)
    return state is not None and state.options.allow_loopback_http


def _view(endpoint: WebhookEndpoint) -> WebhookView:
    return WebhookView(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        enabled=endpoint.enabled,
        secret_hint=f"…{endpoint.secret[-4:]}",
        created_at=endpoint.created_at,
        created_by=endpoint.created_by,
    )


async def list_webhooks(call: TabRequest) -> WebhookListView:
    """List the tenant's webhooks (secrets are not shown)."""
    found = await _endpoints(call.app).find(call.caller.tenant_id)
    endpoints = sorted((f.value for f in found), key=lambda e: (e.created_at is None, e.created_at))
    return WebhookListView(webhooks=[_view(e) for e in endpoints])


async def create_webhook(call: TabRequest) -> WebhookView:
    """Add a webhook: every finished call's record is POSTed there, signed."""
    body = call.body(WebhookBody)
    problem = check_webhook_url(body.url, allow_loopback_http=_allow_loopback_http(call.app))
    if problem is not None:
        raise validation_failed([{"field": "url", "message": problem}])
    caller = call.caller
    endpoint = WebhookEndpoint(
        id=str(uuid.uuid4()),
        tenant_id=caller.tenant_id,
        url=body.url,
        secret=body.secret,
        enabled=body.enabled,
        description=body.description,
        created_at=call.deps.clock.now(),
        created_by=caller.user_id,
    )
    created = (await _endpoints(call.app).create(endpoint)).value
    _changed(call.app, caller.tenant_id)
    await record_change(
        call,
        "webhook.create",
        target_type="webhook",
        target_id=created.id,
        after=replace(created, secret=_REDACTED),
    )
    return _view(created)


async def delete_webhook(call: TabRequest) -> None:
    """Remove a webhook; deliveries still pending for it are given up."""
    caller = call.caller
    endpoint_id = call.param("webhookId")
    endpoints = _endpoints(call.app)
    before = (await endpoints.get(caller.tenant_id, endpoint_id)).value
    await endpoints.delete(caller.tenant_id, endpoint_id)
    _changed(call.app, caller.tenant_id)
    await record_change(
        call,
        "webhook.delete",
        target_type="webhook",
        target_id=endpoint_id,
        before=replace(before, secret=_REDACTED),
    )


def _delivery_view(delivery: Delivery) -> DeliveryView:
    return DeliveryView(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        call_id=delivery.call_id,
        state=delivery.state.value,
        attempts=delivery.attempts,
        due_at=delivery.due_at,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
        last_status=delivery.last_status,
        last_error=delivery.last_error,
    )


async def list_deliveries(call: TabRequest) -> DeliveryListView:
    """List the latest webhook deliveries, newest first."""
    query = call.query(DeliveriesQuery)
    outbox = Collection(call.deps.store, OUTBOX, Delivery)
    found = await outbox.find(
        call.caller.tenant_id, order_by=(("createdAt", True),), limit=query.limit
    )
    return DeliveryListView(deliveries=[_delivery_view(f.value) for f in found])
