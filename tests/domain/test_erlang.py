"""Erlang C: against published worked examples and an exact brute-force formula."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from contactcenter.erlang import (
    MAX_AGENTS,
    TargetUnreachable,
    agents_for_service_level,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    service_level,
    staffing_table,
)


def exact_erlang_c(traffic: Fraction, agents: int) -> Fraction:
    """Return P(wait) from the textbook formula, in exact rational arithmetic."""
    top = traffic**agents / math.factorial(agents) * Fraction(agents) / (agents - traffic)
    bottom = sum(traffic**k / math.factorial(k) for k in range(agents)) + top
    return top / bottom


@pytest.mark.parametrize(
    ("traffic", "agents"),
    [
        (Fraction(1, 2), 1),
        (Fraction(8), 10),
        (Fraction(10), 11),
        (Fraction(10), 14),
        (Fraction(48), 55),
        (Fraction(99, 10), 10),
        (Fraction(1, 100), 3),
        (Fraction(250), 280),
    ],
)
def test_matches_the_exact_formula(traffic: Fraction, agents: int) -> None:
    assert erlang_c(float(traffic), agents) == pytest.approx(
        float(exact_erlang_c(traffic, agents)), rel=1e-12
    )


def test_worked_example_of_360_calls_per_half_hour() -> None:
    # The classic worked example: 360 calls per 30 minutes, 240 s average handle time,
    # 55 agents, 15 s target: 48 erlangs, P(wait) 23.87 %, ASA 8.2 s, SL 84.6 %.
    traffic = 360 / 1800 * 240
    assert traffic == pytest.approx(48)
    assert erlang_c(traffic, 55) == pytest.approx(0.2387, abs=5e-5)
    assert average_speed_of_answer(traffic, 55, 240) == pytest.approx(8.18, abs=0.01)
    assert service_level(traffic, 55, 240, 15) == pytest.approx(0.8459, abs=5e-5)


def test_ten_erlangs_on_eleven_agents() -> None:
    # 100 calls in 30 minutes of 3 minutes each: 10 erlangs; 11 agents wait 68.2 % of calls.
    assert erlang_c(10, 11) == pytest.approx(0.6821, abs=5e-5)


def test_service_level_and_asa_follow_from_p_wait() -> None:
    traffic, agents, aht, threshold = 8.0, 10, 180.0, 20.0
    p_wait = erlang_c(traffic, agents)
    assert service_level(traffic, agents, aht, threshold) == pytest.approx(
        1 - p_wait * math.exp(-(agents - traffic) * threshold / aht)
    )
    assert average_speed_of_answer(traffic, agents, aht) == pytest.approx(
        p_wait * aht / (agents - traffic)
    )
    assert service_level(traffic, agents, aht, 0) == pytest.approx(1 - p_wait)


def test_stays_finite_for_thousands_of_agents() -> None:
    # A^N / N! overflows a float long before this; the recursion does not.
    p_wait = erlang_c(1900.0, 2000)
    assert 0.0 < p_wait < 1.0
    assert erlang_c(480.0, 500) == pytest.approx(
        float(exact_erlang_c(Fraction(480), 500)), rel=1e-9
    )


def test_erlang_b_matches_its_formula() -> None:
    traffic, agents = Fraction(7), 9
    exact = (traffic**agents / math.factorial(agents)) / sum(
        traffic**k / math.factorial(k) for k in range(agents + 1)
    )
    assert erlang_b(7.0, 9) == pytest.approx(float(exact), rel=1e-12)


@pytest.mark.parametrize(("traffic", "agents"), [(10.0, 10), (12.5, 10), (1.0, 1)])
def test_overloaded_queue_always_waits(traffic: float, agents: int) -> None:
    assert erlang_c(traffic, agents) == 1.0
    assert service_level(traffic, agents, 180, 20) == 0.0
    assert average_speed_of_answer(traffic, agents, 180) == math.inf


def test_no_traffic_never_waits() -> None:
    assert erlang_c(0.0, 3) == 0.0
    assert service_level(0.0, 3, 180, 20) == 1.0


@pytest.mark.parametrize(
    ("traffic", "agents"),
    [(-1.0, 5), (math.nan, 5), (math.inf, 5), (5.0, 0), (5.0, -3), (5.0, 2.5), (5.0, True)],
)
def test_invalid_input_is_refused(traffic: float, agents: int) -> None:
    with pytest.raises(ValueError, match=r"traffic|agents"):
        erlang_c(traffic, agents)


@pytest.mark.parametrize(("aht", "threshold"), [(0.0, 20.0), (-5.0, 20.0), (180.0, -1.0)])
def test_invalid_times_are_refused(aht: float, threshold: float) -> None:
    with pytest.raises(ValueError, match=r"handle time|threshold"):
        service_level(8.0, 10, aht, threshold)


def test_staffing_finds_the_fewest_agents_for_the_target() -> None:
    staffing = agents_for_service_level(200, 180, 0.8, 20)
    assert staffing.traffic_erlangs == pytest.approx(10)
    assert staffing.service_level >= 0.8
    assert service_level(10, staffing.agents - 1, 180, 20) < 0.8
    # 10 erlangs need 14 agents for 80/20: P(wait) 17.4 %, SL 88.8 %, ASA 7.8 s.
    assert staffing.agents == 14
    assert staffing.p_wait == pytest.approx(0.1741, abs=5e-5)
    assert staffing.service_level == pytest.approx(0.8884, abs=5e-5)
    assert staffing.asa_s == pytest.approx(7.84, abs=0.01)
    assert staffing.occupancy == pytest.approx(10 / 14)


def test_staffing_respects_the_occupancy_cap() -> None:
    staffing = agents_for_service_level(200, 180, 0.8, 20, max_occupancy=0.7)
    assert staffing.agents == 15
    assert staffing.occupancy <= 0.7


def test_staffing_for_no_calls_needs_nobody() -> None:
    assert agents_for_service_level(0, 180, 0.8, 20).agents == 0


@pytest.mark.parametrize("target", [0.0, 1.0, 1.5, -0.1])
def test_staffing_refuses_impossible_targets(target: float) -> None:
    with pytest.raises(ValueError, match="target service level"):
        agents_for_service_level(200, 180, target, 20)


def _fewest_by_brute_force(traffic: float, target: float, threshold: float, aht: float) -> int:
    """The test's own search: every agent count from the traffic up, with the textbook SL."""
    agents = math.floor(traffic) + 1
    while True:
        p_wait = float(exact_erlang_c(Fraction(traffic), agents))
        if 1 - p_wait * math.exp(-(agents - traffic) * threshold / aht) >= target:
            return agents
        agents += 1


