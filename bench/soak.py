"""Soak: one simulated day of ``contact-center simulate`` with its memory sampled.

``python -m bench.soak`` runs the command in a child process (the routing engine on a
virtual clock, a SQLite file as its store) and reads the child's resident memory (VmRSS,
MB = 10^6 bytes) each time its progress bar moves, one percent of the calls at a time.
Arrivals are Poisson at a fixed rate, so the calls ended so far, divided by that rate, is
the simulated time of a sample (to within the Poisson noise); no sample is taken once the
last call has ended (the command then reads every record for its KPIs). It prints one JSON
object: ``agents``, ``calls``, ``simulated_hours``, ``rss_mb_start`` (the first sample),
``rss_mb_end`` (the last), ``rss_slope_mb_per_hour`` (least-squares slope over the samples
after the first simulated hour, when the store's and the engine's bounded caches have
filled), ``wall_s``, and the samples themselves. ``--plot PATH`` draws memory over the day
(needs matplotlib).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

_PROGRESS = re.compile(r"(\d+)/(\d+) calls")
WARM_UP_HOURS = 1.0


@dataclass(frozen=True, slots=True)
class SoakConfig:
    """The simulated day: a queue of ``agents`` offered ``arrival_rate`` calls an hour."""

    agents: int = 500
    hours: float = 24.0
    arrival_rate: float = 4000.0
    handle_time_s: float = 300.0
    wrap_up_s: int = 30
    patience_s: float = 120.0
    seed: int = 1

    @property
    def calls(self) -> int:
        """Return how many calls a day of arrivals brings."""
        return round(self.arrival_rate * self.hours)

    def command(self, database: Path) -> list[str]:
        """Return the ``contact-center simulate`` command line for the day."""
        return [
            sys.executable,
            "-m",
            "bot.cli",
            "simulate",
            "--agents",
            str(self.agents),
            "--calls",
            str(self.calls),
            "--arrival-rate",
            f"{self.arrival_rate:g}",
            "--handle-time",
            f"{self.handle_time_s:g}",
            "--wrap-up",
            str(self.wrap_up_s),
            "--patience",
            f"{self.patience_s:g}",
            "--seed",
            str(self.seed),
            "--database",
            str(database),
            "--json",
        ]


def rss_mb(pid: int) -> float | None:
    """Return the process's resident memory in MB, or None once it has gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except FileNotFoundError:
        return None
    return None


def slope_per_hour(samples: Sequence[tuple[float, float]]) -> float:
    """Return the least-squares slope of (hours, MB) samples (0 for fewer than two)."""
    if len(samples) < 2:
        return 0.0
    mean_x = sum(x for x, _ in samples) / len(samples)
    mean_y = sum(y for _, y in samples) / len(samples)
    spread = sum((x - mean_x) ** 2 for x, _ in samples)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in samples) / spread


def _progress_updates(stream: IO[bytes]) -> Iterator[tuple[int, int]]:
    """Yield (calls ended, calls) from the progress bar, redrawn with carriage returns."""
    pending = b""
    while chunk := os.read(stream.fileno(), 4096):
        pending += chunk
        *parts, pending = re.split(rb"[\r\n]", pending)
        for part in parts:
            found = _PROGRESS.search(part.decode(errors="replace"))
            if found:
                yield int(found.group(1)), int(found.group(2))


def run_soak(config: SoakConfig, *, workdir: Path) -> dict[str, Any]:
    """Run the simulated day; return the result object (see the module docstring)."""
    started = time.perf_counter()
    database = workdir / "soak.db"
    samples: list[tuple[float, float]] = []
    with subprocess.Popen(
        config.command(database),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
    ) as child:
        assert child.stderr is not None
        assert child.stdout is not None
        try:
            for ended, total in _progress_updates(child.stderr):
                if ended >= total:
                    # The day is over: the command now reads every call record to compute
                    # its KPIs, which is not the memory of a running day.
                    continue
                memory = rss_mb(child.pid)
                if memory is not None:
                    samples.append((ended / config.arrival_rate, memory))
            output = child.stdout.read()
        finally:
            if child.poll() is None:
                child.kill()
    if child.returncode != 0:
        raise RuntimeError(f"contact-center simulate exited with {child.returncode}")
    simulation = json.loads(output)
    settled = [(h, mb) for h, mb in samples if h >= WARM_UP_HOURS]
    return {
        "agents": config.agents,
        "calls": config.calls,
        "simulated_hours": round(simulation["run_length_seconds"] / 3600, 2),
        "rss_mb_start": round(samples[0][1], 1) if samples else None,
        "rss_mb_end": round(samples[-1][1], 1) if samples else None,
        "rss_slope_mb_per_hour": round(slope_per_hour(settled), 3),
        "wall_s": round(time.perf_counter() - started, 1),
        "details": {
            "config": {
                "arrivalRatePerHour": config.arrival_rate,
                "handleTimeS": config.handle_time_s,
                "wrapUpS": config.wrap_up_s,
                "patienceS": config.patience_s,
                "seed": config.seed,
            },
            "warmUpHours": WARM_UP_HOURS,
            "simulation": simulation,
            "samples": [{"hours": round(h, 3), "rssMb": round(mb, 2)} for h, mb in samples],
        },
    }


def plot(result: dict[str, Any], path: Path) -> None:
    """Draw the memory samples over the simulated day into a PNG."""
    matplotlib: Any = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    plt: Any = importlib.import_module("matplotlib.pyplot")
    samples = result["details"]["samples"]
    figure, axes = plt.subplots(figsize=(7.5, 4.2))
    axes.plot(
        [s["hours"] for s in samples], [s["rssMb"] for s in samples], color="#4878a8", marker="."
    )
    axes.axvline(
        result["details"]["warmUpHours"], color="#999999", linestyle=":", label="end of warm-up"
    )
    axes.set_ylim(bottom=0)
    axes.set_xlabel("simulated hours")
    axes.set_ylabel("RSS of contact-center simulate (MB)")
    axes.set_title(
        f"Soak: {result['agents']} agents, {result['calls']:,} calls; "
        f"slope {result['rss_slope_mb_per_hour']:+.2f} MB/h after warm-up"
    )
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, run the soak, print its JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    defaults = SoakConfig()
    parser.add_argument("--agents", type=int, default=defaults.agents)
    parser.add_argument("--hours", type=float, default=defaults.hours)
    parser.add_argument("--arrival-rate", type=float, default=defaults.arrival_rate)
    parser.add_argument("--handle-time", type=float, default=defaults.handle_time_s)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--plot", type=Path, help="write the memory chart to this PNG")
    parser.add_argument("--output", type=Path, help="also write the JSON to this file")
    args = parser.parse_args(argv)
    config = SoakConfig(
        agents=args.agents,
        hours=args.hours,
        arrival_rate=args.arrival_rate,
        handle_time_s=args.handle_time,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory(prefix="soak-") as workdir:
        result = run_soak(config, workdir=Path(workdir))
    text = json.dumps(result, indent=2)
    if args.output is not None:
        args.output.write_text(text + "\n")
    if args.plot is not None:
        plot(result, args.plot)
    summary = {k: v for k, v in result.items() if k != "details"}
    print(text if args.output is None else json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
