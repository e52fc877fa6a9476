"""Staffing: the Erlang C calculator and what-if runs of the simulator, for supervisors.

The calculator answers with the fewest agents reaching the target (``agents_for_service_level``
in ``contactcenter/erlang.py``, the function the simulator's tests use too), what they
achieve, the agents to schedule once shrinkage is allowed for, and the same figures for a
few more agents. A what-if run starts the discrete-event simulator in its own process
(``tab/whatif.py``); the page polls the run for progress and its result.
"""

from __future__ import annotations

import math

from contactcenter.erlang import (
    SECONDS_PER_HOUR,
    agents_for_service_level,
    average_speed_of_answer,
    erlang_c,
    service_level,
)
from contactcenter.simulation import SimulationConfig
from contactcenter.what_if import TooManyRuns, WhatIfRun
from tab.analytics import analytics, require_supervisor
from tab.analytics_schemas import (
    ErlangBody,
    ErlangView,
    StaffingRowView,
    WhatIfBody,
    WhatIfRunView,
)
from tab.endpoints import ApiError, TabRequest

_MORE_ROWS = 4


def staffing_view(body: ErlangBody) -> ErlangView:
    """Return the calculator's answer for a forecast and target."""
    calls_per_hour = body.calls * 60 / body.interval_minutes
    try:
        staffing = agents_for_service_level(
            calls_per_hour,
            body.aht_s,
            body.target_service_level,
            body.threshold_s,
            body.max_occupancy,
        )
    except ValueError as err:
        raise ApiError(422, str(err), code="validationFailed") from err
    traffic = calls_per_hour * body.aht_s / SECONDS_PER_HOUR
    first = max(1, math.floor(traffic) + 1)
    rows = [
        StaffingRowView(
            agents=n,
            p_wait=erlang_c(traffic, n),
            service_level=service_level(traffic, n, body.aht_s, body.threshold_s),
            asa_s=average_speed_of_answer(traffic, n, body.aht_s),
            occupancy=traffic / n,
        )
        for n in range(first, max(first, staffing.agents) + _MORE_ROWS + 1)
    ]
    return ErlangView(
        calls_per_hour=calls_per_hour,
        traffic_erlangs=staffing.traffic_erlangs,
        agents=staffing.agents,
        scheduled_agents=math.ceil(round(staffing.agents / (1 - body.shrinkage), 9)),
        p_wait=staffing.p_wait,
        service_level=staffing.service_level,
        asa_s=staffing.asa_s,
        occupancy=staffing.occupancy,
        table=rows,
    )


async def erlang_calculator(call: TabRequest) -> ErlangView:
    """Agents needed for a service-level target at a forecast volume and handle time."""
    require_supervisor(call)
    return staffing_view(call.body(ErlangBody))


def run_view(run: WhatIfRun) -> WhatIfRunView:
    state = run.state if run.state in {"queued", "running", "done", "failed"} else "failed"
    return WhatIfRunView(
        id=run.id,
        state=state,  # type: ignore[arg-type]
        done=run.done,
        total=run.total,
        config=run.config,
        result=run.result,
        error=run.error,
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


async def start_what_if(call: TabRequest) -> WhatIfRunView:
    """Start a what-if simulation in the background; poll it for progress and the result."""
    require_supervisor(call)
    body = call.body(WhatIfBody)
    config = SimulationConfig(
        agents=body.agents,
        arrival_rate_per_hour=body.arrival_rate,
        handle_time_s=body.handle_time_s,
        calls=body.calls,
        routing=body.routing,
        ring_time_s=body.ring_time_s,
        wrap_up_s=body.wrap_up_s,
        patience_s=body.patience_s,
        seed=body.seed,
        service_level_threshold_s=body.service_level_threshold_s,
    )
    try:
        run = await analytics(call.app).what_if.start(
            call.caller.tenant_id, call.caller.user_id, config
        )
    except TooManyRuns as err:
        raise ApiError(429, str(err), code="busy", headers={"Retry-After": "10"}) from err
    return run_view(run)


async def get_what_if(call: TabRequest) -> WhatIfRunView:
    """Return a what-if run: its state, progress and, once done, its result."""
    require_supervisor(call)
    run = await analytics(call.app).what_if.get(call.caller.tenant_id, call.param("runId"))
    return run_view(run)
