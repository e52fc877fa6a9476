"""The routing engine: a queue call's life from the incoming notification to its record.

Every state change that must be atomic is a compare-and-set on one document: the call
document decides what happens to a call (the first handler to change it wins, the others
re-read and decide again), and the agent document decides who an agent is claimed by.
Side effects (Graph actions, agent cards) follow a winning write, so a redelivered
notification or a timer fired twice changes nothing.

Invariant kept after every operation: a waiting call never waits while an idle agent it
may go to exists. Routing a new call therefore only looks at idle agents, and an agent who
becomes free takes the highest-priority, longest-waiting call they may take.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from contactcenter.clock import Clock
from contactcenter.codec import format_timestamp
from contactcenter.errors import Conflict, DomainError, InvalidInput, NotFound
from contactcenter.events import (
    CallEvent,
    CallStateChanged,
    GraphCallState,
    IncomingCall,
    OperationFinished,
    OperationKind,
    OperationStatus,
    RosterUpdated,
    ToneReceived,
)
from contactcenter.model import (
    ActionKind,
    Agent,
    AgentActivity,
    AgentStatus,
    AlertingModel,
    BindingTarget,
    Call,
    CallOutcome,
    CallState,
    Offer,
    Party,
    PartyKind,
    Queue,
    QueueAction,
    RoutingMethod,
    Tenant,
)
from contactcenter.ports import (
    CallControl,
    Condition,
    MediaPrompt,
    Notifier,
    OfferAlert,
    OfferEnd,
    Op,
    RejectReason,
    Store,
    TimerSchedule,
)
from contactcenter.records import build_call_record
from contactcenter.repository import Repository, Versioned
from contactcenter.routing import (
    RoutingPolicy,
    call_order_key,
    can_take_calls_from,
    first_call_for,
    is_eligible,
    member_ranks,
    rank_agents,
    widening_at,
)

_LOGGER = logging.getLogger(__name__)

# Graph's result code for an invitation the invitee declined.
DECLINED_CODE = 603
# How often a handler re-reads and decides again after losing a compare-and-set race.
_ATTEMPTS = 8
_ENDED_CALLS_REMEMBERED = 4096
# Due documents read per timer query.
_TIMER_BATCH = 100
_QUEUES_CACHED = 1024
_FIRST_PAGE = 2


class ActionTrigger(StrEnum):
    """Why a queue's action runs."""

    OVERFLOW = "overflow"
    TIMEOUT = "timeout"
    NO_AGENT = "no-agent"


TRIGGER_OUTCOMES: Mapping[ActionTrigger, CallOutcome] = {
    ActionTrigger.OVERFLOW: CallOutcome.OVERFLOWED,
    ActionTrigger.TIMEOUT: CallOutcome.TIMED_OUT,
    ActionTrigger.NO_AGENT: CallOutcome.NO_AGENT,
}


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """How the engine talks to Graph and how long it waits for things."""

    # Where Graph sends this call's notifications (``/api/calling`` on our public origin).
    callback_uri: str
    # Prompts are fetched by Graph from ``{prompt_base_url}/{tenant id}/{prompt id}.wav``;
    # empty: nothing is prefetched when answering.
    prompt_base_url: str = ""
    # ``established`` must follow our answer within this; otherwise the call is queued anyway.
    answer_timeout_s: float = 30.0
    # After an invitation could not be sent, ring again this much later.
    ring_retry_s: float = 5.0
    # A ringing agent's claim is re-checked against its call this long after the offer
    # expires (releases a claim orphaned by a crash between two writes).
    claim_grace_s: float = 30.0
    # Graph ends a call without a keepAlive for 45 minutes; send one this often.
    keep_alive_s: float = 900.0
    # Attendant routing rings at most this many agents at once.
    max_ring_agents: int = 25
    # Notification keys remembered per call (duplicates come within seconds).
    applied_keys_kept: int = 32
    # Waiting calls read per query when an agent looks for their next call (after a
    # first page of two).
    waiting_page_size: int = 16
    # Tenant settings (record retention) are cached this long.
    tenant_cache_s: float = 300.0
    # Queue configuration is read again after this long: a change (members, method)
    # applies to routing within it. Calls of one notification burst share one read.
    queue_cache_s: float = 1.0
    routing: RoutingPolicy = field(default_factory=RoutingPolicy)
    # Music on hold and greeting used when a queue names none (prompt ids).
    default_greeting_prompt_id: str | None = None
    default_music_prompt_id: str | None = None


@dataclass(frozen=True, slots=True)
class ActionContext:
    """A call the queue will not keep, and the action configured for it."""

    current: Versioned[Call]
    call: Call
    queue: Queue
    action: QueueAction
    trigger: ActionTrigger
    now: datetime
    key: str | None


ActionHandler = Callable[[ActionContext], Awaitable[None]]


class _StaleCall(Exception):
    """The call document changed since it was read: read it again and decide again."""


@dataclass(slots=True)
class _OfferResult:
    """What trying to offer a call to a list of candidates came to."""

    committed: Versioned[Call] | None = None
    claimed: list[str] = field(default_factory=list)
    # Agents whose documents changed under us: the snapshots we held are no longer good.
    lost: list[str] = field(default_factory=list)
    stale: bool = False


class _WaitingLine:
    """The waiting calls of one queue in serving order, read a page at a time."""

    def __init__(self, repository: Repository, tenant_id: str, queue_id: str, size: int) -> None:
        self._repository = repository
        self._tenant_id = tenant_id
        self._queue_id = queue_id
        self._size = size
        self.calls: list[Versioned[Call]] = []
        self._continuation: str | None = None
        self._exhausted = False

    async def _more(self) -> bool:
        if self._exhausted:
            return False
        # The first page is small: an agent usually takes the first call in line, and every
        # call read costs parsing its document.
        size = self._size if self.calls else min(self._size, _FIRST_PAGE)
        found, self._continuation = await self._repository.calls.page(
            self._tenant_id,
            (
                Condition("queueId", Op.EQ, self._queue_id),
                Condition("state", Op.EQ, CallState.WAITING.value),
            ),
            order_by=(("priority", True), ("offeredAt", False)),
            limit=size,
            continuation=self._continuation,
        )
        self.calls.extend(found)
        self._exhausted = self._continuation is None
        return bool(found)

    async def first_for(
        self,
        agent: Agent,
        queue: Queue,
        members: Mapping[str, int],
        now: datetime,
        policy: RoutingPolicy,
        placed: set[str],
    ) -> Versioned[Call] | None:
        """Return the first call the agent may take, reading more pages as needed."""
        if not can_take_calls_from(agent, queue, members, now, policy):
            return None
        start = 0
        while True:
            if start >= len(self.calls) and not await self._more():
                return None
            window = [c.value for c in self.calls[start:] if c.value.id not in placed]
            found = first_call_for(agent, queue, window, now, policy, members)
            if found is not None:
                return next(c for c in self.calls if c.value.id == found.id)
            start = len(self.calls)


def _remember(keys: tuple[str, ...], key: str | None, kept: int) -> tuple[str, ...]:
    if key is None or key in keys:
        return keys
    return (*keys, key)[-kept:]


def _offer_context(call_id: str, attempt: int, agent_id: str) -> str:
    return f"offer:{call_id}:{attempt}:{agent_id}"


def _parse_offer_context(context: str) -> tuple[int, str] | None:
    """Return (attempt, agent id) from an invitation's client context, if it is ours."""
    if not context.startswith("offer:"):
        return None
    parts = context[len("offer:") :].rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2]


def _seconds(start: datetime | None, end: datetime) -> float:
    return 0.0 if start is None else max(0.0, (end - start).total_seconds())


