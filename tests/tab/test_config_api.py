"""The caller experience's configuration API: queue hours and prompts, IVRs, caller lists,
and the emergency closed-now switch."""

from __future__ import annotations

from typing import Any

import pytest

from bot.demo import IVR_NAME, MAIN_LINE, VIP_NUMBER, ivr_id
from contactcenter.callers import CALLER_LIST_ID
from contactcenter.errors import NotFound
from contactcenter.model import (
    ActionKind,
    CallbackOrder,
    CallerListKind,
    CallState,
    MenuActionKind,
    Prompt,
    Role,
    User,
    Weekday,
)
from tests.tab.support import ADMIN, ANA, SALES, SUPERVISOR, SUPPORT, TabStack

QUEUES = "/api/tab/admin/queues"
IVRS = "/api/tab/admin/ivrs"
CALLERS = "/api/tab/admin/caller-lists"
DEMO_IVR = ivr_id(IVR_NAME)
UPLOADED = "0123456789abcdef0123456789abcdef"
SCOPED = "5c0ed000-0000-4000-8000-000000000001"


def tenant(tab: TabStack) -> str:
    return tab.settings.microsoft_app_tenant_id


async def actions(tab: TabStack) -> list[str]:
    return [e.value.action for e in await tab.audit.all(tenant(tab))]


async def stored(tab: TabStack) -> dict[str, Any]:
    """Return every stored queue, IVR and caller list, to show that nothing changed."""
    repo = tab.repository
    return {
        "queues": {q.value.id: q.value for q in await repo.queues.find(tenant(tab))},
        "ivrs": {i.value.id: i.value for i in await repo.ivrs.find(tenant(tab))},
        "callers": [c.value for c in await repo.caller_lists.find(tenant(tab))],
        "bindings": {b.value.id: b.value for b in await repo.bindings.find(tenant(tab))},
    }


async def add_prompt(tab: TabStack) -> None:
    await tab.repository.prompts.create(Prompt(id=UPLOADED, tenant_id=tenant(tab), name="Welcome"))


async def add_scoped_supervisor(tab: TabStack) -> None:
    """Add Sam, who supervises Support only."""
    await tab.repository.users.create(
        User(
            id=SCOPED,
            tenant_id=tenant(tab),
            display_name="Sam Scoped",
            roles=frozenset({Role.SUPERVISOR}),
            supervised_queue_ids=frozenset({SUPPORT}),
        )
    )


def hours_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "timeZone": "Europe/Paris",
        "weekly": [
            {"day": "mon", "start": "08:00", "end": "12:00"},
            {"day": "mon", "start": "13:00", "end": "18:00"},
        ],
        "holidaySets": [
            {
                "name": "France",
                "holidays": [{"name": "Bastille Day", "start": "2026-07-14", "end": "2026-07-15"}],
                "action": {"kind": "disconnect", "promptId": "std.fr-FR.holiday"},
            }
        ],
        "closedAction": {"kind": "voicemail"},
        "holidayAction": {"kind": "redirect-number", "target": "+14255550123"},
    }
    body.update(changes)
    return body


def queue_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Billing",
        "members": [ANA.id],
        "skillWidenAfterS": 90,
        "greetingPromptId": UPLOADED,
        "musicPromptId": "std.en-US.music",
        "comfortIntervalS": 30,
        "announcePosition": False,
        "language": "fr-FR",
        "hours": hours_body(),
        "callback": {"offered": True, "key": "#", "order": "agent-first", "maxAttempts": 2},
        "dispositionCodes": ["Sale", "Refund", "Complaint"],
    }
    body.update(changes)
    return body


def ivr_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Billing menu",
        "rootMenuId": "main",
        "greetingPromptId": UPLOADED,
        "menus": [
            {
                "id": "main",
                "name": "Main",
                "promptId": "std.en-US.choose",
                "options": [
                    {"digit": "1", "action": "queue", "target": SALES, "label": "Sales"},
                    {"digit": "2", "action": "menu", "target": "more"},
                    {"digit": "*", "action": "repeat"},
                ],
                "timeoutS": 5,
                "maxRetries": 1,
                "fallback": {"digit": "", "action": "voicemail", "target": SUPPORT},
            },
            {
                "id": "more",
                "options": [{"digit": "0", "action": "user", "target": ANA.id}],
            },
        ],
        "hours": hours_body(closedAction={"kind": "queue", "target": SUPPORT}),
    }
    body.update(changes)
    return body


