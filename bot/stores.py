"""Open the store the settings name: Cosmos DB when an endpoint is set, SQLite otherwise."""

from __future__ import annotations

from bot.settings import Settings
from contactcenter.ports import Store
from storage.cosmos import CosmosStore
from storage.sqlite import SqliteStore


def store_kind(settings: Settings) -> str:
    """Name the store the settings open: ``cosmos`` or ``sqlite`` (what /healthz reports)."""
    return "cosmos" if settings.uses_cosmos else "sqlite"


async def open_store(settings: Settings) -> Store:
    """Open Cosmos DB when an endpoint is configured, the embedded SQLite store otherwise."""
    if settings.uses_cosmos:
        return await CosmosStore.open(
            settings.cosmos_endpoint,
            key=settings.cosmos_key or None,
            database=settings.cosmos_database,
            verify_tls=settings.cosmos_verify_tls,
        )
    return await SqliteStore.open(settings.database_path)
