"""Interval aggregates: per queue and per agent, per 15-minute interval, kept from call records.

A finished call's record adds to the documents of the interval its call was offered in (the
interval it ended in, if it was never offered): its queue's document, and for each agent
involved (the one who answered, those who missed an offer) that agent's document for the
queue. Reports then read a few hundred small documents instead of every record.

Counting a record exactly once, with single-document writes only (docs/decisions/0010):
each document lists the ids of the calls it counts, and a record is added to a document
by one compare-and-set that checks the list first. A retried finalize, a second host, or the
catch-up sweep finding a record already counted changes nothing; a write whose answer was
lost is found counted when retried. Documents whose interval is older than ``seal_after``
drop the list (``sealed``): nothing adds to them any more but a rebuild.

Agents' time by state (available, ringing, on a call, wrap-up, not ready) comes from
sampling agent documents (``contactcenter/agent_time.py``), in its own documents.

Queue documents live in ``intervalAggregates``; agents' documents, many more of them, in
``agentIntervalAggregates``, so that a queue report reads only what it needs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from contactcenter.clock import Clock
from contactcenter.codec import format_timestamp
from contactcenter.errors import Conflict, NotFound
from contactcenter.kpis import is_offered, outcome_field, wait_bucket
from contactcenter.model import CallOutcome, CallRecord
from contactcenter.ports import Condition, Op, Store
from contactcenter.repository import (
    ATTEMPTS,
    KEEP,
    Change,
    Collection,
    Decision,
    Repository,
    Updated,
    Versioned,
)

_LOGGER = logging.getLogger(__name__)

COLLECTION = "intervalAggregates"
# Agents' documents (calls per agent and queue, time by state) live apart from the queues':
# there are many more of them, and a queue report then reads only queue documents.
AGENT_COLLECTION = "agentIntervalAggregates"
INTERVAL = timedelta(minutes=15)
_INTERVAL_S = int(INTERVAL.total_seconds())
# Documents of intervals older than this drop their call-id lists.
SEAL_AFTER = timedelta(days=2)
# An interval document takes a write for every call finished in its 15 minutes, from every
# host at once: the most contended document there is, so its writers try twice as long.
_ATTEMPTS = 2 * ATTEMPTS
_REBUILD_PAGE = 1000

ProgressCallback = Callable[[int, int], None]


class AggregateKind(StrEnum):
    """What an interval aggregate counts."""

    # One queue's calls.
    QUEUE = "queue"
    # One agent's calls from one queue.
    AGENT = "agent"
    # One agent's time by state (sampled), across queues.
    AGENT_TIME = "agent-time"


RECORD_KINDS = (AggregateKind.QUEUE, AggregateKind.AGENT)
"""The kinds built from call records (a rebuild recomputes exactly these)."""


@dataclass(frozen=True, slots=True)
class IntervalAggregate:
    """What happened in one queue (or to one agent) in one 15-minute interval."""

    id: str
    tenant_id: str
    kind: AggregateKind
    interval_start: datetime
    queue_id: str = ""
    agent_id: str = ""
    # Offered calls by outcome (agent documents: the calls the agent answered).
    answered: int = 0
    abandoned: int = 0
    overflowed: int = 0
    timed_out: int = 0
    no_agent: int = 0
    voicemail: int = 0
    callback_requested: int = 0
    # Calls that reached the queue but failed (not offered, not in the KPIs).
    failed: int = 0
    # Offered calls that came from another queue (not from an IVR menu).
    transferred_in: int = 0
    # Answered within the queue's own target at the time.
    met_service_level: int = 0
    # Waits by whole second (kpis.wait_bucket) -> calls: "within T" for any T.
    answered_waits: dict[str, int] = field(default_factory=dict)
    abandoned_waits: dict[str, int] = field(default_factory=dict)
    wait_answered_s: float = 0.0
    wait_abandoned_s: float = 0.0
    max_wait_s: float = 0.0
    ring_s: float = 0.0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrap_up_s: float = 0.0
    # Offers the agent let ring out or declined (agent documents).
    missed_offers: int = 0
    # Agent-time documents: seconds spent in each state (agent_time.AgentState values).
    state_s: dict[str, float] = field(default_factory=dict)
    # The calls counted here; dropped when sealed.
    call_ids: tuple[str, ...] = ()
    sealed: bool = False
    updated_at: datetime | None = None

    @property
    def offered(self) -> int:
        return (
            self.answered
            + self.abandoned
            + self.overflowed
            + self.timed_out
            + self.no_agent
            + self.voicemail
            + self.callback_requested
        )

    @property
    def handle_s(self) -> float:
        return self.talk_s + self.hold_s + self.wrap_up_s


# ---------------------------------------------------------------------- intervals
def interval_start(at: datetime) -> datetime:
    """Return the start (UTC) of the 15-minute interval ``at`` falls in."""
    if at.tzinfo is None:
        raise ValueError("interval_start needs an aware datetime")
    utc = at.astimezone(UTC)
    seconds = utc.minute * 60 + utc.second
    return utc.replace(minute=0, second=0, microsecond=0) + timedelta(
        seconds=seconds - seconds % _INTERVAL_S
    )


def record_interval(record: CallRecord) -> datetime:
    """Return the interval a record counts in: when it was offered (or ended, if never)."""
    return interval_start(record.offered_at or record.ended_at)


def _stamp(start: datetime) -> str:
    return start.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def queue_doc_id(queue_id: str, start: datetime) -> str:
    return f"q|{queue_id}|{_stamp(start)}"


def agent_doc_id(agent_id: str, queue_id: str, start: datetime) -> str:
    return f"a|{agent_id}|{queue_id}|{_stamp(start)}"


def agent_time_doc_id(agent_id: str, start: datetime) -> str:
    return f"t|{agent_id}|{_stamp(start)}"


@dataclass(frozen=True, slots=True)
class Target:
    """One document a record adds to."""

    doc_id: str
    kind: AggregateKind
    interval_start: datetime
    queue_id: str
    agent_id: str = ""

    def empty(self, tenant_id: str) -> IntervalAggregate:
        return IntervalAggregate(
            id=self.doc_id,
            tenant_id=tenant_id,
            kind=self.kind,
            interval_start=self.interval_start,
            queue_id=self.queue_id,
            agent_id=self.agent_id,
        )


def targets(record: CallRecord) -> list[Target]:
    """Return the documents a record adds to (none for a call that never reached a queue)."""
    queue_id = record.queue_id
    if queue_id is None:
        return []
    start = record_interval(record)
    found = [Target(queue_doc_id(queue_id, start), AggregateKind.QUEUE, start, queue_id)]
    if not is_offered(record):
        return found
    agents: list[str] = []
    if record.outcome is CallOutcome.ANSWERED and record.agent_id:
        agents.append(record.agent_id)
    agents.extend(a for a in dict.fromkeys(record.missed_agent_ids) if a not in agents)
    found.extend(
        Target(agent_doc_id(a, queue_id, start), AggregateKind.AGENT, start, queue_id, a)
        for a in agents
    )
    return found


# --------------------------------------------------------------------- counting
class _Counts:
    """A mutable copy of an aggregate's counters, to add many records cheaply."""

    _INTS = (
        "answered",
        "abandoned",
        "overflowed",
        "timed_out",
        "no_agent",
        "voicemail",
        "callback_requested",
        "failed",
        "transferred_in",
        "met_service_level",
        "missed_offers",
    )
    _FLOATS = (
        "wait_answered_s",
        "wait_abandoned_s",
        "ring_s",
        "talk_s",
        "hold_s",
        "wrap_up_s",
    )

    def __init__(self, base: IntervalAggregate) -> None:
        self.base = base
        self.counters: dict[str, float] = {
            name: getattr(base, name) for name in (*self._INTS, *self._FLOATS, "max_wait_s")
        }
        self.answered_waits = dict(base.answered_waits)
        self.abandoned_waits = dict(base.abandoned_waits)
        self.call_ids = list(base.call_ids)
        self.seen = set(base.call_ids)

    def add(self, record: CallRecord) -> bool:
        """Add the record to these counts; False if it is counted already."""
        if record.id in self.seen:
            return False
        self.seen.add(record.id)
        self.call_ids.append(record.id)
        if self.base.kind is AggregateKind.QUEUE:
            self._add_to_queue(record)
        else:
            self._add_to_agent(record)
        return True

    def _bump(self, name: str, amount: float = 1) -> None:
        self.counters[name] += amount

    def _add_to_queue(self, record: CallRecord) -> None:
        if not is_offered(record):
            if record.outcome is CallOutcome.FAILED:
                self._bump("failed")
            return
        self._bump(outcome_field(record.outcome))
        self.counters["max_wait_s"] = max(self.counters["max_wait_s"], record.wait_s)
        self._bump("ring_s", record.ring_s)
        if record.came_from and not record.came_from.startswith("ivr:"):
            self._bump("transferred_in")
        if record.outcome is CallOutcome.ANSWERED:
            self._add_answered(record)
        elif record.outcome is CallOutcome.ABANDONED:
            self._bump("wait_abandoned_s", record.wait_s)
            _count_wait(self.abandoned_waits, record.wait_s)

    def _add_answered(self, record: CallRecord) -> None:
        self._bump("wait_answered_s", record.wait_s)
        self._bump("talk_s", record.talk_s)
        self._bump("hold_s", record.hold_s)
        self._bump("wrap_up_s", record.wrap_up_s)
        if record.met_service_level:
            self._bump("met_service_level")
        _count_wait(self.answered_waits, record.wait_s)

    def _add_to_agent(self, record: CallRecord) -> None:
        agent_id = self.base.agent_id
        missed = sum(1 for a in record.missed_agent_ids if a == agent_id)
        self._bump("missed_offers", missed)
        if record.outcome is CallOutcome.ANSWERED and record.agent_id == agent_id:
            self._bump("answered")
            self.counters["max_wait_s"] = max(self.counters["max_wait_s"], record.wait_s)
            self._add_answered(record)

    def freeze(self, *, now: datetime | None, sealed: bool = False) -> IntervalAggregate:
        c = self.counters
        return replace(
            self.base,
            answered=int(c["answered"]),
            abandoned=int(c["abandoned"]),
            overflowed=int(c["overflowed"]),
            timed_out=int(c["timed_out"]),
            no_agent=int(c["no_agent"]),
            voicemail=int(c["voicemail"]),
            callback_requested=int(c["callback_requested"]),
            failed=int(c["failed"]),
            transferred_in=int(c["transferred_in"]),
            met_service_level=int(c["met_service_level"]),
            missed_offers=int(c["missed_offers"]),
            wait_answered_s=float(c["wait_answered_s"]),
            wait_abandoned_s=float(c["wait_abandoned_s"]),
            ring_s=float(c["ring_s"]),
            talk_s=float(c["talk_s"]),
            hold_s=float(c["hold_s"]),
            wrap_up_s=float(c["wrap_up_s"]),
            max_wait_s=float(c["max_wait_s"]),
            answered_waits=dict(sorted(self.answered_waits.items(), key=_bucket_order)),
            abandoned_waits=dict(sorted(self.abandoned_waits.items(), key=_bucket_order)),
            call_ids=() if sealed else tuple(self.call_ids),
            sealed=sealed or self.base.sealed,
            updated_at=now,
        )


