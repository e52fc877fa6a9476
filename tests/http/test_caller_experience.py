"""What callers hear while they wait, end to end through the simulator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.demo import BLOCKED_NUMBER, VIP_NUMBER
from contactcenter.announcements import spoken_numbers
from contactcenter.model import (
    AgentStatus,
    CallOutcome,
    CallRecord,
    CallState,
    Party,
    PartyKind,
)
from tests.http.caller_stack import (
    AGENT_IDS,
    SALES,
    CallerStack,
    played,
    requested,
)
from tests.http.conftest import invited_user_ids

GREETING, MUSIC = "std.en-US.greeting", "std.en-US.music"


@pytest.fixture
def stack(caller_stack: CallerStack) -> CallerStack:
    return caller_stack


async def test_waiting_caller_hears_the_greeting_then_music_again_and_again(
    stack: CallerStack,
) -> None:
    await stack.away("ana", "ben", "chloe")
    call_id = await stack.dial(stack.sales_line)

    call = await stack.sim_call(call_id)
    assert [p["resourceId"] for p in call["prefetched"]] == [GREETING, MUSIC]
    assert played(call) == [[GREETING, MUSIC]]
    await stack.after(call_id, stack.simulator.complete_media(call_id), 1)
    call = await stack.after(call_id, stack.simulator.complete_media(call_id), 1)

    assert played(call) == [[GREETING, MUSIC], [MUSIC], [MUSIC]]
    assert (await stack.live(call_id)).state is CallState.WAITING


async def _answered_records(stack: CallerStack, recent: int, older: int) -> None:
    """Leave call records of Sales calls answered lately: ``recent`` within 15 minutes."""
    now = stack.clock.now()
    ages = [timedelta(minutes=5)] * recent + [timedelta(minutes=40)] * older
    for number, age in enumerate(ages):
        ended = now - age
        await stack.repository.call_records.put(
            CallRecord(
                id=f"earlier-{number}",
                tenant_id=stack.tenant_id,
                chain_id="",
                direction="incoming",
                caller=Party(PartyKind.PHONE, "+14255550999"),
                queue_id=SALES,
                queue_name="Sales",
                offered_at=ended - timedelta(minutes=3),
                answered_at=ended - timedelta(minutes=2),
                ended_at=ended,
                outcome=CallOutcome.ANSWERED,
            )
        )


def _comfort_numbers(call: dict[str, object]) -> list[list[int]]:
    """Return the numbers spoken by each comfort message played on a call."""
    return [spoken_numbers(p) for p in played(call) if "std.en-US.comfort" in p]


async def test_announced_position_and_wait_change_as_the_queue_moves(stack: CallerStack) -> None:
    # Six Sales calls answered in the last 15 minutes, ten in the last hour: about one
    # call every three minutes.
    await _answered_records(stack, recent=6, older=4)
    await stack.away("ana", "ben", "chloe")
    first = await stack.dial(stack.sales_line, "+14255550001")
    stack.clock.advance(1)
    await stack.dial(stack.sales_line, "+14255550002")
    stack.clock.advance(1)
    third = await stack.dial(stack.sales_line, "+14255550003")

    stack.clock.advance(30)  # Sales has a comfort message every 30 s
    call = await stack.after(third, stack.simulator.complete_media(third), 1)
    # "You are number three in line. Your estimated wait is ten minutes."
    assert _comfort_numbers(call) == [[3, 10]]
    assert played(call)[-1][-1] == MUSIC

    stack.clock.advance(10)
    call = await stack.after(third, stack.simulator.complete_media(third), 1)
    # Between two comfort messages only the music plays.
    assert _comfort_numbers(call) == [[3, 10]]
    assert played(call)[-1] == [MUSIC]

    await stack.after(first, stack.simulator.hang_up(first), 1)
    stack.clock.advance(20)
    call = await stack.after(third, stack.simulator.complete_media(third), 1)
    assert _comfort_numbers(call) == [[3, 10], [2, 7]]


async def test_an_agent_who_answers_stops_the_music(stack: CallerStack) -> None:
    call_id = await stack.dial(stack.sales_line)
    agent = invited_user_ids(await stack.sim_call(call_id))[0]
    # The invitation's result, the roster, and the music ending as cancelled.
    call = await stack.after(call_id, stack.simulator.answer_participant(call_id, agent), 3)

    assert len(requested(call, "/cancelMediaProcessing")) == 1
    assert (await stack.live(call_id)).state is CallState.CONNECTED


async def test_a_prompt_graph_cannot_fetch_falls_back_to_the_standard_set(
    stack: CallerStack,
) -> None:
    missing = "0123456789abcdef0123456789abcdef"
    await stack.set_queue(SALES, greeting_prompt_id=missing)
    await stack.away("ana", "ben", "chloe")
    call_id = await stack.dial(stack.sales_line)
    # The simulator fetches the greeting, gets a 404 and fails the operation.
    call = await stack.simulator.wait_for_call(call_id, notifications=4, timeout_s=10)

    assert played(call) == [[missing, MUSIC], [MUSIC]]
    assert (await stack.live(call_id)).media_fallback == 1


async def test_a_caller_whose_prompts_all_fail_waits_in_silence_and_is_still_routed(
    stack: CallerStack,
) -> None:
    await stack.away("ana", "ben", "chloe")
    call_id = await stack.dial(stack.sales_line)
    await stack.after(call_id, stack.simulator.complete_media(call_id, failed=True), 1)
    call = await stack.after(call_id, stack.simulator.complete_media(call_id, failed=True), 1)

    assert played(call) == [[GREETING, MUSIC], [MUSIC]]
    live = await stack.live(call_id)
    assert live.media_fallback == 2
    assert live.state is CallState.WAITING
    await stack.engine.set_status(stack.tenant_id, AGENT_IDS["ana"], AgentStatus.AVAILABLE)
    assert invited_user_ids(await stack.sim_call(call_id)) == [AGENT_IDS["ana"]]


async def test_a_vip_is_served_before_callers_who_waited_longer(stack: CallerStack) -> None:
    await stack.away("ana", "ben", "chloe")
    earlier = await stack.dial(stack.sales_line, "+14255550001")
    stack.clock.advance(60)
    vip = await stack.dial(stack.sales_line, VIP_NUMBER)
    assert (await stack.live(vip)).vip

    await stack.engine.set_status(stack.tenant_id, AGENT_IDS["ben"], AgentStatus.AVAILABLE)

    assert invited_user_ids(await stack.sim_call(vip)) == [AGENT_IDS["ben"]]
    assert invited_user_ids(await stack.sim_call(earlier)) == []


async def test_a_blocked_caller_is_rejected_with_the_reason_on_the_record(
    stack: CallerStack,
) -> None:
    placed = await stack.simulator.place_call(
        stack.tenant_id, application_instance_id=stack.sales_line, caller_phone=BLOCKED_NUMBER
    )
    call = await stack.simulator.wait_for_call(placed.id, state="terminated", timeout_s=10)

    assert [r["path"].rsplit("/", 1)[-1] for r in call["requests"]] == ["reject"]
    record = await stack.record(placed.id)
    assert record.outcome is CallOutcome.REJECTED
    assert record.leave_reason == "blocked caller: repeated abuse"
