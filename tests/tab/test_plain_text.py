"""Names and single-line text refuse control and bidirectional-override characters.

U+202E (right-to-left override) makes ``Invoice\u202efdp.exe`` read as ``Invoiceexe.pdf``;
a NUL ends the name early in some consumers; a line break splits a CSV row or log line.
Each is refused with 422 and a field error naming the field; nothing is stored.
"""

from __future__ import annotations

import uuid

import pytest

from tests.security.support import changes, snapshot
from tests.tab.support import ADMIN, ANA, TabStack

UNSAFE = ["Eve\x00", "Eve\u202eevE", "Eve\u2066x\u2069", "Eve\nMallory", "Eve\x1b[31m", "E\u2028ve"]


@pytest.mark.parametrize("name", UNSAFE)
async def test_a_user_name_with_a_control_or_bidi_character_is_refused(
    tab: TabStack, name: str
) -> None:
    before = await snapshot(tab.repository.store)
    status, body = await tab.call(
        "POST",
        "/api/tab/admin/users",
        user=ADMIN.id,
        json={"id": str(uuid.uuid4()), "displayName": name},
    )
    assert status == 422, body
    assert [d["field"] for d in body["error"]["details"]] == ["displayName"]
    assert "control or bidirectional-override" in body["error"]["details"][0]["message"]
    assert changes(before, await snapshot(tab.repository.store)) == []


async def test_a_not_ready_reason_with_an_override_is_refused(tab: TabStack) -> None:
    status, body = await tab.call(
        "POST", "/api/tab/me/status", user=ANA.id, json={"status": "away", "reason": "Lu\u202ench"}
    )
    assert status == 422
    assert body["error"]["details"][0]["field"] == "reason"


async def test_a_report_far_in_the_future_is_refused_not_overflowed(tab: TabStack) -> None:
    for query in ("from=9999-12-31", "from=2026-03-01&to=9999-12-31", "to=0001-01-01"):
        status, body = await tab.call("GET", f"/api/tab/reports/queues?{query}", user=ADMIN.id)
        assert status == 422, (query, body)
        assert body["error"]["details"][0]["field"] in {"from", "to"}
    status, body = await tab.call(
        "GET", f"/api/tab/reports/agents/{ANA.id}/timeline?day=9999-12-31", user=ADMIN.id
    )
    assert (status, body["error"]["details"][0]["field"]) == (422, "day")
