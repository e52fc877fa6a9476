"""``python -m bench.host``: the host under test, instrumented, with benchmark endpoints.

It builds the product's app with ``create_app(settings, Services(...))`` exactly as
``contact-center serve --demo`` does (demo mode: the simulator's keys are trusted), and
injects three wrappers through ``Services``:

- the store wrapped in :class:`~bench.counting.CountingStore`;
- the real Graph call control (msgraph-sdk over httpx) wrapped in
  :class:`~bench.probe.BenchCallControl`, its HTTP transport in
  :class:`~bench.probe.ProbeTransport`;
- the timer loop and presence polling, run by this module as the product runs them, so
  that their store requests are counted apart.

It adds, under ``/bench/``, endpoints the orchestrator uses to seed tenants, read the
probe and the counters, and fill a queue. It pins itself to one CPU core first
(``--core``) and exits when its parent goes away.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.counting import CURRENT, CountingStore, OpCounts, OpLedger, ledger_middleware
from bench.probe import (
    CALLING_PATH,
    SYNTHETIC_PREFIX,
    BenchCallControl,
    ProbeTransport,
    RoutingProbe,
)
from bench.system import pin_to_cores, rss_bytes, watch_parent
from bench.tenant import LineSpec, TenantSpec
from bot import keys
from bot.app import Services, create_app
from bot.logs import configure_logging
from bot.presence import PresencePoller
from bot.settings import Settings
from bot.stores import open_store
from contactcenter.engine import EngineSettings
from contactcenter.errors import NotFound
from contactcenter.events import CallStateChanged, GraphCallState, IncomingCall
from contactcenter.model import (
    AgentActivity,
    AgentStatus,
    Call,
    CallState,
    Party,
    PartyKind,
    Queue,
)
from contactcenter.ports import Condition, Op, Store
from contactcenter.repository import Repository
from graph.calling import (
    GraphCallControl,
    GraphHttpClient,
    GraphPresence,
    StaticTokenProvider,
    build_graph_client,
)
from graph.connection_pool import graph_transport
from storage.cosmos import CosmosStore

_LOGGER = logging.getLogger(__name__)

BENCH_PREFIX = "/bench/"
PROBE: web.AppKey[RoutingProbe] = web.AppKey("bench_probe", RoutingProbe)
LEDGER: web.AppKey[OpLedger] = web.AppKey("bench_ledger", OpLedger)
# Writes at once while seeding or filling a queue (the Cosmos DB test server is slow per
# request but takes many at a time; SQLite serialises them on its thread anyway).
_WRITE_CONCURRENCY = 32


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.host", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="port to listen on (loopback)")
    parser.add_argument("--data-dir", type=Path, required=True, help="the host's data directory")
    parser.add_argument("--simulator", required=True, help="the simulator's base URL")
    parser.add_argument("--core", type=int, action="append", help="CPU core(s) to run on")
    parser.add_argument("--cosmos-endpoint", default="", help="Cosmos DB endpoint (else SQLite)")
    parser.add_argument("--cosmos-key", default="", help="Cosmos DB account key")
    parser.add_argument("--cosmos-database", default="bench", help="Cosmos DB database")
    parser.add_argument("--log-level", default="INFO", help="the host's log level")
    parser.add_argument(
        "--profile", type=Path, help="run under cProfile and write the statistics to this file"
    )
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    environ = {"LOG_LEVEL": args.log_level}
    if args.cosmos_endpoint:
        environ |= {
            "COSMOS_ENDPOINT": args.cosmos_endpoint,
            "COSMOS_KEY": args.cosmos_key,
            "COSMOS_DATABASE": args.cosmos_database,
            "COSMOS_VERIFY_TLS": "false",
        }
    simulator = args.simulator.rstrip("/")
    return Settings.from_env(
        environ,
        demo=True,
        dotenv=None,
        host="127.0.0.1",
        port=args.port,
        data_dir=args.data_dir,
        graph_base_url=f"{simulator}/v1.0",
        calling_openid_config_url=f"{simulator}/.well-known/OpenIdConfiguration",
        demo_call_rate=0.0,
    )


# ------------------------------------------------------------------ endpoints
def _repository(request: web.Request) -> Repository:
    return request.app[keys.REPOSITORY]


async def _bounded(work: Sequence[Any], concurrency: int) -> None:
    """Await the coroutines in ``work``, at most ``concurrency`` at a time."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(item: Any) -> None:
        async with semaphore:
            await item

    await asyncio.gather(*(one(item) for item in work))


