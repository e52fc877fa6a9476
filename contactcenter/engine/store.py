"""The engine's reads and writes: cached configuration, live calls and agents, hints.

Every write of a call or an agent is a compare-and-set. A call is written by the
decision that read it (:meth:`CallStore.commit` raises StaleVersion when it lost, and the
decision is made again on what won); an agent is changed through the repository's
read → decide → compare-and-set loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from contactcenter.callers import CALLER_LIST_ID
from contactcenter.engine.codecs import remember_key
from contactcenter.engine.context import EngineContext
from contactcenter.errors import Conflict, InvalidInput, NotFound
from contactcenter.hours import HoursVerdict, OpenState, check_hours
from contactcenter.model import (
    Agent,
    AgentActivity,
    AgentStatus,
    Binding,
    BusinessHours,
    Call,
    CallerList,
    CallState,
    Ivr,
    Queue,
    Tenant,
)
from contactcenter.ports import Condition, Op
from contactcenter.repository import (
    Change,
    GiveUp,
    Missing,
    Remembered,
    Repository,
    StaleVersion,
    Updated,
    Versioned,
)

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

# Calls this instance ended, remembered so that later notifications for them need no read.
ENDED_CALLS_REMEMBERED = 4096
# Due times this instance wrote, kept to fire its own timers by id; beyond this the latest
# are forgotten (the sweep of every due document finds them).
OWN_TIMERS_KEPT = 4096
_IDLE = (
    Condition("status", Op.EQ, AgentStatus.AVAILABLE.value),
    Condition("activity", Op.EQ, AgentActivity.IDLE.value),
)


async def _value(read: Awaitable[Versioned[T]]) -> T:
    return (await read).value


@dataclass(slots=True)
class CallStore:
    """Reads (configuration cached briefly), compare-and-set writes and timer hints."""

    ctx: EngineContext
    # Remembered call versions that a decision's compare-and-set proved current, until the
    # handling that tried them looks (see :meth:`proved`).
    _proven: set[tuple[str, str, str]] = field(default_factory=set)
    # The due times this instance wrote, earliest first, with the document (see own_due).
    _own_due: list[tuple[datetime, str, str, str]] = field(default_factory=list)

    # ------------------------------------------------------------ the lock
    @contextlib.asynccontextmanager
    async def lock(self, call_id: str) -> AsyncIterator[None]:
        """Hold the call's lock: one handler at a time per call on this instance."""
        locks = self.ctx.locks
        lock, users = locks.get(call_id, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        locks[call_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock_now, users_now = locks[call_id]
            if users_now <= 1:
                del locks[call_id]
            else:
                locks[call_id] = (lock_now, users_now - 1)

    # ------------------------------------------------------------- ended
    def is_ended(self, tenant_id: str, call_id: str) -> bool:
        """Tell whether this instance ended the call (its notifications need no read)."""
        return (tenant_id, call_id) in self.ctx.ended

    def mark_ended(self, call: Call) -> None:
        ended = self.ctx.ended
        ended[(call.tenant_id, call.id)] = None
        while len(ended) > ENDED_CALLS_REMEMBERED:
            ended.popitem(last=False)

    # ------------------------------------------------------------- reads
    def remembered_call(self, tenant_id: str, call_id: str) -> Remembered[Call] | None:
        """Return the call as this instance last read or wrote it, without a read."""
        return self.ctx.repository.calls.remembered(tenant_id, call_id)

    def insist_current(self, current: Versioned[Call]) -> None:
        """Refuse a remembered version: what follows acts before it writes, so read first.

        Raises StaleVersion, which sends the decision back to run on the call as read now.
        """
        if isinstance(current, Remembered):
            raise StaleVersion

    def proved(self, remembered: Remembered[Call]) -> bool:
        """Tell (once) whether a compare-and-set on ``remembered`` won since it was taken."""
        key = (remembered.value.tenant_id, remembered.value.id, remembered.etag)
        if key in self._proven:
            self._proven.discard(key)
            return True
        return False

    def _prove(self, current: Versioned[Call]) -> None:
        if isinstance(current, Remembered):
            self._proven.add((current.value.tenant_id, current.value.id, current.etag))

    async def read_call(self, tenant_id: str, call_id: str) -> Versioned[Call] | None:
        try:
            return await self.ctx.repository.calls.get(tenant_id, call_id)
        except NotFound:
            return None

    async def read_agent(self, tenant_id: str, agent_id: str) -> Versioned[Agent] | None:
        try:
            return await self.ctx.repository.agents.get(tenant_id, agent_id)
        except NotFound:
            return None

    async def queue(self, tenant_id: str, queue_id: str | None) -> Queue | None:
        """Return the queue's configuration, re-read at most every ``queue_cache_s``."""
        if queue_id is None:
            return None
        return await self.ctx.queues.get(
            (tenant_id, queue_id),
            lambda: _value(self.ctx.repository.queues.get(tenant_id, queue_id)),
        )

    async def ivr(self, tenant_id: str, ivr_id: str | None) -> Ivr | None:
        """Return an IVR's configuration, re-read at most every ``queue_cache_s``."""
        if ivr_id is None:
            return None
        return await self.ctx.ivrs.get(
            (tenant_id, ivr_id), lambda: _value(self.ctx.repository.ivrs.get(tenant_id, ivr_id))
        )

    async def binding(self, tenant_id: str, identity: str) -> Binding | None:
        """Return what a number or resource account is bound to (cached as queues)."""
        return await self.ctx.bindings.get(
            (tenant_id, identity),
            lambda: _value(self.ctx.repository.bindings.get(tenant_id, identity)),
        )

    async def tenant(self, tenant_id: str) -> Tenant | None:
        """Return the tenant's settings (retention, time zone), read at most every few minutes."""
        return await self.ctx.tenants.get(
            tenant_id, lambda: _value(self.ctx.repository.tenants.get(tenant_id, tenant_id))
        )

    async def record_ttl(self, tenant_id: str) -> int | None:
        tenant = await self.tenant(tenant_id)
        return None if tenant is None else tenant.retention_days * 86_400

    async def caller_list(self, tenant_id: str) -> CallerList | None:
        """Return the tenant's blocked and VIP callers (cached; see ``caller_list_changed``)."""
        return await self.ctx.caller_lists.get(
            tenant_id,
            lambda: _value(self.ctx.repository.caller_lists.get(tenant_id, CALLER_LIST_ID)),
        )

    async def hours_verdict(
        self, tenant_id: str, hours: BusinessHours | None, now: datetime
    ) -> HoursVerdict:
        """Tell whether hours are open now, in the tenant's time zone."""
        if hours is None:
            return HoursVerdict(OpenState.OPEN)
        tenant = await self.tenant(tenant_id)
        try:
            return check_hours(hours, now, tenant.time_zone if tenant is not None else "UTC")
        except InvalidInput as err:
            # A schedule that slipped past validation must not keep callers out.
            _LOGGER.warning("Business hours unusable (%s): treating as open", err)
            return HoursVerdict(OpenState.OPEN)

    async def idle_agents(self, tenant_id: str) -> list[Versioned[Agent]]:
        return await self.ctx.repository.agents.find(tenant_id, _IDLE)

    async def anyone_signed_in(self, queue: Queue) -> bool:
        """Return whether any member is signed in to the queue (whatever their status).

        Members are read one by one and the first one signed in ends the search, so the
        usual answer costs one read; only a queue nobody is signed in to reads them all.
        """
        for agent_id in queue.members:
            found = await self.read_agent(queue.tenant_id, agent_id)
            if found is None:
                continue
            agent = found.value
            if (
                agent.has_seat
                and queue.id in agent.signed_in_queue_ids
                and agent.status is not AgentStatus.OFFLINE
            ):
                return True
        return False

    async def waiting_count(self, tenant_id: str, queue_id: str) -> int:
        """Return how many calls wait in the queue's line."""
        return await self.ctx.repository.calls.count(
            tenant_id,
            (
                Condition("queueId", Op.EQ, queue_id),
                Condition("state", Op.EQ, CallState.WAITING.value),
            ),
        )

    # ------------------------------------------------------------ writes
    async def commit(
        self, current: Versioned[Call], new: Call, key: str | None = None
    ) -> Versioned[Call]:
        """Compare-and-set the call document; raise StaleVersion if it changed."""
        if key is not None:
            new = replace(
                new,
                applied_notifications=remember_key(
                    new.applied_notifications, key, self.ctx.settings.applied_keys_kept
                ),
            )
        try:
            saved = await self.ctx.repository.calls.save(new, etag=current.etag)
        except (Conflict, NotFound) as err:
            raise StaleVersion from err
        self._prove(current)
        if new.due_at != current.value.due_at:
            self.hint_call(new)
        return saved

    async def update_call(
        self,
        tenant_id: str,
        call_id: str,
        change: Change[Call],
        *,
        first: Versioned[Call] | None = None,
    ) -> Updated[Call]:
        """Read, change and compare-and-set a call; nothing if it is gone (or keeps changing)."""
        updated = await self.ctx.repository.calls.apply(
            tenant_id,
            call_id,
            change,
            first=first,
            missing=Missing.SKIP,
            after_save=self.call_saved,
            give_up=GiveUp.WARN,
        )
        if first is not None and updated.before is first and updated.changed:
            self._prove(first)
        return updated

    def call_saved(self, before: Call | None, saved: Versioned[Call]) -> None:
        """Tell the timers of a call written with a new due time."""
        if before is None or saved.value.due_at != before.due_at:
            self.hint_call(saved.value)

    async def save_agent(self, current: Versioned[Agent], new: Agent) -> Versioned[Agent]:
        saved = await self.ctx.repository.agents.save(new, etag=current.etag)
        self.agent_saved(current.value, saved)
        return saved

    def agent_saved(self, before: Agent | None, saved: Versioned[Agent]) -> None:
        """Tell the timers of an agent written with a new due time."""
        if before is None or saved.value.due_at != before.due_at:
            self.hint_agent(saved.value)

    async def save_agent_quietly(
        self, current: Versioned[Agent], new: Agent
    ) -> Versioned[Agent] | None:
        """Save unless the agent changed meanwhile (then its new state decides)."""
        try:
            return await self.save_agent(current, new)
        except (Conflict, NotFound):
            return None

    async def apply_agent(
        self,
        tenant_id: str,
        agent_id: str,
        change: Callable[[Agent], Agent | None],
    ) -> Updated[Agent]:
        """Read, change and compare-and-set an agent; nothing if it is missing.

        The version this instance last read or wrote is tried first, without a read: the
        compare-and-set proves it current. Only a change is trusted that way; a decision
        to leave the agent alone, or a lost write, is made again on a fresh read.
        """
        known = self.ctx.repository.agents.last_known(tenant_id, agent_id)
        new = change(known.value) if known is not None else None
        if known is not None and new is not None:
            try:
                return Updated(known, await self.save_agent(known, new))
            except (Conflict, NotFound):
                pass  # changed meanwhile: decide again on what the store holds
        return await self.ctx.repository.agents.apply(
            tenant_id, agent_id, change, missing=Missing.SKIP, after_save=self.agent_saved
        )

    async def update_agent(
        self,
        tenant_id: str,
        agent_id: str,
        change: Callable[[Agent], Agent | None],
    ) -> Versioned[Agent] | None:
        """Change an agent as :meth:`apply_agent`; None if missing or left unchanged."""
        updated = await self.apply_agent(tenant_id, agent_id, change)
        return updated.after if updated.changed else None

    async def release(
        self,
        tenant_id: str,
        agent_id: str,
        call_id: str,
        queue: Queue | None,
        *,
        miss: bool = False,
    ) -> Versioned[Agent] | None:
        """Release an agent rung for ``call_id``; a miss counts toward being set away.

        Ringing does not reset ``idle_since``: an agent who let a call ring out is still the
        one who has waited longest for a call.
        """
        away_after = queue.missed_offers_to_away if queue is not None else 0

        def released(agent: Agent) -> Agent | None:
            if agent.current_call_id != call_id or agent.activity is not AgentActivity.RINGING:
                return None
            new = replace(agent, activity=AgentActivity.IDLE, current_call_id=None, due_at=None)
            if not miss:
                return new
            missed = agent.missed_in_a_row + 1
            if away_after > 0 and missed >= away_after and agent.status is AgentStatus.AVAILABLE:
                _LOGGER.info(
                    "Setting %s away after %s missed calls",
                    agent.id,
                    missed,
                    extra={"tenant_id": tenant_id, "agent_id": agent.id, "call_id": call_id},
                )
                away = replace(
                    new,
                    status=AgentStatus.AWAY,
                    not_ready_reason=f"missed {missed} calls in a row",
                    missed_in_a_row=0,
                )
                return away.with_status_since(agent, self.ctx.clock.now())
            return replace(new, missed_in_a_row=missed)

        try:
            return await self.update_agent(tenant_id, agent_id, released)
        except Conflict:
            _LOGGER.exception(
                "Could not release %s",
                agent_id,
                extra={"tenant_id": tenant_id, "agent_id": agent_id, "call_id": call_id},
            )
            return None

    # ------------------------------------------------------------- hints
    def hint(self, collection: str, tenant_id: str, doc_id: str, due: datetime | None) -> None:
        if due is not None:
            heapq.heappush(self._own_due, (due, collection, tenant_id, doc_id))
            if len(self._own_due) > OWN_TIMERS_KEPT:
                self._own_due = heapq.nsmallest(OWN_TIMERS_KEPT // 2, self._own_due)
        if self.ctx.timers is not None:
            self.ctx.timers.due_changed(collection, tenant_id, doc_id, due)

    def own_due(self, now: datetime) -> list[tuple[str, str, str]]:
        """Take the documents whose due time this instance wrote, due by ``now``, in order.

        A due time the document no longer has as this instance last knew it (changed or
        removed since) is dropped without a read: whoever changed it set what is due now.
        """
        due: dict[tuple[str, str, str], None] = {}
        repository = self.ctx.repository
        while self._own_due and self._own_due[0][0] <= now:
            at, collection, tenant_id, doc_id = heapq.heappop(self._own_due)
            doc = (collection, tenant_id, doc_id)
            if doc in due:
                continue
            known: Versioned[Call] | Versioned[Agent] | None = (
                repository.calls.last_known(tenant_id, doc_id)
                if collection == Repository.CALLS
                else repository.agents.last_known(tenant_id, doc_id)
            )
            if known is not None and known.value.due_at == at:
                due[doc] = None
        return list(due)

    def hint_call(self, call: Call) -> None:
        self.hint(Repository.CALLS, call.tenant_id, call.id, call.due_at)

    def hint_agent(self, agent: Agent) -> None:
        self.hint(Repository.AGENTS, agent.tenant_id, agent.id, agent.due_at)
