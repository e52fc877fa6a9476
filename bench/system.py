"""What the benchmark reads from and sets on the operating system (Linux /proc)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import socket
import sys
from pathlib import Path
from typing import Any

_PARENT_POLL_S = 1.0


def available_cores() -> list[int]:
    """Return the CPU cores this process may run on, in order."""
    return sorted(os.sched_getaffinity(0))


def pin_to_cores(pid: int, cores: set[int]) -> None:
    """Pin every thread of process ``pid`` to ``cores`` (threads started later inherit it)."""
    allowed = cores & set(available_cores()) or set(available_cores())
    task_dir = Path(f"/proc/{pid}/task")
    threads = [int(t) for t in os.listdir(task_dir)] if task_dir.is_dir() else [pid]
    for tid in threads:
        # The thread may have ended since the listing.
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(tid, allowed)


def rss_bytes(pid: int) -> int:
    """Return the resident set size of process ``pid`` (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system, every thread) process ``pid`` has used."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces: fields start after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """Return the CPU time of this process and of its children it has already reaped."""
    stat = Path("/proc/self/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """Return the CPU time every core of the machine has spent busy (from /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def watch_parent(stop: asyncio.Event) -> None:
    """Set ``stop`` once the process that started this one has gone."""
    parent = os.getppid()
    while not stop.is_set():
        if os.getppid() != parent:
            stop.set()
            return
        await asyncio.sleep(_PARENT_POLL_S)


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """Describe the machine the benchmark ran on."""
    memory_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "coresUsable": len(available_cores()),
        "cpuModel": cpu_model(),
        "memoryGiB": round(memory_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": sys.executable,
    }
