"""The benchmark harness: its result object, its probe's arithmetic, and a smoke run.

Timings are never asserted: the smoke run only proves that every phase runs end to end
(host, simulator, load generator and floor as separate processes) and that the JSON has
every key of design.md section 8 with sane types.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import contactcenter.codec
import contactcenter.engine.store
import contactcenter.repository
from bench.aggregates import QueueReport, QueueTotals, fold, interval_start
from bench.loadgen import http_request, notification_mix
from bench.probe import RoutingProbe, _overlap, _union
from bench.results import BUDGETS, COSMOS_BUDGETS, RESULT_KEYS, build_result
from bench.soak import SoakConfig, run_soak, slope_per_hour
from bench.stats import percentile
from contactcenter.simulation import SimulationConfig, simulate
from graph.notifications import parse_notifications
from storage.sqlite import SqliteStore

REPO_ROOT = Path(__file__).resolve().parent.parent


class _Clock:
    """A hand-moved perf_counter for the probe."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_interval_union_and_overlap_count_shared_time_once() -> None:
    merged = _union([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0), (4.0, 4.0)])
    assert merged == [(0.0, 3.0), (5.0, 6.0)]
    assert _overlap(merged, _union([(2.5, 5.5)])) == pytest.approx(1.0)


def test_probe_subtracts_graph_waits_and_ignores_gaps_between_notifications() -> None:
    clock = _Clock()
    probe = RoutingProbe(clock=clock)
    probe.enabled = True
    trace = probe._trace("call-1")
    assert trace is not None
    # incoming: handled for 30 ms, of which 10 ms waiting for Graph's answer.
    trace.handling.append([0.000, 0.030])
    probe.graph_request("call-1", 0.010, 0.020)
    # 500 ms later, established: 5 ms of work, then the invite leaves.
    trace.handling.append([0.530, math.inf])
    probe.invite_sent("call-1", 0.535)
    found, missing = probe.take(["call-1", "call-2"])
    assert missing == ["call-2"]
    sample = found["call-1"]
    assert sample.overhead_ms == pytest.approx(25.0)
    assert sample.graph_wait_ms == pytest.approx(10.0)
    assert sample.wall_ms == pytest.approx(535.0)
    assert sample.notifications == 2


def test_probe_keeps_only_the_first_invitation_of_a_call() -> None:
    probe = RoutingProbe(clock=_Clock())
    probe.enabled = True
    trace = probe._trace("call-1")
    assert trace is not None
    trace.handling.append([0.0, 0.004])
    probe.invite_sent("call-1", 0.004)
    # A later notification (the invitation's result) starts no new trace.
    assert probe._trace("call-1") is None
    probe.invite_sent("call-1", 9.0)
    found, _ = probe.take(["call-1"])
    assert found["call-1"].overhead_ms == pytest.approx(4.0)


def test_generated_notifications_parse_as_the_host_parses_them() -> None:
    tenant_id = "0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5"
    call: dict[str, Any] = {
        "id": "2f1a0e3c-1b2d-4c5e-8f70-9a8b7c6d5e4f",
        "tenantId": tenant_id,
        "direction": "incoming",
        "callChainId": "chain",
        "source": {"identity": {"phone": {"id": "+14255550123"}}},
        "targets": [{"identity": {"applicationInstance": {"id": "line-1"}}}],
        "requestedModalities": ["audio"],
    }
    mix = notification_mix(call, "6d3c1f6e-2c1a-4e5b-9a51-0c0ffee0d3d0")
    assert set(mix) == {"incoming", "establishing", "established", "roster"}
    kinds = []
    for payload in mix.values():
        events = parse_notifications(json.dumps(payload).encode(), tenant_id=tenant_id)
        assert [event.call_id for event in events] == [call["id"]]
        kinds.append(type(events[0]).__name__)
    assert sorted(kinds) == [
        "CallStateChanged",
        "CallStateChanged",
        "IncomingCall",
        "RosterUpdated",
    ]
    request = http_request("127.0.0.1:1", "/api/calling", "token", b"{}")
    assert request.endswith(b"Content-Length: 2\r\n\r\n{}")