@pytest.mark.parametrize(
    ("calls_per_hour", "aht", "target", "threshold"),
    [(200, 180, 0.8, 20), (360, 240, 0.9, 15), (30, 300, 0.95, 30), (1000, 100, 0.7, 10)],
)
def test_the_one_pass_search_agrees_with_a_brute_force_search(
    calls_per_hour: float, aht: float, target: float, threshold: float
) -> None:
    traffic = calls_per_hour * aht / 3600
    table = staffing_table(calls_per_hour, aht, target, threshold)
    assert table.staffing.agents == _fewest_by_brute_force(traffic, target, threshold, aht)


def test_the_table_runs_from_the_first_count_that_carries_the_traffic_to_four_past() -> None:
    table = staffing_table(200, 180, 0.8, 20)
    assert [row.agents for row in table.rows] == list(range(11, 19))
    for row in table.rows:
        assert row.p_wait == erlang_c(10, row.agents)
        assert row.service_level == service_level(10, row.agents, 180, 20)
        assert row.asa_s == average_speed_of_answer(10, row.agents, 180)


def test_a_long_table_keeps_the_rows_next_to_the_answer() -> None:
    table = staffing_table(4000 * 3600 / 180, 180, 0.8, 20, 0.9, 4, 32)
    agents = [row.agents for row in table.rows]
    assert len(agents) == 32
    assert agents[-1] == table.staffing.agents + 4
    assert agents == list(range(agents[0], agents[-1] + 1))


@pytest.mark.parametrize(
    ("calls_per_hour", "aht", "target", "threshold", "max_occupancy"),
    [
        (1_000_000, 86_400, 0.8, 20, None),  # 24 million erlangs
        (MAX_AGENTS * 3600 / 180, 180, 0.8, 20, None),  # traffic the cap cannot carry
        (4990 * 3600 / 180, 180, 0.999999, 0, None),  # just over the cap
        (100 * 3600 / 180, 180, 0.8, 20, 0.01),  # the occupancy cap needs 10,000
    ],
)
def test_a_target_beyond_the_agent_cap_is_unreachable_not_searched_for_ever(
    calls_per_hour: float, aht: float, target: float, threshold: float, max_occupancy: float | None
) -> None:
    with pytest.raises(TargetUnreachable, match="no staffing up to 5,000 agents"):
        staffing_table(calls_per_hour, aht, target, threshold, max_occupancy)
