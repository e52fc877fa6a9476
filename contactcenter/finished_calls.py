"""What follows a call's record once it is final: interval aggregates and webhook export.

Two paths lead here, and both may see the same record any number of times:

* :meth:`FinishedCalls.record_finished`, called by whoever finalized the call, right
  after the record became final (its live call document is gone);
* :meth:`FinishedCalls.catch_up`, a sweep over recently ended records that finishes
  what a crash or a lost race left undone. A record whose live call document still
  exists is not final yet (the finalizer may still take it back) and is left for later.

A record whose agent is still wrapping up (``wrap_up_pending``) is not final either: its
wrap-up time is filled in when the wrap-up ends, and the engine hands it over then.

Each step is idempotent: the outbox document's id names the call, and aggregates list the
calls they count. The export is queued before the aggregates are updated, so a record the
aggregates count has had its export queued too; that is how the sweep recognises a record
that is done.

With ``batched``, :meth:`FinishedCalls.record_finished` queues the export at once but only
holds the record; :meth:`FinishedCalls.flush` (every few seconds, and at shutdown) counts
what was held, one compare-and-set per document for the whole batch. The sweep leaves a
record alone for ``sweep_lag`` after it ended, so that it does not race another host's batch;
a batch lost with its host is counted by the sweeps of the others, or by this host's first
sweep when it starts again (docs/decisions/0029-batched-aggregates.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from datetime import datetime, timedelta

from contactcenter.aggregates import IntervalAggregator, targets
from contactcenter.clock import Clock
from contactcenter.codec import format_timestamp
from contactcenter.errors import DomainError, NotFound
from contactcenter.export import CallRecordExporter
from contactcenter.model import CallRecord
from contactcenter.ports import Condition, Op
from contactcenter.repository import Repository

_LOGGER = logging.getLogger(__name__)

_SEEN_KEPT = 16_384


class FinishedCalls:
    """Feeds final call records to the aggregates and the webhook export."""

    def __init__(
        self,
        repository: Repository,
        aggregator: IntervalAggregator,
        clock: Clock,
        *,
        exporter: CallRecordExporter | None = None,
        overlap: timedelta = timedelta(seconds=10),
        first_lookback: timedelta = timedelta(hours=1),
        batched: bool = False,
        sweep_lag: timedelta = timedelta(0),
    ) -> None:
        self._repo = repository
        self.aggregator = aggregator
        self.exporter = exporter
        self._clock = clock
        self._overlap = overlap
        self._first_lookback = first_lookback
        self._batched = batched
        self._sweep_lag = sweep_lag
        self._swept_from: datetime | None = None
        # Records this instance finished (or found finished): the sweep skips them.
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        # Records held for the next flush (batched only); the sweep skips them too.
        self._held: dict[tuple[str, str], CallRecord] = {}

    def _mark_seen(self, record: CallRecord) -> None:
        key = (record.tenant_id, record.id)
        self._seen[key] = None
        self._seen.move_to_end(key)
        while len(self._seen) > _SEEN_KEPT:
            self._seen.popitem(last=False)

    async def record_finished(self, record: CallRecord) -> None:
        """Queue the record's export and count it (or hold it for the next flush).

        The sweep retries whatever fails here.
        """
        if record.wrap_up_pending:
            return  # handed over again once the wrap-up ends
        try:
            if self._batched:
                await self._export([record])
                self._held[(record.tenant_id, record.id)] = record
            else:
                await self._finish([record])
        except DomainError as err:
            _LOGGER.warning(
                "Finished call not processed yet (the sweep retries): %s",
                err,
                extra={"tenant_id": record.tenant_id, "call_id": record.id},
            )

    async def flush(self) -> int:
        """Count the records held since the last flush; return how many.

        A batch that fails is dropped here: its records are not marked seen, so the sweep
        counts them once they are ``sweep_lag`` old.
        """
        if not self._held:
            return 0
        held, self._held = self._held, {}
        try:
            await self._count(list(held.values()))
        except DomainError as err:
            _LOGGER.warning("Finished calls not counted yet (the sweep retries): %s", err)
            return 0
        except asyncio.CancelledError:
            # Shutdown: the last flush counts them (what this one did already is kept).
            self._held = held | self._held
            raise
        return len(held)

    async def _finish(self, records: list[CallRecord]) -> None:
        await self._export(records)
        await self._count(records)

    async def _export(self, records: list[CallRecord]) -> None:
        if self.exporter is not None:
            for record in records:
                await self.exporter.enqueue(record)

    async def _count(self, records: list[CallRecord]) -> None:
        await self.aggregator.add_records(records)
        for record in records:
            self._mark_seen(record)

    async def _is_done(self, record: CallRecord) -> bool:
        if targets(record):
            return await self.aggregator.is_counted(record)
        # Nothing to count (never reached a queue): done once its export is queued, which
        # only this instance's memory can tell; queueing it again is harmless.
        return self.exporter is None

    async def _is_final(self, record: CallRecord) -> bool:
        try:
            await self._repo.calls.get(record.tenant_id, record.id)
        except NotFound:
            return True
        return False

    async def catch_up(
        self, since: datetime, *, until: datetime | None = None, tenant_id: str | None = None
    ) -> int:
        """Finish every final record that ended in [since, until); return how many."""
        where = [Condition("endedAt", Op.GE, format_timestamp(since))]
        if until is not None:
            where.append(Condition("endedAt", Op.LT, format_timestamp(until)))
        found = await self._repo.call_records.find(tenant_id, where)
        ready: list[CallRecord] = []
        for item in found:
            record = item.value
            key = (record.tenant_id, record.id)
            if key in self._seen or key in self._held or record.wrap_up_pending:
                continue
            if await self._is_done(record):
                self._mark_seen(record)
                continue
            if not await self._is_final(record):
                continue
            ready.append(record)
        if ready:
            await self._finish(ready)
            _LOGGER.info("Caught up with %d finished calls", len(ready))
        return len(ready)

    async def sweep(self) -> int:
        """Catch up from the previous sweep (less an overlap); the first looks further back.

        Records younger than ``sweep_lag`` are left to their finalizer's batch.
        """
        now = self._clock.now() - self._sweep_lag
        since = (
            now - self._first_lookback
            if self._swept_from is None
            else self._swept_from - self._overlap
        )
        processed = await self.catch_up(since, until=now if self._sweep_lag else None)
        self._swept_from = now
        return processed
