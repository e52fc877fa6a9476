"""Erlang C: waiting probability, service level, ASA and staffing for an M/M/N queue.

The formulas are the published ones (docs: KPI definitions). With traffic ``A = λ·AHT``
in erlangs and ``N`` agents (``A < N``)::

    P_wait = (A^N/N! · N/(N-A)) / (Σ_{k<N} A^k/k! + A^N/N! · N/(N-A))
    SL(t)  = 1 - P_wait · e^(-(N-A)·t/AHT)
    ASA    = P_wait · AHT / (N-A)

``P_wait`` is computed from the Erlang B recursion ``B(k) = A·B(k-1) / (k + A·B(k-1))``
and ``C = N·B / (N - A·(1 - B))``: no powers or factorials, so it stays exact to the last
few bits for thousands of agents where the textbook form overflows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SECONDS_PER_HOUR = 3600.0


def _check_traffic(traffic_erlangs: float) -> float:
    traffic = float(traffic_erlangs)
    if not math.isfinite(traffic) or traffic < 0:
        raise ValueError(
            f"traffic must be a finite number of erlangs >= 0, got {traffic_erlangs!r}"
        )
    return traffic


def _check_agents(agents: int) -> int:
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 1:
        raise ValueError(f"agents must be a whole number >= 1, got {agents!r}")
    return agents


def _check_positive(name: str, value: float) -> float:
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def _check_threshold(threshold_s: float) -> float:
    number = float(threshold_s)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"threshold must be a finite number of seconds >= 0, got {threshold_s!r}")
    return number


def erlang_b(traffic_erlangs: float, agents: int) -> float:
    """Return the Erlang B blocking probability for ``agents`` servers."""
    traffic = _check_traffic(traffic_erlangs)
    servers = _check_agents(agents)
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    return blocking


def erlang_c(traffic_erlangs: float, agents: int) -> float:
    """Return the probability that a call waits (Erlang C); 1.0 when ``traffic >= agents``."""
    traffic = _check_traffic(traffic_erlangs)
    servers = _check_agents(agents)
    if traffic >= servers:
        # An overloaded queue grows without bound: every call waits.
        return 1.0
    if traffic == 0:
        return 0.0
    blocking = erlang_b(traffic, servers)
    return servers * blocking / (servers - traffic * (1.0 - blocking))


def service_level(traffic_erlangs: float, agents: int, aht_s: float, threshold_s: float) -> float:
    """Return the share of calls answered within ``threshold_s`` (0.0 when overloaded)."""
    traffic = _check_traffic(traffic_erlangs)
    servers = _check_agents(agents)
    aht = _check_positive("average handle time", aht_s)
    threshold = _check_threshold(threshold_s)
    if traffic >= servers:
        return 0.0
    p_wait = erlang_c(traffic, servers)
    return max(0.0, 1.0 - p_wait * math.exp(-(servers - traffic) * threshold / aht))


def average_speed_of_answer(traffic_erlangs: float, agents: int, aht_s: float) -> float:
    """Return the mean wait in seconds over all calls (infinite when overloaded)."""
    traffic = _check_traffic(traffic_erlangs)
    servers = _check_agents(agents)
    aht = _check_positive("average handle time", aht_s)
    if traffic >= servers:
        return math.inf
    return erlang_c(traffic, servers) * aht / (servers - traffic)


@dataclass(frozen=True, slots=True)
class Staffing:
    """Agents needed for a target, and what that many agents achieve."""

    agents: int
    traffic_erlangs: float
    p_wait: float
    service_level: float
    asa_s: float
    occupancy: float


MAX_AGENTS = 5_000
"""The most agents the staffing search considers for one queue.

