"""``contact-center stats rebuild`` recomputes the aggregates of a store from its records."""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.stats_cli import add_stats_parser, run_stats
from contactcenter.aggregates import AggregateKind, IntervalAggregate, IntervalAggregator
from contactcenter.clock import VirtualClock
from contactcenter.kpis import totals_from_aggregates, totals_from_records
from contactcenter.model import Tenant
from contactcenter.repository import Repository
from storage.sqlite import SqliteStore
from tests.analytics.records import DAY, RECORDS, SALES, TENANT, at


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="contact-center")
    add_stats_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


async def seed(path: Path) -> None:
    store = await SqliteStore.open(path)
    try:
        repo = Repository(store)
        await repo.tenants.put(Tenant(id=TENANT, name="KPI"))
        for item in RECORDS:
            await repo.call_records.create(item)
        # An aggregate that counts the wrong thing: the rebuild replaces it.
        await IntervalAggregator(store, VirtualClock(DAY)).documents.put(
            IntervalAggregate(
                id="q|stale",
                tenant_id=TENANT,
                kind=AggregateKind.QUEUE,
                interval_start=at(9, 0),
                queue_id=SALES,
                answered=99,
            )
        )
    finally:
        await store.close()


async def queue_docs(path: Path) -> list[IntervalAggregate]:
    store = await SqliteStore.open(path)
    try:
        aggregator = IntervalAggregator(store, VirtualClock(DAY))
        return await aggregator.find(TENANT, AggregateKind.QUEUE, DAY, DAY + timedelta(days=1))
    finally:
        await store.close()


def test_rebuild_recomputes_every_tenant_s_aggregates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    database = data / "contactcenter.db"
    asyncio.run(seed(database))
    assert run_stats(parse(["stats", "rebuild", "--demo", "--data-dir", str(data)])) == 0
    out, err = capsys.readouterr()
    assert f"tenant {TENANT}: 14 records" in out
    assert "1 removed" in out
    assert "100% 14/14 records" in err
    docs = asyncio.run(queue_docs(database))
    assert "q|stale" not in {d.id for d in docs}
    assert totals_from_aggregates(docs) == totals_from_records(RECORDS)


def test_rebuild_without_a_store_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run_stats(parse(["stats", "rebuild", "--demo", "--data-dir", str(tmp_path)]))
    assert status == 2
    assert "no store at" in capsys.readouterr().err
