"""People from the directory through the tab API: search, add agents in one go, licences."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.demo import DIRECTORY_ONLY
from bot.messaging.app_installs import APP_INSTALLS
from tests.tab.support import ADMIN, ANA, SALES, SUPPORT, TabStack

PEOPLE = "/api/tab/admin/directory/people"
AGENTS = "/api/tab/admin/agents"
ANIKA = next(p for p in DIRECTORY_ONLY if p.name.startswith("Anika"))
ANDRES = next(p for p in DIRECTORY_ONLY if p.name.startswith("Andr"))
KOFI = next(p for p in DIRECTORY_ONLY if p.name.startswith("Kofi"))
UNKNOWN = "0badc0de-0000-4000-8000-000000000000"


@pytest.fixture(autouse=True)
async def installs_settle(tab: TabStack) -> AsyncIterator[None]:
    """End each test once the Teams app installs its seats started are done."""
    yield
    await tab.app[APP_INSTALLS].wait_idle()


def tenant(tab: TabStack) -> str:
    return tab.settings.microsoft_app_tenant_id


async def search(tab: TabStack, text: str) -> dict[str, Any]:
    status, found = await tab.call("GET", f"{PEOPLE}?text={text}", user=ADMIN.id)
    assert status == 200, found
    return dict(found)


async def add(tab: TabStack, **body: Any) -> tuple[int, Any]:
    return await tab.call("POST", AGENTS, user=ADMIN.id, json=body)


async def test_people_are_found_by_part_of_their_name(tab: TabStack) -> None:
    found = await search(tab, "ani")
    assert [(p["displayName"], p["upn"], p["roles"]) for p in found["people"]] == [
        ("Anika Sharma", "anika@contoso.example", [])
    ]


async def test_people_are_found_by_their_mail_and_show_their_roles(tab: TabStack) -> None:
    found = await search(tab, "ana%40contoso")
    assert [(p["id"], p["roles"]) for p in found["people"]] == [(ANA.id, ["agent"])]


async def test_someone_is_made_an_agent_of_a_queue_in_one_go(tab: TabStack) -> None:
    status, answer = await add(tab, people=[ANIKA.id], seat=True, queueIds=[SALES], signedIn=True)
    assert status == 200, answer
    [result] = answer["results"]
    assert result["outcome"] == "added"
    assert (result["hasSeat"], result["signedInQueueIds"], result["licence"]) == (
        True,
        [SALES],
        "teams-phone",
    )
    assert result["warnings"] == []
    agent = (await tab.repository.agents.get(tenant(tab), ANIKA.id)).value
    assert agent.signed_in_queue_ids == frozenset({SALES})
    user = (await tab.repository.users.get(tenant(tab), ANIKA.id)).value
    assert (user.display_name, user.upn) == ("Anika Sharma", "anika@contoso.example")
    sales = (await tab.repository.queues.get(tenant(tab), SALES)).value
    assert sales.members[-1] == ANIKA.id
    actions = [e.value.action for e in await tab.audit.all(tenant(tab))]
    assert {"user.create", "agent.create", "seat.assign", "queue.update"} <= set(actions)


async def test_a_new_member_left_signed_out_is_told_so(tab: TabStack) -> None:
    _, answer = await add(tab, people=[KOFI.id], queueIds=[SUPPORT], signedIn=False)
    [result] = answer["results"]
    assert result["warnings"] == ["Kofi Mensah is signed out of their queues until they sign in"]
    assert result["licence"] == "teams"


async def test_an_id_the_directory_does_not_know_is_refused(tab: TabStack) -> None:
    status, answer = await add(tab, people=[UNKNOWN, ANIKA.id], queueIds=[SALES])
    assert status == 200
    refused, added = answer["results"]
    assert (refused["outcome"], refused["problem"]) == (
        "refused",
        "not a person of this organization's directory",
    )
    assert added["outcome"] == "added"
    assert [u.value.id for u in await tab.repository.users.find(tenant(tab))].count(UNKNOWN) == 0


async def test_a_seat_for_someone_without_a_teams_licence_comes_with_a_warning(
    tab: TabStack,
) -> None:
    _, answer = await add(tab, people=[ANDRES.id], seat=True)
    [result] = answer["results"]
    assert result["licence"] == "none"
    assert result["warnings"] == [
        "Andrés Gómez has no Microsoft Teams licence: they cannot take calls",
        "A seat went to Andrés Gómez, who cannot take Teams calls",
    ]


async def test_no_free_seat_is_a_warning_not_a_failure(tab: TabStack) -> None:
    status, _ = await tab.call("PUT", "/api/tab/admin/seats", user=ADMIN.id, json={"seatCount": 6})
    assert status == 200
    status, answer = await add(tab, people=[ANIKA.id], seat=True, queueIds=[SALES], signedIn=True)
    [result] = answer["results"]
    assert result["hasSeat"] is False
    assert result["warnings"] == [
        "No seat is free: Anika Sharma is not offered calls until they get one",
        "Anika Sharma is signed out: only agents with a seat can sign in",
    ]
    assert result["queueIds"] == [SALES]


async def test_an_unknown_queue_is_refused_before_anything_changes(tab: TabStack) -> None:
    status, answer = await add(tab, people=[ANIKA.id], queueIds=["no-such-queue"])
    assert status == 422
    assert answer["error"]["details"] == [{"field": "queueIds[0]", "message": "no such queue"}]
    assert ANIKA.id not in {u.value.id for u in await tab.repository.users.find(tenant(tab))}


async def test_adding_a_user_by_an_id_the_directory_does_not_know_is_refused(
    tab: TabStack,
) -> None:
    body = {"id": UNKNOWN, "displayName": "Made Up", "upn": "not-an-email", "roles": ["agent"]}
    status, answer = await tab.call("POST", "/api/tab/admin/users", user=ADMIN.id, json=body)
    assert status == 422
    assert answer["error"]["details"] == [
        {"field": "id", "message": "not a person of this organization's directory"}
    ]


async def test_a_throttled_directory_answers_503_with_when_to_try_again(tab: TabStack) -> None:
    await tab.simulator.add_fault("/v1.0/users", status=429, retry_after=60, count=None)
    status, answer = await tab.call("GET", f"{PEOPLE}?text=ana", user=ADMIN.id)
    assert status == 503
    assert answer["error"]["code"] == "directoryUnavailable"


async def test_each_agent_shows_whether_they_can_take_teams_calls(tab: TabStack) -> None:
    await add(tab, people=[ANDRES.id, KOFI.id])
    status, licences = await tab.call("GET", f"{AGENTS}/licences", user=ADMIN.id)
    assert status == 200
    by_id = {a["id"]: a["licence"] for a in licences["agents"]}
    assert (by_id[ANDRES.id], by_id[KOFI.id], by_id[ANA.id]) == ("none", "teams", "teams-phone")
