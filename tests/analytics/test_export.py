"""Call-record webhook export: signed, retried with backoff, delivered once per event id,
never in the way of finishing a call. A real aiohttp receiver listens on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import unused_port
from pytest_aiohttp import AiohttpServer

from bot.settings import DEMO_TENANT_ID
from contactcenter.clock import VirtualClock
from contactcenter.export import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    CallRecordExporter,
    DeliveryState,
    RetryPolicy,
    WebhookEndpoint,
    event_id,
    record_payload,
    verify_signature,
)
from contactcenter.ports import Store
from storage.memory import MemoryStore
from tab.analytics import AiohttpWebhookSender
from tests.analytics.records import DAY, RECORDS, TENANT
from tests.analytics.support import demo_record, state_of
from tests.tab.support import ADMIN, SUPERVISOR, TabStack

SECRET = "s3cret-signing-key-0123456789"


def test_the_exported_record_names_the_declines_among_the_missed_offers() -> None:
    offered = replace(RECORDS[2], missed_agent_ids=("agent-ben", "agent-cy"))
    declined = replace(offered, declined_agent_ids=("agent-cy",))

    exported = record_payload(declined, created_at=DAY)["callRecord"]
    older = record_payload(offered, created_at=DAY)["callRecord"]

    assert exported["missedAgentIds"] == ["agent-ben", "agent-cy"]
    assert exported["declinedAgentIds"] == ["agent-cy"]
    assert older["declinedAgentIds"] == []


def test_the_exported_record_carries_graphs_result_when_graph_ended_the_call() -> None:
    ended = replace(
        RECORDS[0],
        result_code=200,
        result_subcode=540000,
        result_message="Call ended by the PSTN User.",
    )
    now = RECORDS[0].ended_at

    exported = record_payload(ended, created_at=now)["callRecord"]
    without = record_payload(replace(RECORDS[0], result_code=None), created_at=now)["callRecord"]

    assert exported["resultInfo"] == {
        "code": 200,
        "subcode": 540000,
        "message": "Call ended by the PSTN User.",
    }
    assert without["resultInfo"] is None


@dataclass
class Receiver:
    """A webhook receiver: answers each request with the next status in ``statuses``."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status)


@pytest.fixture
async def receiver(aiohttp_server: AiohttpServer) -> Receiver:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/calls", found.handle)
    server = await aiohttp_server(app)
    found.url = str(server.make_url("/hooks/calls"))
    return found


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def exporter_for(
    store: Store, session: aiohttp.ClientSession, clock: VirtualClock, **policy: float
) -> CallRecordExporter:
    retry = RetryPolicy(base_s=5.0, max_attempts=4, jitter=0.0, **policy)
    return CallRecordExporter(store, AiohttpWebhookSender(session), clock, policy=retry)


async def add_endpoint(exporter: CallRecordExporter, url: str, tenant: str = TENANT) -> None:
    await exporter.endpoints.create(
        WebhookEndpoint(id="hook-1", tenant_id=tenant, url=url, secret=SECRET)
    )


def assert_signed(headers: dict[str, str], body: bytes, clock: VirtualClock) -> None:
    timestamp = headers[TIMESTAMP_HEADER]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert headers[SIGNATURE_HEADER] == f"sha256={expected.hexdigest()}"
    assert verify_signature(
        SECRET,
        body,
        signature=headers[SIGNATURE_HEADER],
        timestamp=timestamp,
        now=clock.now(),
    )