def test_report_from_intervals_equals_report_from_records() -> None:
    records = [
        {"queueId": "q1", "endedAt": "2026-01-05T10:07:00.000000Z", "outcome": "answered",
         "waitS": 12.5, "talkS": 100.0, "metServiceLevel": True},
        {"queueId": "q1", "endedAt": "2026-01-05T10:14:59.999999Z", "outcome": "abandoned",
         "waitS": 40.0, "talkS": 0.0, "metServiceLevel": False},
        {"queueId": "q2", "endedAt": "2026-01-05T10:15:00.000000Z", "outcome": "timed-out",
         "waitS": 150.0, "talkS": 0.0, "metServiceLevel": False},
    ]  # fmt: skip
    intervals: dict[tuple[str, str], QueueTotals] = {}
    for record in records:
        fold(intervals, record)
    assert sorted(intervals) == [
        ("q1", "2026-01-05T10:00:00.000000Z"),
        ("q2", "2026-01-05T10:15:00.000000Z"),
    ]
    from_records = QueueReport()
    from_records.add_records(records)
    from_intervals = QueueReport()
    for (queue_id, _), totals in intervals.items():
        from_intervals.queue(queue_id).add_interval(
            {
                "offered": totals.offered,
                "answered": totals.answered,
                "abandoned": totals.abandoned,
                "other": totals.other,
                "answeredWaitS": totals.answered_wait_s,
                "abandonedWaitS": totals.abandoned_wait_s,
                "metServiceLevel": totals.met_service_level,
                "talkS": totals.talk_s,
            }
        )
    assert from_intervals.matches(from_records)
    assert from_records.to_json()["q1"]["serviceLevel"] == 1.0
    assert interval_start("2026-01-05T23:59:59.000000Z") == "2026-01-05T23:45:00.000000Z"


def test_percentile_interpolates_between_samples() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([5.0], 99) == 5.0
    assert math.isnan(percentile([], 50))


def _measured(**changes: Any) -> dict[str, Any]:
    measured: dict[str, Any] = {
        "profile": "test",
        "store": "sqlite",
        "durationS": 1.0,
        "routing": {
            "base": {"overheadMs": {"p50": 4.0, "p99": 19.0}, "hostCpuMsPerCall": 12.0},
            "maxCallsPerS": 60.0,
        },
        "throughput": {"notificationsPerS": 3000.0, "floorRequestsPerS": 10000.0},
        "memory": {"rssMb": 150.0},
        "records": {"reportMs": 10.0, "scanMs": 1000.0},
        "storeOps": {"perCall": 21},
        "noise": {"routing": {"seconds": 1.0, "benchCores": 1.0, "foreignCores": 0.0}},
    }
    measured.update(changes)
    return measured


def test_result_has_every_key_ratios_and_judged_budgets() -> None:
    result = build_result(_measured(), {"nproc": 2, "cpuModel": "x", "python": "3.11"})
    assert set(RESULT_KEYS) <= result.keys()
    assert result["notifications_vs_floor"] == pytest.approx(0.3)
    assert result["report_vs_scan"] == pytest.approx(0.01)
    budgets = result["budgets"]
    assert set(budgets) == {budget.path for budget in BUDGETS}
    assert budgets["routing_overhead_ms.p99"]["met"] is True
    assert budgets["host_cpu_ms_per_call"]["met"] is True
    assert budgets["store_ops_per_call"]["met"] is False
    assert result["all_budgets_met"] is False
    assert result["noise_warning"] is None


def test_a_cosmos_run_is_judged_by_the_cosmos_budgets() -> None:
    measured = _measured(store="cosmos", storeOps={"perCall": 16})
    measured["routing"]["base"]["hostCpuMsPerCall"] = 39.0
    result = build_result(measured, {"nproc": 2, "cpuModel": "x", "python": "3.11"})
    budgets = result["budgets"]
    assert set(budgets) == {budget.path for budget in COSMOS_BUDGETS}
    assert budgets["store_ops_per_call"]["met"] is True
    assert budgets["host_cpu_ms_per_call"]["met"] is True
    assert budgets["max_calls_per_s"]["met"] is True


def test_result_says_when_other_programs_competed_for_the_cores() -> None:
    noisy = {"routing": {"seconds": 10.0, "benchCores": 1.0, "foreignCores": 0.8}}
    result = build_result(_measured(noise=noisy), {"nproc": 2, "cpuModel": "x", "python": "3"})
    assert "routing" in result["noise_warning"]


