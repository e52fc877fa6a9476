"""Tenant isolation: a user of tenant B, with every role, reaching for tenant A's data.

Every operation of the tab API (from its OpenAPI document, so a new endpoint is covered
the day it is added) is called by tenant B's admin (also supervisor and agent) with the
ids of tenant A's queues, users, agents, calls and bindings, in the path and in the body.
Where the path names tenant A's data the answer is 404 or 403; whatever the answer, it
carries nothing of tenant A's, and tenant A's documents are unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from bot.demo import LINES
from tests.security.conftest import A_CALL, B_ADMIN, TENANT_A, TENANT_B, tenant_a_markers
from tests.security.support import (
    Operation,
    changes,
    example_body,
    feature_off,
    new_id,
    refused,
    snapshot,
    tab_operations,
)
from tests.tab.support import ANA, SALES, TabStack

# Tenant A's ids, by the name of the path parameter that takes them.
A_IDS = {
    "queueId": SALES,
    "userId": ANA.id,
    "agentId": ANA.id,
    "callId": A_CALL,
    "bindingId": LINES[0].application_instance_id,
}


def _tenant(snap: dict[tuple[str, str, str], Any], tenant_id: str) -> dict[Any, Any]:
    return {k: v for k, v in snap.items() if k[1] == tenant_id}


async def _document(tab: TabStack) -> dict[str, Any]:
    async with tab.host.get("/api/tab/openapi.json") as response:
        document: dict[str, Any] = await response.json()
        return document


async def _call(
    tab: TabStack, document: dict[str, Any], operation: Operation, *, unknown: bool = False
) -> tuple[int, str, str]:
    """Call an operation as tenant B's admin with tenant A's ids; return status, URL, body.

    ``unknown``: with ids that exist nowhere instead, for comparison.
    """
    url = operation.url(
        {name: new_id() if unknown else A_IDS.get(name, SALES) for name in operation.parameters}
    )
    body = (
        example_body(document, operation.body_schema, {"queue": SALES, "user": ANA.id})
        if operation.body_schema
        else None
    )
    headers = tab.auth(B_ADMIN, tenant_id=TENANT_B)
    async with tab.host.request(operation.method, url, json=body, headers=headers) as response:
        return response.status, url + json.dumps(body), await response.text()


def _code(text: str) -> str | None:
    try:
        return str(json.loads(text)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def _leaks(text: str, sent: str) -> list[str]:
    """Tenant A's markers in a response that the request itself did not carry."""
    return sorted(m for m in tenant_a_markers() if m in text and m not in sent)


async def test_tenant_b_reaches_nothing_of_tenant_a_through_any_endpoint(tab: TabStack) -> None:
    document = await _document(tab)
    operations = [op for op in await tab_operations(tab.host) if op.signed_in and not op.stream]
    # Reads first, then changes, deletions last: each must find tenant A as it was.
    operations.sort(key=lambda op: ["GET", "POST", "PUT", "PATCH", "DELETE"].index(op.method))
    before = _tenant(await snapshot(tab.repository.store), TENANT_A)
    refusals: dict[str, int] = {}
    for operation in operations:
        status, sent, text = await _call(tab, document, operation)
        if feature_off(status, text):
            continue
        assert status < 500, (operation.label, status, text)
        assert _leaks(text, sent) == [], (operation.label, text)
        if operation.parameters:
            # Tenant A's ids open nothing: 404 or 403, or exactly what ids that exist
            # nowhere get (no answer tells that tenant A's id exists).
            unknown_status, _, unknown_text = await _call(tab, document, operation, unknown=True)
            assert status in {403, 404} or (status, _code(text)) == (
                unknown_status,
                _code(unknown_text),
            ), (operation.label, status, text)
        after = _tenant(await snapshot(tab.repository.store), TENANT_A)
        assert changes(before, after) == [], operation.label
        refusals[operation.label] = status
        refused(operation.label)
    assert len(refusals) >= 20


async def test_tenant_b_sees_only_its_own_lists(tab: TabStack) -> None:
    """The list endpoints answer with tenant B's data, and only that."""
    headers = tab.auth(B_ADMIN, tenant_id=TENANT_B)
    async with tab.host.get("/api/tab/admin/users", headers=headers) as response:
        users = (await response.json())["users"]
    assert {u["id"] for u in users} == {B_ADMIN, "b1000000-0000-4000-8000-000000000002"}
    async with tab.host.get("/api/tab/admin/queues", headers=headers) as response:
        queues = (await response.json())["queues"]
    assert [q["name"] for q in queues] == ["Fabrikam Help"]
    async with tab.host.get("/api/tab/queues/live", headers=headers) as response:
        live = (await response.json())["queues"]
    assert [q["name"] for q in live] == ["Fabrikam Help"]
    async with tab.host.get("/api/tab/admin/audit", headers=headers) as response:
        assert _leaks(await response.text(), "") == []
