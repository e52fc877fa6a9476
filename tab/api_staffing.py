"""Staffing: the Erlang C calculator and what-if runs of the simulator, for supervisors.

The calculator answers with the fewest agents reaching the target (``staffing_table`` in
``contactcenter/erlang.py``, whose functions the simulator's tests use too), what they
achieve, the agents to schedule once shrinkage is allowed for, and the same figures for a
few more agents. It runs in a worker process with a time limit (the analytics state's
``staffing`` pool), never on the host's event loop; a target no staffing up to
``MAX_AGENTS`` reaches is answered 422 (``targetUnreachable``). A what-if run starts the
discrete-event simulator in its own process (``contactcenter/what_if.py``); the page polls
the run for progress and its result.
"""

from __future__ import annotations

import math

from contactcenter.erlang import (
    StaffingTable,
    TargetUnreachable,
    staffing_table,
)
from contactcenter.simulation import SimulationConfig
from contactcenter.what_if import TooManyRuns, WhatIfRun, check_run_size
from contactcenter.worker_pool import WorkersBusy, WorkFailed
from tab.analytics import analytics, require_supervisor
from tab.analytics_schemas import (
    ErlangBody,
    ErlangView,
    StaffingRowView,
    WhatIfBody,
    WhatIfRunView,
)
from tab.endpoints import ApiError, TabRequest

# Rows of the table: up to this many more agents than the answer, at most this many rows.
_MORE_ROWS = 4
_MAX_ROWS = 32


def _table_arguments(body: ErlangBody) -> tuple[float, float, float, float, float | None]:
    calls_per_hour = body.calls * 60 / body.interval_minutes
    return (
        calls_per_hour,
        body.aht_s,
        body.target_service_level,
        body.threshold_s,
        body.max_occupancy,
    )


def _view(body: ErlangBody, table: StaffingTable) -> ErlangView:
    staffing = table.staffing
    return ErlangView(
        calls_per_hour=body.calls * 60 / body.interval_minutes,
        traffic_erlangs=staffing.traffic_erlangs,
        agents=staffing.agents,
        scheduled_agents=math.ceil(round(staffing.agents / (1 - body.shrinkage), 9)),
        p_wait=staffing.p_wait,
        service_level=staffing.service_level,
        asa_s=staffing.asa_s,
        occupancy=staffing.occupancy,
        table=[
            StaffingRowView(
                agents=row.agents,
                p_wait=row.p_wait,
                service_level=row.service_level,
                asa_s=row.asa_s,
                occupancy=row.occupancy,
            )
            for row in table.rows
        ],
    )


def _unreachable(err: ValueError) -> ApiError:
    code = "targetUnreachable" if isinstance(err, TargetUnreachable) else "validationFailed"
    return ApiError(422, str(err), code=code)


def staffing_view(body: ErlangBody) -> ErlangView:
    """Return the calculator's answer for a forecast and target, computed here."""
    try:
        table = staffing_table(*_table_arguments(body), more_rows=_MORE_ROWS, max_rows=_MAX_ROWS)
    except ValueError as err:
        raise _unreachable(err) from err
    return _view(body, table)


async def erlang_calculator(call: TabRequest) -> ErlangView:
    """Agents needed for a service-level target at a forecast volume and handle time."""
    require_supervisor(call)
    body = call.body(ErlangBody)
    pool = analytics(call.app).staffing
    try:
        table = await pool.run(staffing_table, *_table_arguments(body), _MORE_ROWS, _MAX_ROWS)
    except ValueError as err:
        raise _unreachable(err) from err
    except WorkersBusy as err:
        raise ApiError(503, str(err), code="busy", headers={"Retry-After": "5"}) from err
    except WorkFailed as err:
        raise ApiError(503, str(err), code="calculationFailed") from err
    return _view(body, table)


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
    check_run_size(config)
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