def fields(answer: dict[str, Any]) -> list[str]:
    return [d["field"] for d in answer["error"]["details"]]


# ===================================================================== queues
async def test_a_queue_is_created_with_hours_prompts_callbacks_and_codes(tab: TabStack) -> None:
    await add_prompt(tab)
    status, created = await tab.call("POST", QUEUES, user=ADMIN.id, json=queue_body())
    assert status == 201, created
    queue = (await tab.repository.queues.get(tenant(tab), created["id"])).value
    assert queue.skill_widen_after_s == 90
    assert (queue.greeting_prompt_id, queue.music_prompt_id) == (UPLOADED, "std.en-US.music")
    assert (queue.comfort_interval_s, queue.announce_position, queue.announce_wait) == (
        30,
        False,
        True,
    )
    assert queue.language == "fr-FR"
    assert queue.hours is not None
    assert queue.hours.time_zone == "Europe/Paris"
    assert [(r.day, r.start, r.end) for r in queue.hours.weekly] == [
        (Weekday.MONDAY, "08:00", "12:00"),
        (Weekday.MONDAY, "13:00", "18:00"),
    ]
    holiday_set = queue.hours.holiday_sets[0]
    assert holiday_set.holidays[0].name == "Bastille Day"
    assert holiday_set.action is not None
    assert holiday_set.action.prompt_id == "std.fr-FR.holiday"
    assert queue.hours.closed_action.kind is ActionKind.VOICEMAIL
    assert not queue.hours.closed_now
    assert queue.callback.offered
    assert (queue.callback.key, queue.callback.order) == ("#", CallbackOrder.AGENT_FIRST)
    assert queue.callback.max_attempts == 2
    assert queue.disposition_codes == ("Sale", "Refund", "Complaint")
    assert created["hours"]["weekly"][1] == {"day": "mon", "start": "13:00", "end": "18:00"}
    assert created["callback"]["order"] == "agent-first"
    assert created["dispositionCodes"] == ["Sale", "Refund", "Complaint"]
    assert await actions(tab) == ["queue.create"]


async def test_a_queue_read_and_sent_back_unchanged_changes_nothing(tab: TabStack) -> None:
    status, support = await tab.call("GET", f"{QUEUES}/{SUPPORT}", user=ADMIN.id)
    body = {k: v for k, v in support.items() if k not in {"id", "etag"}}
    status, saved = await tab.call("PUT", f"{QUEUES}/{SUPPORT}", user=ADMIN.id, json=body)
    assert status == 200, saved
    assert saved["etag"] == support["etag"]
    assert await actions(tab) == []


async def test_a_body_without_the_new_fields_keeps_the_queues_settings(tab: TabStack) -> None:
    before = (await tab.repository.queues.get(tenant(tab), SUPPORT)).value
    old_style = {
        "name": "Support",
        "routingMethod": "round-robin",
        "members": list(before.members),
        "wrapUpS": 60,
        "timeoutAction": {"kind": "callback"},
        "noAgentAction": {"kind": "voicemail"},
    }
    status, saved = await tab.call("PUT", f"{QUEUES}/{SUPPORT}", user=ADMIN.id, json=old_style)
    assert status == 200, saved
    after = (await tab.repository.queues.get(tenant(tab), SUPPORT)).value
    assert after.wrap_up_s == 60
    assert after.callback == before.callback
    assert after.comfort_interval_s == before.comfort_interval_s == 45
    assert saved["callback"]["offered"] is True


