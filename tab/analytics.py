"""Analytics and supervision in the host: aggregates, export, agent time, what-if runs.

:func:`running_analytics` runs what the analytics API needs while the host runs: the
interval aggregator, the finished-calls feed (its catch-up sweep), the webhook exporter and
its delivery loop, the agent-time sampler, the wallboard's alert board and the what-if
runner. The host hands the routing engine the feed's ``record_finished``, and keeps the
state under :data:`ANALYTICS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
from aiohttp import web

from contactcenter.agent_time import SAMPLER_LEASE, AgentTimeSampler, Leases
from contactcenter.aggregates import IntervalAggregator
from contactcenter.clock import Clock
from contactcenter.errors import DomainError, Unavailable
from contactcenter.export import CallRecordExporter, RetryPolicy
from contactcenter.finished_calls import FinishedCalls
from contactcenter.model import Queue, Role, User
from contactcenter.ports import Store
from contactcenter.queue_alerts import RULES, AlertBoard, QueueAlertRule
from contactcenter.reports import ReportScope
from contactcenter.repository import Collection, Repository
from contactcenter.what_if import ScratchStoreFactory, WhatIfRunner
from contactcenter.worker_pool import WorkerPool
from tab.appkeys import TAB
from tab.endpoints import ApiError, TabRequest
from tab.ports import PeriodicWork
from tab.wallboard import WallboardFrames

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AnalyticsOptions:
    """How often the analytics background work runs; the defaults are a deployment's."""

    # Catch-up sweep over recently ended records (what a crash left undone).
    sweep_interval_s: float = 1.0
    # Finished calls are counted in the interval aggregates in batches, this often (each
    # document then takes one write per batch); 0 counts each call as it finishes. Only
    # with the background loops, which flush the batches.
    aggregate_flush_interval_s: float = 2.0
    # A wider sweep, for records whose live call document lingered (a crashed host).
    wide_sweep_interval_s: float = 300.0
    wide_sweep_lookback_s: float = 1800.0
    # Webhook deliveries that are due.
    delivery_interval_s: float = 1.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Allow http:// webhook URLs on loopback (tests and demos only).
    allow_loopback_http: bool = False
    # Agent time by state: read agents this often, write the sums this often.
    sample_interval_s: float = 5.0
    flush_interval_s: float = 60.0
    # Drop the call-id lists of old aggregates.
    seal_interval_s: float = 3600.0
    # What-if simulations per host, and their time limit.
    what_if_max_running: int = 2
    what_if_timeout_s: float = 300.0
    # Erlang C staffing runs in worker processes of its own, each answer time-limited.
    staffing_processes: int = 1
    staffing_timeout_s: float = 10.0
    # Tests drive the loops themselves.
    run_background: bool = True


@dataclass(slots=True)
class AnalyticsState:
    """What the analytics handlers and loops share."""

    options: AnalyticsOptions
    aggregator: IntervalAggregator
    feed: FinishedCalls
    exporter: CallRecordExporter
    sampler: AgentTimeSampler
    leases: Leases
    alerts: AlertBoard
    rules: Collection[QueueAlertRule]
    frames: WallboardFrames
    what_if: WhatIfRunner
    staffing: WorkerPool
    tasks: list[asyncio.Task[object]] = field(default_factory=list)


ANALYTICS: web.AppKey[AnalyticsState] = web.AppKey("analytics", AnalyticsState)


def analytics(app: web.Application) -> AnalyticsState:
    """Return the analytics state, or answer 503 when the host was built without it."""
    state = app.get(ANALYTICS)
    if state is None:
        raise ApiError(503, "analytics are not enabled on this host", code="notEnabled")
    return state


def aggregator_for(app: web.Application) -> IntervalAggregator:
    """Return the host's aggregator, or one of its own for a host built without analytics."""
    state = app.get(ANALYTICS)
    if state is not None:
        return state.aggregator
    deps = app[TAB].deps
    return IntervalAggregator(deps.store, deps.clock)


def alert_rules_for(app: web.Application) -> Collection[QueueAlertRule]:
    """Return the queues' alert rules (they live in the store; no analytics state needed)."""
    state = app.get(ANALYTICS)
    if state is not None:
        return state.rules
    return Collection(app[TAB].deps.store, RULES, QueueAlertRule)


class AiohttpWebhookSender:
    """POSTs webhook deliveries with the host's HTTP session; no redirects are followed."""

    def __init__(self, session: aiohttp.ClientSession, *, timeout_s: float = 10.0) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        try:
            async with self._session.post(
                url, data=body, headers=dict(headers), allow_redirects=False, timeout=self._timeout
            ) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError) as err:
            raise Unavailable(f"{type(err).__name__}: {err}") from err


