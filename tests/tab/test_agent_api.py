"""The agent workspace's API: status, queue sign-in, offers, calls and live queue numbers."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.demo import LINES
from contactcenter.clock import VirtualClock
from contactcenter.model import (
    AgentActivity,
    AgentStatus,
    Call,
    CallOutcome,
    CallRecord,
    CallState,
    Party,
    PartyKind,
)
from tests.tab.support import ADMIN, ANA, BEN, DEV, SALES, SUPERVISOR, SUPPORT, TabStack


async def test_me_tells_an_agent_their_roles_state_and_queues(tab: TabStack) -> None:
    status, me = await tab.call("GET", "/api/tab/me", user=ANA.id)
    assert status == 200
    assert me["tenant"]["name"] == "Contoso (demo)"
    assert me["agent"]["status"] == "available"
    assert me["agent"]["activity"] == "idle"
    assert me["queues"] == [{"id": SALES, "name": "Sales", "signedIn": True}]
    assert me["offer"] is None
    assert me["demo"] is True


async def test_me_has_no_agent_part_for_an_admin(tab: TabStack) -> None:
    status, me = await tab.call("GET", "/api/tab/me", user=ADMIN.id)
    assert status == 200
    assert me["user"]["roles"] == ["admin"]
    assert me["agent"] is None
    assert me["queues"] == []


async def test_an_agent_sets_away_with_a_reason(tab: TabStack) -> None:
    status, me = await tab.call(
        "POST", "/api/tab/me/status", user=ANA.id, json={"status": "away", "reason": " Lunch "}
    )
    assert status == 200
    assert me["agent"]["status"] == "away"
    assert me["agent"]["notReadyReason"] == "Lunch"
    stored = (await tab.repository.agents.get(tab.settings.microsoft_app_tenant_id, ANA.id)).value
    assert stored.status is AgentStatus.AWAY
    assert stored.not_ready_reason == "Lunch"


async def test_becoming_available_clears_the_reason(tab: TabStack) -> None:
    status, me = await tab.call(
        "POST", "/api/tab/me/status", user=ANA.id, json={"status": "away", "reason": "Break"}
    )
    assert (status, me["agent"]["notReadyReason"]) == (200, "Break")
    status, me = await tab.call(
        "POST", "/api/tab/me/status", user=ANA.id, json={"status": "available", "reason": "Break"}
    )
    assert status == 200
    assert me["agent"]["status"] == "available"
    assert me["agent"]["notReadyReason"] is None


async def test_an_unknown_status_is_refused_field_by_field(tab: TabStack) -> None:
    status, body = await tab.call(
        "POST", "/api/tab/me/status", user=ANA.id, json={"status": "napping", "reason": "x" * 101}
    )
    assert status == 422
    assert body["error"]["code"] == "validationFailed"
    assert [d["field"] for d in body["error"]["details"]] == ["status", "reason"]
    stored = (await tab.repository.agents.get(tab.settings.microsoft_app_tenant_id, ANA.id)).value
    assert stored.status is AgentStatus.AVAILABLE


async def test_an_unknown_field_is_refused(tab: TabStack) -> None:
    status, body = await tab.call(
        "POST", "/api/tab/me/status", user=ANA.id, json={"status": "away", "mood": "happy"}
    )
    assert status == 422
    assert body["error"]["details"][0]["field"] == "mood"


async def test_a_body_that_is_not_json_gets_415(tab: TabStack) -> None:
    headers = {**tab.auth(ANA.id), "Content-Type": "text/plain"}
    async with tab.host.post("/api/tab/me/status", data="away", headers=headers) as response:
        assert response.status == 415
        assert (await response.json())["error"]["code"] == "unsupportedMediaType"


async def test_malformed_json_gets_400(tab: TabStack) -> None:
    headers = {**tab.auth(ANA.id), "Content-Type": "application/json"}
    async with tab.host.post("/api/tab/me/status", data="{", headers=headers) as response:
        assert response.status == 400


async def test_a_large_body_gets_413(tab: TabStack) -> None:
    status, _ = await tab.call(
        "POST", "/api/tab/me/status", user=ANA.id, json={"status": "away", "reason": "x" * 70_000}
    )
    assert status == 413


async def test_an_agent_signs_out_of_and_back_in_to_a_queue(tab: TabStack) -> None:
    tenant = tab.settings.microsoft_app_tenant_id
    status, me = await tab.call("POST", f"/api/tab/me/queues/{SALES}/sign-out", user=ANA.id)
    assert status == 200
    assert me["queues"] == [{"id": SALES, "name": "Sales", "signedIn": False}]
    assert SALES not in (await tab.repository.agents.get(tenant, ANA.id)).value.signed_in_queue_ids
    status, me = await tab.call("POST", f"/api/tab/me/queues/{SALES}/sign-in", user=ANA.id)
    assert status == 200
    assert me["queues"][0]["signedIn"] is True
    assert SALES in (await tab.repository.agents.get(tenant, ANA.id)).value.signed_in_queue_ids


async def test_an_agent_cannot_sign_in_to_a_queue_they_are_not_in(tab: TabStack) -> None:
    status, body = await tab.call("POST", f"/api/tab/me/queues/{SUPPORT}/sign-in", user=ANA.id)
    assert status == 403
    assert body["error"]["code"] == "notAMember"
    status, _ = await tab.call("POST", "/api/tab/me/queues/no-such-queue/sign-in", user=ANA.id)
    assert status == 404


async def test_ending_wrap_up_outside_wrap_up_is_a_conflict(tab: TabStack) -> None:
    status, body = await tab.call("POST", "/api/tab/me/wrap-up/end", user=ANA.id)
    assert status == 409
    assert body["error"]["code"] == "notInWrapUp"


async def test_an_agent_ends_wrap_up_early(tab: TabStack, clock: VirtualClock) -> None:
    tenant = tab.settings.microsoft_app_tenant_id
    until = clock.now() + timedelta(seconds=30)
    await tab.repository.agents.update(
        tenant,
        DEV.id,
        lambda a: replace(a, activity=AgentActivity.WRAP_UP, wrap_up_until=until),
    )
    status, me = await tab.call("GET", "/api/tab/me", user=DEV.id)
    assert me["agent"]["activity"] == "wrap-up"
    status, me = await tab.call("POST", "/api/tab/me/wrap-up/end", user=DEV.id)
    assert status == 200
    assert me["agent"]["activity"] == "idle"
    assert me["agent"]["wrapUpUntil"] is None


async def test_an_offer_is_shown_and_declined_to_the_next_agent(tab: TabStack) -> None:
    tenant = tab.settings.microsoft_app_tenant_id
    placed = await tab.simulator.place_call(
        tenant,
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550199",
    )
    await tab.simulator.wait_for_call(placed.id, requests=2)  # answer, then the invitation
    status, me = await tab.call("GET", "/api/tab/me", user=ANA.id)
    offer = me["offer"]
    assert offer["callId"] == placed.id
    assert offer["queueName"] == "Sales"
    assert offer["caller"] == {"kind": "phone", "id": "+14255550199", "displayName": ""}
    assert offer["cardFirst"] is False
    status, me = await tab.call("POST", f"/api/tab/me/offers/{placed.id}/decline", user=ANA.id)
    assert status == 200
    assert me["offer"] is None

    # Declining cancelled Ana's invitation and invited the next agent.
    call = await tab.simulator.call(placed.id)
    ringing = [r for r in call["requests"] if "/participants" in r["path"]]
    assert [r["method"] for r in ringing] == ["POST", "DELETE", "POST"]
    assert (await tab.repository.agents.get(tenant, BEN.id)).value.current_call_id == placed.id
    status, body = await tab.call("POST", f"/api/tab/me/offers/{placed.id}/decline", user=ANA.id)
    assert status == 409
    assert body["error"]["code"] == "offerGone"


async def test_a_card_first_offer_is_accepted_in_the_tab(tab: TabStack) -> None:
    tenant = tab.settings.microsoft_app_tenant_id
    status, sales = await tab.call("GET", f"/api/tab/admin/queues/{SALES}", user=ADMIN.id)
    body = {k: v for k, v in sales.items() if k not in {"id", "etag"}}
    status, _ = await tab.call(
        "PUT",
        f"/api/tab/admin/queues/{SALES}",
        user=ADMIN.id,
        json={**body, "alertingModel": "card-first"},
    )
    assert status == 200
    placed = await tab.simulator.place_call(
        tenant,
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550198",
    )

    # Handled once delivered: incoming, establishing, established.
    await tab.simulator.wait_for_call(placed.id, state="established", notifications=3)
    status, me = await tab.call("GET", "/api/tab/me", user=ANA.id)
    assert me["offer"]["cardFirst"] is True
    assert me["offer"]["accepted"] is False
    status, me = await tab.call("POST", f"/api/tab/me/offers/{placed.id}/accept", user=ANA.id)
    assert status == 200
    assert me["offer"]["accepted"] is True
    call = await tab.simulator.wait_for_call(placed.id, requests=2)
    assert call["requests"][-1]["path"].endswith("/participants/invite")


async def test_accepting_an_offer_that_is_gone_is_a_conflict(tab: TabStack) -> None:
    status, body = await tab.call("POST", "/api/tab/me/offers/no-such-call/accept", user=ANA.id)
    assert status == 409
    assert body["error"]["code"] == "offerGone"


def _record(
    call_id: str, agent_id: str | None, ended_minutes_ago: int, clock: VirtualClock
) -> CallRecord:
    ended = clock.now() - timedelta(minutes=ended_minutes_ago)
    return CallRecord(
        id=call_id,
        tenant_id="0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5",
        chain_id="",
        direction="incoming",
        caller=Party(PartyKind.PHONE, "+14255550100"),
        queue_id=SALES,
        queue_name="Sales",
        offered_at=ended - timedelta(minutes=3),
        answered_at=ended - timedelta(minutes=2),
        ended_at=ended,
        outcome=CallOutcome.ANSWERED,
        wait_s=60.0,
        talk_s=120.0,
        agent_id=agent_id,
    )


async def test_my_calls_are_mine_newest_first(tab: TabStack, clock: VirtualClock) -> None:
    for record in (
        _record("old", ANA.id, 30, clock),
        _record("new", ANA.id, 5, clock),
        _record("bens", BEN.id, 1, clock),
    ):
        await tab.repository.call_records.create(record)
    status, body = await tab.call("GET", "/api/tab/me/calls?limit=5", user=ANA.id)
    assert status == 200
    assert [c["id"] for c in body["calls"]] == ["new", "old"]
    assert body["calls"][0]["talkS"] == 120.0


async def test_a_bad_limit_is_refused(tab: TabStack) -> None:
    status, body = await tab.call("GET", "/api/tab/me/calls?limit=0", user=ANA.id)
    assert status == 422
    assert body["error"]["details"][0]["field"] == "limit"


async def test_live_queues_count_waiting_callers_and_agents(
    tab: TabStack, clock: VirtualClock
) -> None:
    tenant = tab.settings.microsoft_app_tenant_id
    await tab.repository.calls.create(
        Call(
            id="waiting-1",
            tenant_id=tenant,
            caller=Party(PartyKind.PHONE, "+14255550111"),
            target_id=LINES[0].phone,
            state=CallState.WAITING,
            queue_id=SALES,
            offered_at=clock.now() - timedelta(seconds=42),
        )
    )
    await tab.call("POST", "/api/tab/me/status", user=BEN.id, json={"status": "away"})
    status, live = await tab.call("GET", "/api/tab/queues/live", user=ANA.id)
    assert status == 200
    assert [q["name"] for q in live["queues"]] == ["Sales"]
    sales = live["queues"][0]
    assert sales["waiting"] == 1
    assert sales["longestWaitS"] == 42.0
    assert sales["agents"] == {
        "available": 2,
        "ringing": 0,
        "onCall": 0,
        "wrapUp": 0,
        "notReady": 1,
        "signedOut": 0,
    }


@pytest.mark.parametrize(("who", "queues"), [(SUPERVISOR.id, 2), (ADMIN.id, 2), (DEV.id, 1)])
async def test_live_queues_show_what_the_role_may_see(tab: TabStack, who: str, queues: int) -> None:
    status, live = await tab.call("GET", "/api/tab/queues/live", user=who)
    assert status == 200
    assert len(live["queues"]) == queues


async def test_an_admin_without_the_agent_role_cannot_use_agent_actions(tab: TabStack) -> None:
    status, body = await tab.call(
        "POST", "/api/tab/me/status", user=ADMIN.id, json={"status": "away"}
    )
    assert status == 403
    assert body["error"]["code"] == "forbidden"
