"""PNG charts of a run.

They need matplotlib, which neither the product nor its tests do: ``pip install matplotlib``
to plot. It is imported by name at run time, so that type checks pass without it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.stats import percentile


def write_plots(result: dict[str, Any], raw: dict[str, Any], directory: Path) -> list[Path]:
    """Write the charts of a run into ``directory``; return their paths."""
    matplotlib: Any = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    plt: Any = importlib.import_module("matplotlib.pyplot")

    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    caption = (
        f"{result['profile']} run, {result['store']} store; "
        f"{result['machine']['nproc']} cores ({result['machine']['cpuModel']}), "
        f"Python {result['machine']['python']}"
    )

    def save(figure: Any, name: str) -> None:
        figure.text(0.01, 0.01, caption, fontsize=7, color="#555555")
        figure.tight_layout(rect=(0, 0.03, 1, 1))
        path = directory / name
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)

    overhead: list[float] = raw.get("routingOverheadMs", [])
    if overhead:
        figure, axes = plt.subplots(figsize=(7.5, 4.2))
        top = max(overhead)
        bins = [top * i / 60 for i in range(61)]
        axes.hist(overhead, bins=bins, color="#4878a8", edgecolor="white")
        for q, style in ((50, "--"), (99, ":")):
            value = percentile(overhead, q)
            axes.axvline(value, color="#222222", linestyle=style, label=f"p{q} {value:.1f} ms")
        axes.axvline(20.0, color="#c0392b", label="budget: p99 <= 20 ms")
        axes.set_xlabel("routing overhead per call (ms): host time, Graph waits excluded")
        axes.set_ylabel("calls")
        rate = result["details"]["routing"]["base"]["offeredRate"]
        axes.set_title(f"Routing overhead at {rate:g} calls/s ({len(overhead)} calls)")
        axes.legend()
        save(figure, "routing-overhead.png")

    steps: list[dict[str, Any]] = raw.get("steps", [])
    if steps:
        ordered = sorted(steps, key=lambda s: s["offeredRate"])
        figure, axes = plt.subplots(figsize=(7.5, 4.2))
        rates = [s["offeredRate"] for s in ordered]
        axes.plot(rates, [s["overheadMs"]["p50"] for s in ordered], "o-", label="p50")
        axes.plot(rates, [s["overheadMs"]["p99"] for s in ordered], "s-", label="p99")
        axes.axhline(100.0, color="#c0392b", linestyle="--", label="p99 limit for 'sustained'")
        cpu = axes.twinx()
        cpu.plot(
            rates,
            [s["hostCpuUtilisation"] for s in ordered],
            "^:",
            color="#777777",
            label="host CPU",
        )
        cpu.set_ylabel("host CPU (cores)")
        cpu.set_ylim(0, 1.2)
        axes.set_yscale("log")
        axes.set_xlabel("offered calls per second")
        axes.set_ylabel("routing overhead (ms, log scale)")
        axes.set_title("Routing overhead as the call rate rises")
        lines = axes.get_legend_handles_labels()
        more = cpu.get_legend_handles_labels()
        axes.legend(lines[0] + more[0], lines[1] + more[1], loc="best", fontsize=8)
        save(figure, "routing-steps.png")

    levels: list[dict[str, Any]] = raw.get("throughput", [])
    if levels:
        figure, axes = plt.subplots(figsize=(7.5, 4.2))
        connections = [level["connections"] for level in levels]
        axes.plot(
            connections,
            [lv["floor"]["perSecond"] for lv in levels],
            "o-",
            label="floor (bare aiohttp 202)",
        )
        axes.plot(
            connections, [lv["host"]["perSecond"] for lv in levels], "s-", label="host /api/calling"
        )
        axes.set_xscale("log", base=2)
        axes.set_xticks(connections, [str(c) for c in connections])
        axes.set_xlabel("concurrent connections")
        axes.set_ylabel("requests per second")
        axes.set_title("Notification throughput vs. concurrency (one core each)")
        for level in levels:
            if level.get("ratio") is not None:
                axes.annotate(
                    f"{level['ratio']:.2f}",
                    (level["connections"], level["host"]["perSecond"]),
                    textcoords="offset points",
                    xytext=(0, 8),
                    ha="center",
                    fontsize=8,
                )
        axes.legend()
        save(figure, "throughput-concurrency.png")

    memory: list[dict[str, Any]] = raw.get("memory", [])
    filled = [p for p in memory if p["stage"] == "queue filled"]
    if filled:
        figure, axes = plt.subplots(figsize=(7.5, 4.2))
        seeded = [p for p in memory if p["stage"] != "queue filled"][-1:]
        points = seeded + filled
        axes.plot(
            [p["waiting"] for p in points], [p["rssMb"] for p in points], "o-", label="host RSS"
        )
        axes.axhline(600.0, color="#c0392b", linestyle="--", label="budget 600 MB")
        axes.set_ylim(0, 650)
        axes.set_xlabel("calls waiting in one queue (2,000 agents, none free)")
        axes.set_ylabel("RSS (MB)")
        cost = axes.twinx()
        waiting = [p["waiting"] for p in filled]
        cost.plot(
            waiting,
            [p["enqueueDecisionMs"] for p in filled],
            "s:",
            color="#e67e22",
            label="decision: call waits (ms)",
        )
        cost.plot(
            waiting,
            [p["dequeueDecisionMs"] for p in filled],
            "^:",
            color="#8e44ad",
            label="decision: agent takes next (ms)",
        )
        cost.set_ylabel("one routing decision (ms)")
        axes.set_title("Host memory and decision cost as the queue grows")
        lines = axes.get_legend_handles_labels()
        more = cost.get_legend_handles_labels()
        axes.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=8)
        save(figure, "memory-waiting.png")
    return written


def raw_from_result(result: dict[str, Any]) -> dict[str, Any]:
    """Return the series the charts need, from a result object written by ``--output``."""
    details = result["details"]
    return {
        "routingOverheadMs": details["routing"]["base"].get("samplesMs", []),
        "steps": details["routing"]["steps"],
        "throughput": details["throughput"]["levels"],
        "memory": details["memory"]["points"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Draw the charts of a saved result: ``python -m bench.plots RESULT.json DIR``."""
    parser = argparse.ArgumentParser(prog="python -m bench.plots", description=main.__doc__)
    parser.add_argument("result", type=Path, help="a result written with --output")
    parser.add_argument("directory", type=Path, help="where to write the PNG files")
    args = parser.parse_args(argv)
    result = json.loads(args.result.read_text())
    for path in write_plots(result, raw_from_result(result), args.directory):
        sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
