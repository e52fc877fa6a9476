"""Several ``contact-center serve --demo`` processes on one Cosmos DB, and one simulator.

The hosts share a database on the Cosmos DB test server and the simulator, which plays
Graph and the load balancer in front of the hosts: each notification goes to one host,
picked per notification. Every process is started with its output in a log file, polled
for readiness against a deadline, and stopped (or killed) by its own process id.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import aiohttp

from bot.demo import demo_simulator_directory
from bot.settings import DEMO_APP_ID

STOP_TIMEOUT_S: Final = 10.0
_POLL_S: Final = 0.05
_LISTENING: Final = re.compile(r"listening on (http://\S+)")
# A log line's start: time, level, logger.
_LOG_LINE: Final = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ +\w+ +(?P<logger>[\w.]+): ")


def _own_line(line: str) -> bool:
    """Tell lines of our loggers and tracebacks from the SDK's multi-line request dumps."""
    found = _LOG_LINE.match(line)
    if found is not None:
        return not found["logger"].startswith("azure.")
    return line.startswith(("listening on", "Traceback", "  File ")) or "Error" in line[:40]


# Settings a developer's environment may hold that must not leak into the hosts.
_HOST_SETTINGS: Final = (
    "MICROSOFT_APP_ID",
    "MICROSOFT_APP_PASSWORD",
    "MICROSOFT_APP_TENANT_ID",
    "MICROSOFT_APP_TYPE",
    "TAB_CLIENT_ID",
    "PUBLIC_BASE_URL",
    "GRAPH_BASE_URL",
    "CALLING_OPENID_CONFIG_URL",
    "BOT_OPENID_CONFIG_URL",
    "TAB_OPENID_CONFIG_URL",
    "COSMOS_ENDPOINT",
    "COSMOS_KEY",
    "COSMOS_DATABASE",
    "COSMOS_VERIFY_TLS",
    "BLOB_ACCOUNT_URL",
    "BLOB_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "DATA_DIR",
    "DEMO_CALL_RATE",
    "SIMULATOR_PORT",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "ADMIN_OBJECT_IDS",
)


@dataclass
class Process:
    """A child process and the file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of the process's own output (no Cosmos DB request dumps)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        own = [line for line in text.splitlines() if _own_line(line)]
        return "\n".join(own[-lines:])

    def kill(self) -> None:
        """SIGKILL the process (a crash: no shutdown, sockets dropped) and reap it."""
        if self.running():
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after a grace period; return the exit code."""
        if self.running():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.popen.send_signal(signal.SIGKILL)
                self.popen.wait(timeout=STOP_TIMEOUT_S)
        return self.popen.returncode


def _spawn(
    name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_path: Path
) -> Process:
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
        )
    return Process(name, popen, log_path)


def contact_center_command() -> list[str]:
    """Return how to run the ``contact-center`` console script of this environment."""
    script = Path(sys.executable).with_name("contact-center")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "bot.cli"]


@dataclass
class Cluster:
    """The processes of one scale-out run; ``close()`` stops every one of them."""

    workdir: Path
    processes: list[Process] = field(default_factory=list)
    simulator_url: str = ""
    hosts: list[Process] = field(default_factory=list)
    host_urls: list[str] = field(default_factory=list)

    # ------------------------------------------------------------ simulator
    async def start_simulator(
        self, host_ports: Sequence[int], *, invite_timeout_s: float, deadline_s: float = 30.0
    ) -> str:
        """Start ``python -m simulator`` load-balancing over the hosts' webhooks."""
        directory = self.workdir / "directory.json"
        directory.write_text(
            json.dumps(
                {"tenants": [t.model_dump(by_alias=True) for t in demo_simulator_directory()]}
            ),
            encoding="utf-8",
        )
        argv = [
            sys.executable,
            "-m",
            "simulator",
            "--port",
            "0",
            "--data-dir",
            str(self.workdir / "simulator"),
            "--app-id",
            DEMO_APP_ID,
            "--directory",
            str(directory),
            "--invite-timeout-s",
            str(invite_timeout_s),
            "--log-level",
            "WARNING",
        ]
        for port in host_ports:
            argv += ["--bot-url", f"http://127.0.0.1:{port}/api/calling"]
        process = _spawn(
            "simulator",
            argv,
            env=os.environ,
            cwd=self.workdir,
            log_path=self.workdir / "simulator.log",
        )
        self.processes.append(process)
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            found = _LISTENING.search(process.log_path.read_text(errors="replace"))
            if found is not None:
                self.simulator_url = found.group(1)
                return self.simulator_url
            if not process.running():
                break
            await asyncio.sleep(_POLL_S)
        raise RuntimeError(f"the simulator did not start:\n{process.log_tail()}")

    # ---------------------------------------------------------------- hosts
    def host_env(self, cosmos: Mapping[str, str], *, log_level: str) -> dict[str, str]:
        """Return a host's environment: this one without settings, plus the shared ones."""
        env = {k: v for k, v in os.environ.items() if k not in _HOST_SETTINGS}
        env.update(cosmos)
        env.update(
            {
                "GRAPH_BASE_URL": f"{self.simulator_url}/v1.0",
                "CALLING_OPENID_CONFIG_URL": f"{self.simulator_url}/.well-known/OpenIdConfiguration",
                "DEMO_CALL_RATE": "0",
                "LOG_LEVEL": log_level,
            }
        )
        return env

    def start_host(self, index: int, port: int, env: Mapping[str, str]) -> Process:
        """Start ``contact-center serve --demo`` on ``port`` (no wait)."""
        home = self.workdir / f"host{index}"
        home.mkdir(parents=True, exist_ok=True)
        argv = [
            *contact_center_command(),
            "serve",
            "--demo",
            "--port",
            str(port),
            "--data-dir",
            str(home / "data"),
        ]
        process = _spawn(f"host{index}", argv, env=env, cwd=home, log_path=home / "host.log")
        self.processes.append(process)
        self.hosts.append(process)
        self.host_urls.append(f"http://127.0.0.1:{port}")
        return process

    async def wait_healthy(
        self, session: aiohttp.ClientSession, process: Process, url: str, *, deadline_s: float
    ) -> None:
        """Poll ``/healthz`` until it answers 200 (or the process died, or time is up)."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if not process.running():
                raise RuntimeError(f"{process.name} exited:\n{process.log_tail()}")
            try:
                async with session.get(
                    f"{url}/healthz", timeout=aiohttp.ClientTimeout(total=2)
                ) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(_POLL_S)
        raise RuntimeError(f"{process.name} was not healthy in time:\n{process.log_tail()}")

    # ------------------------------------------------------------- shutdown
    def close(self) -> dict[str, int | None]:
        """Stop every process still running; return each one's exit code."""
        codes: dict[str, int | None] = {}
        for process in reversed(self.processes):
            try:
                codes[process.name] = process.stop()
            except (OSError, subprocess.TimeoutExpired):
                codes[process.name] = None
        return codes

    def logs(self) -> str:
        """Return the tail of every process's output, for a failure message."""
        return "\n".join(
            f"----- {process.name} ({process.log_path})\n{process.log_tail()}"
            for process in self.processes
        )
