"""The result object of design.md section 8: its keys, the ratios and the budgets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Other programs' CPU use (in cores) during a phase above which the result says so.
NOISE_LIMIT_CORES = 0.15

RESULT_KEYS = (
    "routing_overhead_ms",
    "max_calls_per_s",
    "notifications_per_s",
    "floor_requests_per_s",
    "rss_mb_10k_waiting",
    "report_ms_1m",
    "report_scan_ms_1m",
    "store_ops_per_call",
    "host_cpu_ms_per_call",
    "notifications_vs_floor",
    "report_vs_scan",
    "budgets",
)


@dataclass(frozen=True, slots=True)
class Budget:
    """A limit on one result key (``path`` names a nested value: ``a.b``)."""

    path: str
    limit: float
    at_most: bool
    unit: str

    def value(self, result: dict[str, Any]) -> float | None:
        node: Any = result
        for part in self.path.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return float(node) if isinstance(node, int | float) else None

    def judge(self, result: dict[str, Any]) -> dict[str, Any]:
        value = self.value(result)
        met: bool | None
        if value is None or math.isnan(value):
            met = None
        else:
            met = value <= self.limit if self.at_most else value >= self.limit
        return {
            "value": value,
            "limit": f"{'<=' if self.at_most else '>='} {self.limit:g}",
            "unit": self.unit,
            "met": met,
        }


BUDGETS = (
    Budget("routing_overhead_ms.p99", 20.0, at_most=True, unit="ms"),
    Budget("notifications_vs_floor", 0.35, at_most=False, unit="ratio"),
    Budget("rss_mb_10k_waiting", 600.0, at_most=True, unit="MB"),
    Budget("report_vs_scan", 0.02, at_most=True, unit="ratio"),
    Budget("store_ops_per_call", 14.0, at_most=True, unit="requests"),
    Budget("host_cpu_ms_per_call", 13.0, at_most=True, unit="ms"),
)
"""The budgets on SQLite (design.md section 8)."""

COSMOS_BUDGETS = (
    Budget("max_calls_per_s", 10.0, at_most=False, unit="calls/s"),
    Budget("rss_mb_10k_waiting", 600.0, at_most=True, unit="MB"),
    Budget("report_vs_scan", 0.02, at_most=True, unit="ratio"),
    Budget("store_ops_per_call", 16.0, at_most=True, unit="requests"),
    Budget("host_cpu_ms_per_call", 40.0, at_most=True, unit="ms"),
)
"""The budgets on the Cosmos DB test server (design.md section 8)."""


def budgets_for(store: str) -> tuple[Budget, ...]:
    """Return the budgets a run on ``store`` is judged by."""
    return COSMOS_BUDGETS if store == "cosmos" else BUDGETS


def _ratio(part: float | None, whole: float | None, digits: int = 4) -> float | None:
    if part is None or whole is None or whole == 0:
        return None
    return round(part / whole, digits)


def build_result(measured: dict[str, Any], machine: dict[str, Any]) -> dict[str, Any]:
    """Turn the phases' measurements into the result object, ratios and budgets included."""
    routing = measured["routing"]
    base = routing["base"]["overheadMs"]
    throughput = measured["throughput"]
    records = measured["records"]
    result: dict[str, Any] = {
        "routing_overhead_ms": {"p50": base["p50"], "p99": base["p99"]},
        "max_calls_per_s": routing["maxCallsPerS"],
        "notifications_per_s": throughput["notificationsPerS"],
        "floor_requests_per_s": throughput["floorRequestsPerS"],
        "rss_mb_10k_waiting": measured["memory"]["rssMb"],
        "report_ms_1m": records["reportMs"],
        "report_scan_ms_1m": records["scanMs"],
        "store_ops_per_call": measured["storeOps"]["perCall"],
        # Host CPU per routed call at the routing rate (the run and its drain).
        "host_cpu_ms_per_call": routing["base"].get("hostCpuMsPerCall"),
    }
    result["notifications_vs_floor"] = _ratio(
        result["notifications_per_s"], result["floor_requests_per_s"]
    )
    result["report_vs_scan"] = _ratio(result["report_ms_1m"], result["report_scan_ms_1m"], 5)
    budgets = budgets_for(measured["store"])
    result["budgets"] = {budget.path: budget.judge(result) for budget in budgets}
    result["all_budgets_met"] = all(b["met"] for b in result["budgets"].values())
    result["profile"] = measured["profile"]
    result["store"] = measured["store"]
    result["duration_s"] = measured["durationS"]
    result["machine"] = machine
    noisy = {
        phase: n["foreignCores"]
        for phase, n in measured.get("noise", {}).items()
        if n["foreignCores"] > NOISE_LIMIT_CORES
    }
    result["noise_warning"] = (
        "other programs used CPU during "
        + ", ".join(f"{phase} ({cores:.2f} cores)" for phase, cores in noisy.items())
        + ": these numbers are worse than on a quiet machine"
        if noisy
        else None
    )
    result["details"] = {
        "routing": routing,
        "storeOps": measured["storeOps"],
        "throughput": {k: v for k, v in throughput.items() if k != "runs"},
        "memory": measured["memory"],
        "records": records,
        "cosmosCeiling": measured.get("cosmosCeiling"),
        "noise": measured.get("noise", {}),
    }
    return result


def _format(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.1f}"
    return str(value)


def table(result: dict[str, Any]) -> str:
    """Return the result as a readable table."""
    budgets = result["budgets"]
    rows = [
        ("routing overhead p50 (ms)", result["routing_overhead_ms"]["p50"], ""),
        (
            "routing overhead p99 (ms)",
            result["routing_overhead_ms"]["p99"],
            "routing_overhead_ms.p99",
        ),
        ("max calls/s (p99 <= 100 ms)", result["max_calls_per_s"], "max_calls_per_s"),
        ("notifications/s", result["notifications_per_s"], ""),
        ("floor requests/s", result["floor_requests_per_s"], ""),
        ("notifications / floor", result["notifications_vs_floor"], "notifications_vs_floor"),
        ("RSS, 10k waiting (MB)", result["rss_mb_10k_waiting"], "rss_mb_10k_waiting"),
        ("report from aggregates (ms)", result["report_ms_1m"], ""),
        ("report by scan (ms)", result["report_scan_ms_1m"], ""),
        ("report / scan", result["report_vs_scan"], "report_vs_scan"),
        ("store requests per call", result["store_ops_per_call"], "store_ops_per_call"),
        ("host CPU per call (ms)", result["host_cpu_ms_per_call"], "host_cpu_ms_per_call"),
    ]
    ceiling = result["details"].get("cosmosCeiling")
    if ceiling is not None:
        rows.append(("Cosmos DB server ceiling (calls/s)", ceiling["callsPerS"], ""))
    lines = [f"{'key':<30} {'value':>12}  {'budget':<10} met", "-" * 60]
    for label, value, budget_key in rows:
        budget = budgets.get(budget_key) if budget_key else None
        limit = budget["limit"] if budget else ""
        met = "" if budget is None else {True: "yes", False: "NO", None: "?"}[budget["met"]]
        lines.append(f"{label:<30} {_format(value):>12}  {limit:<10} {met}")
    machine = result["machine"]
    lines.append("-" * 60)
    if result.get("noise_warning"):
        lines.append(f"warning: {result['noise_warning']}")
    lines.append(
        f"profile {result['profile']}, store {result['store']}, {result['duration_s']} s; "
        f"{machine['nproc']} cores, {machine['cpuModel']}, Python {machine['python']}"
    )
    return "\n".join(lines)
