"""The benchmark's child processes: started pinned to cores, always stopped at the end.

Each child writes stdout and stderr to files in the run's work directory. Servers announce
themselves with a ``listening on <URL>`` line (the host, the simulator, the floor), the
Cosmos DB test server with its own ready line. :class:`Children` stops every child it
started when its ``with`` block ends, however it ends (an error, Ctrl-C, SIGTERM).
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
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bench.system import pin_to_cores

REPO_ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"listening on (http://\S+)")
_POLL_S = 0.05
_STOP_TIMEOUT_S = 10.0


class ChildFailed(RuntimeError):
    """A child process exited early, or did not get ready in time."""


@dataclass(slots=True)
class Child:
    """A running child process and where its output goes."""

    name: str
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def tail(self, limit: int = 2000) -> str:
        """Return the end of what the child wrote to stderr (for error messages)."""
        try:
            text = self.stderr_path.read_text(errors="replace").strip()
        except OSError:
            return "(no output)"
        return text[-limit:] or "(no output)"


class Children:
    """Start child processes and stop all of them when the block ends."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._running: list[Child] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop_all()

    @property
    def running_pids(self) -> list[int]:
        """The children started and not yet stopped."""
        return [child.pid for child in self._running if child.process.poll() is None]

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cores: set[int],
        ready: re.Pattern[str] | None = LISTENING,
        timeout_s: float = 60.0,
        env: Mapping[str, str] | None = None,
    ) -> Child:
        """Start ``argv`` on ``cores``; with ``ready``, wait for that line on stdout or stderr."""
        stdout_path = self._workdir / f"{name}.out"
        stderr_path = self._workdir / f"{name}.err"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=REPO_ROOT,
                env={**os.environ, **(env or {})},
            )
        child = Child(name, process, stdout_path, stderr_path)
        self._running.append(child)
        pin_to_cores(process.pid, cores)
        if ready is not None:
            child.url = self._wait_ready(child, ready, timeout_s)
            # Threads started before the first pinning took effect are pinned now.
            pin_to_cores(process.pid, cores)
        return child

    def _wait_ready(self, child: Child, ready: re.Pattern[str], timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for path in (child.stdout_path, child.stderr_path):
                found = ready.search(path.read_text(errors="replace"))
                if found is not None:
                    return found.group(1)
            if child.process.poll() is not None:
                raise ChildFailed(
                    f"{child.name} exited with {child.process.returncode}: {child.tail()}"
                )
            time.sleep(_POLL_S)
        raise ChildFailed(f"{child.name} was not ready within {timeout_s:.0f} s: {child.tail()}")

    def stop(self, child: Child, *, timeout_s: float = _STOP_TIMEOUT_S) -> None:
        """Stop one child: SIGTERM, then SIGKILL if it does not exit in time."""
        if child in self._running:
            self._running.remove(child)
        process = child.process
        if process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout_s)

    def stop_all(self) -> None:
        """Stop every child still running, the last started first."""
        for child in reversed(list(self._running)):
            self.stop(child)

    async def run_json(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cores: set[int],
        timeout_s: float,
    ) -> dict[str, Any]:
        """Run a child to completion and return the JSON object it printed last on stdout."""
        child = self.start(name, argv, cores=cores, ready=None)
        deadline = time.monotonic() + timeout_s
        try:
            while child.process.poll() is None:
                if time.monotonic() > deadline:
                    raise ChildFailed(f"{name} did not finish within {timeout_s:.0f} s")
                await asyncio.sleep(_POLL_S)
        finally:
            self.stop(child)
        if child.process.returncode != 0:
            raise ChildFailed(f"{name} exited with {child.process.returncode}: {child.tail()}")
        lines = child.stdout_path.read_text().strip().splitlines()
        if not lines:
            raise ChildFailed(f"{name} printed nothing: {child.tail()}")
        result: dict[str, Any] = json.loads(lines[-1])
        return result


def python_module(module: str, *args: str) -> list[str]:
    """Return the command line that runs ``python -m module args...`` with this interpreter."""
    return [sys.executable, "-m", module, *args]
