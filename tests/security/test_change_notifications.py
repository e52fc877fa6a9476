"""``/api/notifications``: the validation handshake and clientState, against hostile input.

The handshake echoes only a sane token (1-1024 printable characters) as text/plain; a
notification item is used only when its subscription exists, its clientState matches
(compared in constant time) and its tenant is active; anything else is dropped, and a
body that is not a change-notification collection is refused whole.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from bot.http import MAX_BODY_BYTES
from bot.notifications import MAX_VALIDATION_TOKEN_CHARS, SUBSCRIPTIONS
from bot.settings import DEMO_TENANT_ID
from contactcenter.model import Tenant, TenantStatus
from tests.security.conftest import TENANT_B
from tests.security.support import changes, refused, snapshot
from tests.tab.support import TabStack

ENDPOINT = "POST /api/notifications"
SUBSCRIPTION = "7f2c5c0e-3a44-4c58-9a3e-5d6f7a8b9c0d"
SECRET = "a-client-state-secret-of-the-subscription"
TERMINATED = "77777777-7777-4777-8777-777777777777"
GRAPH_TOKEN = (
    "Validation: Testing client application reachability for subscription "
    "Request-Id: 5d5c1a4f-8d56-4b3c-9f0e-8b1f0a2c3d4e"
)


def item(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "subscriptionId": SUBSCRIPTION,
        "clientState": SECRET,
        "changeType": "updated",
        "resource": "communications/presences/abc",
        "tenantId": DEMO_TENANT_ID,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


async def _subscribe(tab: TabStack, tenant_id: str = DEMO_TENANT_ID) -> None:
    await tab.repository.store.upsert(
        SUBSCRIPTIONS, tenant_id, SUBSCRIPTION, {"clientState": SECRET}
    )


async def _post(
    tab: TabStack, body: bytes, content_type: str | None = "application/json", query: str = ""
) -> tuple[int, str, Any]:
    headers = {} if content_type is None else {"Content-Type": content_type}
    data = io.BytesIO(body)
    async with tab.host.post(f"/api/notifications{query}", data=data, headers=headers) as response:
        text = await response.text()
        decoded = json.loads(text) if response.content_type == "application/json" and text else text
        return response.status, response.content_type, decoded


# ------------------------------------------------------------------ handshake
async def test_the_handshake_echoes_graphs_token_as_plain_text(tab: TabStack) -> None:
    async with tab.host.post("/api/notifications", params={"validationToken": GRAPH_TOKEN}) as r:
        assert r.status == 200
        assert r.content_type == "text/plain"
        assert await r.text() == GRAPH_TOKEN
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Content-Security-Policy"] == "default-src 'none'"


INSANE_TOKENS = [
    "",
    "line\nbreak",
    "carriage\rreturn",
    "header\r\nInjected: yes",
    "nul\x00byte",
    "escape\x1b[31m",
    "tab\tcharacter",
    "bell\x07",
    "delete\x7f",
    "c1\x85control",
    "line\u2028separator",
    "x" * (MAX_VALIDATION_TOKEN_CHARS + 1),
    # Longer than aiohttp's request-line limit: refused before any handler runs.
    "y" * 10_000,
]


async def test_an_insane_validation_token_is_refused_not_echoed(tab: TabStack) -> None:
    for token in INSANE_TOKENS:
        async with tab.host.post("/api/notifications", params={"validationToken": token}) as r:
            assert r.status == 400, repr(token[:20])
            assert not token or token not in await r.text()
            # Even the request line aiohttp's parser refuses gets our JSON error.
            expected = "malformedRequest" if len(token) > 8190 else "invalidValidationToken"
            assert (await r.json())["error"]["code"] == expected
        refused(ENDPOINT)


async def test_a_token_of_the_maximum_size_is_echoed(tab: TabStack) -> None:
    token = "z" * MAX_VALIDATION_TOKEN_CHARS
    async with tab.host.post("/api/notifications", params={"validationToken": token}) as r:
        assert r.status == 200
        assert await r.text() == token


# ---------------------------------------------------------------- clientState
DROPPED: list[tuple[str, dict[str, Any]]] = [
    ("wrong-client-state", {"clientState": "guessed"}),
    ("client-state-prefix", {"clientState": SECRET[:-1]}),
    ("client-state-longer", {"clientState": SECRET + "x"}),
    ("missing-client-state", {"clientState": None}),
    ("empty-client-state", {"clientState": ""}),
    ("unknown-subscription", {"subscriptionId": "00000000-0000-4000-8000-000000000000"}),
    ("no-tenant", {"tenantId": None}),
    ("other-tenant", {"tenantId": TENANT_B}),
    ("terminated-tenant", {"tenantId": TERMINATED}),
]


async def test_an_item_without_the_right_client_state_is_dropped(
    tab: TabStack, caplog: pytest.LogCaptureFixture
) -> None:
    await _subscribe(tab)
    await tab.repository.tenants.create(
        Tenant(TERMINATED, "Gone", status=TenantStatus.TERMINATED, terminated_at=tab.clock.now())
    )
    await _subscribe(tab, TERMINATED)
    before = await snapshot(tab.repository.store)
    caplog.set_level(logging.WARNING, logger="bot.notifications")
    for case, changes_ in DROPPED:
        caplog.clear()

        status, _, _ = await _post(tab, json.dumps({"value": [item(**changes_)]}).encode())

        # Graph retries anything but 2xx: a forged item is acknowledged and dropped.
        assert status == 202, case
        assert [r.message for r in caplog.records if "refused" in r.message], case
        assert changes(before, await snapshot(tab.repository.store)) == [], case
        refused(ENDPOINT)


async def test_an_item_with_the_right_client_state_is_taken(
    tab: TabStack, caplog: pytest.LogCaptureFixture
) -> None:
    await _subscribe(tab)
    caplog.set_level(logging.WARNING, logger="bot.notifications")

    status, _, _ = await _post(tab, json.dumps({"value": [item()]}).encode())

    assert status == 202
    assert not [r for r in caplog.records if "refused" in r.message]


# ------------------------------------------------------------------ the body
MALFORMED: list[bytes] = [
    b"",
    b"not json",
    b"{",
    b"[]",
    b"null",
    b'{"value": {}}',
    b'{"value": "x"}',
    b'{"value": [1]}',
    b'{"value": [{"clientState": "x"}]}',
    b'{"value": [{"subscriptionId": "", "changeType": "u", "resource": "r"}]}',
    b"\xff\xfe\x00",
    json.dumps({"value": [{"a": "b"}] * 3}).encode(),
]


async def test_a_malformed_body_gets_400_and_changes_nothing(tab: TabStack) -> None:
    before = await snapshot(tab.repository.store)
    for body in MALFORMED:
        status, content_type, answer = await _post(tab, body)

        assert status == 400, body
        assert content_type == "application/json", body
        assert set(answer["error"]) >= {"code", "message"}, body
        refused(ENDPOINT)
    assert changes(before, await snapshot(tab.repository.store)) == []


async def test_an_oversized_body_gets_413_in_the_error_shape(tab: TabStack) -> None:
    padding = " " * (MAX_BODY_BYTES + 1)
    status, _, answer = await _post(tab, ('{"value": []}' + padding).encode())

    assert status == 413
    assert answer["error"]["code"] == "payloadTooLarge"
    refused(ENDPOINT)


async def test_a_body_that_is_not_json_gets_415(tab: TabStack) -> None:
    for content_type in (
        None,
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
    ):
        status, _, answer = await _post(
            tab, json.dumps({"value": [item()]}).encode(), content_type=content_type
        )

        assert status == 415, content_type
        assert answer["error"]["code"] == "unsupportedMediaType"
        refused(ENDPOINT)


async def test_other_methods_get_405(tab: TabStack) -> None:
    for method in ("GET", "PUT", "DELETE"):
        async with tab.host.request(method, "/api/notifications") as response:
            assert response.status == 405
    refused(ENDPOINT, 3)
