"""The Cosmos DB test server: ``@vercel/cosmosdb-server`` from node_modules, on loopback.

One server runs per test session, started on first use on a port the system picks (its
ready line says which) and stopped at the end of the session. Each test gets a store on
a database of its own, so tests never see each other's documents.

Without ``node_modules/@vercel/cosmosdb-server`` (``npm ci`` installs it) the Cosmos DB
tests fail when the ``CI`` environment variable is set, and are skipped otherwise.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

import pytest

from contactcenter.ports import Store
from storage.cosmos import COLLECTIONS, CollectionLayout, CosmosStore

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
SERVER_PACKAGE: Final = REPO_ROOT / "node_modules" / "@vercel" / "cosmosdb-server"
SERVER_CLI: Final = SERVER_PACKAGE / "lib" / "cli.js"

EMULATOR_KEY: Final = (
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nq+YLHWKhqgYNKsj0JDkTU/4Hcp1Fz6GCQ7vz9zg=="
)
"""The well-known key of the Cosmos DB emulator; the test server takes any key."""

_START_TIMEOUT_S: Final = 30.0
_STOP_TIMEOUT_S: Final = 5.0
_POLL_INTERVAL_S: Final = 0.05
_READY: Final = re.compile(r"Ready to accept HTTPS connections at 127\.0\.0\.1:(\d+)")

# Runs the server's own CLI with two changes to version 1.0.1:
# - connections are kept alive, as Cosmos DB does (the CLI answers every request with
#   "Connection: close": a new TLS handshake per request, and TLS shutdowns still running
#   when a test's event loop closes);
# - a point read of a missing item answers 404, as Cosmos DB does, not 500 (its
#   read-document.js reads a property of the undefined item).
_LAUNCHER: Final = r"""
const path = require("path");
const cli = process.argv[1];
const lib = path.dirname(cli);
// The handler first: the routes module keeps the handler it finds when it loads.
const handler = require(path.join(lib, "handler", "read-document.js"));
const readDocument = handler.default;
handler.default = (account, req, res, params) => {
  try {
    return readDocument(account, req, res, params);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    res.statusCode = 404;
    return { code: "NotFound", message: "Entity with the specified id does not exist in the system." };
  }
};
const server = require(path.join(lib, "index.js"));
const createHttpsServer = server.createHttpsServer;
server.createHttpsServer = (options) => createHttpsServer({ keepAlive: true, ...options });
process.argv = [process.argv[0], cli, "-p", "0", "--host", "127.0.0.1"];
require(cli);
"""

# The orderings the storage contract suite queries by, declared like any collection's
# orderings so that the suite runs through composite indexes as production queries do.
CONTRACT_LAYOUT: Final[Mapping[str, CollectionLayout]] = {
    **COLLECTIONS,
    "calls": dataclasses.replace(
        COLLECTIONS["calls"],
        orderings=(
            *COLLECTIONS["calls"].orderings,
            (("n", False),),
            (("n", True),),
            (("priority", True), ("enqueuedAt", False)),
        ),
    ),
}


class CosmosTestServer:
    """A running ``@vercel/cosmosdb-server`` process."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, workdir: Path) -> None:
        self._process = process
        self.port = port
        self._workdir = workdir

    @property
    def endpoint(self) -> str:
        """The account endpoint to give the SDK."""
        return f"https://127.0.0.1:{self.port}/"

    @classmethod
    def start(cls, *, timeout_s: float = _START_TIMEOUT_S) -> CosmosTestServer:
        """Start the server on a free loopback port; return once it accepts connections."""
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not on PATH")
        workdir = Path(tempfile.mkdtemp(prefix="cosmosdb-server-"))
        log_path = workdir / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [node, "-e", _LAUNCHER, str(SERVER_CLI)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
            )
        try:
            port = _wait_until_ready(process, log_path, timeout_s)
        except BaseException:
            _stop(process)
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        return cls(process, port, workdir)

    def stop(self) -> None:
        """Stop the server (its data is in memory and goes with it)."""
        _stop(self._process)
        shutil.rmtree(self._workdir, ignore_errors=True)


def _wait_until_ready(process: subprocess.Popen[bytes], log_path: Path, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the Cosmos DB test server exited with {process.returncode}: {_tail(log_path)}"
            )
        ready = _READY.search(log_path.read_text(errors="replace"))
        if ready is not None and _accepts_connections(int(ready.group(1))):
            return int(ready.group(1))
        time.sleep(_POLL_INTERVAL_S)
    raise RuntimeError(
        f"the Cosmos DB test server was not ready within {timeout_s:.0f} s: {_tail(log_path)}"
    )


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _tail(log_path: Path) -> str:
    text = log_path.read_text(errors="replace").strip()
    return text[-2000:] or "(no output)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=_STOP_TIMEOUT_S)


# ------------------------------------------------------------- one per session
_shared: CosmosTestServer | None = None
_start_failure: str | None = None


def missing_server_reason() -> str | None:
    """Return why the test server cannot run here, or None if it can."""
    if not SERVER_CLI.is_file():
        return f"{SERVER_PACKAGE.relative_to(REPO_ROOT)} is missing: run npm ci"
    if shutil.which("node") is None:
        return "node is not on PATH: install Node.js 20 and run npm ci"
    return None


def shared_server() -> CosmosTestServer:
    """Return the session's test server, starting it on first use.

    Without the server package, fail the test when ``CI`` is set and skip it otherwise.
    """
    global _shared, _start_failure
    if _shared is not None:
        return _shared
    reason = missing_server_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    if _start_failure is not None:
        pytest.fail(_start_failure, pytrace=False)
    try:
        _shared = CosmosTestServer.start()
    except (OSError, RuntimeError) as err:
        _start_failure = f"cannot start the Cosmos DB test server: {err}"
        pytest.fail(_start_failure, pytrace=False)
    # Also stops it when the session ends without the fixture below, or abnormally.
    atexit.register(stop_shared_server)
    return _shared


def stop_shared_server() -> None:
    """Stop the session's test server if it runs."""
    global _shared
    server, _shared = _shared, None
    if server is not None:
        server.stop()


@pytest.fixture(scope="session")
def cosmos_server() -> Iterator[CosmosTestServer]:
    """Yield the running test server; it stops at the end of the session."""
    yield shared_server()
    stop_shared_server()


# -------------------------------------------------------------------- stores
def fresh_database_name() -> str:
    """Return a database name no other test uses."""
    return f"test-{uuid.uuid4().hex}"


async def open_test_store(
    server: CosmosTestServer,
    *,
    database: str | None = None,
    layout: Mapping[str, CollectionLayout] = CONTRACT_LAYOUT,
) -> CosmosStore:
    """Open a store on the test server, on a fresh database unless one is named."""
    return await CosmosStore.open(
        server.endpoint,
        key=EMULATOR_KEY,
        database=database or fresh_database_name(),
        verify_tls=False,
        layout=layout,
    )


async def open_contract_store(tmp_path: Path) -> Store:
    """Return an empty Cosmos DB store for the storage contract suite."""
    del tmp_path  # everything lives in the server's memory
    # Only the collections the suite writes, so that each test's database takes two
    # container creations, not one per collection of the product.
    layout = {name: CONTRACT_LAYOUT[name] for name in ("calls", "agents")}
    return await open_test_store(shared_server(), layout=layout)
