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
"""

from __future__ import annotations

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
    ) -> None:
        self._repo = repository
        self.aggregator = aggregator
        self.exporter = exporter
        self._clock = clock
        self._overlap = overlap
        self._first_lookback = first_lookback
        self._swept_from: datetime | None = None
        # Records this instance finished (or found finished): the sweep skips them.
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def _mark_seen(self, record: CallRecord) -> None:
        key = (record.tenant_id, record.id)
        self._seen[key] = None
        self._seen.move_to_end(key)
        while len(self._seen) > _SEEN_KEPT:
            self._seen.popitem(last=False)

    async def record_finished(self, record: CallRecord) -> None:
        """Queue the record's export and count it; the sweep retries whatever fails here."""
        if record.wrap_up_pending:
            return  # handed over again once the wrap-up ends
        try:
            await self._finish([record])
        except DomainError as err:
            _LOGGER.warning(
                "Finished call not processed yet (the sweep retries): %s",
                err,
                extra={"tenant_id": record.tenant_id, "call_id": record.id},
            )

    async def _finish(self, records: list[CallRecord]) -> None:
        if self.exporter is not None:
            for record in records:
                await self.exporter.enqueue(record)
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

    async def catch_up(self, since: datetime, *, tenant_id: str | None = None) -> int:
        """Finish every final record that ended at or after ``since``; return how many."""
        found = await self._repo.call_records.find(
            tenant_id, (Condition("endedAt", Op.GE, format_timestamp(since)),)
        )
        ready: list[CallRecord] = []
        for item in found:
            record = item.value
            if (record.tenant_id, record.id) in self._seen or record.wrap_up_pending:
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
        """Catch up from the previous sweep (less an overlap); the first looks further back."""
        now = self._clock.now()
        since = (
            now - self._first_lookback
            if self._swept_from is None
            else self._swept_from - self._overlap
        )
        processed = await self.catch_up(since)
        self._swept_from = now
        return processed
