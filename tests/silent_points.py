"""Run simulator-backed tests under each way Graph may go where its documentation is silent.

The HTTP and simulator suites' conftests take this module's hook and fixture. A test whose
simulator takes the ``silent_points`` fixture (those suites' stacks do) runs under the
default combination of :class:`simulator.SilentPoints`; marked
``@pytest.mark.silent_points`` (tests that invite agents or read rosters), it runs under
all eight. With ``SIMULATOR_SILENT_POINTS=all`` in the environment every such test runs
under all eight (``make test-silent-points``): a slower run, for when Graph's undocumented
behaviour is what a change is about (docs/decisions/0020-graph-silent-points.md).
"""

from __future__ import annotations

import os

import pytest

from simulator import SilentPoints

MARKER = "silent_points"  # registered in pyproject.toml
ENVIRONMENT = "SIMULATOR_SILENT_POINTS"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize the ``silent_points`` fixture: every combination, or the default."""
    if "silent_points" not in metafunc.fixturenames:
        return
    every = (
        metafunc.definition.get_closest_marker(MARKER) is not None
        or os.environ.get(ENVIRONMENT, "").strip().lower() == "all"
    )
    points = SilentPoints.every() if every else (SilentPoints(),)
    metafunc.parametrize("silent_points", points, ids=[p.label for p in points], indirect=True)


@pytest.fixture(name="silent_points")
def silent_points_fixture(request: pytest.FixtureRequest) -> SilentPoints:
    """Return which way the test's simulator goes where Graph's documentation is silent."""
    points: SilentPoints = getattr(request, "param", SilentPoints())
    return points