async def test_a_new_queue_from_an_old_style_body_gets_the_defaults(tab: TabStack) -> None:
    status, created = await tab.call("POST", QUEUES, user=ADMIN.id, json={"name": "Plain"})
    assert status == 201
    assert created["hours"] is None
    assert created["callback"]["offered"] is False
    assert (created["comfortIntervalS"], created["language"]) == (60, "en-US")
    assert created["dispositionCodes"] == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"greetingPromptId": "ffffffffffffffffffffffffffffffff"}, "greetingPromptId", "no such"),
        ({"comfortPromptId": "welcome.wav"}, "comfortPromptId", "not a prompt id"),
        (
            {"hours": hours_body(closedAction={"kind": "disconnect", "promptId": "nope"})},
            "hours.closedAction.promptId",
            "not a prompt id",
        ),
    ],
)
async def test_a_prompt_must_be_standard_or_uploaded(
    tab: TabStack, changes: dict[str, Any], field: str, message: str
) -> None:
    await add_prompt(tab)
    before = await stored(tab)
    status, answer = await tab.call("POST", QUEUES, user=ADMIN.id, json=queue_body(**changes))
    assert status == 422
    assert fields(answer) == [field]
    assert message in answer["error"]["details"][0]["message"]
    assert await stored(tab) == before
    assert await actions(tab) == []


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        (hours_body(timeZone="Mars/Olympus"), "hours.timeZone"),
        (
            hours_body(weekly=[{"day": "tue", "start": "09:00", "end": "08:00"}]),
            "hours.weekly[0]",
        ),
        (
            hours_body(
                weekly=[
                    {"day": "tue", "start": "09:00", "end": "12:00"},
                    {"day": "tue", "start": "11:00", "end": "14:00"},
                ]
            ),
            "hours.weekly[1]",
        ),
        (
            hours_body(weekly=[{"day": "tue", "start": "9am", "end": "12:00"}]),
            "hours.weekly[0].start",
        ),
        (
            hours_body(
                holidaySets=[
                    {"name": "X", "holidays": [{"name": "Y", "start": "2026-13-01", "end": "x"}]}
                ]
            ),
            "hours.holidaySets[0].holidays[0].start",
        ),
        (hours_body(closedAction={"kind": "callback"}), "hours.closedAction.kind"),
        (
            hours_body(closedAction={"kind": "queue", "target": "nowhere"}),
            "hours.closedAction.target",
        ),
        (
            hours_body(weekly=[{"day": "someday", "start": "09:00", "end": "12:00"}]),
            "hours.weekly[0].day",
        ),
    ],
)
async def test_bad_hours_are_refused_field_by_field_and_change_nothing(
    tab: TabStack, hours: dict[str, Any], field: str
) -> None:
    status, sales = await tab.call("GET", f"{QUEUES}/{SALES}", user=ADMIN.id)
    body = {k: v for k, v in sales.items() if k not in {"id", "etag"}}
    before = await stored(tab)
    status, answer = await tab.call(
        "PUT", f"{QUEUES}/{SALES}", user=ADMIN.id, json={**body, "hours": hours}
    )
    assert status == 422, answer
    assert answer["error"]["code"] == "validationFailed"
    assert fields(answer) == [field]
    assert await stored(tab) == before
    assert await actions(tab) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"callback": {"key": "x"}}, "callback.key"),
        ({"callback": {"maxAttempts": 0}}, "callback.maxAttempts"),
        ({"callback": {"dialTimeoutS": 5}}, "callback.dialTimeoutS"),
        ({"dispositionCodes": ["Sale", "sale"]}, "dispositionCodes"),
        ({"dispositionCodes": [f"code {n}" for n in range(51)]}, "dispositionCodes"),
        ({"dispositionCodes": ["x" * 41]}, "dispositionCodes[0]"),
        ({"language": "french"}, "language"),
        ({"skillWidenAfterS": -1}, "skillWidenAfterS"),
    ],
)
async def test_callbacks_codes_and_language_are_checked(
    tab: TabStack, changes: dict[str, Any], field: str
) -> None:
    await add_prompt(tab)
    status, answer = await tab.call("POST", QUEUES, user=ADMIN.id, json=queue_body(**changes))
    assert status == 422, answer
    assert fields(answer) == [field]
    assert len(await tab.repository.queues.find(tenant(tab))) == 2


async def test_saving_the_form_does_not_reopen_a_queue_closed_meanwhile(tab: TabStack) -> None:
    status, sales = await tab.call("GET", f"{QUEUES}/{SALES}", user=ADMIN.id)
    status, _ = await tab.call(
        "POST", f"/api/tab/supervision/queues/{SALES}/closed-now", user=SUPERVISOR.id,
        json={"closed": True},
    )  # fmt: skip
    assert status == 200
    body = {k: v for k, v in sales.items() if k not in {"id", "etag"}}
    body["hours"] = {"weekly": [{"day": "fri", "start": "09:00", "end": "17:00"}]}
    status, saved = await tab.call("PUT", f"{QUEUES}/{SALES}", user=ADMIN.id, json=body)
    assert status == 200, saved
    assert saved["hours"]["closedNow"] is True
    assert saved["hours"]["weekly"] == [{"day": "fri", "start": "09:00", "end": "17:00"}]


