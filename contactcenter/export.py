"""Call-record webhook export: every finished call's record, POSTed to the tenant's endpoints.

Finishing a call never waits for a receiver: it only writes one outbox document per
configured endpoint (``webhookOutbox``, id ``<endpoint id>|<call id>``, so writing it twice
is a no-op). A background loop on any host delivers what is due: it claims a delivery by
compare-and-set (moving its due time a lease ahead, so no other host sends it meanwhile),
POSTs it, and marks it delivered, or schedules the next attempt with exponential backoff
and jitter; after ``max_attempts`` it is marked failed.

Each request carries the same event id however often it is sent (``X-Event-Id``, and
``eventId`` in the body): receivers drop repeats by it. It is signed with the endpoint's
secret: ``X-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>`` with the Unix
time in ``X-Signature-Timestamp``, so a receiver can refuse old or altered requests
(:func:`verify_signature`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from contactcenter.clock import Clock
from contactcenter.codec import format_timestamp
from contactcenter.errors import Conflict, DomainError, NotFound
from contactcenter.model import CallRecord
from contactcenter.ports import Condition, Op, Store
from contactcenter.repository import Collection, Versioned

_LOGGER = logging.getLogger(__name__)

ENDPOINTS = "webhookEndpoints"
OUTBOX = "webhookOutbox"

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
EVENT_ID_HEADER = "X-Event-Id"
EVENT_TYPE = "callRecord.finished"
SIGNATURE_TOLERANCE_S = 300

_EVENT_NAMESPACE = uuid.UUID("3b0c8f8e-5d7e-4f0a-9a53-2f1e3c4d5e6f")
_DUE_BATCH = 50
_CONCURRENT_DELIVERIES = 8


# ---------------------------------------------------------------------- documents
@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """Where a tenant wants its call records, and the secret that signs them."""

    id: str
    tenant_id: str
    url: str
    secret: str
    enabled: bool = True
    description: str = ""
    created_at: datetime | None = None
    created_by: str = ""


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One call record on its way to one endpoint (an outbox document)."""

    id: str
    tenant_id: str
    endpoint_id: str
    event_id: str
    call_id: str
    # The exact JSON sent (and signed) on every attempt.
    body: str
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    due_at: datetime | None = None
    created_at: datetime | None = None
    delivered_at: datetime | None = None
    last_status: int | None = None
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try again after a failed attempt, and when to give up."""

    base_s: float = 5.0
    max_s: float = 3600.0
    max_attempts: int = 15
    # Each wait is scaled by a random factor in [1 - jitter, 1 + jitter].
    jitter: float = 0.2
    # A claimed delivery is not picked up by another host for this long.
    lease_s: float = 60.0
    # Delivered and failed documents are kept this long (a re-enqueue finds them).
    keep_s: float = 7 * 86_400.0

    def backoff_s(self, attempts: int, rng: random.Random) -> float:
        """Return the wait after the ``attempts``-th failed attempt."""
        wait: float = min(self.max_s, self.base_s * 2.0 ** max(0, attempts - 1))
        factor: float = rng.uniform(1 - self.jitter, 1 + self.jitter)
        return wait * factor


# ------------------------------------------------------------------------ payload
def event_id(tenant_id: str, call_id: str) -> str:
    """Return the event id of a call's record: the same on every delivery and endpoint."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{tenant_id}|{call_id}"))


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_timestamp(value)


def record_payload(record: CallRecord, *, created_at: datetime) -> dict[str, Any]:
    """Return the JSON event for a finished call's record (docs/kpis.md: call-record fields)."""
    return {
        "eventId": event_id(record.tenant_id, record.id),
        "eventType": EVENT_TYPE,
        "tenantId": record.tenant_id,
        "createdAt": format_timestamp(created_at),
        "callRecord": {
            "callId": record.id,
            "chainId": record.chain_id,
            "direction": record.direction,
            "caller": {
                "kind": record.caller.kind.value,
                "id": record.caller.id,
                "displayName": record.caller.display_name,
            },
            "queueId": record.queue_id,
            "queueName": record.queue_name,
            "cameFrom": record.came_from,
            "offeredAt": _time(record.offered_at),
            "answeredAt": _time(record.answered_at),
            "endedAt": format_timestamp(record.ended_at),
            "waitS": round(record.wait_s, 3),
            "ringS": round(record.ring_s, 3),
            "talkS": round(record.talk_s, 3),
            "holdS": round(record.hold_s, 3),
            "wrapUpS": round(record.wrap_up_s, 3),
            "outcome": record.outcome.value,
            "metServiceLevel": record.met_service_level,
            "agent": (
                {"id": record.agent_id, "name": record.agent_name} if record.agent_id else None
            ),
            "missedAgentIds": list(record.missed_agent_ids),
            "declinedAgentIds": list(record.declined_agent_ids),
            "callbackRequestId": record.callback_request_id,
            "voicemailId": record.voicemail_id,
            "leaveReason": record.leave_reason,
            "resultInfo": (
                {
                    "code": record.result_code,
                    "subcode": record.result_subcode,
                    "message": record.result_message,
                }
                if record.result_code is not None
                else None
            ),
            "ivrPath": list(record.ivr_path),
            "dispositionCode": record.disposition_code,
            "dispositionNote": record.disposition_note,
        },
    }


