"""``python -m bench.graph_client``: the Graph client's own CPU per request.

The product's :class:`~graph.calling.GraphCallControl`, built as the host builds it
(:func:`~graph.calling.build_graph_client` with a static token on loopback), sends a
representative mix of call actions (answer, playPrompt, invite, cancelMediaProcessing and
the participants list) with ``--concurrency`` requests in flight, so that the connection
pool holds as many connections as under the benchmark's load. Graph is a stand-in in a
child process that answers every action at once with the documented status and body
shape: the time it takes is not the client's, and ``time.process_time`` of this process
is the client's CPU alone. It prints one JSON object: CPU and wall time per request for
each of ``--runs`` runs, and their medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from contactcenter.model import Party, PartyKind
from contactcenter.ports import MediaPrompt
from graph.calling import GraphCallControl, GraphHttpClient, StaticTokenProvider, build_graph_client

_CALL = "491f0b00-ffff-4bc9-a43e-b7ef5a0fb1d2"
_AGENT = Party(kind=PartyKind.USER, id="278405a3-f568-4b3e-b684-009193463064", display_name="A")
_PROMPT = MediaPrompt(uri="https://bot.example/prompts/music.wav", resource_id="music-1")
_OPERATION = {"id": "0fe0623f-d628-42ed-b4bd-8ac290072cc5", "status": "running"}
_PARTICIPANTS = {
    "value": [
        {
            "id": f"{n:08d}-0000-4000-8000-000000000000",
            "info": {"identity": {"user": {"id": _AGENT.id, "displayName": "A"}}},
            "isInLobby": False,
        }
        for n in range(3)
    ]
}


# ------------------------------------------------------------ the stand-in Graph
async def _action(request: web.Request) -> web.Response:
    await request.read()
    action = request.match_info["action"]
    if action == "answer":
        return web.Response(status=202)
    if action == "invite":
        return web.json_response(
            {**_OPERATION, "participants": [{"id": "c0ffee00-0000-4000-8000-000000000001"}]}
        )
    return web.json_response(_OPERATION)


async def _participants(request: web.Request) -> web.Response:
    return web.json_response(_PARTICIPANTS)


def serve() -> None:
    """Answer Graph's call actions on a loopback port; print the port, then serve."""
    app = web.Application()
    app.router.add_post("/v1.0/communications/calls/{call}/participants/{action}", _action)
    app.router.add_post("/v1.0/communications/calls/{call}/{action}", _action)
    app.router.add_get("/v1.0/communications/calls/{call}/participants", _participants)

    async def run() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


# ------------------------------------------------------------------ the client
def _mix(control: GraphCallControl) -> Sequence[Callable[[], Awaitable[Any]]]:
    """Return one call's worth of Graph requests, as the host sends them."""
    return (
        lambda: control.answer(_CALL, callback_uri="https://bot.example/api/calling"),
        lambda: control.play_prompt(_CALL, [_PROMPT], client_context="moh"),
        lambda: control.invite(_CALL, _AGENT, client_context="offer"),
        lambda: control.cancel_media_processing(_CALL, client_context="offer"),
        lambda: control.roster(_CALL),
    )


async def _run_once(base_url: str, *, requests: int, concurrency: int) -> dict[str, float]:
    http = GraphHttpClient()
    try:
        control = GraphCallControl(
            build_graph_client(
                base_url=base_url, credential=StaticTokenProvider("bench"), httpx_client=http
            )
        )
        mix = _mix(control)
        in_flight = asyncio.Semaphore(concurrency)

        async def one(n: int) -> None:
            async with in_flight:
                await mix[n % len(mix)]()

        # Warm up: open the pool's connections and import what the SDK imports lazily.
        await asyncio.gather(*(one(n) for n in range(concurrency * 2)))
        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.gather(*(one(n) for n in range(requests)))
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    finally:
        await http.aclose()
    return {
        "cpuMsPerRequest": round(1000 * cpu / requests, 4),
        "wallMsPerRequest": round(1000 * wall / requests, 4),
    }


def measure(*, requests: int, concurrency: int, runs: int) -> dict[str, Any]:
    """Start the stand-in, time ``runs`` runs of ``requests`` requests; return the numbers."""
    with subprocess.Popen(
        [sys.executable, "-m", "bench.graph_client", "--serve"], stdout=subprocess.PIPE, text=True
    ) as server:
        try:
            assert server.stdout is not None
            base_url = f"http://127.0.0.1:{int(server.stdout.readline())}/v1.0"
            results = [
                asyncio.run(_run_once(base_url, requests=requests, concurrency=concurrency))
                for _ in range(runs)
            ]
        finally:
            server.terminate()
    return {
        "requests": requests,
        "concurrency": concurrency,
        "runs": results,
        "cpuMsPerRequest": statistics.median(r["cpuMsPerRequest"] for r in results),
        "wallMsPerRequest": statistics.median(r["wallMsPerRequest"] for r in results),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the options, measure, print one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.graph_client", description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return
    result = measure(requests=args.requests, concurrency=args.concurrency, runs=args.runs)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
