"""``python -m bench.loadgen``: the load generator, in its own process on its own core.

Two kinds of load, each described by a JSON spec file and answered with one JSON line:

``calls``
    Callers dial a line through the simulator's control API (``POST /sim/calls``) as a
    Poisson process at ``rate`` calls per second for ``seconds``. Open loop: an arrival
    never waits for an earlier call, up to ``maxInFlight`` placements at once.

``notifications``
    Signed ``commsNotifications`` are POSTed to each target's ``/api/calling`` as fast as
    the target answers, over N keep-alive connections with one request outstanding each,
    for a fixed time per run. Requests are built once (with one token, reused as Graph
    does) and written as raw HTTP/1.1 bytes, so that the generator costs as little as
    possible per request and the floor (a bare aiohttp handler) is measured, not the
    generator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bench.stats import summary
from bench.system import cpu_seconds, pin_to_cores
from contactcenter.clock import SystemClock
from simulator import (
    SimulatorClient,
    SimulatorRequestError,
    TokenMinter,
    load_or_create_signing_key,
)
from simulator.config import GRAPH_ISSUER
from simulator.notifications import comms_notification, comms_notifications

_DRAIN_S = 30.0
_LATENCIES_KEPT = 500_000


# ====================================================================== calls
async def place_calls(spec: dict[str, Any]) -> dict[str, Any]:
    """Dial ``spec['lineId']`` at ``spec['rate']`` calls/s for ``spec['seconds']``."""
    rate = float(spec["rate"])
    seconds = float(spec["seconds"])
    max_in_flight = int(spec.get("maxInFlight", 512))
    rng = random.Random(int(spec.get("seed", 1)))
    tenant_id = str(spec["tenantId"])
    line_id = str(spec["lineId"])
    prefix = str(spec.get("callerPrefix", "+1425"))
    accepted: list[str] = []
    statuses: Counter[str] = Counter()
    place_ms: list[float] = []
    in_flight: set[asyncio.Task[None]] = set()
    skipped = 0
    late = 0
    max_lag = 0.0
    loop = asyncio.get_running_loop()
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=max_in_flight)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        client = SimulatorClient(session, str(spec["simulator"]))

        async def place(index: int) -> None:
            started = time.perf_counter()
            try:
                placed = await client.place_call(
                    tenant_id,
                    application_instance_id=line_id,
                    caller_phone=f"{prefix}{index % 10_000_000:07d}",
                )
            except SimulatorRequestError as err:
                statuses[f"simulator-{err.status}"] += 1
                return
            except (aiohttp.ClientError, TimeoutError) as err:
                statuses[type(err).__name__] += 1
                return
            place_ms.append((time.perf_counter() - started) * 1000.0)
            statuses[str(placed.webhook_status)] += 1
            if placed.webhook_status == 202:
                accepted.append(placed.id)

        start = loop.time()
        offset = 0.0
        index = 0
        # Bounded: arrivals stop at ``seconds``; the count cap guards against a bad rate.
        cap = int(rate * seconds * 2) + 100
        while index < cap:
            offset += rng.expovariate(rate)
            if offset > seconds:
                break
            delay = start + offset - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay > 0.005:
                late += 1
                max_lag = max(max_lag, -delay)
            index += 1
            if len(in_flight) >= max_in_flight:
                skipped += 1
                continue
            task = asyncio.create_task(place(index))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        elapsed = loop.time() - start
        if in_flight:
            await asyncio.wait(set(in_flight), timeout=_DRAIN_S)
        for task in list(in_flight):
            task.cancel()
    return {
        "rate": rate,
        "seconds": seconds,
        "arrivals": index,
        "placed": index - skipped,
        "skipped": skipped,
        "accepted": len(accepted),
        "statuses": dict(statuses),
        "callIds": accepted,
        "elapsedS": round(elapsed, 3),
        "achievedRate": round(len(accepted) / seconds, 3) if seconds else 0.0,
        "late": late,
        "maxLagMs": round(max_lag * 1000.0, 3),
        "placeMs": summary(place_ms),
    }


# ============================================================== notifications
def _participant(identity: dict[str, Any], participant_id: str, source_id: int) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.participant",
        "id": participant_id,
        "info": {
            "@odata.type": "#microsoft.graph.participantInfo",
            "identity": {"@odata.type": "#microsoft.graph.identitySet", **identity},
            "endpointType": "default",
        },
        "mediaStreams": [
            {
                "@odata.type": "#microsoft.graph.mediaStream",
                "mediaType": "audio",
                "sourceId": str(source_id),
                "direction": "sendReceive",
                "serverMuted": False,
            }
        ],
        "isMuted": False,
        "isInLobby": False,
    }


def notification_mix(call: dict[str, Any], app_id: str) -> dict[str, dict[str, Any]]:
    """Return the notifications Graph sends about a queued call, as redeliveries.

    ``incoming`` (the call was offered again), ``establishing`` and ``established`` state
    updates, and a roster update (the bot and the caller): each is a duplicate the host
    must recognise and leave without effect, after authenticating and reading the call.
    """
    resource_url = f"/communications/calls/{call['id']}"
    tenant_id = call["tenantId"]
    incoming = comms_notification(
        "created",
        resource_url,
        {
            "@odata.type": "#microsoft.graph.call",
            "@odata.id": resource_url,
            "state": "incoming",
            "direction": call["direction"],
            "callChainId": call["callChainId"],
            "tenantId": tenant_id,
            "source": call["source"],
            "targets": call["targets"],
            "requestedModalities": call["requestedModalities"],
        },
    )

    def state(value: str) -> dict[str, Any]:
        return comms_notification(
            "updated",
            resource_url,
            {"@odata.type": "#microsoft.graph.call", "@odata.id": resource_url, "state": value},
        )

    bot = {"application": {"id": app_id, "tenantId": tenant_id}}
    caller = dict(call["source"].get("identity", {}))
    roster = comms_notification(
        "updated",
        f"{resource_url}/participants",
        [
            _participant(bot, f"{call['id']}-bot", 1),
            _participant(caller, f"{call['id']}-caller", 2),
        ],
    )
    return {
        "incoming": comms_notifications(incoming),
        "establishing": comms_notifications(state("establishing")),
        "established": comms_notifications(state("established")),
        "roster": comms_notifications(roster),
    }


def http_request(host: str, path: str, token: str, body: bytes) -> bytes:
    """Return one HTTP/1.1 POST, ready to write on a keep-alive connection."""
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


@dataclass(slots=True)
class _RunStats:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def record(self, status: int, latency: float) -> None:
        self.statuses[status] += 1
        if len(self.latencies) < _LATENCIES_KEPT:
            self.latencies.append(latency)


class _Connection(asyncio.Protocol):
    """One keep-alive connection with one request outstanding at a time."""

    def __init__(
        self,
        requests: Sequence[bytes],
        first: int,
        stats: _RunStats,
        deadline: float,
        done: asyncio.Future[None],
    ) -> None:
        self._requests = requests
        self._next = first
        self._stats = stats
        self._deadline = deadline
        self._done = done
        self._buffer = bytearray()
        self._sent_at = 0.0
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._send()

    def _send(self) -> None:
        now = time.perf_counter()
        if now >= self._deadline or self._transport is None:
            self._finish()
            return
        request = self._requests[self._next % len(self._requests)]
        self._next += 1
        self._sent_at = now
        self._transport.write(request)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self._buffer[:end])
        total = end + 4 + _content_length(head)
        if len(self._buffer) < total:
            return
        del self._buffer[:total]
        now = time.perf_counter()
        if now <= self._deadline:
            self._stats.record(int(head[9:12]), now - self._sent_at)
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self._stats.errors[type(exc).__name__] += 1
        self._transport = None
        if not self._done.done():
            self._done.set_result(None)

    def _finish(self) -> None:
        if self._transport is not None:
            self._transport.close()
        elif not self._done.done():
            self._done.set_result(None)


async def blast(
    url: str, requests: Sequence[bytes], *, connections: int, seconds: float
) -> tuple[_RunStats, float]:
    """Send ``requests`` round robin over ``connections`` for ``seconds``."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    stats = _RunStats()
    started = time.perf_counter()
    deadline = started + seconds
    futures: list[asyncio.Future[None]] = []
    transports: list[asyncio.BaseTransport] = []
    step = max(1, len(requests) // max(1, connections))
    for index in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        transport, _ = await loop.create_connection(
            functools.partial(_Connection, requests, index * step, stats, deadline, done),
            host,
            port,
        )
        futures.append(done)
        transports.append(transport)
    try:
        await asyncio.wait_for(asyncio.gather(*futures), timeout=seconds + _DRAIN_S)
    finally:
        for opened in transports:
            opened.close()
    return stats, time.perf_counter() - started


async def _call_views(simulator: str, call_ids: Sequence[str]) -> list[dict[str, Any]]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        client = SimulatorClient(session, simulator)
        return [await client.call(call_id) for call_id in call_ids]


async def send_notifications(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure each target's notification throughput at each connection count."""
    key = load_or_create_signing_key(Path(spec["signingKey"]))
    minter = TokenMinter(key, issuer=GRAPH_ISSUER, clock=SystemClock())
    app_id = str(spec["appId"])
    views = await _call_views(str(spec["simulator"]), spec["callIds"])
    bodies: list[tuple[str, bytes]] = []
    for view in views:
        for kind, payload in notification_mix(view, app_id).items():
            bodies.append((kind, json.dumps(payload, separators=(",", ":")).encode()))
    token = minter.token_for(app_id, str(spec["tenantId"]))
    targets: list[dict[str, Any]] = spec["targets"]
    requests = {
        target["name"]: [
            http_request(urlsplit(target["url"]).netloc, "/api/calling", token, body)
            for _, body in bodies
        ]
        for target in targets
    }
    seconds = float(spec["seconds"])
    warmup_s = float(spec.get("warmupS", 1.0))
    pause_s = float(spec.get("pauseS", 0.3))
    levels = [int(n) for n in spec["connections"]]
    rounds = int(spec.get("rounds", 1))
    for target in targets:
        await blast(
            target["url"], requests[target["name"]], connections=max(levels), seconds=warmup_s
        )
    runs: list[dict[str, Any]] = []
    for round_index in range(rounds):
        for connections in levels:
            # Alternate which target goes first, so neither always follows the other.
            order = targets if (round_index + connections) % 2 == 0 else targets[::-1]
            for target in order:
                await asyncio.sleep(pause_s)
                server_before = cpu_seconds(int(target["pid"]))
                generator_before = time.process_time()
                stats, elapsed = await blast(
                    target["url"],
                    requests[target["name"]],
                    connections=connections,
                    seconds=seconds,
                )
                generator_cpu = time.process_time() - generator_before
                server_cpu = cpu_seconds(int(target["pid"])) - server_before
                ok = sum(n for status, n in stats.statuses.items() if 200 <= status < 300)
                runs.append(
                    {
                        "target": target["name"],
                        "connections": connections,
                        "round": round_index,
                        "seconds": seconds,
                        "requests": ok,
                        "perSecond": round(ok / seconds, 1),
                        "statuses": {str(s): n for s, n in sorted(stats.statuses.items())},
                        "errors": dict(stats.errors),
                        "latencyMs": summary([x * 1000.0 for x in stats.latencies]),
                        "serverCpu": round(server_cpu / elapsed, 3),
                        "generatorCpu": round(generator_cpu / elapsed, 3),
                    }
                )
    mix = Counter(kind for kind, _ in bodies)
    return {"runs": runs, "mix": dict(mix), "distinctRequests": len(bodies)}


# ====================================================================== main
def main(argv: Sequence[str] | None = None) -> int:
    """Run one kind of load from its spec file; print the result as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    parser.add_argument("kind", choices=["calls", "notifications"])
    parser.add_argument("--spec", type=Path, required=True, help="JSON file describing the load")
    parser.add_argument("--core", type=int, action="append", help="CPU core(s) to run on")
    args = parser.parse_args(argv)
    if args.core:
        pin_to_cores(os.getpid(), set(args.core))
    spec = json.loads(args.spec.read_text())
    work = place_calls(spec) if args.kind == "calls" else send_notifications(spec)
    result = asyncio.run(work)
    sys.stdout.write(json.dumps(result, separators=(",", ":")) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
