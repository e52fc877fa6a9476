"""``python -m bench.cosmos_ceiling``: the Cosmos DB test server's own ceiling, without the host.

A bare ``azure.cosmos.aio`` client sends the host's request mix for one answered call (the
reads, writes and single-partition queries ``python -m bench`` counts, in those proportions)
as fast as the server answers, ``--concurrency`` calls' worth at a time, for ``--seconds``.
It prints one JSON object: requests per second, the calls per second they amount to, and the
client's own CPU per request (``time.process_time``), so that the host's
``max_calls_per_s`` on Cosmos DB can be read against what the server allows at all, and the
host's CPU per request against the SDK's floor.

The orchestrator runs it pinned to the host's core once the host has stopped; the server
stays on the load core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

from azure.core.pipeline.transport import AioHttpTransport
from azure.cosmos import PartitionKey
from azure.cosmos.aio import ContainerProxy, CosmosClient

TENANT = "ceiling-tenant"
# One answered call's requests, as the benchmark counted them (bench.run's store-requests
# phase): point reads, replaces, creates, deletes and single-partition queries.
CALL_MIX: tuple[tuple[str, int], ...] = (
    ("read", 8),
    ("replace", 8),
    ("create", 4),
    ("delete", 1),
    ("query", 3),
)
_DOCS = 400


def _body(doc_id: str, version: int) -> dict[str, Any]:
    return {
        "id": doc_id,
        "tenantId": TENANT,
        "state": "waiting",
        "queueId": "q1",
        "priority": 0,
        "offeredAt": "2026-03-02T14:00:00.000000Z",
        "version": version,
        "notes": "x" * 400,
    }


class MixRunner:
    """Sends the call mix against one container and counts what it sent."""

    def __init__(self, container: ContainerProxy) -> None:
        self.container = container
        self.sent: Counter[str] = Counter()
        self._next = 0

    def _doc(self) -> str:
        self._next = (self._next + 1) % _DOCS
        return f"doc-{self._next}"

    async def one(self, kind: str) -> None:
        container = self.container
        if kind == "read":
            await container.read_item(self._doc(), partition_key=TENANT)
        elif kind == "replace":
            doc_id = self._doc()
            await container.replace_item(doc_id, _body(doc_id, self._next))
        elif kind == "create":
            doc_id = f"new-{uuid.uuid4().hex}"
            await container.create_item(_body(doc_id, 0))
            await container.delete_item(doc_id, partition_key=TENANT)
            self.sent["delete"] += 1
        elif kind == "delete":
            return  # counted with its create: every created document is deleted again
        else:
            pager = container.query_items(
                "SELECT TOP 5 * FROM c WHERE c.tenantId = @tenant AND c.state = @state",
                parameters=[
                    {"name": "@tenant", "value": TENANT},
                    {"name": "@state", "value": "waiting"},
                ],
                partition_key=TENANT,
            )
            _ = [item async for item in pager]
        self.sent[kind] += 1

    async def call(self) -> None:
        for kind, count in CALL_MIX:
            for _ in range(count):
                await self.one(kind)


async def measure(
    endpoint: str,
    key: str,
    database: str,
    *,
    seconds: float,
    concurrency: int,
    env_settings: bool = False,
) -> dict[str, Any]:
    """Run the mix for ``seconds``; return the rates and the client's CPU per request.

    ``env_settings``: the SDK's default transport, which looks for a proxy and a .netrc
    entry on a worker thread per request (the store turns that off without a proxy).
    """
    async with CosmosClient(
        endpoint,
        credential=key,
        connection_verify=False,
        transport=AioHttpTransport(use_env_settings=env_settings),
    ) as client:
        db = await client.create_database_if_not_exists(database)
        container = await db.create_container_if_not_exists(
            "ceiling", partition_key=PartitionKey(path="/tenantId")
        )
        for n in range(_DOCS):
            await container.upsert_item(_body(f"doc-{n}", 0))
        runner = MixRunner(container)
        stop_at = time.monotonic() + seconds

        async def worker() -> None:
            while time.monotonic() < stop_at:
                await runner.call()

        cpu_start, wall_start = time.process_time(), time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu_start, time.monotonic() - wall_start
    requests = sum(runner.sent.values())
    per_call = sum(count for _, count in CALL_MIX)
    return {
        "requests": requests,
        "byKind": dict(sorted(runner.sent.items())),
        "seconds": round(wall, 2),
        "requestsPerS": round(requests / wall, 1),
        "requestsPerCall": per_call,
        "callsPerS": round(requests / wall / per_call, 2),
        "clientCpuMsPerRequest": round(1000 * cpu / requests, 3) if requests else None,
        "clientCpuShare": round(cpu / wall, 3),
        "concurrency": concurrency,
        "envSettings": env_settings,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.cosmos_ceiling", description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--database", default="ceiling")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--env-settings",
        action="store_true",
        help="proxy and .netrc lookups per request, as the SDK's default transport does",
    )
    args = parser.parse_args(argv)
    result = asyncio.run(
        measure(
            args.endpoint,
            args.key,
            args.database,
            seconds=args.seconds,
            concurrency=args.concurrency,
            env_settings=args.env_settings,
        )
    )
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
