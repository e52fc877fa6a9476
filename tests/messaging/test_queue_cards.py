"""Supervisors' queue cards: coalesced updates within Teams' rate limits."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bot.messaging.outbox import CONVERSATION_LIMITS, RateLimiter
from contactcenter.model import Call, CallState, Party, PartyKind
from tests.messaging.support import (
    HIRO,
    SALES,
    TEAM_ID,
    TENANT,
    ManualTimer,
    Stack,
    card_of,
    card_text,
)

THREAD = f"{TEAM_ID};messageid=1700000000001"


async def _post_sales_card(stack: Stack) -> str:
    delivered = await stack.simulator.send_activity(
        THREAD,
        {
            "type": "message",
            "text": "<at>Contact Center</at> queue card sales",
            "conversation": {"conversationType": "channel", "isGroup": True},
            "channelData": {
                "team": {"id": TEAM_ID, "name": "Contact center"},
                "channel": {"id": TEAM_ID, "name": "General"},
            },
        },
        tenant_id=TENANT,
        user_id=HIRO,
    )
    [reply] = delivered["replies"]
    activity_id: str = reply["activityId"]
    return activity_id


async def _caller_waits(stack: Stack, number: int) -> None:
    now = stack.clock.now()
    await stack.repository.calls.put(
        Call(
            id=f"burst-{number}",
            tenant_id=TENANT,
            caller=Party(PartyKind.PHONE, f"+1425555{number:04d}"),
            target_id="sales-line",
            state=CallState.WAITING,
            queue_id=SALES,
            queue_name="Sales",
            offered_at=now - timedelta(seconds=number),
            queued_at=now - timedelta(seconds=number),
        )
    )


async def _updates(stack: Stack) -> list[dict[str, Any]]:
    conversation = await stack.simulator.conversation(THREAD)
    return [event for event in conversation["events"] if event["kind"] == "updated"]


async def test_a_burst_of_changes_is_one_update_with_the_latest_numbers(stack: Stack) -> None:
    card_id = await _post_sales_card(stack)

    for number in range(1, 101):
        await _caller_waits(stack, number)
        await stack.notifier.queue_changed(TENANT, SALES)
    await stack.notifier.wait_idle()

    # The card was posted just now: its next update waits out the 5 s.
    assert await _updates(stack) == []
    await stack.timer.advance(4.9)
    await stack.notifier.wait_idle()
    assert await _updates(stack) == []

    await stack.timer.advance(0.1)
    await stack.notifier.wait_idle()

    [update] = await _updates(stack)
    assert update["activityId"] == card_id
    text = card_text(card_of(update["activity"]))
    assert "100\nWaiting" in text
    assert "1:40\nLongest wait" in text
    # Nothing changed since: no more updates, however long one waits.
    await stack.timer.advance(60)
    await stack.notifier.wait_idle()
    assert len(await _updates(stack)) == 1


async def test_changes_after_an_update_wait_for_the_next_slot(stack: Stack) -> None:
    await _post_sales_card(stack)
    await stack.timer.advance(10)
    await _caller_waits(stack, 1)
    await stack.notifier.queue_changed(TENANT, SALES)
    await stack.notifier.wait_idle()
    assert len(await _updates(stack)) == 1  # leading edge: the card was quiet for 10 s

    await stack.timer.advance(1)
    await _caller_waits(stack, 2)
    await stack.notifier.queue_changed(TENANT, SALES)
    await stack.notifier.wait_idle()
    assert len(await _updates(stack)) == 1

    await stack.timer.advance(4)
    await stack.notifier.wait_idle()
    updates = await _updates(stack)
    assert len(updates) == 2
    assert "2\nWaiting" in card_text(card_of(updates[-1]["activity"]))


async def test_an_unchanged_queue_sends_no_update(stack: Stack) -> None:
    await _post_sales_card(stack)
    await stack.timer.advance(10)

    await stack.notifier.queue_changed(TENANT, SALES)
    await stack.notifier.wait_idle()

    assert await _updates(stack) == []


async def test_the_rate_limiter_keeps_a_conversation_within_teams_limits() -> None:
    timer = ManualTimer()
    limiter = RateLimiter(CONVERSATION_LIMITS, timer)
    granted: list[float] = []

    async def one() -> None:
        await limiter.acquire("19:busy@thread.tacv2")
        granted.append(timer.monotonic())

    tasks = [asyncio.create_task(one()) for _ in range(100)]
    await asyncio.sleep(0)
    while not all(task.done() for task in tasks):
        await timer.advance(0.05)
        await asyncio.sleep(0)

    assert len(granted) == 100
    for limit in CONVERSATION_LIMITS:
        for i in range(len(granted) - limit.count):
            # Any limit.count + 1 consecutive grants span more than the window.
            assert granted[i + limit.count] - granted[i] >= limit.per_s - 1e-9
    # And it is not slower than it must be: 60 in the first 30 s window.
    assert sum(1 for at in granted if at < 30.0) == 60


async def test_a_breached_threshold_shows_on_the_card_and_clears(stack: Stack) -> None:
    await _post_sales_card(stack)
    await stack.timer.advance(10)
    stack.clock.advance(10)
    await _caller_waits(stack, 1)
    await stack.notifier.queue_changed(TENANT, SALES)
    await stack.notifier.wait_idle()
    [calm] = await _updates(stack)
    assert "Alerts" not in card_text(card_of(calm["activity"]))

    # No event: the caller passes the queue's target (20 s, the default longest-wait
    # threshold) with time alone, and the card is looked at again then.
    stack.clock.advance(20)
    await stack.timer.advance(20)
    await stack.notifier.wait_idle()
    updates = await _updates(stack)
    assert len(updates) == 2
    text = card_text(card_of(updates[-1]["activity"]))
    assert "Alerts\nA caller has waited over 0:20" in text

    # The caller is answered elsewhere: the alert leaves the card.
    await stack.repository.calls.delete(TENANT, "burst-1")
    stack.clock.advance(5)
    await stack.timer.advance(5)
    await stack.notifier.queue_changed(TENANT, SALES)
    await stack.notifier.wait_idle()
    updates = await _updates(stack)
    assert len(updates) == 3
    assert "Alerts" not in card_text(card_of(updates[-1]["activity"]))
