"""Fixtures for the storage tests: one ``store`` fixture per Store implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from contactcenter.ports import Store
from storage.memory import MemoryStore
from storage.sqlite import SqliteStore
from tests.cosmos_server import open_contract_store

StoreFactory = Callable[[Path], Awaitable[Store]]


async def _memory_store(tmp_path: Path) -> Store:
    return MemoryStore()


async def _sqlite_store(tmp_path: Path) -> Store:
    return await SqliteStore.open(tmp_path / "data" / "store.db")


# One entry per implementation the contract suite runs against. A factory gets a fresh
# temporary directory and returns an empty store; one that needs a server it cannot
# reach calls pytest.skip.
STORE_FACTORIES: dict[str, StoreFactory] = {
    "memory": _memory_store,
    "sqlite": _sqlite_store,
    "cosmos": open_contract_store,
}


@pytest.fixture(params=list(STORE_FACTORIES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Yield an empty store of each implementation in turn, closed afterwards."""
    opened = await STORE_FACTORIES[request.param](tmp_path)
    try:
        yield opened
    finally:
        await opened.close()
