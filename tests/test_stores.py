"""The host and the commands open the store their settings name."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from bot.app import Services, create_app
from bot.settings import Settings
from bot.stores import open_store, store_kind
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


def _production_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        demo=False,
        data_dir=tmp_path / "data",
        microsoft_app_id="9e1e3d2c-1b0a-4f5e-8d7c-6b5a4f3e2d1c",
        microsoft_app_password="not-used-in-these-tests",
        microsoft_app_tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
        public_base_url="https://cc.contoso.example",
        **overrides,
    )


async def test_a_production_host_without_cosmos_db_warns_once_and_says_sqlite_on_healthz(
    tmp_path: Path, aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _production_settings(tmp_path)

    with caplog.at_level(logging.WARNING, logger="bot.app"):
        host = await aiohttp_client(create_app(settings, Services(run_timers=False)))
        response = await host.get("/healthz")

    assert await response.json() == {"status": "ok", "store": "sqlite"}
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.app"]
    assert len(warnings) == 1
    assert "single-host" in warnings[0]
    assert str(settings.database_path) in warnings[0]


def test_healthz_names_cosmos_db_whenever_an_endpoint_is_set(tmp_path: Path) -> None:
    settings = _production_settings(tmp_path, cosmos_endpoint="https://cc.documents.azure.com")

    assert store_kind(settings) == "cosmos"
    assert store_kind(_production_settings(tmp_path)) == "sqlite"