@pytest.mark.slow
def test_smoke_run_prints_every_key_of_the_budgets_table() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--json", "--smoke", "--quiet"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = completed.stdout.strip().splitlines()
    assert len(lines) == 1, "one JSON object on stdout, progress elsewhere"
    result = json.loads(lines[0])
    assert set(RESULT_KEYS) <= result.keys()
    overhead = result["routing_overhead_ms"]
    assert set(overhead) == {"p50", "p99"}
    for key in (
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
    ):
        assert isinstance(result[key], int | float), key
        assert result[key] >= 0, key
    assert all(isinstance(overhead[q], int | float) and overhead[q] >= 0 for q in overhead)
    for name, budget in result["budgets"].items():
        assert isinstance(budget["met"], bool), name
    assert result["profile"] == "smoke"
    assert result["details"]["records"]["reportsMatch"] is True
    assert result["details"]["storeOps"]["calls"][0]["outcome"] == "answered"


# ---------------------------------------------------------------------------- soak
def test_soak_slope_is_the_least_squares_line() -> None:
    assert slope_per_hour([(1.0, 100.0), (2.0, 102.0), (3.0, 104.0)]) == pytest.approx(2.0)
    assert slope_per_hour([(1.0, 100.0)]) == 0.0


def test_soak_prints_the_memory_of_a_simulated_run(tmp_path: Path) -> None:
    config = SoakConfig(agents=20, hours=1.1, arrival_rate=300.0, handle_time_s=100.0)

    result = run_soak(config, workdir=tmp_path)

    assert set(result) >= {
        "agents",
        "calls",
        "simulated_hours",
        "rss_mb_start",
        "rss_mb_end",
        "rss_slope_mb_per_hour",
        "wall_s",
    }
    assert result["details"]["simulation"]["lost_calls"] == 0
    assert result["simulated_hours"] >= 1.0
    assert all(sample["rssMb"] > 0 for sample in result["details"]["samples"])


async def test_a_few_simulated_hours_retain_no_memory_per_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine and the store keep nothing per finished call beyond their bounded caches.

    The caches of decoded documents are made small, so that they are full after the first
    third of the run; what the Python heap still gains over the last third, per call, must
    then be far less than any per-call leftover (an id string and a dict entry are 100 bytes).
    """
    monkeypatch.setattr(contactcenter.repository, "_DECODED_KEPT", 64)
    monkeypatch.setattr(contactcenter.engine.store, "ENDED_CALLS_REMEMBERED", 64)
    # The codec's cache of formatted timestamps is the process's, filled by earlier tests.
    monkeypatch.setattr(contactcenter.codec, "_FORMATTED_KEPT", 64)
    monkeypatch.setattr(contactcenter.codec, "_FORMATTED", {})
    config = SimulationConfig(
        agents=50,
        arrival_rate_per_hour=1500.0,
        handle_time_s=100.0,
        calls=3000,  # two simulated hours
        wrap_up_s=10,
        patience_s=120.0,
    )
    marks = {config.calls // 3, 2 * config.calls // 3}
    heap: dict[int, int] = {}

    # Only what the product's own code allocated counts: the test runner (log capture,
    # assertion rewriting) and earlier tests in the same process keep their own things.
    product = [
        tracemalloc.Filter(True, str(REPO_ROOT / package / "*"))
        for package in ("contactcenter", "storage")
    ]

    def measure(ended: int, total: int) -> None:
        if ended in marks or ended == total:
            gc.collect()
            traces = tracemalloc.take_snapshot().filter_traces(product)
            heap[ended] = sum(stat.size for stat in traces.statistics("filename"))

    store = await SqliteStore.open(tmp_path / "simulation.db", inline=True)
    # Whatever captures log records (the test runner does) keeps them: no INFO records here.
    logging.disable(logging.INFO)
    tracemalloc.start()
    try:
        result = await simulate(config, store, progress=measure)
    finally:
        tracemalloc.stop()
        logging.disable(logging.NOTSET)
        await store.close()

    assert result.lost_calls == 0
    assert result.run_length_seconds >= 1.5 * 3600
    first, second, end = (heap[n] for n in sorted(heap))
    per_call = (end - second) / (config.calls - 2 * config.calls // 3)
    assert per_call < 25, f"{per_call:.0f} bytes retained per call (after {first} at a third)"
