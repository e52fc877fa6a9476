"""``python -m bench.graph_client`` runs and reports its keys (never judged on timings)."""

from __future__ import annotations

from bench.graph_client import measure


def test_the_graph_client_harness_reports_cpu_and_wall_time_per_request() -> None:
    result = measure(requests=20, concurrency=4, runs=2)

    assert (result["requests"], result["concurrency"], len(result["runs"])) == (20, 4, 2)
    for key in ("cpuMsPerRequest", "wallMsPerRequest"):
        assert result[key] > 0
        assert all(run[key] > 0 for run in result["runs"])
