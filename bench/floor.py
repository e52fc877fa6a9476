"""``python -m bench.floor``: the floor, a bare aiohttp handler answering 202.

It is what ``/api/calling`` would cost if handling a notification cost nothing: the same
aiohttp server and HTTP parsing, on the same core as the host, driven by the same
generator. Notification throughput is reported against it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
from collections.abc import Sequence

from aiohttp import web

from bench.system import pin_to_cores, watch_parent


async def accepted(request: web.Request) -> web.Response:
    """Answer 202 without looking at the request."""
    return web.Response(status=202)


async def serve(port: int) -> None:
    """Serve the floor on loopback until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    watcher = asyncio.create_task(watch_parent(stop), name="watch-parent")
    app = web.Application()
    app.router.add_post("/api/calling", accepted)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        sock = socket.create_server(("127.0.0.1", port))
        await web.SockSite(runner, sock).start()
        sys.stdout.write(f"listening on http://127.0.0.1:{sock.getsockname()[1]}\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        watcher.cancel()
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    """Pin to the given cores, then serve."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    parser.add_argument("--core", type=int, action="append", help="CPU core(s) to run on")
    args = parser.parse_args(argv)
    if args.core:
        pin_to_cores(os.getpid(), set(args.core))
    asyncio.run(serve(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
