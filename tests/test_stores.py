"""The host and the commands open the store their settings name."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings
from bot.stores import open_store
from storage.cosmos import CosmosStore
from storage.sqlite import SqliteStore
from tests.cosmos_server import EMULATOR_KEY, fresh_database_name, shared_server


async def test_without_a_cosmos_endpoint_the_store_is_sqlite_in_the_data_dir(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({}, demo=True, dotenv=None, data_dir=tmp_path / "data")

    store = await open_store(settings)
    try:
        assert isinstance(store, SqliteStore)
        await store.create("calls", "t1", "c1", {"n": 1})
    finally:
        await store.close()

    assert settings.database_path.is_file()


@pytest.mark.cosmos
async def test_with_a_cosmos_endpoint_the_store_is_that_cosmos_database(tmp_path: Path) -> None:
    server = shared_server()
    database = fresh_database_name()
    environ = {
        "COSMOS_ENDPOINT": server.endpoint,
        "COSMOS_KEY": EMULATOR_KEY,
        "COSMOS_DATABASE": database,
        "COSMOS_VERIFY_TLS": "false",
    }
    settings = Settings.from_env(environ, demo=True, dotenv=None, data_dir=tmp_path / "data")

    store = await open_store(settings)
    try:
        assert isinstance(store, CosmosStore)
        assert store.database == database
    finally:
        await store.close()

    assert not settings.database_path.exists()
