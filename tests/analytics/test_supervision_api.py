"""Supervisor actions through the tab API: scoped to the supervisor's queues, audited."""

from __future__ import annotations

from dataclasses import replace

from bot import keys
from bot.demo import LINES
from bot.settings import DEMO_TENANT_ID
from contactcenter.model import AgentStatus, Call, CallState
from tests.analytics.support import eventually
from tests.tab.support import ADMIN, ANA, DEV, SALES, SUPERVISOR, SUPPORT, TabStack

SUPERVISION = "/api/tab/supervision"


async def supervise_only(stack: TabStack, queue_id: str) -> None:
    await stack.repository.users.update(
        DEMO_TENANT_ID,
        SUPERVISOR.id,
        lambda u: replace(u, supervised_queue_ids=frozenset({queue_id})),
    )


async def waiting_call_in_sales(stack: TabStack) -> Call:
    """Make every Sales agent unavailable, then place a call: it waits in Sales."""
    engine = stack.app[keys.ENGINE]
    sales = (await stack.repository.queues.get(DEMO_TENANT_ID, SALES)).value
    for member in sales.members:
        await engine.set_status(DEMO_TENANT_ID, member, AgentStatus.AWAY, "meeting")
    placed = await stack.simulator.place_call(
        DEMO_TENANT_ID,
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550123",
    )
    await stack.simulator.wait_for_call(placed.id, state="established", notifications=3)

    async def waiting() -> Call | None:
        found = await stack.repository.calls.get(DEMO_TENANT_ID, placed.id)
        return found.value if found.value.state is CallState.WAITING else None

    result: Call = await eventually(waiting)
    return result


async def audit_actions(stack: TabStack) -> list[str]:
    return [e.value.action for e in await stack.audit.all(DEMO_TENANT_ID)]


async def test_a_supervisor_sees_their_queues_agents_and_waiting_calls(stack: TabStack) -> None:
    await supervise_only(stack, SALES)
    waiting = await waiting_call_in_sales(stack)
    status, body = await stack.call("GET", SUPERVISION, user=SUPERVISOR.id)
    assert status == 200
    assert [q["id"] for q in body["queues"]] == [SALES]
    assert DEV.id not in {a["id"] for a in body["agents"]}
    assert [c["id"] for c in body["calls"]] == [waiting.id]
    assert body["calls"][0]["state"] == "waiting"
    status, _ = await stack.call("GET", SUPERVISION, user=ANA.id)
    assert status == 403


async def test_moving_a_waiting_call_re_routes_it_in_the_new_queue(stack: TabStack) -> None:
    waiting = await waiting_call_in_sales(stack)
    status, body = await stack.call(
        "POST",
        f"{SUPERVISION}/calls/{waiting.id}/move",
        user=SUPERVISOR.id,
        json={"queueId": SUPPORT},
    )
    assert status == 200
    assert body["call"]["queueId"] == SUPPORT
    moved = (await stack.repository.calls.get(DEMO_TENANT_ID, waiting.id)).value
    # The caller kept their place; Support's idle agents were offered the call at once.
    assert (moved.queue_id, moved.queue_hops, moved.offered_at) == (
        SUPPORT,
        (SALES,),
        waiting.offered_at,
    )
    assert moved.state is CallState.RINGING
    assert "call.move" in await audit_actions(stack)
    # It rings an agent now: it is not waiting, so it cannot be moved or re-prioritised.
    status, body = await stack.call(
        "POST", f"{SUPERVISION}/calls/{waiting.id}/priority", user=ADMIN.id, json={"priority": 3}
    )
    assert (status, body["error"]["code"]) == (409, "notWaiting")


async def test_raising_a_waiting_call_s_priority_is_audited(stack: TabStack) -> None:
    waiting = await waiting_call_in_sales(stack)
    status, body = await stack.call(
        "POST",
        f"{SUPERVISION}/calls/{waiting.id}/priority",
        user=SUPERVISOR.id,
        json={"priority": 7},
    )
    assert status == 200
    assert body["call"]["priority"] == 7
    assert (await stack.repository.calls.get(DEMO_TENANT_ID, waiting.id)).value.priority == 7
    entry = (await stack.audit.all(DEMO_TENANT_ID))[0].value
    assert (entry.action, entry.actor_id, entry.target_id) == (
        "call.priority",
        SUPERVISOR.id,
        waiting.id,
    )
    assert (entry.before or {})["priority"] == 0
    assert (entry.after or {})["priority"] == 7
    status, body = await stack.call(
        "POST",
        f"{SUPERVISION}/calls/{waiting.id}/priority",
        user=SUPERVISOR.id,
        json={"priority": 11},
    )
    assert status == 422


