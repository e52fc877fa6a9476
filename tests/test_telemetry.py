"""Telemetry reaches Application Insights' ingestion endpoint only when configured."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from aiohttp import web
from pytest_aiohttp import AiohttpServer

from bot.settings import Settings
from bot.telemetry import configure_telemetry

SCRIPT = textwrap.dedent(
    """
    import logging, os, sys
    from bot.settings import Settings
    from bot.telemetry import configure_telemetry
    settings = Settings.from_env(os.environ, demo=True, dotenv=None)
    assert configure_telemetry(settings)
    logging.getLogger("contact-center-test").warning("telemetry check")
    from opentelemetry import _logs
    _logs.get_logger_provider().force_flush()
    """
)


def test_nothing_is_configured_without_a_connection_string() -> None:
    settings = Settings.from_env({}, demo=True, dotenv=None)
    assert configure_telemetry(settings) is False


async def test_logs_are_exported_to_the_configured_endpoint(
    aiohttp_server: AiohttpServer, tmp_path: Path
) -> None:
    received: list[bytes] = []

    async def track(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.json_response({"itemsReceived": 1, "itemsAccepted": 1, "errors": []})

    app = web.Application()
    app.router.add_post("/v2.1/track", track)
    server = await aiohttp_server(app)
    endpoint = str(server.make_url("")).rstrip("/")
    connection = (
        "InstrumentationKey=00000000-0000-4000-8000-000000000001;"
        f"IngestionEndpoint={endpoint};LiveEndpoint={endpoint}"
    )
    env = {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": connection,
        # Keep the exporter on loopback: no cloud-metadata probes, no usage beacons.
        "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "otel",
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
        "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
    }
    process = await _run(SCRIPT, env, tmp_path)
    assert process.returncode == 0, process.stderr
    assert any(b"telemetry check" in body for body in received)


ROOT = Path(__file__).resolve().parent.parent


async def _run(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, **env, PYTHONPATH=str(ROOT))
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=60,
        check=False,
    )
