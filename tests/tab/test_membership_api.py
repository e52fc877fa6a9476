"""Queues fed by a Teams team, a channel or an Entra group: joiners become agents of the
queue, leavers are signed out and taken off it, every change audited, a throttled
directory backed off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.demo import BILLING_TEAM, DIRECTORY_ONLY, ESCALATIONS_CHANNEL
from bot.messaging.app_installs import APP_INSTALLS
from contactcenter.clock import VirtualClock
from contactcenter.membership_sync import SYNC_INTERVAL
from tab.appkeys import TAB
from tests.tab.support import ADMIN, BEN, SALES, TabStack

QUEUES = "/api/tab/admin/queues"
ANIKA = next(p for p in DIRECTORY_ONLY if p.name.startswith("Anika"))
LENA = next(p for p in DIRECTORY_ONLY if p.name.startswith("Lena"))
TEAM = {"kind": "team", "sourceId": BILLING_TEAM, "displayName": "Billing team"}


@pytest.fixture(autouse=True)
async def installs_settle(tab: TabStack) -> AsyncIterator[None]:
    """End each test once the Teams app installs its seats started are done."""
    yield
    await tab.app[APP_INSTALLS].wait_idle()


def tenant(tab: TabStack) -> str:
    return tab.settings.microsoft_app_tenant_id


async def team_queue(tab: TabStack, **membership: Any) -> str:
    status, queue = await tab.call(
        "POST", QUEUES, user=ADMIN.id, json={"name": "Billing", "membership": membership or TEAM}
    )
    assert status == 201, queue
    return str(queue["id"])


async def sync(tab: TabStack, queue_id: str) -> dict[str, Any]:
    status, state = await tab.call("POST", f"{QUEUES}/{queue_id}/membership/sync", user=ADMIN.id)
    assert status == 200, state
    return dict(state)


async def members(tab: TabStack, queue_id: str) -> tuple[str, ...]:
    return (await tab.repository.queues.get(tenant(tab), queue_id)).value.members


async def test_the_members_of_a_team_become_agents_of_the_queue(tab: TabStack) -> None:
    queue_id = await team_queue(tab)
    state = await sync(tab, queue_id)
    assert (state["joined"], state["left"], state["warnings"]) == (2, 0, [])
    assert set(await members(tab, queue_id)) == {BEN.id, ANIKA.id}
    anika = (await tab.repository.agents.get(tenant(tab), ANIKA.id)).value
    assert (anika.has_seat, anika.signed_in_queue_ids) == (True, frozenset({queue_id}))
    entries = [e.value for e in await tab.audit.all(tenant(tab))]
    assert {"user.create", "agent.create", "seat.assign", "queue.update"} <= {
        e.action for e in entries
    }


async def test_a_member_added_to_the_team_joins_and_one_who_left_is_taken_off(
    tab: TabStack,
) -> None:
    queue_id = await team_queue(tab)
    await sync(tab, queue_id)
    await tab.simulator.set_group_member(tenant(tab), BILLING_TEAM, LENA.id)
    await tab.simulator.set_group_member(tenant(tab), BILLING_TEAM, BEN.id, member=False)
    state = await sync(tab, queue_id)
    assert (state["joined"], state["left"]) == (1, 1)
    assert set(await members(tab, queue_id)) == {ANIKA.id, LENA.id}
    ben = (await tab.repository.agents.get(tenant(tab), BEN.id)).value
    assert queue_id not in ben.signed_in_queue_ids
    # Ben stays an agent of his other queues.
    assert BEN.id in await members(tab, SALES)


async def test_a_channel_feeds_a_queue_too(tab: TabStack) -> None:
    queue_id = await team_queue(
        tab, kind="channel", sourceId=f"{BILLING_TEAM}/{ESCALATIONS_CHANNEL}", displayName="Esc"
    )
    await sync(tab, queue_id)
    assert set(await members(tab, queue_id)) == {BEN.id, ANIKA.id}


async def test_a_joiner_without_a_free_seat_is_a_warning_on_the_queue_and_in_the_log(
    tab: TabStack,
) -> None:
    status, _ = await tab.call("PUT", "/api/tab/admin/seats", user=ADMIN.id, json={"seatCount": 6})
    assert status == 200
    queue_id = await team_queue(tab)
    state = await sync(tab, queue_id)
    assert state["warnings"] == [
        "No seat is free: Anika Sharma is not offered calls until they get one",
        "Anika Sharma is signed out: only agents with a seat can sign in",
    ]
    status, listing = await tab.call("GET", "/api/tab/admin/membership-syncs", user=ADMIN.id)
    assert [s["warnings"] for s in listing["syncs"] if s["queueId"] == queue_id] == [
        state["warnings"]
    ]
    assert "queue.syncWarning" in [e.value.action for e in await tab.audit.all(tenant(tab))]


async def test_a_team_the_directory_does_not_know_is_refused(tab: TabStack) -> None:
    status, answer = await tab.call(
        "POST", QUEUES, user=ADMIN.id,
        json={"name": "Ghost", "membership": {"kind": "team", "sourceId": "no-such-team"}},
    )  # fmt: skip
    assert status == 422
    assert answer["error"]["details"] == [
        {"field": "membership.sourceId", "message": "no such team in the directory"}
    ]


async def test_due_syncs_run_once_per_interval(tab: TabStack, clock: VirtualClock) -> None:
    queue_id = await team_queue(tab)
    syncs = tab.app[TAB].membership_syncs
    assert await syncs.run_due() == 1
    assert await syncs.run_due() == 0
    await tab.simulator.set_group_member(tenant(tab), BILLING_TEAM, LENA.id)
    clock.advance(SYNC_INTERVAL.total_seconds() + 1)
    assert await syncs.run_due() == 1
    assert LENA.id in await members(tab, queue_id)


async def test_a_throttled_directory_is_backed_off(tab: TabStack, clock: VirtualClock) -> None:
    queue_id = await team_queue(tab)
    await tab.simulator.add_fault(f"/v1.0/teams/{BILLING_TEAM}/members", status=429,
                                  retry_after=60, count=None)  # fmt: skip
    syncs = tab.app[TAB].membership_syncs
    assert await syncs.run_due() == 1
    [state] = await syncs.state(tenant(tab))
    assert (state.failures, state.last_error) == (1, "the directory did not answer")
    assert state.due_at == clock.now() + SYNC_INTERVAL
    assert await members(tab, queue_id) == ()
    clock.advance(SYNC_INTERVAL.total_seconds())
    assert await syncs.run_due() == 1
    [state] = await syncs.state(tenant(tab))
    assert state.failures == 2
    assert state.due_at == clock.now() + 2 * SYNC_INTERVAL