async def test_a_queue_an_ivr_sends_calls_to_cannot_be_deleted(tab: TabStack) -> None:
    status, created = await tab.call("POST", QUEUES, user=ADMIN.id, json={"name": "Spare"})
    body = ivr_body(
        menus=[
            {"id": "main", "options": [{"digit": "1", "action": "queue", "target": created["id"]}]}
        ],
        hours=None,
        greetingPromptId=None,
    )
    status, _ = await tab.call("POST", IVRS, user=ADMIN.id, json=body)
    assert status == 201
    status, answer = await tab.call("DELETE", f"{QUEUES}/{created['id']}", user=ADMIN.id)
    assert status == 409
    assert fields(answer) == ["ivrs"]


# ======================================================================= IVRs
async def test_an_admin_creates_an_ivr_and_the_change_is_audited(tab: TabStack) -> None:
    await add_prompt(tab)
    status, created = await tab.call("POST", IVRS, user=ADMIN.id, json=ivr_body())
    assert status == 201, created
    ivr = (await tab.repository.ivrs.get(tenant(tab), created["id"])).value
    assert ivr.name == "Billing menu"
    assert ivr.greeting_prompt_id == UPLOADED
    main, more = ivr.menus
    assert [(o.digit, o.action, o.target) for o in main.options] == [
        ("1", MenuActionKind.QUEUE, SALES),
        ("2", MenuActionKind.MENU, "more"),
        ("*", MenuActionKind.REPEAT, None),
    ]
    assert (main.timeout_s, main.max_retries) == (5, 1)
    assert main.fallback is not None
    assert main.fallback.target == SUPPORT
    assert more.options[0].target == ANA.id
    assert ivr.hours is not None
    assert ivr.hours.closed_action.target == SUPPORT
    assert created["bindings"] == []
    entry = (await tab.audit.all(tenant(tab)))[0].value
    assert (entry.action, entry.target_type, entry.target_id) == ("ivr.create", "ivr", ivr.id)
    assert entry.after is not None
    assert entry.after["name"] == "Billing menu"
    status, listing = await tab.call("GET", IVRS, user=ADMIN.id)
    assert [i["name"] for i in listing["ivrs"]] == ["Billing menu", IVR_NAME]
    demo = listing["ivrs"][1]
    assert {b["id"] for b in demo["bindings"]} == {
        MAIN_LINE.phone,
        MAIN_LINE.application_instance_id,
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {
                "menus": [
                    {"id": "main", "options": [{"digit": "1", "action": "queue", "target": "x"}]}
                ]
            },
            "menus[0].options[0].target",
        ),
        (
            {"menus": [{"id": "main", "options": [{"digit": "A", "action": "repeat"}]}]},
            "menus[0].options[0].digit",
        ),
        (
            {
                "menus": [
                    {"id": "main", "options": [{"digit": "1", "action": "menu", "target": "x"}]}
                ]
            },
            "menus[0].options[0].target",
        ),
        (
            {
                "menus": [
                    {"id": "main", "options": [{"digit": "1", "action": "number", "target": "12"}]}
                ]
            },
            "menus[0].options[0].target",
        ),
        (
            {
                "menus": [
                    {
                        "id": "main",
                        "options": [{"digit": "1", "action": "user", "target": "nobody"}],
                    }
                ]
            },
            "menus[0].options[0].target",
        ),
        ({"menus": [{"id": "main", "timeoutS": 0}]}, "menus[0].timeoutS"),
        ({"menus": [{"id": "main", "maxRetries": 9}]}, "menus[0].maxRetries"),
        ({"rootMenuId": "nowhere"}, "rootMenuId"),
        ({"menus": []}, "menus"),
        ({"name": IVR_NAME.upper()}, "name"),
        ({"greetingPromptId": "ffffffffffffffffffffffffffffffff"}, "greetingPromptId"),
        ({"hours": hours_body(timeZone="Nowhere/City")}, "hours.timeZone"),
    ],
)
async def test_a_bad_ivr_is_refused_and_nothing_is_stored(
    tab: TabStack, changes: dict[str, Any], field: str
) -> None:
    await add_prompt(tab)
    before = await stored(tab)
    status, answer = await tab.call("POST", IVRS, user=ADMIN.id, json=ivr_body(**changes))
    assert status == 422, answer
    assert fields(answer) == [field]
    assert await stored(tab) == before
    assert await actions(tab) == []