async def test_a_failed_delivery_is_retried_with_backoff_and_the_same_event_id(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    clock = VirtualClock(DAY + timedelta(hours=12))
    store = MemoryStore()
    exporter = exporter_for(store, session, clock)
    await add_endpoint(exporter, receiver.url)
    receiver.statuses = [500, 503]
    assert await exporter.enqueue(RECORDS[0]) == 1
    assert await exporter.deliver_due() == 1  # attempt 1: 500
    assert await exporter.deliver_due() == 0  # not due: 5 s backoff
    clock.advance(5)
    assert await exporter.deliver_due() == 1  # attempt 2: 503
    clock.advance(9.9)
    assert await exporter.deliver_due() == 0  # 10 s backoff
    clock.advance(0.1)
    assert await exporter.deliver_due() == 1  # attempt 3: 200
    assert len(receiver.requests) == 3
    bodies = {body for _, body in receiver.requests}
    assert len(bodies) == 1
    events = {headers[EVENT_ID_HEADER] for headers, _ in receiver.requests}
    assert events == {event_id(TENANT, "r01")}
    for headers, body in receiver.requests:
        assert_signed(headers, body, clock)
    payload = json.loads(bodies.pop())
    assert payload["eventId"] == event_id(TENANT, "r01")
    record = payload["callRecord"]
    assert (record["callId"], record["outcome"], record["waitS"]) == ("r01", "answered", 5.0)
    assert record["agent"] == {"id": "agent-ana", "name": "Ana"}
    delivery = (await exporter.outbox.get(TENANT, "hook-1|r01")).value
    assert (delivery.state, delivery.attempts, delivery.last_status) == (
        DeliveryState.DELIVERED,
        3,
        200,
    )


async def test_a_delivery_gives_up_after_its_last_attempt(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    clock = VirtualClock(DAY)
    exporter = exporter_for(MemoryStore(), session, clock)
    await add_endpoint(exporter, receiver.url)
    receiver.statuses = [500] * 10
    await exporter.enqueue(RECORDS[1])
    for _ in range(4):
        assert await exporter.deliver_due() == 1
        clock.advance(3600)
    assert await exporter.deliver_due() == 0
    delivery = (await exporter.outbox.get(TENANT, "hook-1|r02")).value
    assert (delivery.state, delivery.attempts, delivery.last_error) == (
        DeliveryState.FAILED,
        4,
        "HTTP 500",
    )


async def test_an_unreachable_receiver_is_retried(session: aiohttp.ClientSession) -> None:
    clock = VirtualClock(DAY)
    exporter = exporter_for(MemoryStore(), session, clock)
    port = unused_port()
    await add_endpoint(exporter, f"http://127.0.0.1:{port}/nobody-listens")
    await exporter.enqueue(RECORDS[2])
    assert await exporter.deliver_due() == 1
    delivery = (await exporter.outbox.get(TENANT, "hook-1|r03")).value
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 1)
    assert "ClientConnectorError" in delivery.last_error
    assert delivery.due_at == clock.now() + timedelta(seconds=5)


async def test_queueing_twice_and_delivering_from_two_hosts_sends_once(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    clock = VirtualClock(DAY)
    store = MemoryStore()
    host_a = exporter_for(store, session, clock)
    host_b = exporter_for(store, session, clock)
    await add_endpoint(host_a, receiver.url)
    assert await host_a.enqueue(RECORDS[3]) == 1
    assert await host_b.enqueue(RECORDS[3]) == 0  # a retried finalize, or the sweep
    await asyncio.gather(host_a.deliver_due(), host_b.deliver_due())
    assert len(receiver.requests) == 1


async def test_a_delay_in_the_receiver_never_holds_up_finishing_a_call(
    stack: TabStack, receiver: Receiver
) -> None:
    state = state_of(stack)
    status, _ = await stack.call(
        "POST",
        "/api/tab/admin/webhooks",
        user=ADMIN.id,
        json={"url": receiver.url, "secret": SECRET},
    )
    assert status == 201
    record = demo_record(RECORDS[0])
    await stack.repository.call_records.create(record)
    # The engine's hook only writes the outbox: nothing is sent until the delivery loop runs.
    await state.feed.record_finished(record)
    await state.feed.record_finished(record)
    assert receiver.requests == []
    assert await state.exporter.deliver_due() == 1
    [(headers, body)] = receiver.requests
    assert verify_signature(
        SECRET,
        body,
        signature=headers[SIGNATURE_HEADER],
        timestamp=headers[TIMESTAMP_HEADER],
        now=stack.clock.now(),
    )
    assert json.loads(body)["tenantId"] == DEMO_TENANT_ID
    status, body_json = await stack.call("GET", "/api/tab/admin/webhook-deliveries", user=ADMIN.id)
    [delivery] = body_json["deliveries"]
    assert (delivery["state"], delivery["attempts"], delivery["callId"]) == (
        "delivered",
        1,
        record.id,
    )


async def test_webhook_settings_keep_the_secret_write_only(stack: TabStack) -> None:
    status, created = await stack.call(
        "POST",
        "/api/tab/admin/webhooks",
        user=ADMIN.id,
        json={"url": "https://receiver.example/calls", "secret": SECRET, "description": "CRM"},
    )
    assert status == 201
    assert created["secretHint"] == "…6789"
    assert SECRET not in json.dumps(created)
    status, listed = await stack.call("GET", "/api/tab/admin/webhooks", user=ADMIN.id)
    assert [w["id"] for w in listed["webhooks"]] == [created["id"]]
    assert SECRET not in json.dumps(listed)
    entries = await stack.audit.all(DEMO_TENANT_ID)
    assert entries[0].value.action == "webhook.create"
    assert SECRET not in json.dumps(entries[0].value.after)
    status, body = await stack.call(
        "POST",
        "/api/tab/admin/webhooks",
        user=ADMIN.id,
        json={"url": "http://receiver.example/calls", "secret": SECRET},
    )
    assert (status, body["error"]["details"][0]["field"]) == (422, "url")
    status, _ = await stack.call(
        "POST",
        "/api/tab/admin/webhooks",
        user=ADMIN.id,
        json={"url": "https://receiver.example/calls", "secret": "short"},
    )
    assert status == 422
    status, _ = await stack.call("GET", "/api/tab/admin/webhooks", user=SUPERVISOR.id)
    assert status == 403
    status, _ = await stack.call(
        "DELETE", f"/api/tab/admin/webhooks/{created['id']}", user=ADMIN.id
    )
    assert status == 204
    assert (await stack.audit.all(DEMO_TENANT_ID))[0].value.action == "webhook.delete"