@contextlib.asynccontextmanager
async def running_analytics(
    options: AnalyticsOptions,
    *,
    store: Store,
    repository: Repository,
    clock: Clock,
    session: aiohttp.ClientSession,
    background: PeriodicWork,
    scratch_stores: ScratchStoreFactory,
) -> AsyncIterator[AnalyticsState]:
    """Run the analytics state and loops for as long as the context is open."""
    aggregator = IntervalAggregator(store, clock)
    exporter = CallRecordExporter(store, AiohttpWebhookSender(session), clock, policy=options.retry)
    batched = options.run_background and options.aggregate_flush_interval_s > 0
    alerts = AlertBoard()
    rules = Collection(store, RULES, QueueAlertRule)
    state = AnalyticsState(
        options=options,
        aggregator=aggregator,
        feed=FinishedCalls(
            repository,
            aggregator,
            clock,
            exporter=exporter,
            batched=batched,
            # The sweep leaves a record to its host's batch for a few flushes.
            sweep_lag=timedelta(seconds=3 * options.aggregate_flush_interval_s)
            if batched
            else timedelta(0),
        ),
        exporter=exporter,
        sampler=AgentTimeSampler(aggregator, max_gap_s=max(30.0, 3 * options.sample_interval_s)),
        leases=Leases(store),
        alerts=alerts,
        rules=rules,
        frames=WallboardFrames(aggregator, alerts, rules),
        what_if=WhatIfRunner(
            store,
            clock,
            open_store=scratch_stores,
            max_running=options.what_if_max_running,
            timeout_s=options.what_if_timeout_s,
        ),
        staffing=WorkerPool(
            size=options.staffing_processes,
            timeout_s=options.staffing_timeout_s,
            preload=("contactcenter.erlang",),
            name="staffing calculator",
        ),
    )
    if options.run_background:
        _start_loops(state, background, repository, clock)
    try:
        yield state
    finally:
        for task in state.tasks:
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        await state.what_if.close()
        await state.staffing.close()
        with contextlib.suppress(DomainError):
            await state.sampler.flush()
        # Calls that finished since the last batch (the engine has stopped by now).
        await state.feed.flush()


def _start_loops(
    state: AnalyticsState, background: PeriodicWork, repository: Repository, clock: Clock
) -> None:
    options = state.options
    wide = timedelta(seconds=options.wide_sweep_lookback_s)

    async def wide_sweep() -> None:
        await state.feed.catch_up(clock.now() - wide)

    async def deliver() -> None:
        await state.exporter.deliver_due()
        await state.exporter.purge()

    async def sample() -> None:
        await sample_agent_time(state, repository, clock, options.sample_interval_s)

    loops: list[tuple[float, Callable[[], Awaitable[object]], str]] = [
        (options.sweep_interval_s, state.feed.sweep, "analytics-sweep"),
        (options.aggregate_flush_interval_s, state.feed.flush, "aggregates-flush"),
        (options.wide_sweep_interval_s, wide_sweep, "analytics-wide-sweep"),
        (options.delivery_interval_s, deliver, "webhook-deliveries"),
        (options.sample_interval_s, sample, "agent-time-samples"),
        (options.flush_interval_s, state.sampler.flush, "agent-time-flush"),
        (options.seal_interval_s, state.aggregator.seal, "aggregates-seal"),
    ]
    for interval, work, name in loops:
        state.tasks.append(background.every(interval, work, name=name))


async def sample_agent_time(
    state: AnalyticsState, repository: Repository, clock: Clock, interval_s: float
) -> None:
    """Read the agents of every tenant whose sampler lease this host holds."""
    ttl = timedelta(seconds=max(15.0, 4 * interval_s))
    for tenant in await repository.tenants.find(None):
        tenant_id = tenant.value.id
        now = clock.now()
        if not await state.leases.hold(tenant_id, SAMPLER_LEASE, now, ttl):
            state.sampler.forget(tenant_id)
            continue
        agents = await repository.agents.find(tenant_id)
        state.sampler.observe(tenant_id, [a.value for a in agents], clock.now())


# ------------------------------------------------------------------- who sees what
def is_supervisor(user: User) -> bool:
    """Tell whether the user may supervise (supervisors and admins)."""
    return bool({Role.ADMIN, Role.SUPERVISOR} & user.roles)


def supervised_queue_ids(user: User, queues: Sequence[Queue]) -> list[str]:
    """Return the queues the user supervises: admins all; supervisors theirs (or all)."""
    return [q.id for q in queues if user.supervises(q.id)]


def report_scope(user: User) -> ReportScope:
    """Return what the user's reports may show: all, their queues, or their own calls."""
    if Role.ADMIN in user.roles:
        return ReportScope()
    if Role.SUPERVISOR in user.roles:
        if user.supervises_all_queues:
            return ReportScope()
        return ReportScope(queue_ids=frozenset(user.supervised_queue_ids))
    return ReportScope(agent_id=user.id)


def require_supervisor(call: TabRequest) -> User:
    """Return the caller if they supervise; answer 403 otherwise."""
    user = call.caller.user
    if not is_supervisor(user):
        raise ApiError(403, "this needs the supervisor or admin role", code="forbidden")
    return user
