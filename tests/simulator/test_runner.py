"""The simulator runs in its own thread, or as its own process, and answers in one error shape."""

from __future__ import annotations

import asyncio
import http.client
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from simulator import SimulatorConfig, SimulatorThread
from tests.simulator.support import APP_ID, Simulator


async def test_thread_runner_picks_a_free_port_and_stops_cleanly(shared_data_dir: Path) -> None:
    config = SimulatorConfig(data_dir=shared_data_dir, app_id=APP_ID, port=0)

    simulator = SimulatorThread(config)
    base_url = await asyncio.to_thread(simulator.start)
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{base_url}/sim/health") as r:
            health = await r.json()
    finally:
        await asyncio.to_thread(simulator.stop)

    assert health == {"status": "ok"}
    assert not base_url.endswith(":0")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"{base_url}/sim/health")


def test_thread_runner_is_a_context_manager(shared_data_dir: Path) -> None:
    config = SimulatorConfig(data_dir=shared_data_dir, app_id=APP_ID)

    with SimulatorThread(config) as simulator:
        url = URL(simulator.base_url)
        assert url.host is not None
        assert url.port is not None
        connection = http.client.HTTPConnection(url.host, url.port, timeout=5)
        try:
            connection.request("GET", "/sim/health")
            status = connection.getresponse().status
        finally:
            connection.close()

    assert status == 200
    with pytest.raises(RuntimeError):
        _ = simulator.base_url


async def test_unknown_routes_answer_in_the_shared_error_shape(simulator: Simulator) -> None:
    async with simulator.session.get(simulator.url("/sim/nothing-here")) as response:
        body = await response.json()

    assert response.status == 404
    assert body["error"]["code"] == "itemNotFound"


def test_module_prints_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    for option in ("--port", "--data-dir", "--bot-url", "--app-id"):
        assert option in result.stdout


async def test_module_serves_as_its_own_process(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path),
        "--app-id",
        APP_ID,
        "--bot-url",
        "http://127.0.0.1:9/api/calling",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        base_url = line.decode().removeprefix("listening on ").strip()
        async with aiohttp.ClientSession() as session, session.get(f"{base_url}/sim/health") as r:
            assert r.status == 200
    finally:
        process.terminate()
        returncode = await asyncio.wait_for(process.wait(), timeout=30)

    assert returncode == 0
    assert (tmp_path / "simulator" / "signing-key.pem").exists()