async def test_an_ivr_update_of_a_stale_version_gets_412(tab: TabStack) -> None:
    status, demo = await tab.call("GET", f"{IVRS}/{DEMO_IVR}", user=ADMIN.id)
    body = {k: v for k, v in demo.items() if k not in {"id", "etag", "bindings"}}
    status, saved = await tab.call(
        "PUT", f"{IVRS}/{DEMO_IVR}", user=ADMIN.id, json={**body, "name": "Main menu"},
        headers={"If-Match": demo["etag"]},
    )  # fmt: skip
    assert status == 200, saved
    assert saved["etag"] != demo["etag"]
    status, answer = await tab.call(
        "PUT", f"{IVRS}/{DEMO_IVR}", user=ADMIN.id, json={**body, "name": "Other"},
        headers={"If-Match": demo["etag"]},
    )  # fmt: skip
    assert status == 412
    assert answer["error"]["code"] == "preconditionFailed"
    assert (await tab.repository.ivrs.get(tenant(tab), DEMO_IVR)).value.name == "Main menu"
    entry = (await tab.audit.all(tenant(tab)))[0].value
    assert entry.action == "ivr.update"
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["name"], entry.after["name"]) == (IVR_NAME, "Main menu")


async def test_the_demo_ivr_round_trips_unchanged(tab: TabStack) -> None:
    status, demo = await tab.call("GET", f"{IVRS}/{DEMO_IVR}", user=ADMIN.id)
    body = {k: v for k, v in demo.items() if k not in {"id", "etag", "bindings"}}
    before = (await tab.repository.ivrs.get(tenant(tab), DEMO_IVR)).value
    status, saved = await tab.call("PUT", f"{IVRS}/{DEMO_IVR}", user=ADMIN.id, json=body)
    assert status == 200, saved
    assert (await tab.repository.ivrs.get(tenant(tab), DEMO_IVR)).value == before
    assert await actions(tab) == []


async def test_a_bound_ivr_cannot_be_deleted_until_unbound(tab: TabStack) -> None:
    status, created = await tab.call(
        "POST", IVRS, user=ADMIN.id, json=ivr_body(greetingPromptId=None)
    )
    path = f"{IVRS}/{created['id']}"
    status, binding = await tab.call(
        "POST", f"{path}/bindings", user=ADMIN.id,
        json={"identity": "+14255550188", "displayName": "Billing line"},
    )  # fmt: skip
    assert status == 201
    assert binding == {
        "id": "+14255550188",
        "kind": "phoneNumber",
        "ivrId": created["id"],
        "displayName": "Billing line",
    }
    status, answer = await tab.call("DELETE", path, user=ADMIN.id)
    assert status == 409
    assert answer["error"]["code"] == "ivrInUse"
    assert fields(answer) == ["bindings"]
    await tab.repository.ivrs.get(tenant(tab), created["id"])
    status, _ = await tab.call("DELETE", "/api/tab/admin/bindings/%2B14255550188", user=ADMIN.id)
    assert status == 204
    status, _ = await tab.call("DELETE", path, user=ADMIN.id)
    assert status == 204
    with pytest.raises(NotFound):
        await tab.repository.ivrs.get(tenant(tab), created["id"])
    assert (await actions(tab))[:4] == [
        "ivr.delete",
        "binding.delete",
        "binding.create",
        "ivr.create",
    ]


async def test_an_identity_bound_already_is_not_bound_to_an_ivr(tab: TabStack) -> None:
    status, answer = await tab.call(
        "POST", f"{IVRS}/{DEMO_IVR}/bindings", user=ADMIN.id, json={"identity": MAIN_LINE.phone}
    )
    assert status == 409
    assert answer["error"]["code"] == "alreadyBound"
    status, answer = await tab.call(
        "POST", f"{IVRS}/{DEMO_IVR}/bindings", user=ADMIN.id, json={"identity": "main"}
    )
    assert status == 422
    assert fields(answer) == ["identity"]


async def test_ivrs_are_for_admins(tab: TabStack) -> None:
    for user in (ANA.id, SUPERVISOR.id):
        status, _ = await tab.call("POST", IVRS, user=user, json=ivr_body())
        assert status == 403
    assert await actions(tab) == []


