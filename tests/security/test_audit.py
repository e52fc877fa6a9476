"""The audit log: every change an admin makes leaves an entry (who, when, what, before and
after), and only admins can read the log.

The mutating admin operations are taken from the OpenAPI document (POST, PUT, PATCH and
DELETE under ``/api/tab/admin/``); each is made to succeed once, in an order that builds
what the next one needs (and, where a step needs something undone first, :data:`BEFORE`
does it through the API). One that is not in the table is tried with a body made from its
schema, and must succeed and be audited all the same.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bot.demo import BILLING_TEAM, DIRECTORY_ONLY
from contactcenter.model import MembershipKind, MembershipSource
from simulator import UserEntry
from simulator.media import wav_bytes
from tests.security.support import (
    Operation,
    example_body,
    feature_off,
    refused,
    tab_operations,
)
from tests.tab.support import ADMIN, ANA, SALES, SUPERVISOR, TabStack

NEW_USER = "a0d17000-0000-4000-8000-000000000001"
ANIKA = DIRECTORY_ONLY[0]
NUMBER = "+14255550999"
IVR_NUMBER = "+14255550998"


@dataclass
class Scenario:
    """What the steps created, for the steps after them."""

    ids: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Upload:
    """A request body that is a file rather than JSON, with the query that names it."""

    data: bytes
    content_type: str
    query: dict[str, str]


Step = Callable[[Scenario], tuple[dict[str, str], Any]]


def _ivr(s: Scenario, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "rootMenuId": "main",
        "menus": [
            {
                "id": "main",
                "name": "Main",
                "options": [
                    {"digit": "1", "action": "queue", "target": s.ids["queue"], "label": "Audit"},
                    {"digit": "*", "action": "repeat"},
                ],
            }
        ],
    }


# operationId -> (path parameters, body); in the order they run.
STEPS: dict[str, Step] = {
    "create_queue": lambda s: ({}, {"name": "Audit Queue", "members": [ANA.id]}),
    "update_queue": lambda s: (
        {"queueId": s.ids["queue"]},
        {"name": "Audit Queue Renamed", "members": [ANA.id], "wrapUpS": 30},
    ),
    "create_binding": lambda s: ({}, {"identity": NUMBER, "queueId": s.ids["queue"]}),
    "delete_binding": lambda s: ({"bindingId": NUMBER}, None),
    "create_ivr": lambda s: ({}, _ivr(s, "Audit menu")),
    "update_ivr": lambda s: ({"ivrId": s.ids["ivr"]}, _ivr(s, "Audit menu renamed")),
    "bind_to_ivr": lambda s: ({"ivrId": s.ids["ivr"]}, {"identity": IVR_NUMBER}),
    "delete_ivr": lambda s: ({"ivrId": s.ids["ivr"]}, None),
    # Only once no IVR sends calls to it.
    "delete_queue": lambda s: ({"queueId": s.ids["queue"]}, None),
    "replace_caller_lists": lambda s: (
        {},
        {
            "entries": [
                {"kind": "blocked", "partyKind": "phone", "value": "+14255550666"},
                {"kind": "vip", "partyKind": "phone", "value": NUMBER, "priorityBoost": 5},
            ]
        },
    ),
    "update_settings": lambda s: (
        {},
        {
            "timeZone": "Europe/Paris",
            "retentionDays": 90,
            "notReadyReasons": ["Break", "Coaching", "Lunch"],
        },
    ),
    "upload_prompt": lambda s: (
        {},
        Upload(wav_bytes(0.5, rate=16000), "audio/wav", {"name": "Audit greeting"}),
    ),
    "delete_prompt": lambda s: ({"promptId": s.ids["prompt"]}, None),
    "create_user": lambda s: (
        {},
        {
            "id": NEW_USER,
            "displayName": "Audit User",
            "upn": "audit@contoso.example",
            "roles": ["agent"],
        },
    ),
    "set_user_roles": lambda s: ({"userId": NEW_USER}, {"roles": ["agent", "supervisor"]}),
    "set_agent_skills": lambda s: ({"agentId": ANA.id}, {"skills": {"german": 3}}),
    "set_supervised_queues": lambda s: ({"userId": SUPERVISOR.id}, {"allQueues": True}),
    "add_agents": lambda s: ({}, {"people": [ANIKA.id], "queueIds": [SALES]}),
    "set_seat_count": lambda s: ({}, {"seatCount": 12}),
    "assign_seat": lambda s: ({"agentId": NEW_USER}, None),
    "release_seat": lambda s: ({"agentId": NEW_USER}, None),
    "create_webhook": lambda s: (
        {},
        {"url": "https://hooks.example.com/contact-center", "secret": "s" * 32},
    ),
    "delete_webhook": lambda s: ({"webhookId": s.ids.get("webhook", "none")}, None),
    "erase_personal_data": lambda s: ({"userId": NEW_USER}, None),
    # The VIP listed above: their entry goes, and the audit entries naming them are rewritten.
    "erase_caller_data": lambda s: ({"number": NUMBER}, None),
}


async def _unbind_the_ivr(tab: TabStack, scenario: Scenario) -> None:
    status, answer = await tab.call(
        "DELETE", f"/api/tab/admin/bindings/{IVR_NUMBER}", user=ADMIN.id
    )
    assert status == 204, answer


async def _put_the_new_user_in_the_directory(tab: TabStack, scenario: Scenario) -> None:
    await tab.simulator.put_user(
        tab.settings.microsoft_app_tenant_id, UserEntry(id=NEW_USER, display_name="Audit User")
    )


# operationId -> what is done before it (an IVR is deleted only once nothing is bound to it;
# only people of the directory can be added).
async def _feed_sales_from_a_team(tab: TabStack, scenario: Scenario) -> None:
    await tab.repository.queues.update(
        tab.settings.microsoft_app_tenant_id,
        SALES,
        lambda queue: replace(
            queue, membership=MembershipSource(MembershipKind.TEAM, BILLING_TEAM, "Billing team")
        ),
    )


BEFORE: dict[str, Callable[[TabStack, Scenario], Awaitable[None]]] = {
    "delete_ivr": _unbind_the_ivr,
    "sync_queue_members": _feed_sales_from_a_team,
    "create_user": _put_the_new_user_in_the_directory,
}


def _remember(scenario: Scenario, operation_id: str, answer: Any) -> None:
    if not isinstance(answer, dict):
        return
    if operation_id == "create_queue":
        scenario.ids["queue"] = answer["id"]
    if operation_id == "create_ivr":
        scenario.ids["ivr"] = answer["id"]
    if operation_id == "upload_prompt":
        scenario.ids["prompt"] = answer["id"]
    if operation_id == "create_webhook":
        scenario.ids["webhook"] = answer.get("id", "")


def _admin_changes(operations: list[Operation]) -> list[Operation]:
    found = [op for op in operations if op.mutating and op.path.startswith("/api/tab/admin/")]
    order = list(STEPS)
    return sorted(
        found,
        key=lambda op: order.index(op.operation_id) if op.operation_id in order else len(order),
    )


async def test_every_admin_change_is_audited_with_who_when_what_and_before_after(
    tab: TabStack,
) -> None:
    async with tab.host.get("/api/tab/openapi.json") as response:
        document = await response.json()
    changes = _admin_changes(await tab_operations(tab.host))
    assert len(changes) >= 11
    assert set(STEPS) - {op.operation_id for op in changes} == set(), "a step names no operation"
    scenario = Scenario()
    for operation in changes:
        step = STEPS.get(operation.operation_id)
        if step is not None:
            parameters, body = step(scenario)
        else:
            parameters = dict.fromkeys(operation.parameters, SALES)
            body = (
                example_body(document, operation.body_schema, {"queue": SALES, "user": ANA.id})
                if operation.body_schema
                else None
            )
        prepare = BEFORE.get(operation.operation_id)
        if prepare is not None:
            await prepare(tab, scenario)
        before = len(await tab.audit.all(tab.settings.microsoft_app_tenant_id))
        if isinstance(body, Upload):
            status, answer = await _upload(tab, operation, parameters, body)
        else:
            status, answer = await tab.call(
                operation.method, operation.url(parameters), user=ADMIN.id, json=body
            )
        if feature_off(status, json.dumps(answer)):
            # A feature this host does not run: it changes nothing, so there is nothing to audit.
            assert len(await tab.audit.all(tab.settings.microsoft_app_tenant_id)) == before
            continue
        assert 200 <= status < 300, (operation.label, status, answer)
        _remember(scenario, operation.operation_id, answer)
        entries = [e.value for e in await tab.audit.all(tab.settings.microsoft_app_tenant_id)]
        new = entries[: len(entries) - before]
        assert new, f"{operation.label} changed configuration without an audit entry"
        mine = [e for e in new if e.actor_id == ADMIN.id]
        assert mine, (operation.label, new)
        for entry in mine:
            assert entry.actor_name == ADMIN.name
            assert entry.at == tab.clock.now()
            assert entry.action
            assert entry.target_type
            assert entry.target_id
        if operation.method in {"PUT", "PATCH"}:
            assert any(e.before is not None and e.after is not None for e in mine), operation.label
        elif operation.method == "DELETE":
            assert any(e.before is not None or e.after is not None for e in mine), operation.label
        else:
            assert any(e.after is not None for e in mine), operation.label


async def _upload(
    tab: TabStack, operation: Operation, parameters: dict[str, str], upload: Upload
) -> tuple[int, Any]:
    headers = {"Content-Type": upload.content_type, **tab.auth(ADMIN.id)}
    async with tab.host.request(
        operation.method,
        operation.url(parameters),
        params=upload.query,
        data=upload.data,
        headers=headers,
    ) as response:
        return response.status, await response.json()


async def test_an_audit_entry_records_the_change_itself(tab: TabStack) -> None:
    status, queue = await tab.call("GET", f"/api/tab/admin/queues/{SALES}", user=ADMIN.id)
    assert status == 200
    update = {k: queue[k] for k in ("name", "members", "routingMethod")} | {"wrapUpS": 99}
    status, _ = await tab.call("PUT", f"/api/tab/admin/queues/{SALES}", user=ADMIN.id, json=update)
    assert status == 200
    status, page = await tab.call("GET", "/api/tab/admin/audit", user=ADMIN.id)
    assert status == 200
    entry = page["entries"][0]
    assert entry["action"] == "queue.update"
    assert entry["actorId"] == ADMIN.id
    assert entry["before"]["wrapUpS"] == 15
    assert entry["after"]["wrapUpS"] == 99


async def test_an_export_of_personal_data_is_audited(tab: TabStack) -> None:
    status, _ = await tab.call("GET", f"/api/tab/admin/users/{ANA.id}/export", user=ADMIN.id)
    assert status == 200
    [latest, *_] = [e.value for e in await tab.audit.all(tab.settings.microsoft_app_tenant_id)]
    assert (latest.action, latest.actor_id, latest.target_id) == ("user.export", ADMIN.id, ANA.id)


async def test_a_callers_export_and_erasure_are_audited_without_their_number(
    tab: TabStack,
) -> None:
    status, _ = await tab.call("GET", f"/api/tab/admin/callers/{NUMBER}/export", user=ADMIN.id)
    assert status == 200
    status, _ = await tab.call(
        "PUT",
        "/api/tab/admin/caller-lists",
        user=ADMIN.id,
        json={"entries": [{"kind": "vip", "partyKind": "phone", "value": NUMBER}]},
    )
    assert status == 200
    status, erased = await tab.call(
        "DELETE", f"/api/tab/admin/callers/{NUMBER}/personal-data", user=ADMIN.id
    )
    assert status == 200, erased

    entries = [e.value for e in await tab.audit.all(tab.settings.microsoft_app_tenant_id)]

    assert [(e.action, e.target_type, e.target_id) for e in entries[:3]] == [
        ("caller.erase", "caller", erased["pseudonym"]),
        ("callers.update", "callerList", "callers"),
        ("caller.export", "caller", erased["pseudonym"]),
    ]
    assert entries[0].actor_id == ADMIN.id
    assert entries[0].after == {
        "pseudonym": erased["pseudonym"],
        "deleted": 0,
        "pseudonymised": erased["pseudonymised"],
    }
    assert NUMBER.removeprefix("+") not in json.dumps([e.after for e in entries[:3]])


async def test_only_admins_read_the_audit_log(tab: TabStack) -> None:
    for user in (ANA.id, SUPERVISOR.id):
        status, body = await tab.call("GET", "/api/tab/admin/audit", user=user)
        assert status == 403
        assert "entries" not in body
        refused("GET /api/tab/admin/audit")
    status, body = await tab.call("GET", "/api/tab/admin/audit", user=ADMIN.id)
    assert status == 200