The largest contact centers staff a few thousand agents across all their queues; a single
queue needing more is better planned as several. The search is one pass of the Erlang B
recursion up to the answer, so this also bounds its work (a few milliseconds).
"""


class TargetUnreachable(ValueError):
    """No staffing up to :data:`MAX_AGENTS` agents reaches the target."""


@dataclass(frozen=True, slots=True)
class StaffingRow:
    """What ``agents`` agents achieve on the forecast traffic."""

    agents: int
    p_wait: float
    service_level: float
    asa_s: float
    occupancy: float


@dataclass(frozen=True, slots=True)
class StaffingTable:
    """The fewest agents for a target, and the rows around that answer."""

    staffing: Staffing
    rows: tuple[StaffingRow, ...]


def staffing_table(
    calls_per_hour: float,
    aht_s: float,
    target_sl: float,
    threshold_s: float,
    max_occupancy: float | None = None,
    more_rows: int = 4,
    max_rows: int = 32,
) -> StaffingTable:
    """Return the fewest agents reaching ``target_sl`` within ``threshold_s`` (and occupancy
    cap), with rows from the first agent count that can carry the traffic to ``more_rows``
    past the answer (at most ``max_rows``, the last ones).

    Service level grows with the agents, so the first count meeting the target is the
    answer: one pass of the Erlang B recursion finds it, with the same figures as
    :func:`erlang_c` and :func:`service_level`. Raises :class:`TargetUnreachable` when no
    count up to :data:`MAX_AGENTS` does, ValueError for input that makes no sense.
    """
    rate = float(calls_per_hour)
    if not math.isfinite(rate) or rate < 0:
        raise ValueError(f"calls per hour must be a finite number >= 0, got {calls_per_hour!r}")
    aht = _check_positive("average handle time", aht_s)
    threshold = _check_threshold(threshold_s)
    target = float(target_sl)
    if not 0.0 < target < 1.0:
        raise ValueError(
            f"target service level must be between 0 and 1 (exclusive), got {target_sl!r}"
        )
    if max_occupancy is not None and not 0.0 < float(max_occupancy) <= 1.0:
        raise ValueError(f"max occupancy must be in (0, 1], got {max_occupancy!r}")
    traffic = rate * aht / SECONDS_PER_HOUR
    if traffic == 0:
        idle = tuple(StaffingRow(n, 0.0, 1.0, 0.0, 0.0) for n in range(1, more_rows + 2))
        return StaffingTable(Staffing(0, 0.0, 0.0, 1.0, 0.0, 0.0), idle)
    unreachable = TargetUnreachable(
        f"no staffing up to {MAX_AGENTS:,} agents reaches that target "
        f"({traffic:,.1f} erlangs of traffic): plan the queue as several"
    )
    if traffic >= MAX_AGENTS or (
        max_occupancy is not None and traffic / MAX_AGENTS > max_occupancy
    ):
        raise unreachable
    kept = max(1, max_rows - more_rows)
    rows: list[StaffingRow] = []
    answer: Staffing | None = None
    last = MAX_AGENTS
    blocking = 1.0
    servers = 0
    while servers < last:
        servers += 1
        blocking = traffic * blocking / (servers + traffic * blocking)
        if traffic >= servers:
            continue
        p_wait = servers * blocking / (servers - traffic * (1.0 - blocking))
        level = max(0.0, 1.0 - p_wait * math.exp(-(servers - traffic) * threshold / aht))
        row = StaffingRow(
            agents=servers,
            p_wait=p_wait,
            service_level=level,
            asa_s=p_wait * aht / (servers - traffic),
            occupancy=traffic / servers,
        )
        rows.append(row)
        if answer is None:
            if len(rows) > kept:
                del rows[0]
            if level >= target and (max_occupancy is None or row.occupancy <= max_occupancy):
                answer = Staffing(
                    agents=servers,
                    traffic_erlangs=traffic,
                    p_wait=p_wait,
                    service_level=level,
                    asa_s=row.asa_s,
                    occupancy=row.occupancy,
                )
                last = servers + more_rows
    if answer is None:
        raise unreachable
    return StaffingTable(answer, tuple(rows))


def agents_for_service_level(
    calls_per_hour: float,
    aht_s: float,
    target_sl: float,
    threshold_s: float,
    max_occupancy: float | None = None,
) -> Staffing:
    """Return the fewest agents reaching ``target_sl`` within ``threshold_s`` (and occupancy cap).

    Raises :class:`TargetUnreachable` when more than :data:`MAX_AGENTS` would be needed.
    """
    return staffing_table(
        calls_per_hour, aht_s, target_sl, threshold_s, max_occupancy, more_rows=0, max_rows=1
    ).staffing
