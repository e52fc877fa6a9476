"""Every KPI of a hand-made set of call records, worked out by hand, from records and from
aggregates alike.

The fixture (tests/analytics/records.py), T = 20 s unless said otherwise:

    call  outcome             wait   talk  hold  wrap  agent
    r01   answered              5     100          10   Ana
    r02   answered             20     200          10   Ben      (exactly T: within)
    r03   answered             25      60          10   Ana      (Ben missed it first)
    r04   answered             40     140    30    10   Ben
    r05   abandoned             8
    r06   abandoned            35                                 (Ana missed it)
    r07   overflowed            0
    r08   timed out           120
    r09   no agent              0
    r10   voicemail            50
    r11   callback requested   15
    r12   rejected (never reached a queue: not offered)
    r13   failed (reached the queue, never offered: not offered)
    r14   answered           12.5      90          10   Ana

offered = 12 (5 answered + 2 abandoned + 1 each of the other five outcomes)
answered within 20 s: r01, r02, r14 = 3; abandoned within 20 s: r05 = 1
ASA = (5 + 20 + 25 + 40 + 12.5) / 5 = 102.5 / 5 = 20.5 s
AHT = (talk 590 + hold 30 + wrap-up 50) / 5 = 670 / 5 = 134 s
occupancy = 670 / (670 + 800 + 530 available idle) = 670 / 2000 = 0.335
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from contactcenter.aggregates import AggregateKind, IntervalAggregator, interval_start
from contactcenter.clock import VirtualClock
from contactcenter.kpis import (
    CallTotals,
    Kpis,
    kpis,
    longest_wait,
    occupancy,
    totals_from_aggregates,
    totals_from_records,
)
from contactcenter.model import Call, CallState, Party, PartyKind
from storage.memory import MemoryStore
from tests.analytics.records import (
    ANA,
    AVAILABLE_IDLE_S,
    BEN,
    DAY,
    RECORDS,
    SALES,
    TENANT,
    at,
)

EXPECTED_AT_20 = Kpis(
    threshold_s=20,
    offered=12,
    answered=5,
    abandoned=2,
    overflowed=1,
    timed_out=1,
    no_agent=1,
    voicemail=1,
    callback_requested=1,
    abandonment_rate=2 / 12,
    asa_s=20.5,
    service_level_1=3 / 5,
    service_level_2=3 / 11,
    service_level_3=4 / 12,
    service_level_4=3 / 12,
    aht_s=134.0,
    occupancy=0.335,
    max_wait_s=120.0,
)

# T = 30 s: answered within adds r03 (25 s): 4; abandoned within is still r05 alone (r06 35 s).
EXPECTED_AT_30 = Kpis(
    **{
        **{f: getattr(EXPECTED_AT_20, f) for f in EXPECTED_AT_20.__dataclass_fields__},
        "threshold_s": 30,
        "service_level_1": 4 / 5,
        "service_level_2": 4 / 11,
        "service_level_3": 5 / 12,
        "service_level_4": 4 / 12,
    }
)


def assert_kpis(found: Kpis, expected: Kpis) -> None:
    for name in expected.__dataclass_fields__:
        want = getattr(expected, name)
        got = getattr(found, name)
        assert got == pytest.approx(want), name


async def aggregated() -> IntervalAggregator:
    clock = VirtualClock(DAY + timedelta(hours=12))
    aggregator = IntervalAggregator(MemoryStore(), clock)
    await aggregator.add_records(RECORDS)
    for agent_id, seconds in AVAILABLE_IDLE_S.items():
        await aggregator.add_agent_time(TENANT, agent_id, at(9, 0), {"available": seconds})
    return aggregator


def idle_total() -> float:
    return sum(AVAILABLE_IDLE_S.values())


@pytest.mark.parametrize(("threshold", "expected"), [(20, EXPECTED_AT_20), (30, EXPECTED_AT_30)])
def test_kpis_from_records_match_the_hand_computation(threshold: int, expected: Kpis) -> None:
    totals = totals_from_records(RECORDS, threshold)
    assert_kpis(kpis(totals, available_idle_s=idle_total()), expected)


@pytest.mark.parametrize(("threshold", "expected"), [(20, EXPECTED_AT_20), (30, EXPECTED_AT_30)])
async def test_kpis_from_aggregates_match_the_hand_computation(
    threshold: int, expected: Kpis
) -> None:
    aggregator = await aggregated()
    start, end = DAY, DAY + timedelta(days=1)
    queue_docs = await aggregator.find(TENANT, AggregateKind.QUEUE, start, end)
    time_docs = await aggregator.find(TENANT, AggregateKind.AGENT_TIME, start, end)
    idle = sum(d.state_s.get("available", 0.0) for d in time_docs)
    assert idle == 1330.0
    totals = totals_from_aggregates(queue_docs, threshold)
    assert_kpis(kpis(totals, available_idle_s=idle), expected)


async def test_records_count_in_the_interval_they_were_offered_in() -> None:
    aggregator = await aggregated()
    docs = await aggregator.find(TENANT, AggregateKind.QUEUE, DAY, DAY + timedelta(days=1))
    by_start = {d.interval_start: d for d in docs}
    # 09:00 r01-r04 (+ r13 failed, which ended at 12:00 but has no offer time: 12:00)
    assert sorted(by_start) == [at(9, 0), at(9, 15), at(9, 30), at(10, 0), at(12, 0)]
    assert (by_start[at(9, 0)].answered, by_start[at(9, 0)].offered) == (4, 4)
    assert (by_start[at(9, 15)].abandoned, by_start[at(9, 15)].overflowed) == (2, 1)
    assert by_start[at(9, 30)].offered == 3
    assert by_start[at(10, 0)].offered == 2
    assert (by_start[at(12, 0)].offered, by_start[at(12, 0)].failed) == (0, 1)
    assert by_start[at(9, 0)].answered_waits == {"5": 1, "20": 1, "25": 1, "40": 1}
    assert by_start[at(10, 0)].answered_waits == {"13": 1}


async def test_agent_aggregates_give_each_agents_aht_and_missed_offers() -> None:
    aggregator = await aggregated()
    docs = await aggregator.find(TENANT, AggregateKind.AGENT, DAY, DAY + timedelta(days=1))
    ana = [d for d in docs if d.agent_id == ANA]
    ben = [d for d in docs if d.agent_id == BEN]
    # Ana: r01, r03, r14: talk 100 + 60 + 90 = 250, wrap-up 30: AHT 280 / 3.
    assert kpis(totals_from_aggregates(ana)).aht_s == pytest.approx(280 / 3)
    # Ben: r02, r04: talk 340, hold 30, wrap-up 20: AHT 390 / 2 = 195.
    assert kpis(totals_from_aggregates(ben)).aht_s == pytest.approx(195.0)
    assert sum(d.missed_offers for d in ana) == 1  # r06
    assert sum(d.missed_offers for d in ben) == 1  # r03
    assert all(d.queue_id == SALES for d in docs)
    # Ana's occupancy: 280 / (280 + 800).
    assert occupancy(280.0, AVAILABLE_IDLE_S[ANA]) == pytest.approx(280 / 1080)


def test_undefined_kpis_are_none_not_zero() -> None:
    empty = kpis(CallTotals())
    assert empty.offered == 0
    assert empty.abandonment_rate is None
    assert empty.asa_s is None
    assert empty.service_level_1 is None
    assert empty.service_level_2 is None
    assert empty.aht_s is None
    assert empty.occupancy is None


def test_longest_wait_is_the_age_of_the_oldest_waiting_call() -> None:
    now = at(11, 0)

    def call(call_id: str, state: CallState, offered_s_ago: float, queue: str = SALES) -> Call:
        return Call(
            id=call_id,
            tenant_id=TENANT,
            caller=Party(PartyKind.PHONE, "+14255550100"),
            target_id="line",
            state=state,
            queue_id=queue,
            offered_at=now - timedelta(seconds=offered_s_ago),
        )

    calls = [
        call("waiting", CallState.WAITING, 42),
        call("ringing", CallState.RINGING, 65),
        call("connected", CallState.CONNECTED, 300),
        call("other-queue", CallState.WAITING, 90, queue="other"),
    ]
    assert longest_wait(calls, now, SALES) == 65
    assert longest_wait(calls, now) == 90
    assert longest_wait([], now) == 0.0


def test_thresholds_aggregates_cannot_answer_are_refused() -> None:
    with pytest.raises(ValueError, match=r"0\.\.600"):
        totals_from_aggregates([], 601)
    with pytest.raises(TypeError, match="whole seconds"):
        totals_from_aggregates([], 20.5)  # type: ignore[arg-type]


def test_interval_start_floors_to_a_quarter_hour() -> None:
    assert interval_start(at(9, 14, 59.9)) == at(9, 0)
    assert interval_start(at(9, 15)) == at(9, 15)
    assert interval_start(at(23, 59, 59)) == at(23, 45)