async def test_a_supervisor_cannot_touch_other_queues(stack: TabStack) -> None:
    await supervise_only(stack, SUPPORT)
    waiting = await waiting_call_in_sales(stack)
    status, body = await stack.call(
        "POST",
        f"{SUPERVISION}/calls/{waiting.id}/move",
        user=SUPERVISOR.id,
        json={"queueId": SUPPORT},
    )
    assert (status, body["error"]["code"]) == (403, "notYourQueue")
    status, body = await stack.call(
        "POST",
        f"{SUPERVISION}/agents/{ANA.id}/queues/{SALES}/sign-out",
        user=SUPERVISOR.id,
    )
    assert status == 403
    assert (await stack.repository.calls.get(DEMO_TENANT_ID, waiting.id)).value.queue_id == SALES


async def test_a_supervisor_sets_an_agent_s_status_and_signs_them_out_and_in(
    stack: TabStack,
) -> None:
    await supervise_only(stack, SALES)
    status, body = await stack.call(
        "POST",
        f"{SUPERVISION}/agents/{ANA.id}/status",
        user=SUPERVISOR.id,
        json={"status": "away", "reason": "coaching"},
    )
    assert (status, body["error"]["details"][0]["field"]) == (422, "reason")  # not on the list
    status, body = await stack.call(
        "POST",
        f"{SUPERVISION}/agents/{ANA.id}/status",
        user=SUPERVISOR.id,
        json={"status": "away", "reason": "training"},
    )
    assert status == 200
    assert (body["status"], body["notReadyReason"]) == ("away", "Training")
    status, body = await stack.call(
        "POST", f"{SUPERVISION}/agents/{DEV.id}/status", user=SUPERVISOR.id, json={"status": "away"}
    )
    assert (status, body["error"]["code"]) == (403, "notYourAgent")

    status, body = await stack.call(
        "POST", f"{SUPERVISION}/agents/{ANA.id}/queues/{SALES}/sign-out", user=SUPERVISOR.id
    )
    assert status == 200
    assert SALES not in body["signedInQueueIds"]
    status, body = await stack.call(
        "POST", f"{SUPERVISION}/agents/{ANA.id}/queues/{SALES}/sign-in", user=SUPERVISOR.id
    )
    assert SALES in body["signedInQueueIds"]
    agent = (await stack.repository.agents.get(DEMO_TENANT_ID, ANA.id)).value
    assert SALES in agent.signed_in_queue_ids
    actions = await audit_actions(stack)
    assert actions[:3] == ["agent.sign-in", "agent.sign-out", "agent.status"]


async def test_each_agent_shows_their_state_and_since_when(stack: TabStack) -> None:
    engine = stack.app[keys.ENGINE]
    await engine.set_status(DEMO_TENANT_ID, ANA.id, AgentStatus.AWAY, "meeting")
    status, body = await stack.call("GET", SUPERVISION, user=ADMIN.id)
    ana = next(a for a in body["agents"] if a["id"] == ANA.id)
    assert ana["state"] == "not-ready"
    stack.clock.advance(30)  # type: ignore[attr-defined]
    status, later = await stack.call("GET", SUPERVISION, user=ADMIN.id)
    assert next(a for a in later["agents"] if a["id"] == ANA.id)["stateSince"] == ana["stateSince"]
    status, changed = await stack.call(
        "POST",
        f"{SUPERVISION}/agents/{ANA.id}/status",
        user=ADMIN.id,
        json={"status": "available"},
    )
    assert status == 200
    assert changed["state"] == "available"
    assert changed["stateSince"] > ana["stateSince"]
    # The change is kept on the agent, for every host and after a restart.
    stored = (await stack.repository.agents.get(DEMO_TENANT_ID, ANA.id)).value
    assert stored.status_since == stack.clock.now()
