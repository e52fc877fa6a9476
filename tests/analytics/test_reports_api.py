"""The reports API over the hand-made records: numbers, CSV, paging, time zone and scoping.

The demo tenant is in America/New_York: on 2 March 2026 (standard time) its day runs from
05:00 to 05:00 UTC, and the records of 09:00-10:05 UTC are its 04:00-05:05.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

from bot.settings import DEMO_TENANT_ID
from tests.analytics.records import RECORDS, at
from tests.analytics.support import demo_record, state_of
from tests.tab.support import ADMIN, ANA, BEN, DEV, SALES, SUPERVISOR, SUPPORT, TabStack

REPORTS = "/api/tab/reports"
DAY = "from=2026-03-02&to=2026-03-02"


async def seed(stack: TabStack) -> list[str]:
    """Store the hand-made records in the demo tenant and count them; return their ids."""
    made = [demo_record(r) for r in RECORDS]
    for item in made:
        await stack.repository.call_records.create(item)
    await state_of(stack).aggregator.add_records(made)
    return [r.id for r in made]


async def supervise_only(stack: TabStack, queue_id: str) -> None:
    await stack.repository.users.update(
        DEMO_TENANT_ID,
        SUPERVISOR.id,
        lambda u: replace(u, supervised_queue_ids=frozenset({queue_id})),
    )


async def get_csv(stack: TabStack, path: str, user: str) -> list[list[str]]:
    async with stack.host.get(path, headers=stack.auth(user)) as response:
        assert response.status == 200
        assert response.content_type == "text/csv"
        assert response.headers["Content-Disposition"].startswith("attachment; filename=")
        return list(csv.reader(io.StringIO(await response.text())))


async def test_the_queue_summary_gives_the_hand_computed_kpis(stack: TabStack) -> None:
    await seed(stack)
    status, body = await stack.call("GET", f"{REPORTS}/queues?{DAY}", user=ADMIN.id)
    assert status == 200
    assert body["timeZone"] == "America/New_York"
    sales = next(r for r in body["queues"] if r["queueId"] == SALES)
    kpis = sales["kpis"]
    assert (kpis["offered"], kpis["answered"], kpis["abandoned"]) == (12, 5, 2)
    assert kpis["abandonmentRate"] == pytest.approx(2 / 12)
    assert kpis["asaS"] == pytest.approx(20.5)
    assert kpis["serviceLevel1"] == pytest.approx(3 / 5)
    assert kpis["serviceLevel2"] == pytest.approx(3 / 11)
    assert kpis["serviceLevel3"] == pytest.approx(4 / 12)
    assert kpis["serviceLevel4"] == pytest.approx(3 / 12)
    assert kpis["ahtS"] == pytest.approx(134.0)
    assert (sales["failed"], sales["metServiceLevel"]) == (1, 3)
    support = next(r for r in body["queues"] if r["queueId"] == SUPPORT)
    assert support["kpis"]["offered"] == 0
    assert support["kpis"]["asaS"] is None
    assert body["total"]["offered"] == 12
    assert [d["day"] for d in body["days"]] == ["2026-03-02"]
    status, body = await stack.call(
        "GET", f"{REPORTS}/queues?{DAY}&thresholdS=30&queueId={SALES}", user=ADMIN.id
    )
    assert [r["queueId"] for r in body["queues"]] == [SALES]
    assert body["queues"][0]["kpis"]["serviceLevel1"] == pytest.approx(4 / 5)


async def test_the_queue_summary_downloads_as_csv(stack: TabStack) -> None:
    await seed(stack)
    rows = await get_csv(stack, f"{REPORTS}/queues?{DAY}&format=csv", ADMIN.id)
    header, *body = rows
    assert header[:5] == ["queue id", "queue", "offered", "answered", "abandoned"]
    sales = next(r for r in body if r[0] == SALES)
    assert sales[1:5] == ["Sales", "12", "5", "2"]
    assert body[-1][1] == "Total"
    assert header[-1] == "T (s)"


async def test_every_report_table_downloads_as_csv(stack: TabStack) -> None:
    await seed(stack)
    agents = await get_csv(stack, f"{REPORTS}/agents?{DAY}&format=csv", ADMIN.id)
    ana = next(r for r in agents if r[0] == ANA.id)
    assert ana[1:3] == ["Ana Ruiz", "3"]
    hourly = await get_csv(stack, f"{REPORTS}/hourly?{DAY}&format=csv", ADMIN.id)
    assert len(hourly) == 1 + 24
    calls = await get_csv(stack, f"{REPORTS}/calls?{DAY}&format=csv", ADMIN.id)
    assert len(calls) == 1 + 14
    abandoned = await get_csv(stack, f"{REPORTS}/abandoned?{DAY}&format=csv", ADMIN.id)
    assert [r[0] for r in abandoned[1:]] == ["r06", "r05"]
    # Times are the tenant's: 09:21 UTC is 04:21 in New York.
    assert abandoned[1][3] == "2026-03-02T04:21:00-05:00"
    timeline = await get_csv(
        stack, f"{REPORTS}/agents/{ANA.id}/timeline?day=2026-03-02&format=csv", ADMIN.id
    )
    assert timeline[0][:3] == ["state", "start", "end"]
    assert len(timeline) == 1 + 6  # three calls, each talk and wrap-up


async def test_calls_by_hour_are_in_the_tenant_s_time_zone(stack: TabStack) -> None:
    await seed(stack)
    status, body = await stack.call("GET", f"{REPORTS}/hourly?{DAY}", user=ADMIN.id)
    assert status == 200
    assert body["days"] == ["2026-03-02"]
    offered = body["offered"][0]
    # 09:00-09:42 UTC is 04:xx in New York (10 calls), 10:00 and 10:05 UTC are 05:xx.
    assert (offered[4], offered[5], sum(offered)) == (10, 2, 12)
    assert body["abandoned"][0][4] == 2


async def test_call_details_page_through_every_call_with_filters(stack: TabStack) -> None:
    ids = await seed(stack)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = f"{REPORTS}/calls?{DAY}&limit=4" + (f"&cursor={cursor}" if cursor else "")
        status, body = await stack.call("GET", query, user=ADMIN.id)
        assert status == 200
        seen.extend(c["id"] for c in body["calls"])
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert pages == 4
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))
    ended = [next(r for r in RECORDS if r.id == i).ended_at for i in seen]
    assert ended == sorted(ended, reverse=True)

    status, body = await stack.call(
        "GET", f"{REPORTS}/calls?{DAY}&queueId={SALES}&agentId={BEN.id}", user=ADMIN.id
    )
    assert sorted(c["id"] for c in body["calls"]) == ["r02", "r04"]
    status, body = await stack.call(
        "GET", f"{REPORTS}/calls?{DAY}&outcome=abandoned", user=ADMIN.id
    )
    assert [c["id"] for c in body["calls"]] == ["r06", "r05"]
    status, body = await stack.call("GET", f"{REPORTS}/calls?{DAY}&cursor=garbage", user=ADMIN.id)
    assert status == 422


async def test_a_call_s_details_tell_who_declined_and_who_did_not_answer(
    stack: TabStack,
) -> None:
    # Dev declined, Ben let it ring out twice, then Dev declined a second offer; Ana took it.
    offered = replace(
        next(r for r in RECORDS if r.id == "r03"),
        missed_agent_ids=(DEV.id, BEN.id, BEN.id, DEV.id),
        declined_agent_ids=(DEV.id, DEV.id),
    )
    made = demo_record(offered)
    await stack.repository.call_records.create(made)
    await state_of(stack).aggregator.add_records([made])

    status, body = await stack.call("GET", f"{REPORTS}/calls?{DAY}", user=ADMIN.id)
    assert status == 200
    (call,) = body["calls"]
    assert call["missedAgentIds"] == [DEV.id, BEN.id, BEN.id, DEV.id]
    assert call["declinedAgentIds"] == [DEV.id, DEV.id]
    assert call["declinedAgentNames"] == ["Dev Patel", "Dev Patel"]
    assert call["unansweredAgentNames"] == ["Ben Okafor", "Ben Okafor"]
    rows = await get_csv(stack, f"{REPORTS}/calls?{DAY}&format=csv", ADMIN.id)
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["missed by"] == f"{DEV.id} {BEN.id} {BEN.id} {DEV.id}"
    assert row["declined by"] == f"{DEV.id} {DEV.id}"


async def test_a_supervisor_sees_only_their_queues(stack: TabStack) -> None:
    await seed(stack)
    # Two of the calls were Support's.
    for call_id in ("r09", "r10"):
        await stack.repository.call_records.update(
            DEMO_TENANT_ID, call_id, lambda r: replace(r, queue_id=SUPPORT, queue_name="Support")
        )
    await supervise_only(stack, SUPPORT)
    status, body = await stack.call("GET", f"{REPORTS}/queues?{DAY}", user=SUPERVISOR.id)
    assert status == 200
    assert [r["queueId"] for r in body["queues"]] == [SUPPORT]
    status, body = await stack.call(
        "GET", f"{REPORTS}/queues?{DAY}&queueId={SALES}", user=SUPERVISOR.id
    )
    assert (status, body["error"]["code"]) == (403, "notYourQueue")
    status, body = await stack.call("GET", f"{REPORTS}/calls?{DAY}", user=SUPERVISOR.id)
    assert sorted(c["id"] for c in body["calls"]) == ["r09", "r10"]
    status, body = await stack.call("GET", f"{REPORTS}/agents?{DAY}", user=SUPERVISOR.id)
    assert ANA.id not in {r["agentId"] for r in body["agents"]}
    status, _ = await stack.call("GET", f"{REPORTS}/agents/{ANA.id}/timeline", user=SUPERVISOR.id)
    assert status == 403


async def test_a_supervisor_of_two_queues_gets_one_merged_call_list(stack: TabStack) -> None:
    await seed(stack)
    for call_id in ("r02", "r07", "r10"):
        await stack.repository.call_records.update(
            DEMO_TENANT_ID, call_id, lambda r: replace(r, queue_id=SUPPORT, queue_name="Support")
        )
    seen: list[str] = []
    cursor = None
    while True:
        query = f"{REPORTS}/calls?{DAY}&limit=3" + (f"&cursor={cursor}" if cursor else "")
        status, body = await stack.call("GET", query, user=SUPERVISOR.id)
        assert status == 200
        seen.extend(c["id"] for c in body["calls"])
        cursor = body["nextCursor"]
        if cursor is None:
            break
    # Every call of either queue (r12 never reached a queue), newest first, once each.
    expected = sorted((r for r in RECORDS if r.queue_id), key=lambda r: r.ended_at, reverse=True)
    assert seen == [r.id for r in expected]


async def test_the_agent_summary_gives_each_agent_s_aht_and_occupancy(stack: TabStack) -> None:
    await seed(stack)
    await state_of(stack).aggregator.add_agent_time(
        DEMO_TENANT_ID, ANA.id, at(9, 0), {"available": 800.0, "not-ready": 60.0}
    )
    status, body = await stack.call("GET", f"{REPORTS}/agents?{DAY}", user=ADMIN.id)
    assert status == 200
    row = next(r for r in body["agents"] if r["agentId"] == ANA.id)
    assert (row["handled"], row["missedOffers"]) == (3, 1)
    assert row["ahtS"] == pytest.approx(280 / 3)
    # Occupancy: handle 280 s / (280 s + 800 s available and idle).
    assert row["occupancy"] == pytest.approx(280 / 1080)
    assert row["stateS"] == {"available": 800.0, "not-ready": 60.0}
    ben = next(r for r in body["agents"] if r["agentId"] == BEN.id)
    assert (ben["handled"], ben["occupancy"]) == (2, None)  # no time sampled for Ben


async def test_an_agent_sees_only_their_own_calls(stack: TabStack) -> None:
    await seed(stack)
    status, body = await stack.call("GET", f"{REPORTS}/queues?{DAY}", user=ANA.id)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await stack.call("GET", f"{REPORTS}/calls?{DAY}", user=ANA.id)
    assert sorted(c["id"] for c in body["calls"]) == ["r01", "r03", "r14"]
    status, body = await stack.call("GET", f"{REPORTS}/calls?{DAY}&agentId={BEN.id}", user=ANA.id)
    assert status == 403
    status, body = await stack.call("GET", f"{REPORTS}/agents?{DAY}", user=ANA.id)
    [row] = body["agents"]
    assert (row["agentId"], row["handled"]) == (ANA.id, 3)
    status, _ = await stack.call("GET", f"{REPORTS}/agents/{BEN.id}/timeline", user=ANA.id)
    assert status == 403


async def test_an_agent_s_timeline_comes_from_their_records(stack: TabStack) -> None:
    await seed(stack)
    status, body = await stack.call(
        "GET", f"{REPORTS}/agents/{ANA.id}/timeline?day=2026-03-02", user=ANA.id
    )
    assert status == 200
    first, second = body["segments"][:2]
    # r01: answered 09:00:05 UTC after a 5 s wait, talked 100 s, then 10 s of wrap-up.
    assert (first["state"], first["start"], first["end"]) == (
        "on-call",
        "2026-03-02T09:00:05Z",
        "2026-03-02T09:01:45Z",
    )
    assert (second["state"], second["end"]) == ("wrap-up", "2026-03-02T09:01:55Z")
    assert body["start"] == "2026-03-02T05:00:00Z"
    assert body["currentStatus"] == "available"


async def test_a_period_longer_than_the_limit_is_refused(stack: TabStack) -> None:
    status, body = await stack.call(
        "GET", f"{REPORTS}/queues?from=2025-01-01&to=2025-12-31", user=ADMIN.id
    )
    assert status == 422
    assert body["error"]["details"][0]["field"] == "to"
