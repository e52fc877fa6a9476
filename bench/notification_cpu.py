"""``python -m bench.notification_cpu``: CPU per redelivered notification, in one process.

The benchmark's throughput phase measures notifications against the floor across
processes and cores, which needs a quiet machine. This measures the same thing in one
process (pin it to a core with ``taskset``): the demo host (SQLite, the real aiohttp app,
real token validation) and the simulator on loopback; calls placed, answered and left
there (their prompts never complete); then the benchmark's mix of redelivered
notifications (``incoming``, ``establishing``, ``established``, a roster) sent over
keep-alive connections by the benchmark's own client, and the same client against the
floor's bare handler. Both numbers include the client's CPU, so the difference is what
the host adds per notification. ``--profile FILE`` writes a cProfile of the host's rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port

from bench.floor import accepted
from bench.loadgen import blast, http_request, notification_mix
from bot.app import Services, create_app
from bot.demo import LINES, demo_simulator_directory
from bot.settings import DEMO_APP_ID, DEMO_TENANT_ID, Settings
from contactcenter.clock import SystemClock, VirtualClock
from simulator import (
    MediaMode,
    SimulatorClient,
    SimulatorConfig,
    TokenMinter,
    create_simulator_app,
    load_or_create_signing_key,
)
from simulator.config import GRAPH_ISSUER

KINDS = ("incoming", "establishing", "established", "roster")


async def _bodies(client: SimulatorClient, calls: int, kinds: Sequence[str]) -> list[bytes]:
    """Place ``calls`` calls and return the mix's bodies for them."""
    ids = []
    for index in range(calls):
        placed = await client.place_call(
            DEMO_TENANT_ID,
            application_instance_id=LINES[0].application_instance_id,
            caller_phone=f"+1312555{index:04d}",
        )
        ids.append(placed.id)
    views = [await client.call(call_id) for call_id in ids]
    return [
        json.dumps(payload, separators=(",", ":")).encode()
        for view in views
        for kind, payload in notification_mix(view, DEMO_APP_ID).items()
        if kind in kinds
    ]


async def measure(
    *,
    calls: int,
    kinds: Sequence[str],
    rounds: int,
    seconds: float,
    profile: Path | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Return the host's and the floor's CPU per request, in ms, round by round."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="notification-cpu-"))
    port = unused_port()
    config = SimulatorConfig(
        data_dir=workdir / "simulator",
        bot_url=f"http://127.0.0.1:{port}/api/calling",
        app_id=DEMO_APP_ID,
        seed_tenants=demo_simulator_directory(),
        # Prompts never complete: the calls stay where they are while notifications repeat.
        media_mode=MediaMode.MANUAL,
    )
    simulator = TestServer(create_simulator_app(config))
    await simulator.start_server()
    simulator_url = str(simulator.make_url("")).rstrip("/")
    settings = Settings.from_env(
        {},
        demo=True,
        dotenv=None,
        port=port,
        data_dir=workdir / "host",
        graph_base_url=f"{simulator_url}/v1.0",
        calling_openid_config_url=f"{simulator_url}/.well-known/OpenIdConfiguration",
        demo_call_rate=0.0,
    )
    clock = VirtualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    host = TestServer(create_app(settings, Services(clock=clock, run_timers=False)), port=port)
    await host.start_server()
    floor_app = web.Application()
    floor_app.router.add_post("/api/calling", accepted)
    floor = TestServer(floor_app)
    await floor.start_server()
    profiler = cProfile.Profile() if profile is not None else None
    try:
        async with aiohttp.ClientSession() as session:
            bodies = await _bodies(SimulatorClient(session, simulator_url), calls, kinds)
        key = load_or_create_signing_key(config.signing_key_path)
        minter = TokenMinter(key, issuer=GRAPH_ISSUER, clock=SystemClock())
        token = minter.token_for(DEMO_APP_ID, DEMO_TENANT_ID)
        targets = {
            name: (
                str(server.make_url("/api/calling")),
                [
                    http_request(f"127.0.0.1:{server.port}", "/api/calling", token, body)
                    for body in bodies
                ],
            )
            for name, server in (("host", host), ("floor", floor))
        }
        for url, requests in targets.values():
            await blast(url, requests, connections=1, seconds=1.0)
        per_request: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(rounds):
            for name, (url, requests) in targets.items():
                profiled = profiler if name == "host" else None
                if profiled is not None:
                    profiled.enable()
                started = time.process_time()
                stats, _ = await blast(url, requests, connections=4, seconds=seconds)
                cpu = time.process_time() - started
                if profiled is not None:
                    profiled.disable()
                if set(stats.statuses) != {202}:
                    raise RuntimeError(f"{name} answered {dict(stats.statuses)}")
                per_request[name].append(cpu / stats.statuses[202] * 1000.0)
    finally:
        await host.close()
        await floor.close()
        await simulator.close()
    if profiler is not None and profile is not None:
        profiler.dump_stats(profile)
    host_ms = statistics.median(per_request["host"])
    floor_ms = statistics.median(per_request["floor"])
    return {
        "kinds": list(kinds),
        "hostMsPerRequest": [round(x, 4) for x in per_request["host"]],
        "floorMsPerRequest": [round(x, 4) for x in per_request["floor"]],
        "hostMedianMs": round(host_ms, 4),
        "floorMedianMs": round(floor_ms, 4),
        "hostExtraMs": round(host_ms - floor_ms, 4),
        "floorOverHost": round(floor_ms / host_ms, 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Print one JSON object: the host's and the floor's CPU per notification."""
    parser = argparse.ArgumentParser(prog="python -m bench.notification_cpu")
    parser.add_argument("--calls", type=int, default=10, help="calls placed and notified about")
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help="comma-separated, of " + str(KINDS)
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="per round and target")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the host's rounds")
    args = parser.parse_args(argv)
    kinds = [kind for kind in args.kinds.split(",") if kind]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds: {sorted(unknown)}")
    result = asyncio.run(
        measure(
            calls=args.calls,
            kinds=kinds,
            rounds=args.rounds,
            seconds=args.seconds,
            profile=args.profile,
        )
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
