"""``contact-center stats rebuild``: recompute interval aggregates from the call records."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from bot.progress import ProgressBar
from bot.settings import Settings, SettingsError
from bot.stores import open_store
from contactcenter.aggregates import IntervalAggregator
from contactcenter.clock import SystemClock
from contactcenter.finished_calls import FinishedCalls
from contactcenter.ports import Store
from contactcenter.repository import Repository

# Records finalized while a rebuild ran are counted by a catch-up from a little before it.
_CATCH_UP_MARGIN = timedelta(minutes=5)


def add_stats_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``stats`` command and its actions; return its parser."""
    parser = subparsers.add_parser(
        "stats",
        help="interval aggregates behind reports and the wallboard",
        description="Maintain the interval aggregates reports read (docs/kpis.md).",
    )
    actions = parser.add_subparsers(dest="stats_action", required=True, metavar="ACTION")
    rebuild = actions.add_parser(
        "rebuild",
        help="recompute the aggregates from the raw call records",
        description=(
            "Recompute every queue and agent interval aggregate from the call records in "
            "the store (SQLite in the data dir, or Cosmos DB when COSMOS_ENDPOINT is set), "
            "then count the records finalized meanwhile. Safe while hosts run."
        ),
    )
    rebuild.add_argument("--tenant", metavar="ID", help="one tenant (default: every tenant)")
    rebuild.add_argument(
        "--data-dir", type=Path, help="data directory (default: DATA_DIR or ./data)"
    )
    rebuild.add_argument(
        "--demo", action="store_true", help="the demo's settings (a demo host's data dir)"
    )
    return parser


async def rebuild(store: Store, tenant_id: str | None, *, err: TextIO, out: TextIO) -> int:
    """Rebuild one tenant's aggregates, or every tenant's; return the exit status."""
    clock = SystemClock()
    repository = Repository(store)
    if tenant_id is not None:
        tenants = [tenant_id]
    else:
        tenants = sorted(t.value.id for t in await repository.tenants.find(None))
    if not tenants:
        out.write("no tenants in the store: nothing to rebuild\n")
        return 0
    for tenant in tenants:
        progress = ProgressBar(err, label=f"tenant {tenant}", unit="records")
        try:
            result = await IntervalAggregator(store, clock).rebuild(tenant, progress=progress)
        finally:
            progress.close()
        # A fresh aggregator (nothing cached) counts what finished while the scan ran.
        feed = FinishedCalls(repository, IntervalAggregator(store, clock), clock)
        caught = await feed.catch_up(result.started_at - _CATCH_UP_MARGIN, tenant_id=tenant)
        out.write(
            f"tenant {tenant}: {result.records} records, {result.documents} aggregates "
            f"written, {result.removed} removed, {caught} counted since the rebuild began\n"
        )
    return 0


async def _run(settings: Settings, tenant_id: str | None) -> int:
    store = await open_store(settings)
    try:
        return await rebuild(store, tenant_id, err=sys.stderr, out=sys.stdout)
    finally:
        await store.close()


def run_stats(args: argparse.Namespace) -> int:
    """Run ``stats`` with parsed arguments; return the exit status."""
    overrides = {} if args.data_dir is None else {"data_dir": args.data_dir}
    try:
        settings = Settings.from_env(os.environ, demo=args.demo, **overrides)
    except SettingsError as err:
        sys.stderr.write(f"contact-center stats: {err}\n")
        return 2
    if not settings.uses_cosmos and not settings.database_path.is_file():
        sys.stderr.write(f"contact-center stats: no store at {settings.database_path}\n")
        return 2
    return asyncio.run(_run(settings, args.tenant))
