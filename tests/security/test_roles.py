"""Roles: agent, supervisor, queue-scoped supervisor and admin against every endpoint.

The operations come from the OpenAPI document; what each role may do comes from the table
below, written from the product's rules rather than from the route table, so a route
declared with the wrong access fails here. Resources named in the path are the demo
tenant's Sales queue, its agent Ana and its IVR (which sends calls to Sales and Support);
the scoped supervisor supervises Support only, so whatever is about Sales is refused to
them. A call is a caller waiting in Sales, except where the operation is about a call the
agent took (:data:`OPERATION_PARAMETERS`).

``allow``: the role gets past the checks (any answer but 401, 403 or a server error);
``deny``: 403 (or 404, for a resource the role may not know of), and nothing changes;
``any``: the answer depends on whose data it is (e.g. an agent's own calls).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

import pytest

from bot import keys
from bot.demo import IVR_NAME, LINES, ivr_id
from bot.messaging.app_installs import APP_INSTALLS
from bot.messaging.notifier import TeamsNotifier
from contactcenter.model import Role, User
from tests.security.conftest import A_CALL, A_CALLER, A_RECORD, TENANT_A
from tests.security.support import (
    Operation,
    changes,
    example_body,
    feature_off,
    refused,
    snapshot,
    tab_operations,
)
from tests.tab.support import ADMIN, ANA, BEN, SALES, SUPERVISOR, SUPPORT, TabStack

Outcome = Literal["allow", "deny", "any"]
ROLES = ("agent", "supervisor", "scoped-supervisor", "admin")
SCOPED = "5c0ed000-0000-4000-8000-000000000001"
CALLERS = {
    "agent": ANA.id,
    "supervisor": SUPERVISOR.id,
    "scoped-supervisor": SCOPED,
    "admin": ADMIN.id,
}

ALL: dict[str, Outcome] = dict.fromkeys(ROLES, "allow")
AGENT_ONLY: dict[str, Outcome] = {
    "agent": "allow",
    "supervisor": "deny",
    "scoped-supervisor": "deny",
    "admin": "deny",
}
ADMIN_ONLY: dict[str, Outcome] = {
    "agent": "deny",
    "supervisor": "deny",
    "scoped-supervisor": "deny",
    "admin": "allow",
}
# Supervisors' tools, about Sales (which the scoped supervisor does not supervise).
SUPERVISING_SALES: dict[str, Outcome] = {
    "agent": "deny",
    "supervisor": "allow",
    "scoped-supervisor": "deny",
    "admin": "allow",
}
# Supervisors' views, filtered to the queues the caller supervises.
SUPERVISOR_VIEW: dict[str, Outcome] = {
    "agent": "deny",
    "supervisor": "allow",
    "scoped-supervisor": "allow",
    "admin": "allow",
}
# Open to agents for their own data, to supervisors for their queues'.
OWN_OR_SUPERVISED: dict[str, Outcome] = {
    "agent": "any",
    "supervisor": "allow",
    "scoped-supervisor": "any",
    "admin": "allow",
}

EXPECTED: dict[str, dict[str, Outcome]] = {
    "get_me": ALL,
    "stream_events": ALL,
    "set_my_status": AGENT_ONLY,
    "sign_in_to_queue": AGENT_ONLY,
    "sign_out_of_queue": AGENT_ONLY,
    "end_my_wrap_up": AGENT_ONLY,
    "accept_offer": AGENT_ONLY,
    "decline_offer": AGENT_ONLY,
    "my_calls": AGENT_ONLY,
    "dispose_call": AGENT_ONLY,  # Ana's own call (OPERATION_PARAMETERS)
    "my_callbacks": AGENT_ONLY,
    "my_voicemails": AGENT_ONLY,
    "my_voicemail_audio": AGENT_ONLY,
    "mark_my_voicemail_handled": AGENT_ONLY,
    # The call at hand: Ana's own calls, transfers and wrap-up.
    "my_call_notes": AGENT_ONLY,
    "save_my_call_notes": AGENT_ONLY,
    "my_caller_history": AGENT_ONLY,
    "transfer_targets": AGENT_ONLY,
    "transfer_my_call": AGENT_ONLY,
    "extend_my_wrap_up": AGENT_ONLY,
    "call_back_my_missed_call": AGENT_ONLY,
    "call_back_voicemail": AGENT_ONLY,
    "live_queues": ALL,
    # The admin console.
    **dict.fromkeys(
        (
            "list_queues",
            "create_queue",
            "get_queue",
            "update_queue",
            "delete_queue",
            "list_bindings",
            "create_binding",
            "delete_binding",
            "list_users",
            "create_user",
            "set_user_roles",
            "set_agent_skills",
            "set_supervised_queues",
            "list_time_zones",
            "list_membership_syncs",
            "sync_queue_members",
            "search_people",
            "search_groups",
            "add_agents",
            "agent_licences",
            "export_user_data",
            "erase_personal_data",
            "export_caller_data",
            "erase_caller_data",
            "get_seats",
            "set_seat_count",
            "assign_seat",
            "release_seat",
            "audit_log",
            "list_webhooks",
            "create_webhook",
            "delete_webhook",
            "list_deliveries",
            # The caller experience: IVRs and caller lists.
            "list_ivrs",
            "create_ivr",
            "get_ivr",
            "update_ivr",
            "delete_ivr",
            "bind_to_ivr",
            "get_caller_lists",
            "replace_caller_lists",
            # Organization-wide settings, prompts and admin consent.
            "get_settings",
            "update_settings",
            "list_prompts",
            "upload_prompt",
            "play_prompt",
            "delete_prompt",
            "get_consent",
        ),
        ADMIN_ONLY,
    ),
    # Reports, the wallboard, supervision and staffing.
    "queues_report": SUPERVISOR_VIEW,
    "agents_report": OWN_OR_SUPERVISED,  # an agent's rows are their own only (below)
    "hourly_calls_report": SUPERVISOR_VIEW,
    "abandoned_report": SUPERVISOR_VIEW,
    "calls_report": OWN_OR_SUPERVISED,
    "agent_timeline_report": {
        "agent": "allow",  # Ana's own timeline
        "supervisor": "allow",
        "scoped-supervisor": "deny",
        "admin": "allow",
    },
    "get_wallboard": OWN_OR_SUPERVISED,
    "stream_wallboard": OWN_OR_SUPERVISED,
    "list_alert_rules": OWN_OR_SUPERVISED,
    "set_alert_rule": SUPERVISING_SALES,
    "get_supervision": SUPERVISOR_VIEW,
    "set_agent_status": SUPERVISING_SALES,
    "sign_agent_in": SUPERVISING_SALES,
    "sign_agent_out": SUPERVISING_SALES,
    "move_call": SUPERVISING_SALES,
    "set_priority": SUPERVISING_SALES,
    "erlang_calculator": OWN_OR_SUPERVISED,
    "start_what_if": OWN_OR_SUPERVISED,
    "get_what_if": OWN_OR_SUPERVISED,
    # The emergency switch: the IVR sends calls to Sales, which the scoped supervisor does
    # not supervise.
    "list_closed_now": SUPERVISOR_VIEW,
    "set_queue_closed_now": SUPERVISING_SALES,
    "set_ivr_closed_now": SUPERVISING_SALES,
}

FROM_DECLARED_ACCESS: dict[str, dict[str, Outcome]] = {
    "admin": ADMIN_ONLY,
    "agent": AGENT_ONLY,
    "staff": OWN_OR_SUPERVISED,
    "signed-in": ALL,
}

PARAMETERS = {
    "queueId": SALES,
    "agentId": ANA.id,
    "userId": ANA.id,
    "callId": A_CALL,
    "bindingId": LINES[0].phone,
    "ivrId": ivr_id(IVR_NAME),
    # The caller waiting in Sales (an admin's erasure is refused until the call ends).
    "number": A_CALLER,
}

# Where the generic parameters do not name what the operation is about.
OPERATION_PARAMETERS: dict[str, dict[str, str]] = {
    # A disposition is recorded on a call the agent took: Ana's finished call.
    "dispose_call": {"callId": A_RECORD},
}


def parameters(operation: Operation) -> dict[str, str]:
    special = OPERATION_PARAMETERS.get(operation.operation_id, {})
    return {p: special.get(p, PARAMETERS.get(p, SALES)) for p in operation.parameters}


def expected(operation: Operation, role: str) -> Outcome:
    table = EXPECTED.get(operation.operation_id) or FROM_DECLARED_ACCESS[operation.access]
    return table[role]


async def _add_scoped_supervisor(tab: TabStack) -> None:
    await tab.repository.users.create(
        User(
            id=SCOPED,
            tenant_id=TENANT_A,
            display_name="Sam Scoped",
            upn="sam@contoso.example",
            roles=frozenset({Role.SUPERVISOR}),
            supervised_queue_ids=frozenset({SUPPORT}),
        )
    )


async def _settled(tab: TabStack) -> None:
    """Return once app installs, the Teams notifier and the simulator have nothing in flight."""
    installs = tab.app.get(APP_INSTALLS)
    if installs is not None:
        await installs.wait_idle()
    await tab.simulator.wait_until_delivered()
    notifier = tab.app[keys.NOTIFIER]
    if isinstance(notifier, TeamsNotifier):
        await notifier.wait_idle()


async def _document(tab: TabStack) -> dict[str, Any]:
    async with tab.host.get("/api/tab/openapi.json") as response:
        document: dict[str, Any] = await response.json()
        return document


async def test_every_operation_has_an_expectation(tab: TabStack) -> None:
    """A new endpoint is classified here on purpose, not by default."""
    missing = [
        op.label
        for op in await tab_operations(tab.host)
        if op.signed_in and op.operation_id not in EXPECTED
    ]
    assert missing == [], "add these operations to EXPECTED"


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_gets_exactly_what_it_may(tab: TabStack, role: str) -> None:
    await _add_scoped_supervisor(tab)
    document = await _document(tab)
    user = CALLERS[role]
    operations = [op for op in await tab_operations(tab.host) if op.signed_in and not op.stream]
    # Reads first, deletions last, so that each request finds the seeded configuration.
    operations.sort(key=lambda op: ["GET", "POST", "PUT", "PATCH", "DELETE"].index(op.method))
    for operation in operations:
        outcome = expected(operation, role)
        url = operation.url(parameters(operation))
        body = (
            example_body(document, operation.body_schema, {"queue": SALES, "user": ANA.id})
            if operation.body_schema
            else None
        )
        # What a previous request set off (installing the app for a new seat, and the chat
        # Teams then opens with the bot) is not this request's doing.
        await _settled(tab)
        before = await snapshot(tab.repository.store)
        async with tab.host.request(
            operation.method, url, json=body, headers=tab.auth(user)
        ) as response:
            status, text = response.status, await response.text()
        if feature_off(status, text):
            continue
        assert status < 500, (role, operation.label, status, text)
        assert status != 401, (role, operation.label, text)
        if outcome == "allow":
            assert status != 403, (role, operation.label, text)
        elif outcome == "deny":
            assert status in {403, 404}, (role, operation.label, status, text)
            assert changes(before, await snapshot(tab.repository.store)) == [], operation.label
            refused(operation.label)


async def test_an_agent_sees_only_their_own_row_of_the_agents_report(tab: TabStack) -> None:
    status, body = await tab.call("GET", "/api/tab/reports/agents", user=ANA.id)
    if status == 404:
        return  # no reports on this host
    assert status == 200
    assert {row["agentId"] for row in body["agents"]} <= {ANA.id}


async def test_a_scoped_supervisor_sees_only_the_queues_they_supervise(tab: TabStack) -> None:
    await _add_scoped_supervisor(tab)
    status, body = await tab.call("GET", "/api/tab/queues/live", user=SCOPED)
    assert status == 200
    assert [q["id"] for q in body["queues"]] == [SUPPORT]
    status, body = await tab.call("GET", "/api/tab/queues/live", user=SUPERVISOR.id)
    assert sorted(q["id"] for q in body["queues"]) == sorted([SALES, SUPPORT])
    status, body = await tab.call("GET", "/api/tab/queues/live", user=ANA.id)
    assert [q["id"] for q in body["queues"]] == [SALES]


async def test_an_agent_cannot_record_the_disposition_of_a_call_not_theirs(
    tab: TabStack,
) -> None:
    record = (await tab.repository.call_records.get(TENANT_A, A_RECORD)).value
    bens = replace(record, id="a3000000-0000-4000-8000-0000000000b1", agent_id=BEN.id)
    await tab.repository.call_records.create(bens)
    for call_id, code in ((bens.id, "notYourCall"), (A_CALL, "notYourCall")):
        before = await snapshot(tab.repository.store)
        status, body = await tab.call(
            "POST",
            f"/api/tab/me/calls/{call_id}/disposition",
            user=ANA.id,
            json={"note": "Not my call"},
        )
        assert (status, body["error"]["code"]) == (403, code)
        assert changes(before, await snapshot(tab.repository.store)) == []
        refused("POST /api/tab/me/calls/{callId}/disposition")
