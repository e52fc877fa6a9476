"""A what-if simulation's own store: SQLite in memory, gone when it is closed."""

from __future__ import annotations

from contactcenter.ports import Store
from storage.sqlite import MEMORY, SqliteStore


async def open_scratch_store() -> Store:
    """Open an empty in-memory store on the caller's thread (a simulation's child process)."""
    return await SqliteStore.open(MEMORY, inline=True)
