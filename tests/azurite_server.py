"""The Azure Blob Storage test server: Azurite's blob service from node_modules, on loopback.

One server per test session, started on first use and stopped at exit, with its data in
a temporary directory. Without ``node_modules/azurite`` (``npm ci`` installs it) the
tests that need it fail when the ``CI`` environment variable is set, and are skipped
otherwise.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Final

import pytest

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
AZURITE_BLOB: Final = REPO_ROOT / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
# Azurite's well-known development account.
ACCOUNT: Final = "devstoreaccount1"
ACCOUNT_KEY: Final = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
_START_TIMEOUT_S: Final = 30.0


class AzuriteServer:
    """A running Azurite blob service."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, workdir: Path) -> None:
        self._process = process
        self.port = port
        self._workdir = workdir

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.port}/{ACCOUNT};"
        )

    @classmethod
    def start(cls) -> AzuriteServer:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not on PATH")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        workdir = Path(tempfile.mkdtemp(prefix="azurite-"))
        log = (workdir / "azurite.log").open("wb")
        process = subprocess.Popen(
            [
                node,
                str(AZURITE_BLOB),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(port),
                "--location",
                str(workdir),
                "--silent",
                # The SDK may speak a newer API version than this Azurite knows.
                "--skipApiVersionCheck",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
        log.close()
        server = cls(process, port, workdir)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"Azurite exited: {(workdir / 'azurite.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            except OSError:
                time.sleep(0.05)
                continue
            return server
        server.stop()
        raise RuntimeError(f"Azurite did not start within {_START_TIMEOUT_S} s")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._workdir, ignore_errors=True)


_SERVER: AzuriteServer | None = None


def shared_azurite() -> AzuriteServer:
    """Return the session's Azurite, starting it on first use (skip or fail without it)."""
    global _SERVER  # one server per test session
    if _SERVER is None:
        if not AZURITE_BLOB.is_file() or shutil.which("node") is None:
            message = "Azurite is not installed (npm ci installs it)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        _SERVER = AzuriteServer.start()
        atexit.register(_SERVER.stop)
    return _SERVER