# =============================================================== caller lists
async def test_the_caller_lists_are_read_and_replaced(tab: TabStack) -> None:
    status, lists = await tab.call("GET", CALLERS, user=ADMIN.id)
    assert status == 200
    assert VIP_NUMBER in {e["value"] for e in lists["entries"] if e["kind"] == "vip"}
    entries = [
        {"kind": "vip", "partyKind": "phone", "value": "+14255550111", "priorityBoost": 5},
        {"kind": "blocked", "partyKind": "phone", "value": "+14255550112", "reason": "spam"},
        {"kind": "vip", "partyKind": "user", "value": ANA.id},
    ]
    status, saved = await tab.call(
        "PUT", CALLERS, user=ADMIN.id, json={"entries": entries},
        headers={"If-Match": lists["etag"]},
    )  # fmt: skip
    assert status == 200, saved
    assert [e["value"] for e in saved["entries"]] == ["+14255550111", "+14255550112", ANA.id]
    stored_list = (await tab.repository.caller_lists.get(tenant(tab), CALLER_LIST_ID)).value
    assert [(e.kind, e.priority_boost) for e in stored_list.entries] == [
        (CallerListKind.VIP, 5),
        (CallerListKind.BLOCKED, 10),
        (CallerListKind.VIP, 10),
    ]
    entry = (await tab.audit.all(tenant(tab)))[0].value
    assert (entry.action, entry.target_type) == ("callers.update", "callerList")
    assert entry.before is not None
    assert len(entry.before["entries"]) == 2


@pytest.mark.parametrize(
    ("entries", "field"),
    [
        (
            [
                {"kind": "vip", "partyKind": "phone", "value": "+14255550111"},
                {"kind": "blocked", "partyKind": "phone", "value": "555-0112"},
            ],
            "entries[1].value",
        ),
        (
            [
                {"kind": "vip", "partyKind": "phone", "value": "+14255550111"},
                {"kind": "blocked", "partyKind": "phone", "value": "+14255550111"},
            ],
            "entries[1].value",
        ),
        (
            [{"kind": "vip", "partyKind": "phone", "value": "+14255550111", "priorityBoost": 0}],
            "entries[0].priorityBoost",
        ),
        ([{"kind": "blocked", "partyKind": "anonymous", "value": "x"}], "entries[0].partyKind"),
        ([{"kind": "friend", "partyKind": "phone", "value": "+14255550111"}], "entries[0].kind"),
    ],
)
async def test_bad_caller_entries_are_refused_and_nothing_changes(
    tab: TabStack, entries: list[dict[str, Any]], field: str
) -> None:
    before = await stored(tab)
    status, answer = await tab.call("PUT", CALLERS, user=ADMIN.id, json={"entries": entries})
    assert status == 422, answer
    assert fields(answer) == [field]
    assert await stored(tab) == before
    assert await actions(tab) == []


async def test_a_stale_caller_list_gets_412(tab: TabStack) -> None:
    status, lists = await tab.call("GET", CALLERS, user=ADMIN.id)
    await tab.call("PUT", CALLERS, user=ADMIN.id, json={"entries": []})
    status, answer = await tab.call(
        "PUT", CALLERS, user=ADMIN.id, json={"entries": lists["entries"]},
        headers={"If-Match": lists["etag"]},
    )  # fmt: skip
    assert status == 412
    assert answer["error"]["code"] == "preconditionFailed"
    stored_list = (await tab.repository.caller_lists.get(tenant(tab), CALLER_LIST_ID)).value
    assert stored_list.entries == ()


# ================================================================ closed now
async def test_an_admin_closes_a_queue_now_and_opens_it_again(tab: TabStack) -> None:
    path = f"/api/tab/supervision/queues/{SALES}/closed-now"
    action = {"kind": "redirect-number", "target": "+14255550123"}
    status, view = await tab.call(
        "POST", path, user=ADMIN.id, json={"closed": True, "action": action}
    )
    assert status == 200, view
    assert view == {
        "kind": "queue",
        "id": SALES,
        "name": "Sales",
        "closedNow": True,
        "closedNowAction": {**action, "promptId": None},
    }
    hours = (await tab.repository.queues.get(tenant(tab), SALES)).value.hours
    assert hours is not None
    assert hours.closed_now
    assert hours.closed_now_action is not None
    assert hours.closed_now_action.kind is ActionKind.REDIRECT_NUMBER
    status, view = await tab.call("POST", path, user=ADMIN.id, json={"closed": False})
    assert view["closedNow"] is False
    assert view["closedNowAction"]["target"] == "+14255550123"
    entries = [e.value for e in await tab.audit.all(tenant(tab))]
    assert [e.action for e in entries] == ["queue.closed-now", "queue.closed-now"]
    assert entries[1].after is not None
    assert entries[1].after["hours"]["closedNow"] is True
    # Switching to what it is already changes nothing and records nothing.
    status, _ = await tab.call("POST", path, user=ADMIN.id, json={"closed": False})
    assert status == 200
    assert len(await actions(tab)) == 2


