"""The admin console's API: queues, bindings, users and roles, seats, and the audit log."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.demo import LINES
from contactcenter.errors import NotFound
from contactcenter.model import ActionKind, AlertingModel, Role, RoutingMethod
from simulator import UserEntry
from tests.tab.support import ADMIN, ANA, BEN, SALES, SUPERVISOR, SUPPORT, TabStack

NEW_AGENT = "7c1f0e2d-3b4a-4c5d-8e6f-9a0b1c2d3e4f"


def queue_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Billing",
        "routingMethod": "serial",
        "members": [BEN.id, ANA.id],
        "alertTimeS": 25,
        "alertingModel": "card-first",
        "wrapUpS": 30,
        "maxSize": 20,
        "maxWaitS": 600,
        "serviceLevelThresholdS": 30,
        "overflowAction": {"kind": "queue", "target": SALES},
        "timeoutAction": {"kind": "redirect-number", "target": "+14255550123"},
        "noAgentAction": {"kind": "voicemail"},
    }
    body.update(changes)
    return body


def tenant(tab: TabStack) -> str:
    return tab.settings.microsoft_app_tenant_id


async def actions(tab: TabStack) -> list[str]:
    return [e.value.action for e in await tab.audit.all(tenant(tab))]


# ===================================================================== roles
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/tab/admin/queues"),
        ("POST", "/api/tab/admin/queues"),
        ("GET", "/api/tab/admin/users"),
        ("PUT", f"/api/tab/admin/seats/{ANA.id}"),
        ("GET", "/api/tab/admin/audit"),
    ],
)
async def test_an_agent_calling_an_admin_endpoint_gets_403(
    tab: TabStack, method: str, path: str
) -> None:
    status, body = await tab.call(method, path, user=ANA.id, json=queue_body())
    assert status == 403
    assert body["error"]["code"] == "forbidden"
    assert await actions(tab) == []


async def test_a_supervisor_cannot_configure_either(tab: TabStack) -> None:
    status, _ = await tab.call("DELETE", f"/api/tab/admin/queues/{SALES}", user=SUPERVISOR.id)
    assert status == 403


# ==================================================================== queues
async def test_an_admin_creates_a_queue_and_the_change_is_audited(tab: TabStack) -> None:
    status, created = await tab.call(
        "POST", "/api/tab/admin/queues", user=ADMIN.id, json=queue_body()
    )
    assert status == 201
    stored = (await tab.repository.queues.get(tenant(tab), created["id"])).value
    assert stored.name == "Billing"
    assert stored.routing_method is RoutingMethod.SERIAL
    assert stored.members == (BEN.id, ANA.id)
    assert stored.alerting_model is AlertingModel.CARD_FIRST
    assert stored.overflow_action.kind is ActionKind.QUEUE
    assert stored.overflow_action.target == SALES
    entries = await tab.audit.all(tenant(tab))
    assert len(entries) == 1
    entry = entries[0].value
    assert (entry.action, entry.actor_id, entry.target_id) == ("queue.create", ADMIN.id, stored.id)
    assert entry.before is None
    assert entry.after is not None
    assert entry.after["name"] == "Billing"


async def test_a_queue_with_a_member_who_is_not_an_agent_is_refused(tab: TabStack) -> None:
    body = queue_body(members=[ANA.id, "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8", SUPERVISOR.id])
    status, answer = await tab.call("POST", "/api/tab/admin/queues", user=ADMIN.id, json=body)
    assert status == 422
    assert answer["error"]["code"] == "validationFailed"
    assert [d["field"] for d in answer["error"]["details"]] == ["members[1]", "members[2]"]
    assert len(await tab.repository.queues.find(tenant(tab))) == 2
    assert await actions(tab) == []


async def test_queue_fields_are_validated_one_by_one(tab: TabStack) -> None:
    body = queue_body(
        name=" ",
        alertTimeS=5,
        maxSize=500,
        routingMethod="random",
        members=[ANA.id, ANA.id],
        timeoutAction={"kind": "redirect-number", "target": "555-0100"},
    )
    status, answer = await tab.call("POST", "/api/tab/admin/queues", user=ADMIN.id, json=body)
    assert status == 422
    fields = {d["field"]: d["message"] for d in answer["error"]["details"]}
    assert set(fields) == {"name", "routingMethod", "members", "alertTimeS", "maxSize"}
    assert fields["members"] == "an agent is listed twice"


async def test_queue_names_are_unique_whatever_the_case(tab: TabStack) -> None:
    status, answer = await tab.call(
        "POST", "/api/tab/admin/queues", user=ADMIN.id, json=queue_body(name="sALES")
    )
    assert status == 422
    assert answer["error"]["details"] == [
        {"field": "name", "message": "another queue is called Sales"}
    ]


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ({"kind": "queue", "target": "no-such-queue"}, "no such queue"),
        ({"kind": "queue"}, "a queue action needs a target"),
        (
            {"kind": "redirect-user", "target": "6f7a8b9c-0d1e-4f2a-b3c4-d5e6f7a8b9c0"},
            "no such user in this organization",
        ),
        (
            {"kind": "redirect-number", "target": "0100"},
            "not an E.164 phone number (e.g. +14255550100)",
        ),
    ],
)
async def test_actions_must_point_at_something_that_exists(
    tab: TabStack, action: dict[str, str], message: str
) -> None:
    body = queue_body(overflowAction=action)
    status, answer = await tab.call("POST", "/api/tab/admin/queues", user=ADMIN.id, json=body)
    assert status == 422
    assert answer["error"]["details"] == [{"field": "overflowAction.target", "message": message}]


async def test_a_queue_cannot_overflow_to_itself(tab: TabStack) -> None:
    status, sales = await tab.call("GET", f"/api/tab/admin/queues/{SALES}", user=ADMIN.id)
    body = {k: v for k, v in sales.items() if k not in {"id", "etag"}}
    body["noAgentAction"] = {"kind": "queue", "target": SALES}
    status, answer = await tab.call(
        "PUT", f"/api/tab/admin/queues/{SALES}", user=ADMIN.id, json=body
    )
    assert status == 422
    assert answer["error"]["details"][0]["field"] == "noAgentAction.target"


async def test_an_update_is_audited_with_before_and_after(tab: TabStack) -> None:
    status, sales = await tab.call("GET", f"/api/tab/admin/queues/{SALES}", user=ADMIN.id)
    body = {k: v for k, v in sales.items() if k not in {"id", "etag"}}
    body["wrapUpS"] = 45
    status, saved = await tab.call(
        "PUT",
        f"/api/tab/admin/queues/{SALES}",
        user=ADMIN.id,
        json=body,
        headers={"If-Match": sales["etag"]},
    )
    assert status == 200
    assert saved["wrapUpS"] == 45
    assert saved["etag"] != sales["etag"]
    entry = (await tab.audit.all(tenant(tab)))[0].value
    assert entry.action == "queue.update"
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["wrapUpS"], entry.after["wrapUpS"]) == (15, 45)


async def test_an_update_of_a_stale_version_gets_412(tab: TabStack) -> None:
    status, sales = await tab.call("GET", f"/api/tab/admin/queues/{SALES}", user=ADMIN.id)
    body = {k: v for k, v in sales.items() if k not in {"id", "etag"}}
    await tab.call(
        "PUT", f"/api/tab/admin/queues/{SALES}", user=ADMIN.id, json={**body, "priority": 2}
    )
    status, answer = await tab.call(
        "PUT",
        f"/api/tab/admin/queues/{SALES}",
        user=ADMIN.id,
        json={**body, "priority": 3},
        headers={"If-Match": sales["etag"]},
    )
    assert status == 412
    assert answer["error"]["code"] == "preconditionFailed"
    assert (await tab.repository.queues.get(tenant(tab), SALES)).value.priority == 2


async def test_a_bound_queue_cannot_be_deleted(tab: TabStack) -> None:
    status, answer = await tab.call("DELETE", f"/api/tab/admin/queues/{SALES}", user=ADMIN.id)
    assert status == 409
    assert answer["error"]["code"] == "queueInUse"
    # Sales is bound to a number and the demo IVR sends calls to it: both are said.
    assert {d["field"] for d in answer["error"]["details"]} == {"bindings", "ivrs"}
    await tab.repository.queues.get(tenant(tab), SALES)


async def test_an_unused_queue_is_deleted_and_audited(tab: TabStack) -> None:
    status, created = await tab.call(
        "POST", "/api/tab/admin/queues", user=ADMIN.id, json=queue_body()
    )
    status, _ = await tab.call("DELETE", f"/api/tab/admin/queues/{created['id']}", user=ADMIN.id)
    assert status == 204
    with pytest.raises(NotFound):
        await tab.repository.queues.get(tenant(tab), created["id"])
    assert await actions(tab) == ["queue.delete", "queue.create"]


# ================================================================== bindings
async def test_a_number_is_bound_to_a_queue(tab: TabStack) -> None:
    body = {"identity": "+14255550177", "queueId": SUPPORT, "displayName": "Support (new)"}
    status, binding = await tab.call("POST", "/api/tab/admin/bindings", user=ADMIN.id, json=body)
    assert status == 201
    assert binding == {
        "id": "+14255550177",
        "kind": "phoneNumber",
        "queueId": SUPPORT,
        "queueName": "Support",
        "displayName": "Support (new)",
    }
    stored = (await tab.repository.bindings.get(tenant(tab), "+14255550177")).value
    assert stored.target_id == SUPPORT
    assert await actions(tab) == ["binding.create"]
    status, listing = await tab.call("GET", "/api/tab/admin/bindings", user=ADMIN.id)
    assert "+14255550177" in {b["id"] for b in listing["bindings"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"identity": "sales", "queueId": SALES}, "identity"),
        ({"identity": "+14255550177", "queueId": "no-such-queue"}, "queueId"),
        ({"identity": "+14255550177"}, "queueId"),
    ],
)
async def test_a_bad_binding_is_refused(tab: TabStack, body: dict[str, str], field: str) -> None:
    status, answer = await tab.call("POST", "/api/tab/admin/bindings", user=ADMIN.id, json=body)
    assert status == 422
    assert [d["field"] for d in answer["error"]["details"]] == [field]


async def test_an_identity_is_bound_once(tab: TabStack) -> None:
    body = {"identity": LINES[0].phone, "queueId": SUPPORT}
    status, answer = await tab.call("POST", "/api/tab/admin/bindings", user=ADMIN.id, json=body)
    assert status == 409
    assert answer["error"]["code"] == "alreadyBound"
    assert (await tab.repository.bindings.get(tenant(tab), LINES[0].phone)).value.target_id == SALES


async def test_a_binding_is_deleted(tab: TabStack) -> None:
    path = f"/api/tab/admin/bindings/{LINES[0].phone.replace('+', '%2B')}"
    status, _ = await tab.call("DELETE", path, user=ADMIN.id)
    assert status == 204
    with pytest.raises(NotFound):
        await tab.repository.bindings.get(tenant(tab), LINES[0].phone)
    entry = (await tab.audit.all(tenant(tab)))[0].value
    assert entry.action == "binding.delete"
    assert entry.before is not None
    assert entry.before["targetId"] == SALES


# ===================================================================== users
async def test_users_are_listed_with_roles_and_agent_state(tab: TabStack) -> None:
    status, listing = await tab.call("GET", "/api/tab/admin/users", user=ADMIN.id)
    assert status == 200
    by_id = {u["id"]: u for u in listing["users"]}
    assert by_id[ADMIN.id]["roles"] == ["admin"]
    assert by_id[ADMIN.id]["agent"] is None
    assert by_id[ANA.id]["agent"] == {
        "hasSeat": True,
        "status": "available",
        "activity": "idle",
        "skills": {"spanish": 5, "billing": 3},
    }


async def in_directory(tab: TabStack, user_id: str, name: str) -> None:
    """Put a person in the simulated directory: only people it knows can be added."""
    await tab.simulator.put_user(tenant(tab), UserEntry(id=user_id, display_name=name))


async def test_a_new_agent_gets_an_agent_profile_without_a_seat(tab: TabStack) -> None:
    await in_directory(tab, NEW_AGENT, "Noor Haddad")
    body = {"id": NEW_AGENT.upper(), "displayName": "Noor Haddad", "roles": ["agent"]}
    status, user = await tab.call("POST", "/api/tab/admin/users", user=ADMIN.id, json=body)
    assert status == 201
    assert user["id"] == NEW_AGENT
    assert user["agent"]["hasSeat"] is False
    agent = (await tab.repository.agents.get(tenant(tab), NEW_AGENT)).value
    assert agent.display_name == "Noor Haddad"
    assert await actions(tab) == ["agent.create", "user.create"]


async def test_a_user_id_must_be_an_object_id(tab: TabStack) -> None:
    body = {"id": "noor", "displayName": "Noor", "roles": ["agent", "agent"]}
    status, answer = await tab.call("POST", "/api/tab/admin/users", user=ADMIN.id, json=body)
    assert status == 422
    assert [d["field"] for d in answer["error"]["details"]] == ["id", "roles"]


async def test_roles_are_changed_and_audited(tab: TabStack) -> None:
    status, user = await tab.call(
        "PUT", f"/api/tab/admin/users/{SUPERVISOR.id}/roles", user=ADMIN.id,
        json={"roles": ["supervisor", "admin"]},
    )  # fmt: skip
    assert status == 200
    assert user["roles"] == ["admin", "supervisor"]
    stored = (await tab.repository.users.get(tenant(tab), SUPERVISOR.id)).value
    assert stored.roles == {Role.ADMIN, Role.SUPERVISOR}
    entry = (await tab.audit.all(tenant(tab)))[0].value
    assert entry.action == "user.roles"
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["roles"], entry.after["roles"]) == (
        ["supervisor"],
        ["admin", "supervisor"],
    )


async def test_the_last_admin_stays_an_admin(tab: TabStack) -> None:
    status, answer = await tab.call(
        "PUT", f"/api/tab/admin/users/{ADMIN.id}/roles", user=ADMIN.id, json={"roles": ["agent"]}
    )
    assert status == 409
    assert answer["error"]["code"] == "lastAdmin"
    assert (await tab.repository.users.get(tenant(tab), ADMIN.id)).value.roles == {Role.ADMIN}


async def test_a_queue_member_stays_an_agent(tab: TabStack) -> None:
    status, answer = await tab.call(
        "PUT", f"/api/tab/admin/users/{ANA.id}/roles", user=ADMIN.id, json={"roles": []}
    )
    assert status == 409
    assert answer["error"]["code"] == "agentInUse"
    assert answer["error"]["details"] == [{"field": "roles", "message": "member of queue Sales"}]


# ===================================================================== seats
async def test_seats_are_counted_from_the_agents(tab: TabStack) -> None:
    status, seats = await tab.call("GET", "/api/tab/admin/seats", user=ADMIN.id)
    assert status == 200
    assert (seats["seatCount"], seats["assigned"]) == (10, 6)
    assert all(a["hasSeat"] for a in seats["agents"])


async def test_no_more_seats_than_the_tenant_has_can_be_assigned(tab: TabStack) -> None:
    await in_directory(tab, NEW_AGENT, "Noor Haddad")
    await tab.call(
        "POST", "/api/tab/admin/users", user=ADMIN.id,
        json={"id": NEW_AGENT, "displayName": "Noor Haddad", "roles": ["agent"]},
    )  # fmt: skip
    status, seats = await tab.call(
        "PUT", "/api/tab/admin/seats", user=ADMIN.id, json={"seatCount": 6}
    )
    assert status == 200
    assert seats["seatCount"] == 6
    status, answer = await tab.call("PUT", f"/api/tab/admin/seats/{NEW_AGENT}", user=ADMIN.id)
    assert status == 409
    assert answer["error"]["code"] == "noSeatsLeft"
    assert not (await tab.repository.agents.get(tenant(tab), NEW_AGENT)).value.has_seat
    status, _ = await tab.call("DELETE", f"/api/tab/admin/seats/{BEN.id}", user=ADMIN.id)
    assert status == 200
    status, seats = await tab.call("PUT", f"/api/tab/admin/seats/{NEW_AGENT}", user=ADMIN.id)
    assert status == 200
    assert seats["assigned"] == 6
    assert (await tab.repository.agents.get(tenant(tab), NEW_AGENT)).value.has_seat
    assert not (await tab.repository.agents.get(tenant(tab), BEN.id)).value.has_seat
    assert (await tab.repository.tenants.get(tenant(tab), tenant(tab))).value.seat_count == 6
    assert (await actions(tab))[:3] == ["seat.assign", "seat.release", "tenant.seats"]


async def test_the_seat_count_cannot_drop_below_the_seats_assigned(tab: TabStack) -> None:
    status, answer = await tab.call(
        "PUT", "/api/tab/admin/seats", user=ADMIN.id, json={"seatCount": 2}
    )
    assert status == 422
    assert answer["error"]["details"] == [
        {"field": "seatCount", "message": "6 seats are assigned: release some first"}
    ]


async def test_a_seat_for_someone_who_is_not_an_agent_is_refused(tab: TabStack) -> None:
    status, _ = await tab.call("PUT", f"/api/tab/admin/seats/{SUPERVISOR.id}", user=ADMIN.id)
    assert status == 404


# ===================================================================== audit
async def test_the_audit_log_pages_newest_first(tab: TabStack) -> None:
    for name in ("One", "Two", "Three"):
        await tab.call("POST", "/api/tab/admin/queues", user=ADMIN.id, json=queue_body(name=name))
    status, page = await tab.call("GET", "/api/tab/admin/audit?limit=2", user=ADMIN.id)
    assert status == 200
    assert [e["after"]["name"] for e in page["entries"]] == ["Three", "Two"]
    assert page["entries"][0]["actorName"] == ADMIN.name
    status, rest = await tab.call(
        "GET", f"/api/tab/admin/audit?limit=2&continuation={page['continuation']}", user=ADMIN.id
    )
    assert [e["after"]["name"] for e in rest["entries"]] == ["One"]
    assert rest["continuation"] is None


async def test_a_forged_continuation_is_refused(tab: TabStack) -> None:
    status, answer = await tab.call("GET", "/api/tab/admin/audit?continuation=abc", user=ADMIN.id)
    assert status == 422
    assert answer["error"]["code"] == "validationFailed"


async def test_two_admins_cannot_both_take_the_last_seat(tab: TabStack) -> None:
    others = ["8d2e4f60-1a3b-4c5d-9e7f-0a1b2c3d4e5f", "9e3f5a71-2b4c-4d6e-8f90-1b2c3d4e5f60"]
    for index, user_id in enumerate(others):
        await in_directory(tab, user_id, f"Agent {index}")
        await tab.call(
            "POST", "/api/tab/admin/users", user=ADMIN.id,
            json={"id": user_id, "displayName": f"Agent {index}", "roles": ["agent"]},
        )  # fmt: skip
    await tab.call("PUT", "/api/tab/admin/seats", user=ADMIN.id, json={"seatCount": 7})
    answers = await asyncio.gather(
        *(tab.call("PUT", f"/api/tab/admin/seats/{user_id}", user=ADMIN.id) for user_id in others)
    )
    assert sorted(status for status, _ in answers) == [200, 409]
    seated = [a.value.id for a in await tab.repository.agents.find(tenant(tab)) if a.value.has_seat]
    assert len(seated) == 7