def encode_body(payload: Mapping[str, Any]) -> str:
    """Return the compact JSON text of an event."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


# ------------------------------------------------------------------------ signing
def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the ``X-Signature`` value: ``sha256=`` and the HMAC of ``"<timestamp>." + body``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, *, event: str, now: datetime) -> dict[str, str]:
    """Return the headers of one delivery attempt."""
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: event,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def verify_signature(
    secret: str,
    body: bytes,
    *,
    signature: str | None,
    timestamp: str | None,
    now: datetime,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
) -> bool:
    """Tell whether a request is signed with ``secret`` and recent (for receivers)."""
    if not signature or not timestamp or not timestamp.isdigit():
        return False
    if abs(now.timestamp() - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


# -------------------------------------------------------------------------- sender
class WebhookSender(Protocol):
    """Sends one HTTP POST; the adapter lives outside the domain (aiohttp in the host)."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST and return the HTTP status; raise Unavailable when no answer came."""
        ...


# ------------------------------------------------------------------------ exporter
class CallRecordExporter:
    """Queues finished calls' records for each endpoint and delivers them."""

    def __init__(
        self,
        store: Store,
        sender: WebhookSender,
        clock: Clock,
        *,
        policy: RetryPolicy | None = None,
        endpoints_cache_s: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        self.endpoints: Collection[WebhookEndpoint] = Collection(store, ENDPOINTS, WebhookEndpoint)
        self.outbox: Collection[Delivery] = Collection(store, OUTBOX, Delivery)
        self._sender = sender
        self._clock = clock
        self.policy = policy or RetryPolicy()
        self._cache_s = endpoints_cache_s
        self._cached: dict[str, tuple[float, list[WebhookEndpoint]]] = {}
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets

    # ------------------------------------------------------------- endpoints
    async def tenant_endpoints(self, tenant_id: str) -> list[WebhookEndpoint]:
        """Return the tenant's enabled endpoints (cached for ``endpoints_cache_s``)."""
        clock = self._clock.monotonic()
        cached = self._cached.get(tenant_id)
        if cached is not None and clock - cached[0] < self._cache_s:
            return cached[1]
        found = [e.value for e in await self.endpoints.find(tenant_id) if e.value.enabled]
        self._cached[tenant_id] = (clock, found)
        return found

    def endpoints_changed(self, tenant_id: str) -> None:
        """Forget the cached endpoints of a tenant (after a configuration change)."""
        self._cached.pop(tenant_id, None)

    # --------------------------------------------------------------- enqueue
    async def enqueue(self, record: CallRecord) -> int:
        """Write an outbox document per endpoint for a final record; return how many were new."""
        endpoints = await self.tenant_endpoints(record.tenant_id)
        if not endpoints:
            return 0
        now = self._clock.now()
        body = encode_body(record_payload(record, created_at=now))
        event = event_id(record.tenant_id, record.id)
        created = 0
        for endpoint in endpoints:
            delivery = Delivery(
                id=f"{endpoint.id}|{record.id}",
                tenant_id=record.tenant_id,
                endpoint_id=endpoint.id,
                event_id=event,
                call_id=record.id,
                body=body,
                due_at=now,
                created_at=now,
            )
            try:
                await self.outbox.create(delivery)
            except Conflict:
                continue  # queued before (a retried finalize, or the sweep)
            created += 1
        return created

    # --------------------------------------------------------------- deliver
    async def deliver_due(self, now: datetime | None = None) -> int:
        """Attempt every delivery due by ``now`` (a batch); return how many were attempted."""
        when = now or self._clock.now()
        due = await self.outbox.find(
            None,
            (
                Condition("state", Op.EQ, DeliveryState.PENDING.value),
                Condition("dueAt", Op.LE, format_timestamp(when)),
            ),
            limit=_DUE_BATCH,
        )
        if not due:
            return 0
        gate = asyncio.Semaphore(_CONCURRENT_DELIVERIES)

        async def attempt(found: Versioned[Delivery]) -> bool:
            async with gate:
                return await self._attempt(found, when)

        results = await asyncio.gather(*(attempt(found) for found in due))
        return sum(results)

    async def _attempt(self, found: Versioned[Delivery], now: datetime) -> bool:
        delivery = found.value
        lease = now + timedelta(seconds=self.policy.lease_s)
        claimed_value = replace(delivery, attempts=delivery.attempts + 1, due_at=lease)
        try:
            claimed = await self.outbox.save(claimed_value, etag=found.etag)
        except (Conflict, NotFound):
            return False  # another host took it, or it was purged
        endpoint = await self._endpoint(delivery.tenant_id, delivery.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            await self._finish(claimed, DeliveryState.FAILED, None, "endpoint removed or disabled")
            return True
        body = delivery.body.encode()
        headers = signed_headers(endpoint.secret, body, event=delivery.event_id, now=now)
        status: int | None = None
        error = ""
        try:
            status = await self._sender.post(endpoint.url, body, headers)
        except DomainError as err:
            error = str(err) or type(err).__name__
        if status is not None and 200 <= status < 300:
            await self._finish(claimed, DeliveryState.DELIVERED, status, "")
            return True
        if not error:
            error = f"HTTP {status}"
        attempts = claimed.value.attempts
        if attempts >= self.policy.max_attempts:
            _LOGGER.warning(
                "Giving up on webhook delivery %s after %d attempts: %s",
                delivery.id,
                attempts,
                error,
                extra={"tenant_id": delivery.tenant_id, "call_id": delivery.call_id},
            )
            await self._finish(claimed, DeliveryState.FAILED, status, error)
            return True
        retry_at = now + timedelta(seconds=self.policy.backoff_s(attempts, self._rng))
        _LOGGER.info(
            "Webhook delivery %s failed (%s); attempt %d at %s",
            delivery.id,
            error,
            attempts + 1,
            format_timestamp(retry_at),
            extra={"tenant_id": delivery.tenant_id, "call_id": delivery.call_id},
        )
        await self._save_quietly(
            claimed, replace(claimed.value, due_at=retry_at, last_status=status, last_error=error)
        )
        return True

    async def _endpoint(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        try:
            return (await self.endpoints.get(tenant_id, endpoint_id)).value
        except NotFound:
            return None

    async def _finish(
        self,
        claimed: Versioned[Delivery],
        state: DeliveryState,
        status: int | None,
        error: str,
    ) -> None:
        now = self._clock.now()
        # Kept for ``keep_s`` (a due time then lets the purge find it), then deleted.
        await self._save_quietly(
            claimed,
            replace(
                claimed.value,
                state=state,
                due_at=now + timedelta(seconds=self.policy.keep_s),
                delivered_at=now if state is DeliveryState.DELIVERED else None,
                last_status=status,
                last_error=error,
            ),
        )

    async def _save_quietly(self, current: Versioned[Delivery], new: Delivery) -> None:
        try:
            await self.outbox.save(new, etag=current.etag)
        except (Conflict, NotFound) as err:
            # Only the lease holder writes a claimed delivery; losing means it was purged.
            _LOGGER.warning("Outbox document %s changed meanwhile: %s", new.id, err)

    async def purge(self, now: datetime | None = None) -> int:
        """Delete delivered and failed documents kept long enough; return how many."""
        when = now or self._clock.now()
        removed = 0
        for state in (DeliveryState.DELIVERED, DeliveryState.FAILED):
            old = await self.outbox.find(
                None,
                (
                    Condition("state", Op.EQ, state.value),
                    Condition("dueAt", Op.LE, format_timestamp(when)),
                ),
                limit=_DUE_BATCH,
            )
            for found in old:
                try:
                    await self.outbox.delete(found.value.tenant_id, found.value.id, etag=found.etag)
                except (Conflict, NotFound):
                    continue
                removed += 1
        return removed