async def seed(request: web.Request) -> web.Response:
    """Write a benchmark tenant's documents (the tenant document last)."""
    spec = TenantSpec.from_json(await request.json())
    repository = _repository(request)
    started = time.perf_counter()
    tenant, queues, agents, bindings = spec.documents(request.app[keys.CLOCK].now())
    await _bounded([repository.queues.put(q) for q in queues], _WRITE_CONCURRENCY)
    await _bounded([repository.agents.put(a) for a in agents], _WRITE_CONCURRENCY)
    await _bounded([repository.bindings.put(b) for b in bindings], _WRITE_CONCURRENCY)
    await repository.tenants.put(tenant)
    return web.json_response(
        {"agents": len(agents), "seconds": round(time.perf_counter() - started, 3)}
    )


async def probe_control(request: web.Request) -> web.Response:
    """Switch the routing probe on or off; optionally forget what it collected."""
    body = await request.json()
    probe = request.app[PROBE]
    if body.get("reset"):
        probe.reset()
    probe.enabled = bool(body.get("enabled", probe.enabled))
    return web.json_response({"enabled": probe.enabled})


async def probe_take(request: web.Request) -> web.Response:
    """Return (and forget) the routing samples of the given calls."""
    body = await request.json()
    probe = request.app[PROBE]
    found, missing = probe.take([str(call_id) for call_id in body["callIds"]])
    return web.json_response(
        {
            "samples": {call_id: sample.to_json() for call_id, sample in found.items()},
            "missing": missing,
            "dropped": probe.dropped,
        }
    )


async def state(request: web.Request) -> web.Response:
    """Return how many calls of the tenant (or of one queue) are live, and the host's memory."""
    tenant_id = request.query["tenantId"]
    queue_id = request.query.get("queueId")
    repository = _repository(request)
    live = await repository.calls.count(
        tenant_id, (Condition("queueId", Op.EQ, queue_id),) if queue_id else ()
    )
    idle = await repository.agents.count(
        tenant_id,
        (
            Condition("status", Op.EQ, AgentStatus.AVAILABLE.value),
            Condition("activity", Op.EQ, AgentActivity.IDLE.value),
        ),
    )
    return web.json_response(
        {
            "liveCalls": live,
            "idleAgents": idle,
            "rssBytes": rss_bytes(os.getpid()),
            "background": request.app[keys.BACKGROUND].pending,
        }
    )


async def ops(request: web.Request) -> web.Response:
    """Return the store-request counters (``?reset=1``: zero them afterwards)."""
    ledger = request.app[LEDGER]
    body = ledger.to_json()
    if request.query.get("reset"):
        ledger.reset()
    store = request.app[keys.STORE]
    inner = store.inner if isinstance(store, CountingStore) else store
    if isinstance(inner, CosmosStore):
        body["requestCharge"] = inner.request_charge_total
    return web.json_response(body)


async def call_status(request: web.Request) -> web.Response:
    """Tell whether a call is live, recorded, and how its agent is doing."""
    tenant_id = request.match_info["tenant"]
    call_id = request.match_info["call"]
    repository = _repository(request)
    body: dict[str, Any] = {"live": None, "recorded": False, "outcome": None, "agent": None}
    try:
        live = (await repository.calls.get(tenant_id, call_id)).value
        body["live"] = live.state.value
    except NotFound:
        pass
    try:
        record = (await repository.call_records.get(tenant_id, call_id)).value
    except NotFound:
        pass
    else:
        body["recorded"] = True
        body["outcome"] = record.outcome.value
        if record.agent_id:
            agent = (await repository.agents.get(tenant_id, record.agent_id)).value
            body["agent"] = {"activity": agent.activity.value, "status": agent.status.value}
    return web.json_response(body)


