"""The wallboard: live numbers with today's KPIs, a live stream, and threshold alerts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import ClientResponse

from bot import keys
from bot.demo import LINES
from bot.settings import DEMO_TENANT_ID
from contactcenter.model import (
    Agent,
    AgentStatus,
    BusinessHours,
    CallState,
    Holiday,
    HolidaySet,
    HoursMode,
    OpenRange,
    Weekday,
)
from tests.analytics.records import RECORDS
from tests.analytics.support import demo_record, eventually, state_of
from tests.tab.support import ADMIN, ANA, BEN, SALES, SUPERVISOR, SUPPORT, TabStack

WALLBOARD = "/api/tab/wallboard"


async def seed_today(stack: TabStack) -> None:
    made = [demo_record(r) for r in RECORDS]
    for item in made:
        await stack.repository.call_records.create(item)
    await state_of(stack).aggregator.add_records(made)


async def everyone_in_sales_away(stack: TabStack) -> None:
    engine = stack.app[keys.ENGINE]
    sales = (await stack.repository.queues.get(DEMO_TENANT_ID, SALES)).value
    for member in sales.members:
        await engine.set_status(DEMO_TENANT_ID, member, AgentStatus.AWAY, "training")


async def place_waiting_call(stack: TabStack) -> str:
    placed = await stack.simulator.place_call(
        DEMO_TENANT_ID,
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550142",
    )
    await stack.simulator.wait_for_call(placed.id, state="established", notifications=3)

    async def waiting() -> bool:
        call = await stack.repository.calls.get(DEMO_TENANT_ID, placed.id)
        return call.value.state is CallState.WAITING

    await eventually(waiting)
    return placed.id


def sales_of(board: dict[str, Any]) -> dict[str, Any]:
    return next(q for q in board["queues"] if q["id"] == SALES)


async def test_today_counts_finished_and_live_calls_once_each(stack: TabStack) -> None:
    await seed_today(stack)
    await everyone_in_sales_away(stack)
    await place_waiting_call(stack)
    stack.clock.advance(42)  # type: ignore[attr-defined]
    status, board = await stack.call("GET", WALLBOARD, user=ADMIN.id)
    assert status == 200
    sales = sales_of(board)
    # 12 finished offered calls (hand-made records) and the one waiting now.
    assert sales["today"]["offered"] == 13
    assert (sales["today"]["answered"], sales["today"]["abandoned"]) == (5, 2)
    assert sales["today"]["serviceLevel"] == 3 / 5
    assert sales["today"]["asaS"] == 20.5
    assert (sales["waiting"], sales["longestWaitS"]) == (1, 42.0)
    assert sales["agents"]["notReady"] == 3
    assert board["timeZone"] == "America/New_York"
    # The sweep may count the same records again: nothing changes.
    await state_of(stack).feed.catch_up(stack.clock.now().replace(hour=0))
    status, again = await stack.call("GET", WALLBOARD, user=ADMIN.id)
    assert sales_of(again)["today"] == sales["today"]


async def test_an_alert_is_raised_and_cleared(stack: TabStack) -> None:
    status, rule = await stack.call(
        "PUT",
        f"{WALLBOARD}/alert-rules/{SALES}",
        user=SUPERVISOR.id,
        json={"waitingAbove": 0, "longestWaitAboveS": 60},
    )
    assert status == 200
    assert (rule["waitingAbove"], rule["updatedBy"]) == (0, SUPERVISOR.id)
    await everyone_in_sales_away(stack)
    call_id = await place_waiting_call(stack)
    status, board = await stack.call("GET", WALLBOARD, user=SUPERVISOR.id)
    [alert] = board["alerts"]
    assert (alert["kind"], alert["value"], alert["threshold"]) == ("queue-length", 1, 0)
    stack.clock.advance(61)  # type: ignore[attr-defined]
    status, board = await stack.call("GET", WALLBOARD, user=SUPERVISOR.id)
    assert sorted(a["kind"] for a in board["alerts"]) == ["longest-wait", "queue-length"]
    await stack.simulator.hang_up(call_id)

    async def ended() -> bool:
        return not await stack.repository.calls.find(DEMO_TENANT_ID)

    await eventually(ended)
    status, board = await stack.call("GET", WALLBOARD, user=SUPERVISOR.id)
    assert board["alerts"] == []
    changes = [(c["change"], c["alert"]["kind"]) for c in board["recentAlerts"]]
    assert changes == [
        ("cleared", "longest-wait"),
        ("cleared", "queue-length"),
        ("raised", "longest-wait"),
        ("raised", "queue-length"),
    ]
    entry = (await stack.audit.all(DEMO_TENANT_ID))[0].value
    assert (entry.action, entry.target_id) == ("queue.alert-rule", SALES)


async def test_a_service_level_below_target_raises_an_alert(stack: TabStack) -> None:
    await seed_today(stack)
    await stack.call(
        "PUT", f"{WALLBOARD}/alert-rules/{SALES}", user=ADMIN.id, json={"serviceLevelBelow": 0.8}
    )
    status, board = await stack.call("GET", WALLBOARD, user=ADMIN.id)
    assert status == 200
    [alert] = board["alerts"]
    assert (alert["kind"], alert["value"], alert["threshold"]) == ("service-level", 0.6, 0.8)


async def test_alert_rules_are_set_by_the_queue_s_supervisors(stack: TabStack) -> None:
    status, body = await stack.call(
        "PUT", f"{WALLBOARD}/alert-rules/{SALES}", user=ANA.id, json={"waitingAbove": 3}
    )
    assert status == 403
    status, body = await stack.call(
        "PUT", f"{WALLBOARD}/alert-rules/{SUPPORT}", user=SUPERVISOR.id, json={"waitingAbove": -1}
    )
    assert status == 422
    status, body = await stack.call("GET", f"{WALLBOARD}/alert-rules", user=SUPERVISOR.id)
    assert [r["queueId"] for r in body["rules"]] == [SALES, SUPPORT]
    assert body["rules"][0]["waitingAbove"] is None


async def events(response: ClientResponse) -> AsyncIterator[tuple[str, Any]]:
    """Yield (event, data) from a server-sent event stream."""
    name, data = "message", ""
    while True:
        line = (await response.content.readline()).decode()
        if line in {"\n", ""}:
            if data:
                yield name, json.loads(data)
            name, data = "message", ""
            if line == "":
                return
            continue
        field, _, value = line.rstrip("\n").partition(": ")
        if field == "event":
            name = value
        elif field == "data":
            data += value


async def test_the_wallboard_stream_shows_a_new_waiting_call(stack: TabStack) -> None:
    await everyone_in_sales_away(stack)
    headers = {**stack.auth(SUPERVISOR.id), "Accept": "text/event-stream"}
    async with stack.host.get(f"{WALLBOARD}/events", headers=headers) as response:
        assert response.status == 200
        stream = events(response)

        async def next_board() -> dict[str, Any]:
            async for name, data in stream:
                if name == "wallboard":
                    board: dict[str, Any] = data
                    return board
            raise AssertionError("the stream ended")

        first = await asyncio.wait_for(next_board(), 5)
        assert sales_of(first)["waiting"] == 0
        await place_waiting_call(stack)
        board = await asyncio.wait_for(next_board(), 5)
        while sales_of(board)["waiting"] == 0:
            board = await asyncio.wait_for(next_board(), 5)
        assert sales_of(board)["today"]["offered"] == 1


async def test_a_queue_without_saved_thresholds_alerts_at_its_service_level_target(
    stack: TabStack,
) -> None:
    status, listed = await stack.call("GET", f"{WALLBOARD}/alert-rules", user=ADMIN.id)
    assert status == 200
    sales = next(r for r in listed["rules"] if r["queueId"] == SALES)
    assert (sales["default"], sales["serviceLevelBelow"], sales["longestWaitAboveS"]) == (
        True,
        0.8,
        20,
    )
    await everyone_in_sales_away(stack)
    await place_waiting_call(stack)
    stack.clock.advance(21)  # type: ignore[attr-defined]
    status, board = await stack.call("GET", WALLBOARD, user=ADMIN.id)
    assert [(a["queueId"], a["kind"]) for a in board["alerts"]] == [(SALES, "longest-wait")]


async def test_a_queue_closed_now_is_shown_closed_and_raises_no_alert(stack: TabStack) -> None:
    await everyone_in_sales_away(stack)
    await place_waiting_call(stack)
    stack.clock.advance(30)  # type: ignore[attr-defined]
    status, _ = await stack.call(
        "POST",
        f"/api/tab/supervision/queues/{SALES}/closed-now",
        user=ADMIN.id,
        json={"closed": True},
    )
    assert status == 200
    status, board = await stack.call("GET", WALLBOARD, user=ADMIN.id)
    assert sales_of(board)["openState"] == "closed-now"
    assert next(q for q in board["queues"] if q["id"] == SUPPORT)["openState"] == "open"
    assert board["alerts"] == []


async def test_the_wallboard_lists_agents_with_time_in_state_and_waiting_calls(
    stack: TabStack,
) -> None:
    await everyone_in_sales_away(stack)
    _status, board = await stack.call("GET", WALLBOARD, user=SUPERVISOR.id)
    ana = next(a for a in board["agents"] if a["id"] == ANA.id)
    assert (ana["state"], ana["notReadyReason"]) == ("not-ready", "training")
    first_seen = ana["stateSince"]
    call_id = await place_waiting_call(stack)
    stack.clock.advance(15)  # type: ignore[attr-defined]
    _, board = await stack.call("GET", WALLBOARD, user=SUPERVISOR.id)
    ana = next(a for a in board["agents"] if a["id"] == ANA.id)
    # Still not ready: the state began when it was first seen, not at each reading.
    assert ana["stateSince"] == first_seen
    [waiting] = board["calls"]
    assert (waiting["id"], waiting["queueName"], waiting["state"]) == (call_id, "Sales", "waiting")
    assert waiting["waitedS"] >= 15
    assert "caller" not in waiting


async def test_time_in_state_comes_from_the_agent_s_status_change_not_this_host(
    stack: TabStack,
) -> None:
    # Another host changed these agents' status hours ago, some time after their last
    # call; this one has never seen them.
    now = stack.clock.now()
    last_call = now - timedelta(hours=4)
    went_away = now - timedelta(hours=3)
    signed_out = now - timedelta(hours=2)

    def away(agent: Agent) -> Agent:
        return replace(
            agent,
            status=AgentStatus.AWAY,
            not_ready_reason="lunch",
            idle_since=last_call,
            status_since=went_away,
        )

    def gone(agent: Agent) -> Agent:
        return replace(
            agent,
            status=AgentStatus.OFFLINE,
            signed_in_queue_ids=frozenset(),
            idle_since=last_call,
            status_since=signed_out,
        )

    await stack.repository.agents.update(DEMO_TENANT_ID, ANA.id, away)
    await stack.repository.agents.update(DEMO_TENANT_ID, BEN.id, gone)

    _status, board = await stack.call("GET", WALLBOARD, user=SUPERVISOR.id)
    seen = {a["id"]: (a["state"], datetime.fromisoformat(a["stateSince"])) for a in board["agents"]}
    assert seen[ANA.id] == ("not-ready", went_away)
    assert seen[BEN.id] == ("signed-out", signed_out)
    _status, supervise = await stack.call("GET", "/api/tab/supervision", user=SUPERVISOR.id)
    ana = next(a for a in supervise["agents"] if a["id"] == ANA.id)
    assert datetime.fromisoformat(ana["stateSince"]) == went_away


async def test_a_queue_on_a_holiday_or_after_hours_is_shown_as_such(stack: TabStack) -> None:
    local = stack.clock.now().astimezone(ZoneInfo("America/New_York"))
    today, tomorrow = local.date(), local.date() + timedelta(days=1)
    holiday = HolidaySet(
        name="Days off", holidays=(Holiday("Founders' Day", f"{today}", f"{tomorrow}"),)
    )
    other_day = list(Weekday)[(local.weekday() + 3) % 7]
    await stack.repository.queues.update(
        DEMO_TENANT_ID, SALES, lambda q: replace(q, hours=BusinessHours(holiday_sets=(holiday,)))
    )
    await stack.repository.queues.update(
        DEMO_TENANT_ID,
        SUPPORT,
        lambda q: replace(
            q,
            hours=BusinessHours(
                mode=HoursMode.SET_TIMES, weekly=(OpenRange(other_day, "09:00", "10:00"),)
            ),
        ),
    )
    status, board = await stack.call("GET", WALLBOARD, user=ADMIN.id)
    assert status == 200
    sales = sales_of(board)
    support = next(q for q in board["queues"] if q["id"] == SUPPORT)
    assert (sales["openState"], sales["holiday"]) == ("holiday", "Founders' Day")
    assert support["openState"] == "closed"