class RoutingEngine:
    """Answers queue calls, routes them to agents and keeps agents' routing state."""

    def __init__(
        self,
        repository: Repository | Store,
        call_control: CallControl,
        notifier: Notifier,
        clock: Clock,
        settings: EngineSettings,
        *,
        timers: TimerSchedule | None = None,
    ) -> None:
        self._repo = repository if isinstance(repository, Repository) else Repository(repository)
        self._calls = call_control
        self._notifier = notifier
        self._clock = clock
        self._settings = settings
        self._policy = settings.routing
        self._timers = timers
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        # Calls this instance ended: later notifications for them need no read. Only a
        # cache; another instance reads the store and finds nothing.
        self._ended: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._tenants: dict[str, tuple[float, Tenant | None]] = {}
        self._queues: dict[tuple[str, str], tuple[float, Queue | None]] = {}
        self.action_handlers: dict[ActionKind, ActionHandler] = {
            ActionKind.DISCONNECT: self._action_disconnect,
            ActionKind.QUEUE: self._action_move_to_queue,
        }

    @property
    def repository(self) -> Repository:
        """The collections the engine keeps its state in."""
        return self._repo

    # ================================================================= events
    async def handle(self, event: CallEvent) -> None:
        """Apply one call event; duplicates and stale events change nothing."""
        if (event.tenant_id, event.call_id) in self._ended:
            return
        if isinstance(event, IncomingCall):
            async with self._lock(event.call_id):
                await self._on_incoming(event)
        elif isinstance(event, CallStateChanged):
            await self._on_state(event)
        elif isinstance(event, OperationFinished):
            if event.kind is OperationKind.INVITE:
                await self._with_call(event.tenant_id, event.call_id, self._on_invite(event))
        elif isinstance(event, RosterUpdated):
            await self._with_call(event.tenant_id, event.call_id, self._on_roster(event))
        elif isinstance(event, ToneReceived):
            _LOGGER.debug("Tone %s ignored: no menu on queue calls", event.tone, extra=_ctx(event))

    async def _on_state(self, event: CallStateChanged) -> None:
        if event.state is GraphCallState.ESTABLISHED:
            await self._with_call(event.tenant_id, event.call_id, self._on_established(event))
        elif event.state is GraphCallState.TERMINATED:
            await self._with_call(event.tenant_id, event.call_id, self._on_terminated(event))
        # establishing, terminating, hold...: nothing to do; a late ``establishing`` after
        # ``established`` is ignored like every other state we do not act on.

    # ------------------------------------------------------------- incoming
    async def _on_incoming(self, event: IncomingCall) -> None:
        now = self._clock.now()
        tenant_id = event.tenant_id
        try:
            binding = (await self._repo.bindings.get(tenant_id, event.target_id)).value
        except NotFound:
            await self._reject(event, now, f"no queue is bound to {event.target_id}")
            return
        if binding.target is not BindingTarget.QUEUE:
            await self._reject(event, now, f"{binding.target.value} {binding.target_id} not served")
            return
        try:
            await self._repo.call_records.get(tenant_id, event.call_id)
        except NotFound:
            pass
        else:
            # The call ended already (its live document is gone): a very late redelivery.
            _LOGGER.info("Incoming call already recorded", extra=_ctx(event))
            return
        queue = await self._queue(tenant_id, binding.target_id)
        if queue is None:
            await self._reject(event, now, f"queue {binding.target_id} does not exist")
            return
        call = Call(
            id=event.call_id,
            tenant_id=tenant_id,
            caller=event.caller,
            target_id=event.target_id,
            state=CallState.ANSWERING,
            chain_id=event.chain_id,
            queue_id=queue.id,
            priority=queue.priority,
            required_skills=dict(queue.required_skills),
            received_at=now,
            due_at=now + timedelta(seconds=self._settings.answer_timeout_s),
            applied_notifications=(event.key,),
            queue_name=queue.name,
            service_level_threshold_s=queue.service_level_threshold_s,
            wrap_up_s=queue.wrap_up_s,
        )
        try:
            created = await self._repo.calls.create(call)
        except Conflict:
            _LOGGER.debug("Incoming call already known", extra=_ctx(event))
            return
        self._hint_call(call)
        try:
            await self._calls.answer(
                call.id, callback_uri=self._settings.callback_uri, prefetch=self._prompts(queue)
            )
        except DomainError as err:
            _LOGGER.warning("Answering failed: %s", err, extra=_ctx(event))
            with contextlib.suppress(_StaleCall):
                await self._finish(
                    created, CallOutcome.FAILED, f"answer failed: {err}", now, hang_up=False
                )
            return
        _LOGGER.info("Answered call for queue %s", queue.name, extra=_ctx(event))

    async def _reject(self, event: IncomingCall, now: datetime, reason: str) -> None:
        call = Call(
            id=event.call_id,
            tenant_id=event.tenant_id,
            caller=event.caller,
            target_id=event.target_id,
            state=CallState.ENDED,
            chain_id=event.chain_id,
            received_at=now,
            ended_at=now,
            outcome=CallOutcome.REJECTED,
            leave_reason=reason,
        )
        try:
            await self._repo.call_records.create(
                build_call_record(call, ttl=await self._record_ttl(event.tenant_id))
            )
        except Conflict:
            return  # rejected already: a redelivery
        _LOGGER.warning("Rejecting call: %s", reason, extra=_ctx(event))
        try:
            await self._calls.reject(event.call_id, RejectReason.NONE)
        except DomainError as err:
            _LOGGER.warning("Reject failed: %s", err, extra=_ctx(event))

    def _prompts(self, queue: Queue) -> list[MediaPrompt]:
        base = self._settings.prompt_base_url.rstrip("/")
        if not base:
            return []
        ids = [
            queue.greeting_prompt_id or self._settings.default_greeting_prompt_id,
            queue.music_prompt_id or self._settings.default_music_prompt_id,
        ]
        return [
            MediaPrompt(uri=f"{base}/{queue.tenant_id}/{prompt_id}.wav", resource_id=prompt_id)
            for prompt_id in ids
            if prompt_id
        ]

    # ---------------------------------------------------------- established
    def _on_established(
        self, event: CallStateChanged
    ) -> Callable[[Versioned[Call]], Awaitable[None]]:
        async def decide(current: Versioned[Call]) -> None:
            call = current.value
            if call.state is not CallState.ANSWERING:
                return  # a redelivery, or late
            await self._start_queueing(current, self._clock.now(), event.key)

        return decide

    async def _start_queueing(self, current: Versioned[Call], now: datetime, key: str) -> None:
        call = current.value
        queue = await self._queue(call.tenant_id, call.queue_id)
        if queue is None:
            await self._finish(current, CallOutcome.FAILED, "queue deleted", now, key=key)
            return
        waiting = replace(
            call,
            state=CallState.WAITING,
            offered_at=now,
            queued_at=now,
            due_at=None,
        )
        await self._enqueue(current, waiting, queue, now, key)

    async def _enqueue(
        self, current: Versioned[Call], call: Call, queue: Queue, now: datetime, key: str | None
    ) -> None:
        """Place a call that has just entered ``queue``: ring an agent, or let it wait."""
        if queue.max_size <= 0:
            await self._run_action(current, call, queue, ActionTrigger.OVERFLOW, now, key)
            return
        idle = await self._idle_agents(call.tenant_id)
        ranked = rank_agents(queue, call, [a.value for a in idle], now, self._policy)
        if ranked:
            by_id = {a.value.id: a for a in idle}
            result = await self._offer(
                current, call, queue, [by_id[a.id] for a in ranked], now, key
            )
            if result.stale:
                raise _StaleCall
            if result.committed is not None:
                return
        waiting_now = await self._repo.calls.count(
            call.tenant_id,
            (
                Condition("queueId", Op.EQ, queue.id),
                Condition("state", Op.EQ, CallState.WAITING.value),
            ),
        )
        if waiting_now >= queue.max_size:
            await self._run_action(current, call, queue, ActionTrigger.OVERFLOW, now, key)
            return
        if not ranked and not await self._anyone_signed_in(queue):
            await self._run_action(current, call, queue, ActionTrigger.NO_AGENT, now, key)
            return
        await self._commit(current, replace(call, due_at=self._waiting_due(call, queue, now)), key)
        await self._notify_queue(call)

    def _waiting_due(self, call: Call, queue: Queue, now: datetime) -> datetime:
        """Return the next time a waiting call needs attention."""
        start = call.queued_at or now
        candidates = [
            start + timedelta(seconds=queue.max_wait_s),
            now + timedelta(seconds=self._settings.keep_alive_s),
        ]
        widen = widening_at(call, queue)
        if widen is not None and widen > now:
            candidates.append(widen)
        return min(candidates)

    def _deadline(self, call: Call, queue: Queue) -> datetime | None:
        start = call.queued_at
        return None if start is None else start + timedelta(seconds=queue.max_wait_s)

    # ----------------------------------------------------------------- offers
    async def _offer(
        self,
        current: Versioned[Call],
        call: Call,
        queue: Queue,
        candidates: Sequence[Versioned[Agent]],
        now: datetime,
        key: str | None,
    ) -> _OfferResult:
        """Claim agents from ``candidates`` (in order) and ring them for the call."""
        result = _OfferResult()
        if not candidates:
            return result
        ring_all = queue.routing_method is RoutingMethod.ATTENDANT
        limit = self._settings.max_ring_agents if ring_all else 1
        expires = now + timedelta(seconds=queue.alert_time_s)
        claimed: list[Versioned[Agent]] = []
        before: dict[str, Agent] = {}
        for candidate in candidates:
            agent = candidate.value
            offered = dict(agent.last_offered_at)
            offered[queue.id] = now
            claim = replace(
                agent,
                activity=AgentActivity.RINGING,
                current_call_id=call.id,
                due_at=expires + timedelta(seconds=self._settings.claim_grace_s),
                last_offered_at=offered,
            )
            try:
                claimed.append(await self._repo.agents.save(claim, etag=candidate.etag))
            except (Conflict, NotFound):
                result.lost.append(agent.id)
                continue
            before[agent.id] = agent
            if len(claimed) >= limit:
                break
        if not claimed:
            return result
        attempt = call.offers_made + 1
        offer = Offer(
            agent_ids=tuple(a.value.id for a in claimed),
            started_at=now,
            expires_at=expires,
            attempt=attempt,
            card_first=queue.alerting_model is AlertingModel.CARD_FIRST,
        )
        deadline = self._deadline(call, queue)
        ringing = replace(
            call,
            state=CallState.RINGING,
            offer=offer,
            offers_made=attempt,
            due_at=min(expires, deadline) if deadline is not None else expires,
        )
        try:
            saved = await self._commit(current, ringing, key)
        except _StaleCall:
            for held in claimed:
                await self._unclaim(held, before[held.value.id])
            result.stale = True
            return result
        for held in claimed:
            self._hint_agent(held.value)
        result.committed = saved
        result.claimed = [a.value.id for a in claimed]
        _LOGGER.info(
            "Offering call to %s (attempt %s)",
            ", ".join(result.claimed),
            attempt,
            extra=_ctx(call),
        )
        await self._ring(saved, [a.value for a in claimed], now)
        return result

    async def _unclaim(self, claimed: Versioned[Agent], before: Agent) -> None:
        """Undo a claim whose call changed before the offer was recorded."""
        try:
            await self._repo.agents.save(before, etag=claimed.etag)
        except (Conflict, NotFound):
            # Changed again since: release it the careful way.
            await self._release(claimed.value.tenant_id, claimed.value.id, before.id, None)

    async def _ring(self, saved: Versioned[Call], agents: Sequence[Agent], now: datetime) -> None:
        """Invite the claimed agents (or, card-first, send them the card)."""
        call = saved.value
        offer = call.offer
        assert offer is not None
        if offer.card_first:
            for agent in agents:
                await self._notify_started(call, agent.id, now, card_first=True)
            return
        participant_ids: dict[str, str] = {}
        failed: list[str] = []
        for agent in agents:
            try:
                invitation = await self._calls.invite(
                    call.id,
                    Party(PartyKind.USER, agent.id, agent.display_name, agent.tenant_id),
                    client_context=_offer_context(call.id, offer.attempt, agent.id),
                )
            except NotFound:
                # Graph no longer knows the call: nobody is left to ring for.
                _LOGGER.warning("Call vanished while inviting", extra=_ctx(call))
                await self._end_vanished(call.tenant_id, call.id)
                return
            except DomainError as err:
                _LOGGER.warning("Inviting %s failed: %s", agent.id, err, extra=_ctx(call))
                failed.append(agent.id)
                continue
            participant_ids[agent.id] = invitation.participant_id or ""
            await self._notify_started(call, agent.id, now, card_first=False)
        await self._record_invitations(saved, offer.attempt, participant_ids, failed, now)

    async def _record_invitations(
        self,
        saved: Versioned[Call],
        attempt: int,
        participant_ids: Mapping[str, str],
        failed: Sequence[str],
        now: datetime,
        *,
        carded: bool = False,
    ) -> None:
        """Keep the participant ids (to cancel invitations) and drop failed invitations.

        ``carded``: the agents whose invitation failed have an offer card to update.
        """
        if not failed and not any(participant_ids.values()):
            return
        call_id, tenant_id = saved.value.id, saved.value.tenant_id
        first: Versioned[Call] | None = saved
        dropped: list[str] = []
        for _ in range(_ATTEMPTS):
            current = first or await self._read_call(tenant_id, call_id)
            first = None
            if current is None:
                break
            call = current.value
            offer = call.offer
            if call.state is not CallState.RINGING or offer is None or offer.attempt != attempt:
                break
            ids = dict(offer.participant_ids)
            ids.update({a: p for a, p in participant_ids.items() if a in offer.agent_ids})
            dropped = [a for a in failed if a in offer.agent_ids]
            remaining = tuple(a for a in offer.agent_ids if a not in dropped)
            if remaining:
                new = replace(call, offer=replace(offer, agent_ids=remaining, participant_ids=ids))
            else:
                # Nobody could be invited: wait, and ring again a little later.
                queue = await self._queue(tenant_id, call.queue_id)
                retry = now + timedelta(seconds=self._settings.ring_retry_s)
                due = retry
                if queue is not None:
                    due = min(retry, self._waiting_due(call, queue, now))
                new = replace(
                    call,
                    state=CallState.WAITING,
                    offer=None,
                    due_at=due,
                    ring_s=call.ring_s + _seconds(offer.started_at, now),
                )
            try:
                await self._commit(current, new, None)
            except _StaleCall:
                continue
            break
        for agent_id in dropped:
            # Not the agent's fault: no missed offer. The agent is not offered the call at
            # once again, so a failing invitation cannot loop.
            await self._release(tenant_id, agent_id, call_id, None)
            if carded:
                await self._notify_ended(saved.value, agent_id, OfferEnd.WITHDRAWN, now)

    # ------------------------------------------------------- invite results
    def _on_invite(self, event: OperationFinished) -> Callable[[Versioned[Call]], Awaitable[None]]:
        async def decide(current: Versioned[Call]) -> None:
            if event.status not in (OperationStatus.COMPLETED, OperationStatus.FAILED):
                return
            call = current.value
            if event.key in call.applied_notifications:
                return
            parsed = _parse_offer_context(event.client_context)
            if parsed is not None:
                attempt: int | None = parsed[0]
                agent_id = parsed[1]
            elif event.user_ids:
                attempt, agent_id = None, event.user_ids[0]
            else:
                _LOGGER.debug("Invite result without an agent", extra=_ctx(event))
                return
            offer = call.offer
            now = self._clock.now()
            current_offer = (
                call.state is CallState.RINGING
                and offer is not None
                and agent_id in offer.agent_ids
                and (attempt is None or attempt == offer.attempt)
            )
            if not current_offer:
                if event.status is OperationStatus.COMPLETED and call.agent_id != agent_id:
                    # Joined after the offer was withdrawn: the roster update that follows
                    # names their participant, and they are removed then.
                    _LOGGER.info("Late answer by %s", agent_id, extra=_ctx(event))
                return
            if event.status is OperationStatus.COMPLETED:
                await self._connect(current, agent_id, now, event.key)
                return
            declined = event.result_code == DECLINED_CODE
            await self._offers_lapsed(
                current,
                (agent_id,),
                OfferEnd.DECLINED if declined else OfferEnd.MISSED,
                now,
                event.key,
                cancel=False,
            )

        return decide

    async def _connect(
        self, current: Versioned[Call], agent_id: str, now: datetime, key: str | None
    ) -> None:
        """Connect the call to the agent who answered; withdraw every other invitation."""
        call = current.value
        offer = call.offer
        assert offer is not None
        try:
            agent = await self._repo.agents.get(call.tenant_id, agent_id)
        except NotFound:
            agent = None
        if agent is None or agent.value.current_call_id != call.id:
            # The claim is not there (never written, or released by a racing handler): the
            # agent must not talk to a caller the engine does not route to them.
            _LOGGER.error("Answer by %s without a claim on the call", agent_id, extra=_ctx(call))
            await self._offers_lapsed(current, (agent_id,), OfferEnd.MISSED, now, key, cancel=True)
            return
        connected = replace(
            call,
            state=CallState.CONNECTED,
            agent_id=agent_id,
            agent_name=agent.value.display_name,
            answered_at=now,
            ring_s=call.ring_s + _seconds(offer.started_at, now),
            due_at=now + timedelta(seconds=self._settings.keep_alive_s),
        )
        saved = await self._commit(current, connected, key)
        on_call = replace(
            agent.value,
            activity=AgentActivity.ON_CALL,
            missed_in_a_row=0,
            due_at=now + timedelta(seconds=self._settings.keep_alive_s),
        )
        try:
            await self._save_agent(agent, on_call)
        except (Conflict, NotFound):
            await self._update_agent(
                call.tenant_id,
                agent_id,
                lambda a: (
                    replace(a, activity=AgentActivity.ON_CALL, missed_in_a_row=0)
                    if a.current_call_id == call.id
                    else None
                ),
            )
        _LOGGER.info("Connected to %s", agent_id, extra=_ctx(call))
        await self._notify_ended(saved.value, agent_id, OfferEnd.ANSWERED, now)
        others = [a for a in offer.agent_ids if a != agent_id]
        await self._withdraw(call, offer, others, OfferEnd.TAKEN_BY_OTHER, now, match=True)

    async def _withdraw(
        self,
        call: Call,
        offer: Offer,
        agent_ids: Sequence[str],
        how: OfferEnd,
        now: datetime,
        *,
        match: bool,
    ) -> list[Versioned[Agent]]:
        """Cancel these agents' invitations, release them and tell them (no missed offer)."""
        freed: list[Versioned[Agent]] = []
        for agent_id in agent_ids:
            await self._cancel_invitation(call, offer, agent_id)
            released = await self._release(call.tenant_id, agent_id, call.id, None)
            await self._notify_ended(call, agent_id, how, now)
            if released is not None:
                freed.append(released)
        if match and freed:
            await self._match(call.tenant_id, freed, now)
        return freed

    async def _cancel_invitation(self, call: Call, offer: Offer, agent_id: str) -> None:
        participant_id = offer.participant_ids.get(agent_id)
        if not participant_id:
            return
        try:
            await self._calls.remove_participant(call.id, participant_id)
        except DomainError as err:
            # Gone already (answered elsewhere, declined, call ended): nothing to cancel.
            _LOGGER.debug("Cancelling %s's invitation: %s", agent_id, err, extra=_ctx(call))

    async def _offers_lapsed(
        self,
        current: Versioned[Call],
        agent_ids: Sequence[str],
        how: OfferEnd,
        now: datetime,
        key: str | None,
        *,
        cancel: bool,
    ) -> None:
        """End these agents' offers unanswered (a missed offer each) and route the call on."""
        call = current.value
        offer = call.offer
        assert offer is not None
        ended = [a for a in offer.agent_ids if a in agent_ids]
        if not ended:
            return
        remaining = tuple(a for a in offer.agent_ids if a not in ended)
        missed = (*call.missed_agent_ids, *ended)
        queue = await self._queue(call.tenant_id, call.queue_id)
        if remaining:
            ids = {a: p for a, p in offer.participant_ids.items() if a in remaining}
            new = replace(
                call,
                missed_agent_ids=missed,
                offer=replace(offer, agent_ids=remaining, participant_ids=ids),
            )
        else:
            new = replace(
                call,
                state=CallState.WAITING,
                offer=None,
                missed_agent_ids=missed,
                ring_s=call.ring_s + _seconds(offer.started_at, now),
                due_at=self._waiting_due(call, queue, now) if queue is not None else now,
            )
        saved = await self._commit(current, new, key)
        freed: list[Versioned[Agent]] = []
        for agent_id in ended:
            if cancel:
                await self._cancel_invitation(call, offer, agent_id)
            released = await self._release(call.tenant_id, agent_id, call.id, queue, miss=True)
            if released is not None and released.value.status is not AgentStatus.AVAILABLE:
                await self._notify_ended(call, agent_id, OfferEnd.SET_AWAY, now)
            else:
                await self._notify_ended(call, agent_id, how, now)
            if released is not None:
                freed.append(released)
        _LOGGER.info("Offer %s for %s", how.value, ", ".join(ended), extra=_ctx(call))
        if remaining:
            if freed:
                await self._match(call.tenant_id, freed, now)
            return
        if queue is None:
            await self._finish(saved, CallOutcome.FAILED, "queue deleted", now)
            await self._match(call.tenant_id, freed, now)
            return
        deadline = self._deadline(saved.value, queue)
        if deadline is not None and now >= deadline:
            await self._run_action(saved, saved.value, queue, ActionTrigger.TIMEOUT, now, None)
            await self._match(call.tenant_id, freed, now)
            return
        await self._route_on(saved, queue, freed, now)

    async def _route_on(
        self,
        saved: Versioned[Call],
        queue: Queue,
        freed: Sequence[Versioned[Agent]],
        now: datetime,
    ) -> None:
        """Ring the next agents for a call whose offer lapsed; give the freed agents work.

        The call competes, in one match, with every other call waiting for the same agents:
        the idle agents it may go to and the agents its offer just freed. The freed ones
        missed it, so the queue's method tries the others first.
        """
        call = saved.value
        freed_ids = {a.value.id for a in freed}
        idle = [a for a in await self._idle_agents(call.tenant_id) if a.value.id not in freed_ids]
        ranked = rank_agents(queue, call, [a.value for a in idle], now, self._policy)
        by_id = {a.value.id: a for a in idle}
        await self._match(call.tenant_id, [*freed, *(by_id[a.id] for a in ranked)], now)

    # ---------------------------------------------------------------- roster
    def _on_roster(self, event: RosterUpdated) -> Callable[[Versioned[Call]], Awaitable[None]]:
        async def decide(current: Versioned[Call]) -> None:
            call = current.value
            if event.key in call.applied_notifications:
                return
            now = self._clock.now()
            users = {p.user_id: p for p in event.participants if p.user_id}
            if call.state is CallState.RINGING and call.offer is not None:
                offer = call.offer
                joined = [
                    a
                    for a in offer.agent_ids
                    if a in users and not users[a].is_in_lobby and a in self._invited(offer)
                ]
                if joined:
                    winner = joined[0]
                    await self._connect(current, winner, now, event.key)
                    for late in joined[1:]:
                        await self._remove_participant(call, users[late].participant_id)
                    return
                learned = {
                    a: users[a].participant_id
                    for a in offer.agent_ids
                    if a in users and not offer.participant_ids.get(a)
                }
                if learned:
                    ids = {**offer.participant_ids, **learned}
                    new = replace(call, offer=replace(offer, participant_ids=ids))
                    await self._commit(current, new, event.key)
                return
            if call.state is not CallState.CONNECTED or call.agent_id is None:
                return
            # Whoever else we offered this call to has no place in it.
            offered = set(call.missed_agent_ids)
            if call.offer is not None:
                offered.update(call.offer.agent_ids)
            offered.discard(call.agent_id)
            for user_id in offered & users.keys():
                await self._remove_participant(call, users[user_id].participant_id)
            if call.agent_id not in users:
                # The agent hung up: the talk is over, and so is the caller's call.
                await self._end_talk(current, now, event.key, hang_up=True)

        return decide

    @staticmethod
    def _invited(offer: Offer) -> Sequence[str]:
        return offer.agent_ids if not offer.card_first else tuple(offer.participant_ids)

    async def _remove_participant(self, call: Call, participant_id: str) -> None:
        _LOGGER.info("Removing participant %s", participant_id, extra=_ctx(call))
        try:
            await self._calls.remove_participant(call.id, participant_id)
        except DomainError as err:
            _LOGGER.debug("Removing %s: %s", participant_id, err, extra=_ctx(call))

    # ------------------------------------------------------------ terminated
    def _on_terminated(
        self, event: CallStateChanged
    ) -> Callable[[Versioned[Call]], Awaitable[None]]:
        async def decide(current: Versioned[Call]) -> None:
            call = current.value
            now = self._clock.now()
            if call.state is CallState.CONNECTED:
                await self._end_talk(current, now, event.key, hang_up=False)
                return
            if call.state is CallState.ENDED:
                return
            reason = event.result_message or "caller hung up"
            await self._finish(
                current,
                CallOutcome.ABANDONED,
                reason,
                now,
                key=event.key,
                hang_up=False,
                offer_end=OfferEnd.CALLER_HUNG_UP,
            )

        return decide

    async def _end_vanished(self, tenant_id: str, call_id: str) -> None:
        """End a call Graph no longer knows (called from within the call's own handling)."""
        for _ in range(_ATTEMPTS):
            current = await self._read_call(tenant_id, call_id)
            if current is None:
                return
            now = self._clock.now()
            try:
                if current.value.state is CallState.CONNECTED:
                    await self._end_talk(current, now, None, hang_up=False)
                else:
                    await self._finish(
                        current, CallOutcome.FAILED, "call vanished at Graph", now, hang_up=False
                    )
            except _StaleCall:
                continue
            return

    # ------------------------------------------------------------ endings
    async def _finish(
        self,
        current: Versioned[Call],
        outcome: CallOutcome,
        reason: str,
        now: datetime,
        *,
        base: Call | None = None,
        key: str | None = None,
        hang_up: bool = True,
        offer_end: OfferEnd = OfferEnd.WITHDRAWN,
    ) -> None:
        """End a call that was not answered: record it, cancel invitations, free agents.

        ``base`` is what the engine decided about the call so far (offered time, queue),
        when that is not written yet.
        """
        stored = current.value
        call = base or stored
        offer = stored.offer if stored.state is CallState.RINGING else None
        ended = replace(
            call,
            state=CallState.ENDED,
            outcome=outcome,
            ended_at=now,
            leave_reason=reason,
            offer=None,
            due_at=None,
            ring_s=call.ring_s + (_seconds(offer.started_at, now) if offer else 0.0),
        )
        await self._finalize(current, ended)
        _LOGGER.info("Call ended: %s (%s)", outcome.value, reason, extra=_ctx(call))
        freed: list[Versioned[Agent]] = []
        if offer is not None:
            freed = await self._withdraw(call, offer, offer.agent_ids, offer_end, now, match=False)
        if hang_up:
            await self._hang_up(call)
        if freed:
            await self._match(call.tenant_id, freed, now)

    async def _end_talk(
        self, current: Versioned[Call], now: datetime, key: str | None, *, hang_up: bool
    ) -> None:
        """End an answered call: record it, hang up if needed, start the agent's wrap-up."""
        call = current.value
        ended = replace(
            call, state=CallState.ENDED, outcome=CallOutcome.ANSWERED, ended_at=now, due_at=None
        )
        await self._finalize(current, ended)
        _LOGGER.info("Talk ended after %.0f s", _seconds(call.answered_at, now), extra=_ctx(call))
        if hang_up:
            await self._hang_up(call)
        agent_id = call.agent_id
        if agent_id is None:
            return
        wrap_up = timedelta(seconds=call.wrap_up_s)

        def after_talk(agent: Agent) -> Agent | None:
            if agent.current_call_id != call.id:
                return None
            if wrap_up > timedelta(0):
                end = now + wrap_up
                return replace(
                    agent,
                    activity=AgentActivity.WRAP_UP,
                    current_call_id=None,
                    wrap_up_until=end,
                    due_at=end,
                    # The idle period starts when wrap-up ends.
                    idle_since=end,
                    last_call_ended_at=now,
                )
            return replace(
                agent,
                activity=AgentActivity.IDLE,
                current_call_id=None,
                wrap_up_until=None,
                due_at=None,
                idle_since=now,
                last_call_ended_at=now,
            )

        updated = await self._update_agent(call.tenant_id, agent_id, after_talk)
        if updated is not None and updated.value.activity is AgentActivity.IDLE:
            await self._match(call.tenant_id, [updated], now)

    async def _finalize(self, current: Versioned[Call], ended: Call) -> None:
        """Write the call's record and remove the live call document.

        Creating the record is the point of no return: a second finalizer (a retry, or
        another host) finds it and stops. If the call changed meanwhile, the record is
        taken back and the caller decides again on the new state.
        """
        record = build_call_record(ended, ttl=await self._record_ttl(ended.tenant_id))
        try:
            created = await self._repo.call_records.create(record)
        except Conflict:
            _LOGGER.info("Call already recorded", extra=_ctx(ended))
            with contextlib.suppress(NotFound, Conflict):
                await self._repo.calls.delete(ended.tenant_id, ended.id, etag=current.etag)
            self._mark_ended(ended)
            raise _StaleCall from None
        try:
            await self._repo.calls.delete(ended.tenant_id, ended.id, etag=current.etag)
        except Conflict:
            with contextlib.suppress(NotFound, Conflict):
                await self._repo.call_records.delete(ended.tenant_id, ended.id, etag=created.etag)
            raise _StaleCall from None
        except NotFound:
            pass
        self._mark_ended(ended)
        self._hint("calls", ended.tenant_id, ended.id, None)
        await self._notify_queue(ended)

    def _mark_ended(self, call: Call) -> None:
        self._ended[(call.tenant_id, call.id)] = None
        while len(self._ended) > _ENDED_CALLS_REMEMBERED:
            self._ended.popitem(last=False)

    async def _hang_up(self, call: Call) -> None:
        try:
            await self._calls.hang_up(call.id)
        except DomainError as err:
            _LOGGER.info("Hang-up: %s", err, extra=_ctx(call))

    # ---------------------------------------------------------------- actions
    async def _run_action(
        self,
        current: Versioned[Call],
        call: Call,
        queue: Queue,
        trigger: ActionTrigger,
        now: datetime,
        key: str | None,
    ) -> None:
        action = {
            ActionTrigger.OVERFLOW: queue.overflow_action,
            ActionTrigger.TIMEOUT: queue.timeout_action,
            ActionTrigger.NO_AGENT: queue.no_agent_action,
        }[trigger]
        handler = self.action_handlers.get(action.kind, self._action_end_call)
        _LOGGER.info("Queue %s: %s -> %s", queue.name, trigger, action.kind, extra=_ctx(call))
        await handler(ActionContext(current, call, queue, action, trigger, now, key))

    async def _action_disconnect(self, context: ActionContext) -> None:
        await self._end_for_action(context, f"{context.trigger.value}: disconnected")

    async def _action_end_call(self, context: ActionContext) -> None:
        # Redirects, voicemail and callbacks need media the queue cannot offer here: the
        # outcome is recorded and the caller is released rather than left waiting.
        reason = f"{context.trigger.value}: {context.action.kind.value} not available"
        await self._end_for_action(context, reason)

    async def _end_for_action(self, context: ActionContext, reason: str) -> None:
        await self._finish(
            context.current,
            TRIGGER_OUTCOMES[context.trigger],
            reason,
            context.now,
            base=context.call,
            key=context.key,
            offer_end=OfferEnd.WITHDRAWN,
        )

    async def _action_move_to_queue(self, context: ActionContext) -> None:
        call, queue = context.call, context.queue
        target_id = context.action.target
        hops = (*call.queue_hops, queue.id)
        target = None
        if target_id and target_id not in hops:
            target = await self._queue(call.tenant_id, target_id)
        if target is None:
            _LOGGER.warning("Cannot move to queue %s: disconnecting", target_id, extra=_ctx(call))
            await self._end_for_action(context, f"{context.trigger.value}: no queue to move to")
            return
        current = context.current
        offer = current.value.offer if current.value.state is CallState.RINGING else None
        moved = replace(
            call,
            state=CallState.WAITING,
            queue_id=target.id,
            queue_hops=hops,
            queued_at=context.now,
            offer=None,
            # The caller keeps their place: offered time and priority stay.
            required_skills=dict(target.required_skills),
            queue_name=target.name,
            service_level_threshold_s=target.service_level_threshold_s,
            wrap_up_s=target.wrap_up_s,
            ring_s=call.ring_s + (_seconds(offer.started_at, context.now) if offer else 0.0),
        )
        if offer is not None:
            # Record the move first, then release the agents rung in the old queue.
            saved = await self._commit(current, replace(moved, due_at=context.now), context.key)
            await self._withdraw(
                call, offer, offer.agent_ids, OfferEnd.WITHDRAWN, context.now, match=True
            )
            current = saved
        await self._enqueue(current, moved, target, context.now, context.key)

    # ================================================================= timers
    async def fire_due_timers(self, now: datetime | None = None) -> int:
        """Handle every call and agent timer due by ``now``; return how many were due.

        Timers are handled in the order they fell due. Any host may run this at any time:
        each document is re-checked (still due, still in the state the timer was set for)
        and changed by compare-and-set, so a timer fired twice, or by two hosts, acts once.
        """
        when = now or self._clock.now()
        due = (Condition("dueAt", Op.LE, format_timestamp(when)),)
        by_due = (("dueAt", False),)
        fired = 0
        seen: set[tuple[str, str, str]] = set()
        while True:
            calls = await self._repo.calls.find(None, due, order_by=by_due, limit=_TIMER_BATCH)
            agents = await self._repo.agents.find(None, due, order_by=by_due, limit=_TIMER_BATCH)
            timers: list[tuple[datetime, str, str, Versioned[Call] | Versioned[Agent]]] = []
            for found_call in calls:
                if found_call.value.due_at is not None:
                    timers.append(
                        (found_call.value.due_at, "calls", found_call.value.id, found_call)
                    )
            for found_agent in agents:
                if found_agent.value.due_at is not None:
                    timers.append(
                        (found_agent.value.due_at, "agents", found_agent.value.id, found_agent)
                    )
            timers.sort(key=lambda timer: timer[:3])
            progress = False
            for _, kind, _, found in timers:
                ident = (kind, found.value.tenant_id, found.value.id)
                if ident in seen:
                    continue
                seen.add(ident)
                progress = True
                fired += 1
                if isinstance(found.value, Call):
                    await self._with_call(
                        found.value.tenant_id,
                        found.value.id,
                        self._on_call_due(when),
                        first=found,
                    )
                else:
                    await self._on_agent_due(found, when)
            if not progress or (len(calls) < _TIMER_BATCH and len(agents) < _TIMER_BATCH):
                return fired

    def _on_call_due(self, now: datetime) -> Callable[[Versioned[Call]], Awaitable[None]]:
        async def decide(current: Versioned[Call]) -> None:
            call = current.value
            if call.due_at is None or call.due_at > now:
                return  # handled meanwhile
            if call.state is CallState.ANSWERING:
                # ``established`` never came: queue the caller rather than drop them.
                _LOGGER.warning("No established notification; queueing", extra=_ctx(call))
                await self._start_queueing(current, now, f"{call.id}:answer-timeout")
                return
            if call.state is CallState.CONNECTED:
                await self._keep_alive(current, now)
                return
            queue = await self._queue(call.tenant_id, call.queue_id)
            if queue is None:
                await self._finish(current, CallOutcome.FAILED, "queue deleted", now)
                return
            deadline = self._deadline(call, queue)
            timed_out = deadline is not None and now >= deadline
            if call.state is CallState.RINGING and call.offer is not None:
                offer = call.offer
                if timed_out:
                    await self._run_action(current, call, queue, ActionTrigger.TIMEOUT, now, None)
                elif offer.expires_at <= now:
                    await self._offers_lapsed(
                        current, offer.agent_ids, OfferEnd.MISSED, now, None, cancel=True
                    )
                else:
                    await self._commit(current, replace(call, due_at=offer.expires_at), None)
                return
            if call.state is not CallState.WAITING:
                return
            if timed_out:
                await self._run_action(current, call, queue, ActionTrigger.TIMEOUT, now, None)
                return
            if not await self._keep_alive_waiting(call):
                # The terminated notification was lost: the caller is gone.
                await self._finish(
                    current, CallOutcome.ABANDONED, "call no longer exists", now, hang_up=False
                )
                return
            # Skills widened, or an invitation is to be retried: the agents who may now take
            # the call look for their best call (this one, or one waiting longer).
            idle = await self._idle_agents(call.tenant_id)
            ranked = rank_agents(queue, call, [a.value for a in idle], now, self._policy)
            if ranked:
                by_id = {a.value.id: a for a in idle}
                await self._match(call.tenant_id, [by_id[a.id] for a in ranked], now)
                reread = await self._read_call(call.tenant_id, call.id)
                if reread is None or reread.value.state is not CallState.WAITING:
                    return
                current, call = reread, reread.value
            await self._commit(current, replace(call, due_at=self._waiting_due(call, queue, now)))

        return decide

    async def _keep_alive_waiting(self, call: Call) -> bool:
        """Keep a waiting call alive at Graph; return False if Graph no longer knows it."""
        try:
            await self._calls.keep_alive(call.id)
        except NotFound:
            return False
        except DomainError as err:
            _LOGGER.warning("keepAlive failed: %s", err, extra=_ctx(call))
        return True

    async def _keep_alive(self, current: Versioned[Call], now: datetime) -> None:
        call = current.value
        try:
            await self._calls.keep_alive(call.id)
        except NotFound:
            # The terminated notification was lost: the talk is over.
            await self._end_talk(current, now, None, hang_up=False)
            return
        except DomainError as err:
            _LOGGER.warning("keepAlive failed: %s", err, extra=_ctx(call))
        await self._commit(
            current, replace(call, due_at=now + timedelta(seconds=self._settings.keep_alive_s))
        )

    async def _on_agent_due(self, found: Versioned[Agent], now: datetime) -> None:
        agent = found.value
        if agent.due_at is None or agent.due_at > now:
            return
        if agent.activity is AgentActivity.WRAP_UP:
            if agent.wrap_up_until is not None and agent.wrap_up_until > now:
                await self._save_agent_quietly(found, replace(agent, due_at=agent.wrap_up_until))
                return
            idle = replace(agent, activity=AgentActivity.IDLE, wrap_up_until=None, due_at=None)
            saved = await self._save_agent_quietly(found, idle)
            if saved is not None:
                await self._match(agent.tenant_id, [saved], now)
            return
        if agent.activity is AgentActivity.IDLE or agent.current_call_id is None:
            await self._save_agent_quietly(found, replace(agent, due_at=None))
            return
        await self._check_claim(found, now)

    async def _check_claim(self, found: Versioned[Agent], now: datetime) -> None:
        """Reconcile a ringing or on-call agent with the call they are claimed for."""
        agent = found.value
        assert agent.current_call_id is not None
        call = await self._read_call(agent.tenant_id, agent.current_call_id)
        value = call.value if call is not None else None
        if (
            value is not None
            and value.state is CallState.RINGING
            and value.offer is not None
            and agent.id in value.offer.agent_ids
        ):
            grace = timedelta(seconds=self._settings.claim_grace_s)
            # The call's own ring timer settles the offer; look again after it.
            recheck = max(value.offer.expires_at, now) + grace
            await self._save_agent_quietly(found, replace(agent, due_at=recheck))
            return
        if value is not None and value.state is CallState.CONNECTED and value.agent_id == agent.id:
            recheck = now + timedelta(seconds=self._settings.keep_alive_s)
            await self._save_agent_quietly(
                found, replace(agent, activity=AgentActivity.ON_CALL, due_at=recheck)
            )
            return
        _LOGGER.warning(
            "Releasing %s: claim on call %s is orphaned",
            agent.id,
            agent.current_call_id,
            extra={"tenant_id": agent.tenant_id, "agent_id": agent.id},
        )
        released = replace(agent, activity=AgentActivity.IDLE, current_call_id=None, due_at=None)
        saved = await self._save_agent_quietly(found, released)
        if saved is not None:
            await self._match(agent.tenant_id, [saved], now)

    # =========================================================== agent actions
    async def sign_in(self, tenant_id: str, agent_id: str, queue_id: str) -> Agent:
        """Sign the agent in to a queue they are a member of (available if they were offline)."""
        self._queues.pop((tenant_id, queue_id), None)  # membership must be current
        queue = await self._queue(tenant_id, queue_id)
        if queue is None or agent_id not in queue.members:
            raise InvalidInput(f"{agent_id} is not a member of queue {queue_id}", field="queueId")
        now = self._clock.now()

        def signed_in(agent: Agent) -> Agent | None:
            if queue_id in agent.signed_in_queue_ids and agent.status is not AgentStatus.OFFLINE:
                return None
            new = replace(agent, signed_in_queue_ids=agent.signed_in_queue_ids | {queue_id})
            if agent.status is AgentStatus.OFFLINE:
                new = replace(new, status=AgentStatus.AVAILABLE, not_ready_reason=None)
                new = self._became_available(new, now)
            return new

        return await self._change_agent(tenant_id, agent_id, signed_in, now)

    async def sign_out(self, tenant_id: str, agent_id: str, queue_id: str | None = None) -> Agent:
        """Sign the agent out of one queue, or out of every queue (and offline)."""
        now = self._clock.now()

        def signed_out(agent: Agent) -> Agent | None:
            if queue_id is None:
                return replace(
                    agent,
                    signed_in_queue_ids=frozenset(),
                    status=AgentStatus.OFFLINE,
                    not_ready_reason=None,
                )
            if queue_id not in agent.signed_in_queue_ids:
                return None
            return replace(agent, signed_in_queue_ids=agent.signed_in_queue_ids - {queue_id})

        return await self._change_agent(tenant_id, agent_id, signed_out, now)

    async def set_status(
        self, tenant_id: str, agent_id: str, status: AgentStatus, reason: str | None = None
    ) -> Agent:
        """Set what the agent chose (available, away...); available agents get waiting calls."""
        now = self._clock.now()

        def with_status(agent: Agent) -> Agent | None:
            if agent.status is status and agent.not_ready_reason == reason:
                return None
            new = replace(agent, status=status, not_ready_reason=reason)
            if status is AgentStatus.AVAILABLE and agent.status is not AgentStatus.AVAILABLE:
                new = self._became_available(replace(new, missed_in_a_row=0), now)
            return new

        return await self._change_agent(tenant_id, agent_id, with_status, now)

    async def update_presence(
        self, tenant_id: str, agent_id: str, availability: str, *, activity: str | None = None
    ) -> Agent:
        """Record the agent's Teams presence; one that now allows calls gets waiting calls."""
        now = self._clock.now()
        # An activity such as InAMeeting says more than the availability Busy.
        presence = activity if activity in {"InAMeeting", "InACall", "Presenting"} else None
        value = presence or availability

        def with_presence(agent: Agent) -> Agent | None:
            if agent.presence == value:
                return None
            return replace(agent, presence=value, presence_at=now)

        return await self._change_agent(tenant_id, agent_id, with_presence, now)

    async def end_wrap_up(self, tenant_id: str, agent_id: str) -> Agent:
        """End the agent's wrap-up now (they are ready before the queue's wrap-up time)."""
        now = self._clock.now()

        def ready(agent: Agent) -> Agent | None:
            if agent.activity is not AgentActivity.WRAP_UP:
                return None
            return replace(
                agent,
                activity=AgentActivity.IDLE,
                wrap_up_until=None,
                due_at=None,
                idle_since=now,
            )

        return await self._change_agent(tenant_id, agent_id, ready, now)

    @staticmethod
    def _became_available(agent: Agent, now: datetime) -> Agent:
        if agent.activity is AgentActivity.IDLE:
            return replace(agent, idle_since=now)
        return agent

    async def _change_agent(
        self,
        tenant_id: str,
        agent_id: str,
        change: Callable[[Agent], Agent | None],
        now: datetime,
    ) -> Agent:
        """Apply an agent's own change; if it made them free for calls, offer them one."""
        for _ in range(_ATTEMPTS):
            try:
                current = await self._repo.agents.get(tenant_id, agent_id)
            except NotFound:
                raise InvalidInput(f"no agent {agent_id}", field="agentId") from None
            new = change(current.value)
            if new is None:
                return current.value
            try:
                saved = await self._save_agent(current, new)
            except Conflict:
                continue
            break
        else:
            raise Conflict(f"agent {agent_id}: gave up after {_ATTEMPTS} lost races")
        agent = saved.value
        if agent.activity is AgentActivity.IDLE and agent.status is AgentStatus.AVAILABLE:
            await self._match(tenant_id, [saved], now)
            reread = await self._read_agent(tenant_id, agent_id)
            if reread is not None:
                return reread.value
        return agent

    async def route_waiting_calls(self, tenant_id: str, queue_id: str) -> None:
        """Offer the queue's waiting calls to its idle agents (after a configuration change).

        Membership, skills, presence rules or the routing method may now let idle agents
        take calls that wait; nothing else would tell the engine.
        """
        self._queues.pop((tenant_id, queue_id), None)
        queue = await self._queue(tenant_id, queue_id)
        if queue is None:
            return
        members = member_ranks(queue)
        now = self._clock.now()
        idle = [
            agent
            for agent in await self._idle_agents(tenant_id)
            if can_take_calls_from(agent.value, queue, members, now, self._policy)
        ]
        await self._match(tenant_id, idle, now)

    # ======================================================= card-first offers
    async def accept_offer(self, tenant_id: str, call_id: str, agent_id: str) -> bool:
        """Accept a card-first offer: ring the agent's Teams client; False if it is gone."""
        accepted = False

        async def decide(current: Versioned[Call]) -> None:
            nonlocal accepted
            call = current.value
            offer = call.offer
            now = self._clock.now()
            if (
                call.state is not CallState.RINGING
                or offer is None
                or agent_id not in offer.agent_ids
                or not offer.card_first
                or agent_id in offer.participant_ids
                or offer.expires_at <= now
            ):
                return
            alert_time = offer.expires_at - offer.started_at
            others = [a for a in offer.agent_ids if a != agent_id]
            ringing = replace(
                offer,
                agent_ids=(agent_id,),
                expires_at=now + alert_time,
                participant_ids={agent_id: ""},
            )
            queue = await self._queue(call.tenant_id, call.queue_id)
            deadline = self._deadline(call, queue) if queue is not None else None
            due = ringing.expires_at if deadline is None else min(ringing.expires_at, deadline)
            saved = await self._commit(current, replace(call, offer=ringing, due_at=due), None)
            accepted = True
            await self._withdraw(call, offer, others, OfferEnd.TAKEN_BY_OTHER, now, match=True)
            await self._update_agent(
                tenant_id,
                agent_id,
                lambda a: (
                    replace(
                        a,
                        due_at=ringing.expires_at + timedelta(seconds=self._settings.claim_grace_s),
                    )
                    if a.current_call_id == call_id
                    else None
                ),
            )
            agent = await self._read_agent(tenant_id, agent_id)
            display_name = agent.value.display_name if agent is not None else ""
            try:
                invitation = await self._calls.invite(
                    call_id,
                    Party(PartyKind.USER, agent_id, display_name, tenant_id),
                    client_context=_offer_context(call_id, offer.attempt, agent_id),
                )
            except NotFound:
                await self._end_vanished(tenant_id, call_id)
                return
            except DomainError as err:
                _LOGGER.warning("Inviting %s failed: %s", agent_id, err, extra=_ctx(call))
                await self._record_invitations(
                    saved, offer.attempt, {}, [agent_id], now, carded=True
                )
                return
            await self._record_invitations(
                saved, offer.attempt, {agent_id: invitation.participant_id or ""}, [], now
            )

        await self._with_call(tenant_id, call_id, decide)
        return accepted

    async def decline_offer(self, tenant_id: str, call_id: str, agent_id: str) -> bool:
        """Decline an offer from the card: release the agent and ring the next one."""
        declined = False

        async def decide(current: Versioned[Call]) -> None:
            nonlocal declined
            call = current.value
            offer = call.offer
            if call.state is not CallState.RINGING or offer is None:
                return
            if agent_id not in offer.agent_ids:
                return
            declined = True
            await self._offers_lapsed(
                current, (agent_id,), OfferEnd.DECLINED, self._clock.now(), None, cancel=True
            )

        await self._with_call(tenant_id, call_id, decide)
        return declined

    # ========================================================== matching
    async def _match(self, tenant_id: str, free: Sequence[Versioned[Agent]], now: datetime) -> None:
        """Give each of these free agents the best waiting call they may take.

        Agents whose best call is the same are offered it together: the queue's method
        picks one of them (or rings them all, attendant), and the others look again. Before
        a call is offered, every other idle agent who may take it joins the match, so the
        method still picks right when a call waited with an agent idle (an invitation
        retry, a timer not yet fired, a race between hosts).
        """
        agents = {
            a.value.id: a
            for a in free
            if a.value.activity is AgentActivity.IDLE and a.value.status is AgentStatus.AVAILABLE
        }
        if not agents:
            return
        queues: dict[str, Queue | None] = {}
        members: dict[str, dict[str, int]] = {}
        lines: dict[str, _WaitingLine] = {}
        placed: set[str] = set()
        done: set[str] = set()
        widened: set[str] = set()
        idle_pool: list[Versioned[Agent]] | None = None
        while agents:
            best: dict[str, tuple[Versioned[Call], Queue]] = {}
            for agent_id, candidate in list(agents.items()):
                choice: tuple[Versioned[Call], Queue] | None = None
                for queue_id in sorted(candidate.value.signed_in_queue_ids):
                    if queue_id not in queues:
                        queues[queue_id] = await self._queue(tenant_id, queue_id)
                        queue_found = queues[queue_id]
                        if queue_found is not None:
                            members[queue_id] = member_ranks(queue_found)
                    queue = queues[queue_id]
                    if queue is None or agent_id not in members[queue_id]:
                        continue
                    line = lines.get(queue_id)
                    if line is None:
                        line = _WaitingLine(
                            self._repo, tenant_id, queue_id, self._settings.waiting_page_size
                        )
                        lines[queue_id] = line
                    found = await line.first_for(
                        candidate.value, queue, members[queue_id], now, self._policy, placed
                    )
                    if found is not None and (
                        choice is None
                        or call_order_key(found.value) < call_order_key(choice[0].value)
                    ):
                        choice = (found, queue)
                if choice is None:
                    del agents[agent_id]
                else:
                    best[agent_id] = choice
            if not best:
                return
            target, queue = min(best.values(), key=lambda c: call_order_key(c[0].value))
            if queue.id not in widened:
                widened.add(queue.id)
                if idle_pool is None:
                    idle_pool = await self._idle_agents(tenant_id)
                joined = False
                for other in idle_pool:
                    other_id = other.value.id
                    if other_id in agents or other_id in done:
                        continue
                    if is_eligible(
                        other.value, queue, target.value, now, self._policy, members[queue.id]
                    ):
                        agents[other_id] = other
                        joined = True
                if joined:
                    continue  # the newcomers look for their best call too
            group = [agents[a].value for a, (c, _) in best.items() if c.value.id == target.value.id]
            ranked = rank_agents(queue, target.value, group, now, self._policy)
            placed.add(target.value.id)
            # No lock on the target call: its document's compare-and-set settles any race,
            # and waiting here on another call's lock could deadlock two handlers.
            result = await self._offer(
                target, target.value, queue, [agents[a.id] for a in ranked], now, None
            )
            for agent_id in (*result.claimed, *result.lost):
                agents.pop(agent_id, None)
                done.add(agent_id)
            if result.stale:
                # The call changed (answered elsewhere, hung up): the agents, unclaimed
                # again, look for another call with fresh documents.
                for agent in ranked:
                    fresh = await self._read_agent(tenant_id, agent.id)
                    if fresh is not None:
                        agents[agent.id] = fresh
                    else:
                        agents.pop(agent.id, None)

    # ====================================================== store helpers
    @contextlib.asynccontextmanager
    async def _lock(self, call_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(call_id, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[call_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock_now, users_now = self._locks[call_id]
            if users_now <= 1:
                del self._locks[call_id]
            else:
                self._locks[call_id] = (lock_now, users_now - 1)

    async def _with_call(
        self,
        tenant_id: str,
        call_id: str,
        decide: Callable[[Versioned[Call]], Awaitable[None]],
        *,
        first: Versioned[Call] | None = None,
    ) -> None:
        """Run ``decide`` on the call's current document until it wins its write."""
        if (tenant_id, call_id) in self._ended:
            return
        async with self._lock(call_id):
            for _ in range(_ATTEMPTS):
                current = first or await self._read_call(tenant_id, call_id)
                first = None
                if current is None:
                    return
                try:
                    await decide(current)
                except _StaleCall:
                    continue
                return
        _LOGGER.warning(
            "Gave up after %s lost races",
            _ATTEMPTS,
            extra={"call_id": call_id, "tenant_id": tenant_id},
        )

    async def _read_call(self, tenant_id: str, call_id: str) -> Versioned[Call] | None:
        try:
            return await self._repo.calls.get(tenant_id, call_id)
        except NotFound:
            return None

    async def _read_agent(self, tenant_id: str, agent_id: str) -> Versioned[Agent] | None:
        try:
            return await self._repo.agents.get(tenant_id, agent_id)
        except NotFound:
            return None

    async def _queue(self, tenant_id: str, queue_id: str | None) -> Queue | None:
        """Return the queue's configuration, re-read at most every ``queue_cache_s``."""
        if queue_id is None:
            return None
        clock = self._clock.monotonic()
        cached = self._queues.get((tenant_id, queue_id))
        if cached is not None and clock - cached[0] < self._settings.queue_cache_s:
            return cached[1]
        try:
            queue: Queue | None = (await self._repo.queues.get(tenant_id, queue_id)).value
        except NotFound:
            queue = None
        if len(self._queues) >= _QUEUES_CACHED:
            self._queues.clear()
        self._queues[(tenant_id, queue_id)] = (clock, queue)
        return queue

    async def _idle_agents(self, tenant_id: str) -> list[Versioned[Agent]]:
        return await self._repo.agents.find(
            tenant_id,
            (
                Condition("status", Op.EQ, AgentStatus.AVAILABLE.value),
                Condition("activity", Op.EQ, AgentActivity.IDLE.value),
            ),
        )

    async def _anyone_signed_in(self, queue: Queue) -> bool:
        """Return whether any member is signed in to the queue (whatever their status).

        Members are read one by one and the first one signed in ends the search, so the
        usual answer costs one read; only a queue nobody is signed in to reads them all.
        """
        for agent_id in queue.members:
            found = await self._read_agent(queue.tenant_id, agent_id)
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

    async def _commit(
        self, current: Versioned[Call], new: Call, key: str | None = None
    ) -> Versioned[Call]:
        """Compare-and-set the call document; raise _StaleCall if it changed."""
        if key is not None:
            new = replace(
                new,
                applied_notifications=_remember(
                    new.applied_notifications, key, self._settings.applied_keys_kept
                ),
            )
        try:
            saved = await self._repo.calls.save(new, etag=current.etag)
        except (Conflict, NotFound) as err:
            raise _StaleCall from err
        if new.due_at != current.value.due_at:
            self._hint_call(new)
        return saved

    async def _save_agent(self, current: Versioned[Agent], new: Agent) -> Versioned[Agent]:
        saved = await self._repo.agents.save(new, etag=current.etag)
        if new.due_at != current.value.due_at:
            self._hint_agent(new)
        return saved

    async def _save_agent_quietly(
        self, current: Versioned[Agent], new: Agent
    ) -> Versioned[Agent] | None:
        """Save unless the agent changed meanwhile (then its new state decides)."""
        try:
            return await self._save_agent(current, new)
        except (Conflict, NotFound):
            return None

    async def _update_agent(
        self,
        tenant_id: str,
        agent_id: str,
        change: Callable[[Agent], Agent | None],
    ) -> Versioned[Agent] | None:
        """Read, change and compare-and-set an agent; None if missing or left unchanged."""
        for _ in range(_ATTEMPTS):
            try:
                current = await self._repo.agents.get(tenant_id, agent_id)
            except NotFound:
                return None
            new = change(current.value)
            if new is None:
                return None
            try:
                return await self._save_agent(current, new)
            except Conflict:
                continue
        raise Conflict(f"agent {agent_id}: gave up after {_ATTEMPTS} lost races")

    async def _release(
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
                return replace(
                    new,
                    status=AgentStatus.AWAY,
                    not_ready_reason=f"missed {missed} calls in a row",
                    missed_in_a_row=0,
                )
            return replace(new, missed_in_a_row=missed)

        try:
            return await self._update_agent(tenant_id, agent_id, released)
        except Conflict:
            _LOGGER.exception(
                "Could not release %s",
                agent_id,
                extra={"tenant_id": tenant_id, "agent_id": agent_id, "call_id": call_id},
            )
            return None

    async def _record_ttl(self, tenant_id: str) -> int | None:
        cached = self._tenants.get(tenant_id)
        clock = self._clock.monotonic()
        if cached is None or clock - cached[0] > self._settings.tenant_cache_s:
            try:
                tenant: Tenant | None = (await self._repo.tenants.get(tenant_id, tenant_id)).value
            except NotFound:
                tenant = None
            cached = (clock, tenant)
            self._tenants[tenant_id] = cached
        tenant = cached[1]
        return None if tenant is None else tenant.retention_days * 86_400

    # ====================================================== notifications
    def _alert(self, call: Call, agent_id: str, now: datetime, *, card_first: bool) -> OfferAlert:
        return OfferAlert(
            tenant_id=call.tenant_id,
            call_id=call.id,
            agent_id=agent_id,
            queue_id=call.queue_id or "",
            queue_name=call.queue_name,
            caller=call.caller,
            waited_s=_seconds(call.offered_at, now),
            card_first=card_first,
        )

    async def _notify_started(
        self, call: Call, agent_id: str, now: datetime, *, card_first: bool
    ) -> None:
        try:
            await self._notifier.offer_started(
                self._alert(call, agent_id, now, card_first=card_first)
            )
        except DomainError as err:
            _LOGGER.warning("Offer card for %s: %s", agent_id, err, extra=_ctx(call))

    async def _notify_ended(self, call: Call, agent_id: str, how: OfferEnd, now: datetime) -> None:
        card_first = call.offer.card_first if call.offer is not None else False
        try:
            await self._notifier.offer_ended(
                self._alert(call, agent_id, now, card_first=card_first), how
            )
        except DomainError as err:
            _LOGGER.warning("Offer card update for %s: %s", agent_id, err, extra=_ctx(call))

    async def _notify_queue(self, call: Call) -> None:
        if call.queue_id is None:
            return
        try:
            await self._notifier.queue_changed(call.tenant_id, call.queue_id)
        except DomainError as err:
            _LOGGER.warning("Queue update: %s", err, extra=_ctx(call))

    def _hint(self, collection: str, tenant_id: str, doc_id: str, due: datetime | None) -> None:
        if self._timers is not None:
            self._timers.due_changed(collection, tenant_id, doc_id, due)

    def _hint_call(self, call: Call) -> None:
        self._hint(Repository.CALLS, call.tenant_id, call.id, call.due_at)

    def _hint_agent(self, agent: Agent) -> None:
        self._hint(Repository.AGENTS, agent.tenant_id, agent.id, agent.due_at)


def _ctx(item: Call | CallEvent) -> dict[str, str]:
    """Return the log extras naming the call and tenant."""
    if isinstance(item, Call):
        return {"call_id": item.id, "tenant_id": item.tenant_id}
    return {"call_id": item.call_id, "tenant_id": item.tenant_id}