def _synthetic_waiting_call(line: LineSpec, queue: Queue, index: int, now: datetime) -> Call:
    """Return a call as the engine leaves it once queued (offered ``index`` times 10 ms apart)."""
    offered = now - timedelta(milliseconds=10 * (100_000 - index))
    call_id = f"{SYNTHETIC_PREFIX}{uuid.uuid4()}"
    # As the engine's waiting due time: the queue's max wait, or the next keep-alive.
    due = min(
        offered + timedelta(seconds=queue.max_wait_s),
        now + timedelta(seconds=EngineSettings(callback_uri="").keep_alive_s),
    )
    return Call(
        id=call_id,
        tenant_id=queue.tenant_id,
        caller=Party(PartyKind.PHONE, f"+1425{index:07d}"),
        target_id=line.line_id,
        state=CallState.WAITING,
        chain_id=str(uuid.uuid4()),
        queue_id=queue.id,
        priority=queue.priority,
        required_skills=dict(queue.required_skills),
        received_at=offered,
        offered_at=offered,
        queued_at=offered,
        due_at=due,
        applied_notifications=(f"{call_id}:incoming", f"{call_id}:state:established"),
        queue_name=queue.name,
        service_level_threshold_s=queue.service_level_threshold_s,
        wrap_up_s=queue.wrap_up_s,
    )


async def fill_queue(request: web.Request) -> web.Response:
    """Write waiting calls into a queue, in the state the engine leaves a waiting call."""
    body = await request.json()
    spec = TenantSpec.from_json(body["tenant"])
    line = spec.line(body["line"])
    count = int(body["count"])
    start_index = int(body.get("startIndex", 0))
    repository = _repository(request)
    queue = (await repository.queues.get(spec.tenant_id, line.queue_id)).value
    now = request.app[keys.CLOCK].now()
    started = time.perf_counter()
    calls = [_synthetic_waiting_call(line, queue, start_index + i, now) for i in range(count)]
    await _bounded([repository.calls.create(call) for call in calls], _WRITE_CONCURRENCY)
    waiting = await repository.calls.count(
        spec.tenant_id,
        (
            Condition("queueId", Op.EQ, line.queue_id),
            Condition("state", Op.EQ, CallState.WAITING.value),
        ),
    )
    return web.json_response(
        {"written": count, "waiting": waiting, "seconds": round(time.perf_counter() - started, 3)}
    )


async def decisions(request: web.Request) -> web.Response:
    """Time routing decisions through the engine's API against the queue as it is now.

    ``enqueue``: a new call arrives (``incoming`` then ``established``) while no agent is
    free: the engine decides it waits. ``dequeue``: an agent becomes available: the engine
    picks the call to serve first and rings the agent. Graph actions on these synthetic
    calls are not sent (see BenchCallControl).
    """
    body = await request.json()
    spec = TenantSpec.from_json(body["tenant"])
    line = spec.line(body["line"])
    samples = int(body["samples"])
    agent_ids = [str(agent_id) for agent_id in body["agentIds"]]
    engine = request.app[keys.ENGINE]
    repository = _repository(request)
    incoming_ms: list[float] = []
    enqueue_ms: list[float] = []
    dequeue_ms: list[float] = []
    outcomes: dict[str, int] = {}
    for index in range(samples):
        call_id = f"{SYNTHETIC_PREFIX}{uuid.uuid4()}"
        caller = Party(PartyKind.PHONE, f"+1206{index:07d}")
        started = time.perf_counter()
        await engine.handle(IncomingCall(spec.tenant_id, call_id, caller, line.line_id))
        received = time.perf_counter()
        await engine.handle(CallStateChanged(spec.tenant_id, call_id, GraphCallState.ESTABLISHED))
        decided = time.perf_counter()
        incoming_ms.append((received - started) * 1000.0)
        enqueue_ms.append((decided - received) * 1000.0)
        try:
            outcome = (await repository.calls.get(spec.tenant_id, call_id)).value.state.value
        except NotFound:
            outcome = "ended"
        outcomes[f"enqueue:{outcome}"] = outcomes.get(f"enqueue:{outcome}", 0) + 1
    for agent_id in agent_ids[:samples]:
        started = time.perf_counter()
        await engine.set_status(spec.tenant_id, agent_id, AgentStatus.AVAILABLE)
        dequeue_ms.append((time.perf_counter() - started) * 1000.0)
        agent = (await repository.agents.get(spec.tenant_id, agent_id)).value
        outcomes[f"dequeue:{agent.activity.value}"] = (
            outcomes.get(f"dequeue:{agent.activity.value}", 0) + 1
        )
    return web.json_response(
        {
            "incomingMs": incoming_ms,
            "enqueueMs": enqueue_ms,
            "dequeueMs": dequeue_ms,
            "outcomes": outcomes,
        }
    )


