"""Request bodies: size limits (413) and content types (415), in the JSON error shape.

Every tab operation that takes a body (from the OpenAPI document) is sent a body that is
too large, with and without a Content-Length, one that is not JSON, and one of another
media type; the webhooks get the same treatment. Nothing is stored on the way.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.http import MAX_BODY_BYTES
from tab.endpoints import MAX_TAB_BODY_BYTES
from tests.security.support import changes, refused, snapshot, tab_operations
from tests.tab.support import ADMIN, ANA, SALES, TabStack

PARAMETERS = {"queueId": SALES, "agentId": ANA.id, "userId": ANA.id}


def _padded(size: int) -> bytes:
    """A JSON object that is valid in its first bytes and ``size`` bytes long in all."""
    head = b'{"name": "x"}'
    return head + b" " * (size - len(head))


async def _chunks(data: bytes, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _slowly(data: bytes, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    """Send like a slow client: the server sees the first chunk before the rest arrives."""
    for start in range(0, len(data), size):
        yield data[start : start + size]
        await asyncio.sleep(0.005)


def _user_for(access: str) -> str:
    return ANA.id if access == "agent" else ADMIN.id


async def _send(
    tab: TabStack, method: str, url: str, user: str, data: Any, content_type: str | None
) -> tuple[int, dict[str, Any] | None]:
    headers = dict(tab.auth(user))
    if content_type is not None:
        headers["Content-Type"] = content_type
    async with tab.host.request(method, url, data=data, headers=headers) as response:
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("too-large", 413),
        ("too-large-chunked", 413),
        ("just-too-large-chunked", 413),
        ("too-large-sent-slowly", 413),
        ("not-json", 400),
        ("not-utf8", 400),
        ("json-array", 422),
        ("json-null", 422),
        ("deeply-nested", 422),
        ("text-plain", 415),
        ("form", 415),
        ("no-content-type", 415),
        ("json-lookalike-type", 415),
    ],
)
async def test_every_body_is_checked_before_it_is_used(
    tab: TabStack, case: str, expected: int
) -> None:
    bodies = [op for op in await tab_operations(tab.host) if op.body_schema and op.signed_in]
    assert len(bodies) >= 6
    before = await snapshot(tab.repository.store)
    for operation in bodies:
        url = operation.url({p: PARAMETERS.get(p, SALES) for p in operation.parameters})
        content_type: str | None = "application/json"
        data: Any
        if case == "too-large":
            data = io.BytesIO(_padded(MAX_TAB_BODY_BYTES + 1))
        elif case == "too-large-chunked":
            data = _chunks(_padded(4 * MAX_TAB_BODY_BYTES))
        elif case == "too-large-sent-slowly":
            data = _slowly(_padded(2 * MAX_TAB_BODY_BYTES))
        elif case == "just-too-large-chunked":
            data = _chunks(_padded(MAX_TAB_BODY_BYTES + 1))
        elif case == "not-json":
            data = b"{not json"
        elif case == "not-utf8":
            data = b'{"name": "\xff\xfe"}'
        elif case == "json-array":
            data = b"[]"
        elif case == "json-null":
            data = b"null"
        elif case == "deeply-nested":
            data = json.dumps({"name": [[[[[[[[[[[[[["x"]]]]]]]]]]]]]]}).encode()
        else:
            data = b'{"name": "x"}'
            content_type = {
                "text-plain": "text/plain",
                "form": "application/x-www-form-urlencoded",
                "no-content-type": None,
                "json-lookalike-type": "application/jsonx",
            }[case]
        status, body = await _send(
            tab, operation.method, url, _user_for(operation.access), data, content_type
        )
        assert status == expected, (operation.label, status, body)
        assert body is not None, operation.label
        assert set(body["error"]) >= {"code", "message"}, operation.label
        refused(operation.label)
    assert changes(before, await snapshot(tab.repository.store)) == []


@pytest.mark.parametrize("path", ["/api/calling", "/api/notifications", "/api/messages"])
async def test_a_webhook_body_over_the_host_limit_gets_413_or_401_first(
    tab: TabStack, path: str
) -> None:
    """Unauthenticated webhooks refuse before reading; the notifications webhook has no token."""
    data = io.BytesIO(_padded(MAX_BODY_BYTES + 1))
    async with tab.host.post(
        path, data=data, headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status in {401, 413}
        assert set((await response.json())["error"]) >= {"code", "message"}
    refused(f"POST {path}")