def _bucket_order(item: tuple[str, int]) -> int:
    return int(item[0])


def _count_wait(histogram: dict[str, int], wait_s: float) -> None:
    bucket = str(wait_bucket(wait_s))
    histogram[bucket] = histogram.get(bucket, 0) + 1


def add_records(
    aggregate: IntervalAggregate,
    records: Iterable[CallRecord],
    *,
    now: datetime | None = None,
) -> IntervalAggregate | None:
    """Return the aggregate with these records added, or None if all were counted already."""
    counts = _Counts(aggregate)
    changed = False
    for record in records:
        changed = counts.add(record) or changed
    return counts.freeze(now=now) if changed else None


# ---------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class RebuildResult:
    """What a rebuild of a tenant's aggregates did."""

    records: int
    documents: int
    removed: int
    started_at: datetime


class IntervalAggregator:
    """Keeps the interval aggregates of a store's call records."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        seal_after: timedelta = SEAL_AFTER,
    ) -> None:
        self._store = store
        self._clock = clock
        self._seal_after = seal_after
        # Each collection remembers the last version of each document this instance read
        # or wrote. A document's call-id list only grows (until sealed), so a remembered
        # document that counts a call is proof the call is counted; one that does not is
        # only a first guess.
        self.documents: Collection[IntervalAggregate] = Collection(
            store, COLLECTION, IntervalAggregate
        )
        self.agent_documents: Collection[IntervalAggregate] = Collection(
            store, AGENT_COLLECTION, IntervalAggregate
        )
        self._records = Repository(store).call_records

    # ------------------------------------------------------------------ cache
    def collection(self, kind: AggregateKind) -> Collection[IntervalAggregate]:
        """Return the collection that holds documents of ``kind``."""
        return self.documents if kind is AggregateKind.QUEUE else self.agent_documents

    def _known(
        self, tenant_id: str, doc_id: str, kind: AggregateKind
    ) -> Versioned[IntervalAggregate] | None:
        return self.collection(kind).last_known(tenant_id, doc_id)

    async def _read(
        self, tenant_id: str, doc_id: str, kind: AggregateKind
    ) -> Versioned[IntervalAggregate] | None:
        try:
            return await self.collection(kind).get(tenant_id, doc_id)
        except NotFound:
            return None

    # ------------------------------------------------------------------ adding
    async def add_record(self, record: CallRecord) -> bool:
        """Count a final call record in its interval's documents; False if counted already."""
        return await self.add_records([record]) > 0

    async def add_records(self, records: Sequence[CallRecord]) -> int:
        """Count final call records; return how many documents changed.

        Records are grouped by document, so each document takes one compare-and-set
        however many of the records it counts.
        """
        groups: dict[tuple[str, str], tuple[Target, list[CallRecord]]] = {}
        for record in records:
            for target in targets(record):
                key = (record.tenant_id, target.doc_id)
                groups.setdefault(key, (target, []))[1].append(record)
        changed = 0
        for (tenant_id, _), (target, grouped) in groups.items():
            if await self._apply(tenant_id, target, grouped):
                changed += 1
        return changed

    async def _apply(self, tenant_id: str, target: Target, records: Sequence[CallRecord]) -> bool:
        """Add the records to one document by compare-and-set; False if all were counted."""
        if self._known(tenant_id, target.doc_id, target.kind) is None and await self._create(
            tenant_id, target, records
        ):
            return True

        def counted(current: IntervalAggregate) -> Decision[IntervalAggregate]:
            if current.sealed:
                _LOGGER.warning(
                    "Not counting %d records in sealed aggregate %s (rebuild to include them)",
                    len(records),
                    target.doc_id,
                    extra={"tenant_id": tenant_id},
                )
                return KEEP
            return add_records(current, records, now=self._clock.now())

        updated = await self._update(
            tenant_id,
            target.doc_id,
            target.kind,
            counted,
            lambda: target.empty(tenant_id),
            known=True,
        )
        return updated.changed

    async def _create(self, tenant_id: str, target: Target, records: Sequence[CallRecord]) -> bool:
        """Create a document this instance has not seen; False if it exists already.

        Most documents this instance has not seen are new (an agent's first call in an
        interval, a new interval): creating one outright saves the read that would find
        it missing. One that exists costs a refused create, then the usual read.
        """
        fresh = add_records(target.empty(tenant_id), records, now=self._clock.now())
        if fresh is None:
            return False
        try:
            await self.collection(target.kind).create(fresh)
        except Conflict:
            return False
        return True

    async def is_counted(self, record: CallRecord) -> bool:
        """Tell whether every document the record adds to counts it (or is sealed)."""
        for target in targets(record):
            known = self._known(record.tenant_id, target.doc_id, target.kind)
            if known is not None and (known.value.sealed or record.id in known.value.call_ids):
                continue
            found = await self._read(record.tenant_id, target.doc_id, target.kind)
            if found is None or not (found.value.sealed or record.id in found.value.call_ids):
                return False
        return True

    async def add_agent_time(
        self,
        tenant_id: str,
        agent_id: str,
        start: datetime,
        seconds: Mapping[str, float],
    ) -> None:
        """Add seconds spent in each state to an agent's time document for one interval."""
        start = interval_start(start)
        doc_id = agent_time_doc_id(agent_id, start)

        def empty() -> IntervalAggregate:
            return IntervalAggregate(
                id=doc_id,
                tenant_id=tenant_id,
                kind=AggregateKind.AGENT_TIME,
                interval_start=start,
                agent_id=agent_id,
            )

        def added(base: IntervalAggregate) -> IntervalAggregate:
            state = dict(base.state_s)
            for name, value in seconds.items():
                state[name] = round(state.get(name, 0.0) + value, 6)
            return replace(base, state_s=dict(sorted(state.items())), updated_at=self._clock.now())

        await self._update(tenant_id, doc_id, AggregateKind.AGENT_TIME, added, empty)

    async def _update(
        self,
        tenant_id: str,
        doc_id: str,
        kind: AggregateKind,
        change: Change[IntervalAggregate],
        empty: Callable[[], IntervalAggregate],
        *,
        known: bool = False,
    ) -> Updated[IntervalAggregate]:
        """Change one document by compare-and-set (created empty first if missing).

        ``known``: try the version last read or written first (tasks adding to the same
        document share what each of them learns, and each lost race reads the winner).
        """
        return await self.collection(kind).apply(
            tenant_id, doc_id, change, attempts=_ATTEMPTS, known=known, missing=empty
        )

    # ----------------------------------------------------------------- reading
    async def find(
        self,
        tenant_id: str,
        kind: AggregateKind,
        start: datetime,
        end: datetime,
        *,
        queue_id: str | None = None,
        agent_id: str | None = None,
    ) -> list[IntervalAggregate]:
        """Return the tenant's documents of one kind whose interval starts in [start, end)."""
        where = [
            Condition("kind", Op.EQ, kind.value),
            Condition("intervalStart", Op.GE, format_timestamp(start)),
            Condition("intervalStart", Op.LT, format_timestamp(end)),
        ]
        if queue_id is not None:
            where.append(Condition("queueId", Op.EQ, queue_id))
        if agent_id is not None:
            where.append(Condition("agentId", Op.EQ, agent_id))
        found = await self.collection(kind).find(tenant_id, where)
        return [f.value for f in found]

    # ------------------------------------------------------------------ upkeep
    async def seal(self, *, batch: int = 100, batches: int = 50) -> int:
        """Drop the call-id lists of documents older than ``seal_after``; return how many."""
        horizon = interval_start(self._clock.now() - self._seal_after)
        sealed = 0
        for documents in (self.documents, self.agent_documents):
            for _ in range(batches):
                open_docs = await documents.find(
                    None,
                    (
                        Condition("sealed", Op.EQ, False),
                        Condition("intervalStart", Op.LT, format_timestamp(horizon)),
                    ),
                    limit=batch,
                )
                for found in open_docs:
                    doc = found.value
                    try:
                        await documents.save(
                            replace(doc, call_ids=(), sealed=True, updated_at=self._clock.now()),
                            etag=found.etag,
                        )
                    except (Conflict, NotFound):
                        continue  # changed meanwhile: the next round seals it
                    sealed += 1
                if len(open_docs) < batch:
                    break
        return sealed

    async def rebuild(
        self, tenant_id: str, *, progress: ProgressCallback | None = None
    ) -> RebuildResult:
        """Recompute the tenant's call-record aggregates from its records.

        Documents are written whole (agent-time documents, which records cannot give,
        are left alone). Records finalized while the rebuild runs may be missing from what
        it writes: run the catch-up sweep from ``started_at`` afterwards (the
        ``stats rebuild`` command does).
        """
        started = self._clock.now()
        horizon = interval_start(started - self._seal_after)
        total = await self._records.count(tenant_id)
        built: dict[str, _Counts] = {}
        done = 0
        continuation: str | None = None
        while True:
            page, continuation = await self._records.page(
                tenant_id, limit=_REBUILD_PAGE, continuation=continuation
            )
            for found in page:
                record = found.value
                for target in targets(record):
                    counts = built.get(target.doc_id)
                    if counts is None:
                        counts = _Counts(target.empty(tenant_id))
                        built[target.doc_id] = counts
                    counts.add(record)
            done += len(page)
            if progress is not None:
                progress(done, max(total, done))
            if continuation is None:
                break
        removed = 0
        for kind in RECORD_KINDS:
            documents = self.collection(kind)
            existing = await documents.find(tenant_id, (Condition("kind", Op.EQ, kind.value),))
            for stale in existing:
                if stale.value.id not in built:
                    try:
                        await documents.delete(tenant_id, stale.value.id)
                    except NotFound:
                        continue
                    removed += 1
        now = self._clock.now()
        for counts in built.values():
            sealed = counts.base.interval_start < horizon
            await self.collection(counts.base.kind).put(counts.freeze(now=now, sealed=sealed))
        _LOGGER.info(
            "Rebuilt %d aggregates from %d records (%d removed)",
            len(built),
            done,
            removed,
            extra={"tenant_id": tenant_id},
        )
        return RebuildResult(
            records=done, documents=len(built), removed=removed, started_at=started
        )
