"""The simulation drives the real engine: it agrees with Erlang C and is reproducible."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from bot.simulate_cli import add_simulate_parser, run_simulate
from contactcenter.erlang import average_speed_of_answer, erlang_c, service_level
from contactcenter.model import RoutingMethod
from contactcenter.simulation import SimulationConfig, SimulationResult, simulate
from storage.sqlite import MEMORY, SqliteStore

REQUIRED_KEYS = {
    "offered",
    "answered",
    "abandoned",
    "overflowed",
    "timed_out",
    "asa_seconds",
    "waited_fraction",
    "service_level",
    "occupancy",
    "max_queue_length",
    "double_assignments",
    "lost_calls",
}


async def run(config: SimulationConfig) -> SimulationResult:
    store = await SqliteStore.open(MEMORY, inline=True)
    try:
        return await simulate(config, store)
    finally:
        await store.close()


async def test_agrees_with_erlang_c_for_an_m_m_c_queue() -> None:
    # M/M/5 at 3 erlangs (60 % occupancy). Over 20 seeds of 3,000 calls the simulated
    # P(wait), service level (5 s) and ASA had standard deviations of 0.027, 0.022 and
    # 0.42 s around Erlang C's 0.236, 0.879 and 1.77 s; the bounds are four of them.
    agents, rate, aht, threshold = 5, 720.0, 15.0, 5
    traffic = rate * aht / 3600
    config = SimulationConfig(
        agents=agents,
        arrival_rate_per_hour=rate,
        handle_time_s=aht,
        calls=3000,
        seed=7,
        service_level_threshold_s=threshold,
    )

    result = await run(config)

    assert (result.answered, result.lost_calls, result.double_assignments) == (3000, 0, 0)
    assert result.waited_fraction == pytest.approx(erlang_c(traffic, agents), abs=0.11)
    assert result.service_level == pytest.approx(
        service_level(traffic, agents, aht, threshold), abs=0.09
    )
    assert result.asa_seconds == pytest.approx(
        average_speed_of_answer(traffic, agents, aht), abs=1.7
    )
    assert result.occupancy == pytest.approx(traffic / agents, abs=0.05)


async def test_same_seed_gives_the_same_result() -> None:
    config = SimulationConfig(
        agents=3,
        arrival_rate_per_hour=60,
        handle_time_s=120,
        calls=200,
        ring_time_s=3,
        wrap_up_s=5,
        patience_s=60,
        seed=11,
    )
    first, second = await run(config), await run(config)
    assert first == second
    other = await run(dataclasses.replace(config, seed=12))
    assert other != first


@pytest.mark.parametrize("routing", list(RoutingMethod))
async def test_every_routing_method_answers_every_call_once(routing: RoutingMethod) -> None:
    config = SimulationConfig(
        agents=4,
        arrival_rate_per_hour=90,
        handle_time_s=120,
        calls=150,
        routing=routing,
        ring_time_s=4,
        wrap_up_s=10,
        seed=3,
    )
    result = await run(config)
    assert (result.answered, result.lost_calls, result.double_assignments) == (150, 0, 0)
    # Every answered call rang for 4 s: it waited.
    assert result.waited_fraction == 1.0
    assert result.asa_seconds >= 4


async def test_impatient_callers_abandon_and_every_call_has_one_outcome() -> None:
    config = SimulationConfig(
        agents=2, arrival_rate_per_hour=80, handle_time_s=150, calls=300, patience_s=30, seed=5
    )
    result = await run(config)
    assert result.abandoned > 0
    assert result.answered + result.abandoned == result.offered
    assert result.lost_calls == 0


async def test_queue_and_wait_limits_send_calls_to_their_actions() -> None:
    config = SimulationConfig(
        agents=1,
        arrival_rate_per_hour=120,
        handle_time_s=120,
        calls=200,
        max_queue=2,
        max_wait_s=60,
        seed=9,
    )
    result = await run(config)
    assert result.overflowed > 0
    assert result.timed_out > 0
    assert result.max_queue_length <= 2
    assert result.answered + result.overflowed + result.timed_out == result.offered
    assert result.lost_calls == 0


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="contact-center")
    add_simulate_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["simulate", *argv])


def test_cli_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("--agents", "2", "--calls", "40", "--arrival-rate", "50", "--seed", "4", "--json")
    assert run_simulate(args) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result.keys() >= REQUIRED_KEYS
    assert result["offered"] == 40
    assert "100%" in err  # the progress bar goes to stderr


def test_cli_prints_a_table_without_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("--agents", "10", "--calls", "30", "--patience", "none", "--routing", "serial")
    assert run_simulate(args) == 0
    out, _ = capsys.readouterr()
    assert "service level" in out
    assert "Erlang C" in out


@pytest.mark.parametrize(
    "argv",
    [("--agents", "-1"), ("--patience", "soon"), ("--arrival-rate", "0"), ("--routing", "random")],
)
def test_cli_refuses_bad_options(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)
