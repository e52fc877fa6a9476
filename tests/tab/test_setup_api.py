"""Setting up what the engine can do through the API: agents' skills and supervisors' scopes."""

from __future__ import annotations

from typing import Any

from bot.demo import LINES
from tests.tab.support import ADMIN, ANA, BEN, SALES, SUPERVISOR, SUPPORT, TabStack

QUEUES = "/api/tab/admin/queues"


def tenant(tab: TabStack) -> str:
    return tab.settings.microsoft_app_tenant_id


async def actions(tab: TabStack) -> list[str]:
    return [e.value.action for e in await tab.audit.all(tenant(tab))]


async def require_skills(tab: TabStack, queue_id: str, skills: dict[str, int]) -> None:
    status, queue = await tab.call("GET", f"{QUEUES}/{queue_id}", user=ADMIN.id)
    body = {k: v for k, v in queue.items() if k not in {"id", "etag"}}
    status, saved = await tab.call(
        "PUT", f"{QUEUES}/{queue_id}", user=ADMIN.id, json={**body, "requiredSkills": skills}
    )
    assert status == 200, saved


async def set_skills(tab: TabStack, agent_id: str, skills: dict[str, int]) -> dict[str, Any]:
    status, user = await tab.call(
        "PUT", f"/api/tab/admin/agents/{agent_id}/skills", user=ADMIN.id, json={"skills": skills}
    )
    assert status == 200, user
    return dict(user)


# ----------------------------------------------------------------------- skills
async def test_an_admin_sets_an_agents_skills_and_levels(tab: TabStack) -> None:
    user = await set_skills(tab, BEN.id, {"spanish": 4, "billing": 2})
    assert user["agent"]["skills"] == {"spanish": 4, "billing": 2}
    stored = (await tab.repository.agents.get(tenant(tab), BEN.id)).value
    assert stored.skills == {"spanish": 4, "billing": 2}
    assert "agent.skills" in await actions(tab)


async def test_a_skill_level_outside_one_to_ten_is_refused(tab: TabStack) -> None:
    status, _ = await tab.call(
        "PUT", f"/api/tab/admin/agents/{BEN.id}/skills", user=ADMIN.id,
        json={"skills": {"spanish": 11}},
    )  # fmt: skip
    assert status == 422
    assert (await tab.repository.agents.get(tenant(tab), BEN.id)).value.skills == {"billing": 4}


async def test_skills_are_only_for_agents(tab: TabStack) -> None:
    status, _ = await tab.call(
        "PUT", f"/api/tab/admin/agents/{SUPERVISOR.id}/skills", user=ADMIN.id,
        json={"skills": {"spanish": 3}},
    )  # fmt: skip
    assert status == 404


async def test_skills_set_through_the_api_route_a_call_to_the_agent_who_has_them(
    tab: TabStack,
) -> None:
    # Ana would be first (longest idle, first member); only Ben will have the skill.
    await set_skills(tab, ANA.id, {"billing": 3})
    await set_skills(tab, BEN.id, {"portuguese": 3})
    await require_skills(tab, SALES, {"portuguese": 2})
    placed = await tab.simulator.place_call(
        tenant(tab),
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550197",
    )
    call = await tab.simulator.wait_for_call(placed.id, requests=2)  # answer, then the invite
    assert call["requests"][-1]["path"].endswith("/participants/invite")
    assert (await tab.repository.agents.get(tenant(tab), BEN.id)).value.current_call_id == (
        placed.id
    )
    assert (await tab.repository.agents.get(tenant(tab), ANA.id)).value.current_call_id is None


# ------------------------------------------------------------------------ scopes
async def scope(tab: TabStack, user_id: str, **body: Any) -> tuple[int, Any]:
    return await tab.call(
        "PUT", f"/api/tab/admin/users/{user_id}/supervised-queues", user=ADMIN.id, json=body
    )


async def wallboard_queue_ids(tab: TabStack, user_id: str) -> set[str]:
    status, live = await tab.call("GET", "/api/tab/queues/live", user=user_id)
    assert status == 200, live
    return {q["id"] for q in live["queues"]}


async def test_a_supervisor_scoped_to_a_new_queue_sees_it(tab: TabStack) -> None:
    status, created = await tab.call("POST", QUEUES, user=ADMIN.id, json={"name": "Billing"})
    assert created["id"] not in await wallboard_queue_ids(tab, SUPERVISOR.id)
    status, user = await scope(tab, SUPERVISOR.id, queueIds=[SALES, created["id"]])
    assert status == 200, user
    assert (user["supervisesAllQueues"], set(user["supervisedQueueIds"])) == (
        False,
        {SALES, created["id"]},
    )
    assert await wallboard_queue_ids(tab, SUPERVISOR.id) == {SALES, created["id"]}
    assert "user.scope" in await actions(tab)


async def test_all_queues_includes_queues_created_later(tab: TabStack) -> None:
    status, _ = await scope(tab, SUPERVISOR.id, allQueues=True)
    assert status == 200
    status, created = await tab.call("POST", QUEUES, user=ADMIN.id, json={"name": "Later"})
    assert await wallboard_queue_ids(tab, SUPERVISOR.id) == {SALES, SUPPORT, created["id"]}


async def test_an_empty_scope_means_no_queue(tab: TabStack) -> None:
    status, _ = await scope(tab, SUPERVISOR.id, queueIds=[])
    assert status == 200
    assert await wallboard_queue_ids(tab, SUPERVISOR.id) == set()
    status, report = await tab.call("GET", "/api/tab/reports/queues", user=SUPERVISOR.id)
    assert status == 200, report
    assert report["queues"] == []


async def test_a_scope_naming_an_unknown_queue_is_refused(tab: TabStack) -> None:
    status, body = await scope(tab, SUPERVISOR.id, queueIds=["no-such-queue"])
    assert status == 422
    assert body["error"]["details"] == [{"field": "queueIds[0]", "message": "no such queue"}]


async def test_only_supervisors_get_a_scope(tab: TabStack) -> None:
    status, body = await scope(tab, ANA.id, allQueues=True)
    assert status == 409
    assert body["error"]["code"] == "notSupervisor"


# ----------------------------------------------------------------------- wording
async def test_field_errors_are_in_plain_words(tab: TabStack) -> None:
    status, answer = await tab.call(
        "POST", QUEUES, user=ADMIN.id,
        json={"name": "", "wrapUpS": 2.5, "alertTimeS": 999, "requiredSkills": {"x": 0}},
    )  # fmt: skip
    assert status == 422
    assert {d["field"]: d["message"] for d in answer["error"]["details"]} == {
        "name": "must not be empty",
        "wrapUpS": "must be a whole number",
        "alertTimeS": "must be 180 or less",
        "requiredSkills.x": "must be 1 or more",
    }