async def test_a_supervisor_switches_only_the_queues_they_supervise(tab: TabStack) -> None:
    await add_scoped_supervisor(tab)
    before = await stored(tab)
    status, answer = await tab.call(
        "POST", f"/api/tab/supervision/queues/{SALES}/closed-now", user=SCOPED,
        json={"closed": True},
    )  # fmt: skip
    assert status == 403
    assert answer["error"]["code"] == "notYourQueue"
    assert await stored(tab) == before
    status, view = await tab.call(
        "POST", f"/api/tab/supervision/queues/{SUPPORT}/closed-now", user=SCOPED,
        json={"closed": True},
    )  # fmt: skip
    assert status == 200
    assert view["closedNow"] is True
    entry = (await tab.audit.all(tenant(tab)))[0].value
    assert (entry.action, entry.actor_id, entry.target_id) == ("queue.closed-now", SCOPED, SUPPORT)


async def test_an_agent_cannot_close_a_queue(tab: TabStack) -> None:
    status, answer = await tab.call(
        "POST", f"/api/tab/supervision/queues/{SALES}/closed-now", user=ANA.id,
        json={"closed": True},
    )  # fmt: skip
    assert status == 403
    assert answer["error"]["code"] == "forbidden"
    assert await actions(tab) == []


async def test_an_ivr_is_closed_by_supervisors_of_every_queue_it_serves(tab: TabStack) -> None:
    await add_scoped_supervisor(tab)
    path = f"/api/tab/supervision/ivrs/{DEMO_IVR}/closed-now"
    # The demo IVR sends callers to Sales too, which Sam does not supervise.
    status, answer = await tab.call("POST", path, user=SCOPED, json={"closed": True})
    assert status == 403
    assert answer["error"]["code"] == "notYourIvr"
    status, view = await tab.call("POST", path, user=SUPERVISOR.id, json={"closed": True})
    assert status == 200
    assert view["kind"] == "ivr"
    assert view["closedNow"] is True
    hours = (await tab.repository.ivrs.get(tenant(tab), DEMO_IVR)).value.hours
    assert hours is not None
    assert hours.closed_now
    assert len(hours.weekly) == 7  # the schedule is untouched
    assert await actions(tab) == ["ivr.closed-now"]


async def test_a_closed_now_action_that_cannot_run_is_refused(tab: TabStack) -> None:
    before = await stored(tab)
    for action, field in (
        ({"kind": "callback"}, "action.kind"),
        ({"kind": "queue", "target": SALES}, "action.target"),
        ({"kind": "redirect-user", "target": "not-a-user"}, "action.target"),
    ):
        status, answer = await tab.call(
            "POST", f"/api/tab/supervision/queues/{SALES}/closed-now", user=ADMIN.id,
            json={"closed": True, "action": action},
        )  # fmt: skip
        assert status == 422, answer
        assert fields(answer) == [field]
    assert await stored(tab) == before
    assert await actions(tab) == []


async def test_the_closed_now_list_shows_what_i_may_switch(tab: TabStack) -> None:
    await add_scoped_supervisor(tab)
    status, listing = await tab.call("GET", "/api/tab/supervision/closed-now", user=SCOPED)
    assert status == 200
    assert [(i["kind"], i["name"]) for i in listing["items"]] == [("queue", "Support")]
    status, listing = await tab.call("GET", "/api/tab/supervision/closed-now", user=ADMIN.id)
    assert [(i["kind"], i["name"]) for i in listing["items"]] == [
        ("queue", "Sales"),
        ("queue", "Support"),
        ("ivr", IVR_NAME),
    ]
    status, _ = await tab.call("GET", "/api/tab/supervision/closed-now", user=ANA.id)
    assert status == 403


