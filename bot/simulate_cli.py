"""``contact-center simulate``: a discrete-event run of the routing engine on a real store."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from pathlib import Path

from bot.progress import ProgressBar
from contactcenter.erlang import average_speed_of_answer, erlang_c, service_level
from contactcenter.model import RoutingMethod
from contactcenter.ports import Store
from contactcenter.simulation import SimulationConfig, SimulationResult, simulate
from storage.sqlite import MEMORY, SqliteStore

_ROUTING_CHOICES = [method.value for method in RoutingMethod]


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds: {text!r}")
    return value


def _positive(text: str) -> float:
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


def _patience(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    return _positive(text)


def add_simulate_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``simulate`` command and its options; return its parser."""
    parser = subparsers.add_parser(
        "simulate",
        help="simulate a queue with the real routing engine on a virtual clock",
        description=(
            "Discrete-event simulation of one queue: Poisson arrivals, exponential talk "
            "times, the real routing engine and a real (in-memory SQLite) store, all on a "
            "virtual clock. The same seed gives the same result."
        ),
    )
    parser.add_argument("--agents", type=_count, default=10, help="agents (default 10)")
    parser.add_argument(
        "--arrival-rate",
        type=_positive,
        default=160.0,
        metavar="CALLS_PER_HOUR",
        help="mean arrivals per hour, Poisson (default 160)",
    )
    parser.add_argument(
        "--handle-time",
        type=_positive,
        default=180.0,
        metavar="SECONDS",
        help="mean talk time, exponential; wrap-up not included (default 180)",
    )
    parser.add_argument("--calls", type=_count, default=1000, help="calls to offer (default 1000)")
    parser.add_argument(
        "--routing",
        choices=_ROUTING_CHOICES,
        default=RoutingMethod.LONGEST_IDLE.value,
        help="routing method (default longest-idle)",
    )
    parser.add_argument(
        "--ring-time",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="how long a rung agent takes to answer, constant (default 0: at once)",
    )
    parser.add_argument(
        "--wrap-up", type=_count, default=0, metavar="SECONDS", help="wrap-up after each call"
    )
    parser.add_argument(
        "--patience",
        type=_patience,
        default=None,
        metavar="SECONDS|none",
        help="mean caller patience, exponential; none: callers never hang up (default)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--service-level-threshold",
        type=_count,
        default=20,
        metavar="SECONDS",
        help="answered within this counts toward the service level (default 20)",
    )
    parser.add_argument(
        "--max-queue", type=_count, default=None, metavar="CALLS", help="queue size limit"
    )
    parser.add_argument(
        "--max-wait", type=_count, default=None, metavar="SECONDS", help="wait limit"
    )
    parser.add_argument(
        "--database",
        type=Path,
        default=None,
        metavar="PATH",
        help="keep the run's documents in this new SQLite file (default: in memory); for long "
        "runs, whose call records would otherwise all stay in memory",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _config(args: argparse.Namespace) -> SimulationConfig:
    return SimulationConfig(
        agents=args.agents,
        arrival_rate_per_hour=args.arrival_rate,
        handle_time_s=args.handle_time,
        calls=args.calls,
        routing=RoutingMethod(args.routing),
        ring_time_s=args.ring_time,
        wrap_up_s=args.wrap_up,
        patience_s=args.patience,
        seed=args.seed,
        service_level_threshold_s=args.service_level_threshold,
        max_queue=args.max_queue,
        max_wait_s=args.max_wait,
    )


async def _run(
    config: SimulationConfig, progress: ProgressBar, database: Path | None = None
) -> SimulationResult:
    store: Store = await SqliteStore.open(MEMORY if database is None else database, inline=True)
    try:
        return await simulate(config, store, progress=progress)
    finally:
        await store.close()


def _table(config: SimulationConfig, result: SimulationResult) -> str:
    answered = result.answered
    rows = [
        ("offered", f"{result.offered}"),
        ("answered", f"{answered}"),
        ("abandoned", f"{result.abandoned}"),
        ("overflowed", f"{result.overflowed}"),
        ("timed out", f"{result.timed_out}"),
        ("no agent", f"{result.no_agent}"),
        ("ASA", f"{result.asa_seconds:.1f} s"),
        ("waited", f"{result.waited_fraction:.1%} of answered calls"),
        (
            "service level",
            f"{result.service_level:.1%} answered within {config.service_level_threshold_s} s",
        ),
        ("occupancy", f"{result.occupancy:.1%}"),
        ("longest queue", f"{result.max_queue_length} calls"),
        ("double assignments", f"{result.double_assignments}"),
        ("lost calls", f"{result.lost_calls}"),
        ("simulated time", f"{result.run_length_seconds / 3600:.1f} h"),
    ]
    traffic = config.arrival_rate_per_hour * config.handle_time_s / 3600
    plain = (
        config.patience_s is None
        and config.ring_time_s == 0
        and config.wrap_up_s == 0
        and config.max_queue is None
        and config.max_wait_s is None
        and config.agents > traffic
    )
    if plain:
        # Exactly the M/M/N queue Erlang C describes: show what theory expects.
        threshold = config.service_level_threshold_s
        rows.append(
            (
                "Erlang C",
                f"P(wait) {erlang_c(traffic, config.agents):.1%}, "
                f"ASA {average_speed_of_answer(traffic, config.agents, config.handle_time_s):.1f} s, "
                f"SL {service_level(traffic, config.agents, config.handle_time_s, threshold):.1%}",
            )
        )
    title = (
        f"{config.calls} calls, {config.agents} agents, {config.arrival_rate_per_hour:g} calls/h, "
        f"talk {config.handle_time_s:g} s, {config.routing.value}, seed {config.seed}"
    )
    width = max(len(name) for name, _ in rows)
    return "\n".join([title, *(f"  {name:<{width}}  {value}" for name, value in rows)])


def run_simulate(args: argparse.Namespace) -> int:
    """Run ``simulate`` with parsed arguments; print the result; return the exit status."""
    try:
        config = _config(args)
    except ValueError as err:
        sys.stderr.write(f"contact-center simulate: {err}\n")
        return 2
    if args.database is not None and args.database.exists():
        # A run starts from an empty store: its call ids would collide with the last run's.
        sys.stderr.write(f"contact-center simulate: {args.database} already exists\n")
        return 2
    progress = ProgressBar(sys.stderr, unit="calls")
    try:
        result = asyncio.run(_run(config, progress, args.database))
    finally:
        progress.close()
    if args.json:
        sys.stdout.write(json.dumps(result.as_json(), sort_keys=True) + "\n")
    else:
        sys.stdout.write(_table(config, result) + "\n")
    return 0 if result.lost_calls == 0 and result.double_assignments == 0 else 1
