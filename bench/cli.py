"""``python -m bench``: run the benchmark and print the result (JSON or a table)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.children import ChildFailed
from bench.profiles import FULL, QUICK, SMOKE
from bench.results import build_result, table
from bench.run import BenchError, Options, Progress, run
from bench.system import machine

EXIT_FAILED = 1
EXIT_BUDGET_MISSED = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Benchmark the contact center host against the budgets of design.md section 8: "
            "the host on one core, the Teams simulator as Graph and a load generator on the "
            "other, all on loopback. Progress goes to stderr."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        action="store_true",
        help="shorter timed phases, same data sizes (about two minutes)",
    )
    size.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, to check the harness itself; the numbers mean nothing",
    )
    parser.add_argument(
        "--store",
        choices=["sqlite", "cosmos"],
        default="sqlite",
        help="the host's store (cosmos: the Cosmos DB test server from node_modules)",
    )
    parser.add_argument("--plots", type=Path, help="write PNG charts into this directory")
    parser.add_argument("--output", type=Path, help="also write the JSON result to this file")
    parser.add_argument(
        "--records-cache",
        type=Path,
        help="keep the generated call records here and reuse them in later runs",
    )
    parser.add_argument("--workdir", type=Path, help="work directory (default: a temporary one)")
    parser.add_argument("--keep-workdir", action="store_true", help="keep logs and databases")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--priority",
        type=int,
        default=-10,
        metavar="NICE",
        help="scheduling priority of the benchmark's processes (default -10: ahead of other "
        "work on a shared machine; needs root, else left as it is)",
    )
    parser.add_argument(
        "--profile-hosts",
        action="store_true",
        help="run the hosts under cProfile (.prof files in the work directory; slows them)",
    )
    parser.add_argument(
        "--wait-for-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to this long for other programs to stop using the CPU",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit with {EXIT_BUDGET_MISSED} when a budget is missed",
    )
    return parser


async def _run_cancellable(options: Options) -> dict[str, Any]:
    """Run, turning SIGINT and SIGTERM into a cancellation: every child process is stopped."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        return await run(options)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print JSON or a table; return the exit code."""
    args = build_parser().parse_args(argv)
    profile = SMOKE if args.smoke else QUICK if args.quick else FULL
    progress = Progress(enabled=not args.quiet)
    if args.priority:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, args.priority)
        except OSError as err:
            progress(f"priority left as it is ({err.strerror}); other programs compete equally")
    options = Options(
        profile=profile,
        store=args.store,
        workdir=args.workdir,
        keep_workdir=args.keep_workdir,
        records_cache=args.records_cache,
        wait_for_quiet_s=args.wait_for_quiet,
        profile_hosts=args.profile_hosts,
        progress=progress,
    )
    # Before the run pins this process to one core.
    described = machine()
    try:
        measured = asyncio.run(_run_cancellable(options))
    except (BenchError, ChildFailed, OSError) as err:
        progress(f"benchmark failed: {err}")
        return EXIT_FAILED
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("benchmark interrupted; child processes stopped")
        return 130
    described["priority"] = os.getpriority(os.PRIO_PROCESS, 0)
    result = build_result(measured, described)
    raw = measured["raw"]
    if args.plots is not None:
        from bench.plots import write_plots

        for path in write_plots(result, raw, args.plots):
            progress(f"wrote {path}")
    text = json.dumps(result, indent=None if args.json else 2)
    if args.output is not None:
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write((text if args.json else table(result)) + "\n")
    if args.check and not result["all_budgets_met"]:
        return EXIT_BUDGET_MISSED
    return 0