# ===================================================================== OpenAPI
async def test_the_openapi_document_lists_the_configuration_endpoints(tab: TabStack) -> None:
    status, document = await tab.call("GET", "/api/tab/openapi.json")
    assert status == 200
    paths = document["paths"]
    assert set(paths[IVRS]) == {"get", "post"}
    assert set(paths[f"{IVRS}/{{ivrId}}"]) == {"get", "put", "delete"}
    assert "412" in paths[f"{IVRS}/{{ivrId}}"]["put"]["responses"]
    assert set(paths[f"{IVRS}/{{ivrId}}/bindings"]) == {"post"}
    assert set(paths[CALLERS]) == {"get", "put"}
    assert set(paths["/api/tab/supervision/queues/{queueId}/closed-now"]) == {"post"}
    assert set(paths["/api/tab/supervision/ivrs/{ivrId}/closed-now"]) == {"post"}
    assert set(paths["/api/tab/supervision/closed-now"]) == {"get"}
    queue_body_schema = document["components"]["schemas"]["QueueBody"]["properties"]
    assert {"hours", "callback", "dispositionCodes", "greetingPromptId"} <= set(queue_body_schema)


# ================================================================ end to end
async def test_a_call_to_a_number_bound_to_a_new_ivr_reaches_the_queue_for_its_key(
    tab: TabStack,
) -> None:
    await tab.simulator.update_settings(media_mode="manual")
    body = ivr_body(
        greetingPromptId=None,
        hours=None,
        menus=[
            {
                "id": "main",
                "promptId": "std.en-US.choose",
                "options": [{"digit": "4", "action": "queue", "target": SUPPORT}],
            }
        ],
    )
    status, created = await tab.call("POST", IVRS, user=ADMIN.id, json=body)
    assert status == 201, created
    line = MAIN_LINE.application_instance_id
    status, _ = await tab.call("DELETE", f"/api/tab/admin/bindings/{line}", user=ADMIN.id)
    assert status == 204
    status, _ = await tab.call(
        "POST", f"{IVRS}/{created['id']}/bindings", user=ADMIN.id, json={"identity": line}
    )
    assert status == 201

    placed = await tab.simulator.place_call(
        tenant(tab), application_instance_id=line, caller_phone="+14255550123"
    )
    assert placed.webhook_status == 202
    answered = await tab.simulator.wait_for_call(
        placed.id, state="established", notifications=3, timeout_s=10
    )
    live = (await tab.repository.calls.get(tenant(tab), placed.id)).value
    assert (live.state, live.ivr_id) == (CallState.MENU, created["id"])
    seen = len(answered["notifications"])
    await tab.simulator.press_tones(placed.id, "4")
    await tab.simulator.wait_for_call(placed.id, notifications=seen + 2, timeout_s=10)
    live = (await tab.repository.calls.get(tenant(tab), placed.id)).value
    assert live.queue_id == SUPPORT
    assert live.state in {CallState.WAITING, CallState.RINGING}
    assert live.ivr_path[-2:] == ("key:4", f"queue:{SUPPORT}")


# ------------------------------------------------------------------ hours modes
async def test_set_times_without_an_opening_time_are_refused_with_a_message(
    tab: TabStack,
) -> None:
    before = await stored(tab)
    status, answer = await tab.call(
        "POST", QUEUES, user=ADMIN.id,
        json={"name": "Nobody home", "hours": {"mode": "set-times", "weekly": []}},
    )  # fmt: skip
    assert status == 422
    assert answer["error"]["details"] == [
        {
            "field": "hours.weekly",
            "message": "open at set times needs at least one opening time: add one, "
            "or choose always open",
        }
    ]
    assert await stored(tab) == before


async def test_hours_say_their_mode_and_a_body_without_one_gets_it_from_its_times(
    tab: TabStack,
) -> None:
    weekly = [{"day": "mon", "start": "09:00", "end": "17:00"}]
    status, timed = await tab.call(
        "POST", QUEUES, user=ADMIN.id, json={"name": "Timed", "hours": {"weekly": weekly}}
    )
    assert status == 201, timed
    assert timed["hours"]["mode"] == "set-times"
    status, always = await tab.call(
        "POST", QUEUES, user=ADMIN.id, json={"name": "Always", "hours": {"mode": "always-open"}}
    )
    assert status == 201, always
    assert (always["hours"]["mode"], always["hours"]["weekly"]) == ("always-open", [])


async def test_the_time_zones_to_pick_from_are_the_iana_names(tab: TabStack) -> None:
    status, zones = await tab.call("GET", "/api/tab/admin/time-zones", user=ADMIN.id)
    assert status == 200
    assert {"Europe/Paris", "America/New_York", "UTC"} <= set(zones["timeZones"])
    assert "posixrules" not in zones["timeZones"]
    assert zones["timeZones"] == sorted(zones["timeZones"])
    assert zones["organizationTimeZone"] == "America/New_York"