def add_bench_routes(app: web.Application) -> None:
    """Add the benchmark's control endpoints (loopback only, no authentication)."""
    app.router.add_post("/bench/seed", seed)
    app.router.add_post("/bench/probe", probe_control)
    app.router.add_post("/bench/probe/take", probe_take)
    app.router.add_get("/bench/state", state)
    app.router.add_get("/bench/ops", ops)
    app.router.add_get("/bench/calls/{tenant}/{call}", call_status)
    app.router.add_post("/bench/queue/fill", fill_queue)
    app.router.add_post("/bench/decisions", decisions)


async def _workers_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the product's background work: the timer loop and presence polling.

    The product's timer loop (``bot.timer_loop.TimerLoop``, the engine's schedule) and the
    product's :class:`~bot.presence.PresencePoller`, run here as tasks of their own so that
    their store requests are counted apart (each timer run in a bucket of its own, merged
    by whether it fired anything) and so that stopping the benchmark host does not wait out
    the Background set's grace period for loops that never end.
    """
    engine = app[keys.ENGINE]
    ledger = app[LEDGER]

    def counted(fire: Callable[[], Awaitable[int]]) -> Callable[[], Awaitable[int]]:
        async def fire_counted() -> int:
            bucket = OpCounts()
            token = CURRENT.set(bucket)
            fired = 0
            try:
                fired = await fire()
            finally:
                CURRENT.reset(token)
                ledger.timer_runs += 1
                (ledger.timers_fired if fired else ledger.timers_idle).merge(bucket)
            return fired

        return fire_counted

    async def timers() -> None:
        await app[keys.TIMER_LOOP].run(
            counted(engine.fire_due_timers), counted(engine.fire_own_timers)
        )

    async def presence() -> None:
        CURRENT.set(ledger.presence)
        poller = PresencePoller(app[keys.REPOSITORY], app[keys.PRESENCE], engine)
        await poller.run()

    tasks = [
        asyncio.create_task(timers(), name="bench-timers"),
        asyncio.create_task(presence(), name="bench-presence"),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def build_app(
    settings: Settings, store: Store, call_control: BenchCallControl, presence: GraphPresence
) -> web.Application:
    """Build the product's app around the instrumented collaborators."""
    probe = call_control.probe
    ledger = OpLedger()
    counting = CountingStore(store, ledger)
    app = create_app(
        settings,
        Services(
            store=counting,
            call_control=call_control,
            presence=presence,
            run_timers=False,
        ),
    )
    app[PROBE] = probe
    app[LEDGER] = ledger
    # Outermost, so that the time a notification spends in the product's middleware counts.
    app.middlewares.insert(0, probe.middleware)
    app.middlewares.insert(
        1, ledger_middleware(ledger, calling_path=CALLING_PATH, bench_prefix=BENCH_PREFIX)
    )
    app.cleanup_ctx.append(_workers_ctx)
    add_bench_routes(app)
    return app


async def serve(args: argparse.Namespace) -> None:
    """Run the instrumented host until SIGTERM or SIGINT."""
    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(settings.log_level, settings.log_format)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    watcher = asyncio.create_task(watch_parent(stop), name="watch-parent")
    probe = RoutingProbe()
    store = await open_store(settings)
    try:
        transport = ProbeTransport(graph_transport(), probe)
        async with GraphHttpClient(transport=transport) as http:
            client = build_graph_client(
                base_url=settings.graph_base_url,
                credential=StaticTokenProvider("demo-mode-token"),
                httpx_client=http,
            )
            call_control = BenchCallControl(GraphCallControl(client), probe)
            app = build_app(settings, store, call_control, GraphPresence(client))
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
            await runner.setup()
            try:
                sock = socket.create_server((settings.host, settings.port))
                await web.SockSite(runner, sock).start()
                sys.stdout.write(f"listening on http://{settings.host}:{settings.port}\n")
                sys.stdout.flush()
                await stop.wait()
            finally:
                await runner.cleanup()
    finally:
        watcher.cancel()
        await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Pin to the given cores, then serve."""
    args = _parser().parse_args(argv)
    if args.core:
        pin_to_cores(os.getpid(), set(args.core))
    if args.profile is None:
        asyncio.run(serve(args))
        return 0
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        asyncio.run(serve(args))
    finally:
        profiler.disable()
        profiler.dump_stats(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
