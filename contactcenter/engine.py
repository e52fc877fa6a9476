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
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from contactcenter.announcements import (
    LONG_WINDOW_S,
    SHORT_WINDOW_S,
    AnswerRate,
    comfort_parts,
    estimated_wait_s,
    key_parts,
)
from contactcenter.callbacks import build_callback_request, callback_id, is_e164
from contactcenter.callers import CALLER_LIST_ID, CallerVerdict, check_caller
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
    RosterEntry,
    RosterUpdated,
    ToneReceived,
)
from contactcenter.hours import HoursVerdict, OpenState, check_hours
from contactcenter.ivr import MenuStep, StepKind, find_menu, on_key, on_timeout
from contactcenter.media import StandardPrompt, standard_prompt, wav_duration_s
from contactcenter.model import (
    ActionKind,
    Agent,
    AgentActivity,
    AgentStatus,
    AlertingModel,
    Binding,
    BindingTarget,
    BusinessHours,
    Call,
    CallbackAttempt,
    CallbackOrder,
    CallbackSettings,
    CallbackState,
    CallbackStatus,
    CallerList,
    CallOutcome,
    CallRecord,
    CallState,
    Ivr,
    LeaveStep,
    Leaving,
    Menu,
    MenuActionKind,
    MenuOption,
    Offer,
    Party,
    PartyKind,
    Queue,
    QueueAction,
    RoutingMethod,
    Tenant,
    Voicemail,
)
from contactcenter.ports import (
    CallControl,
    Condition,
    MediaPrompt,
    MediaStore,
    Notifier,
    OfferAlert,
    OfferEnd,
    Op,
    RecordingSource,
    RejectReason,
    Store,
    TimerSchedule,
)
from contactcenter.recent import Recent
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
from contactcenter.voicemail import MAX_RECORDING_S, recording_media_id, voicemail_id

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

# Graph's result code for an invitation the invitee declined.
DECLINED_CODE = 603
# How often a handler re-reads and decides again after losing a compare-and-set race.
_ATTEMPTS = 8
_ENDED_CALLS_REMEMBERED = 4096
# Namespace of the participant ids invitations ask for.
_PARTICIPANTS = uuid.UUID("0c2d6f9e-5b8a-4f0e-9d3c-7a1e2b4c6d80")
# How long an ending call is left to the host ending it before any host may complete it.
_ENDING_LEASE = timedelta(seconds=30)
# Due documents read per timer query.
_TIMER_BATCH = 100
_QUEUES_CACHED = 1024
_FIRST_PAGE = 2
# Graph's result subcode for media we cancelled (cancelMediaProcessing, a barge-in).
CANCELLED_MEDIA_SUBCODE = 8508
# Media fallback levels: configured prompts, the standard set, silence.
_CONFIGURED, _STANDARD, _SILENT = 0, 1, 2
# How long a notification for an unknown call waits for callbacks being placed.
_PLACING_WAIT_S = 5.0
# Graph plays at most 20 prompts per playPrompt.
_MAX_PROMPTS = 20
DEFAULT_LANGUAGE = "en-US"


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
    # Music on hold and greeting used when a queue names none (prompt ids); None: the
    # standard set's.
    default_greeting_prompt_id: str | None = None
    default_music_prompt_id: str | None = None
    # Caller lists (blocked, VIP) are cached this long; ``caller_list_changed`` drops it.
    caller_list_cache_s: float = 60.0
    # A prompt whose completion never arrives is taken to have ended after this long.
    prompt_allowance_s: float = 120.0
    # A queue's recent answer rate (for estimated waits) is measured again after this long.
    answer_rate_cache_s: float = 30.0
    # A requested callback waits this long before its first attempt (the caller is still
    # hearing the confirmation on the call they are leaving).
    callback_start_delay_s: float = 15.0
    # A transfer Graph has not settled after this long is given up.
    transfer_timeout_s: float = 120.0


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


_MEDIA = "media:"
_CALLBACK_INVITE = "callback:"


class _Purpose(StrEnum):
    """What a prompt operation was for (part of its client context)."""

    HOLD = "hold"
    MENU = "menu"
    LEAVE = "leave"
    RECORD = "record"


def _media_context(seq: int, purpose: _Purpose) -> str:
    return f"{_MEDIA}{seq}:{purpose.value}"


def _parse_media_context(context: str) -> tuple[int, _Purpose] | None:
    """Return (sequence, purpose) from a prompt operation's client context, if it is ours."""
    if not context.startswith(_MEDIA):
        return None
    seq, _, purpose = context[len(_MEDIA) :].partition(":")
    if not seq.isdigit():
        return None
    try:
        return int(seq), _Purpose(purpose)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _Slot:
    """One prompt of an announcement: a configured prompt, or the standard part it stands for."""

    standard: str
    custom: str | None = None


def _ids(*prompt_ids: str | None) -> tuple[str, ...]:
    return tuple(p for p in prompt_ids if p)


def _names(*parts: StandardPrompt | None) -> tuple[str, ...]:
    return tuple(p.value for p in parts if p is not None)


# States in which the call may have prompts playing (music, a menu, a last message).
_MEDIA_PLAYING = frozenset(
    {CallState.WAITING, CallState.RINGING, CallState.MENU, CallState.LEAVING}
)


def _can_call_back(call: Call) -> bool:
    """Return whether the caller has an E.164 number to call back on."""
    return call.caller.kind is PartyKind.PHONE and is_e164(call.caller.id)


def _caller_present(call: Call, agent_ids: set[str], participants: Sequence[RosterEntry]) -> bool:
    """Return whether anyone but the bot and the agents is still in the call's roster."""
    for participant in participants:
        if participant.application_id is not None and participant.user_id is None:
            continue
        if participant.user_id is not None and (
            participant.user_id == call.agent_id or participant.user_id in agent_ids
        ):
            continue
        return True
    return False


def _action_party(action: QueueAction) -> Party | None:
    """Return whom a redirect action sends the call to (None if its target is unusable)."""
    target = action.target
    if not target:
        return None
    if action.kind is ActionKind.REDIRECT_NUMBER:
        return Party(PartyKind.PHONE, target) if is_e164(target) else None
    return Party(PartyKind.USER, target)


def _offer_context(call_id: str, attempt: int, agent_id: str) -> str:
    return f"offer:{call_id}:{attempt}:{agent_id}"


def invitee_participant_id(call_id: str, attempt: int, agent_id: str) -> str:
    """The participant id an offer's invitation asks Graph to use for the agent.

    Derived from the offer, so any host can cancel an invitation whose answer from Graph
    it never saw (the inviting host died, or the answer is still on its way).
    """
    return str(uuid.uuid5(_PARTICIPANTS, _offer_context(call_id, attempt, agent_id)))


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
        media: MediaStore | None = None,
        recordings: RecordingSource | None = None,
        on_record: Callable[[CallRecord], Awaitable[None]] | None = None,
    ) -> None:
        """``media`` and ``recordings`` store voicemail; without them none is recorded.

        ``on_record`` is told of every call record written (aggregates, webhook export).
        """
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
        self._tenants: Recent[str, Tenant] = Recent(clock, settings.tenant_cache_s)
        self._queues: Recent[tuple[str, str], Queue] = Recent(clock, settings.queue_cache_s)
        self._ivrs: Recent[tuple[str, str], Ivr] = Recent(clock, settings.queue_cache_s)
        self._bindings: Recent[tuple[str, str], Binding] = Recent(clock, settings.queue_cache_s)
        self._caller_lists: Recent[str, CallerList] = Recent(clock, settings.caller_list_cache_s)
        self._rates: dict[tuple[str, str], tuple[float, AnswerRate]] = {}
        self._media = media
        self._on_record = on_record
        self._recordings = recordings
        # Outbound calls being placed right now: a notification for a call this instance
        # does not know yet waits for them (Graph may notify before its answer arrives).
        self._placing = 0
        self._placed = asyncio.Event()
        self._placed.set()
        self.action_handlers: dict[ActionKind, ActionHandler] = {
            ActionKind.DISCONNECT: self._action_disconnect,
            ActionKind.QUEUE: self._action_move_to_queue,
            ActionKind.REDIRECT_USER: self._action_transfer,
            ActionKind.REDIRECT_NUMBER: self._action_transfer,
            ActionKind.VOICEMAIL: self._action_voicemail,
            ActionKind.CALLBACK: self._action_offer_callback,
        }

    @property
    def repository(self) -> Repository:
        """The collections the engine keeps its state in."""
        return self._repo

    @property
    def settings(self) -> EngineSettings:
        return self._settings

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
            await self._on_operation(event)
        elif isinstance(event, RosterUpdated):
            await self._with_call(event.tenant_id, event.call_id, self._on_roster(event))
        elif isinstance(event, ToneReceived):
            await self._with_call(event.tenant_id, event.call_id, self._on_tone(event))

    async def _on_operation(self, event: OperationFinished) -> None:
        if event.kind is OperationKind.INVITE:
            if event.client_context.startswith(_CALLBACK_INVITE):
                await self._with_call(
                    event.tenant_id, event.call_id, self._on_callback_invite(event)
                )
            else:
                await self._with_call(event.tenant_id, event.call_id, self._on_invite(event))
            return
        if event.kind not in (OperationKind.PLAY_PROMPT, OperationKind.RECORD_RESPONSE):
            return
        if (
            event.status is OperationStatus.FAILED
            and event.result_subcode == CANCELLED_MEDIA_SUBCODE
        ):
            return  # media we cancelled ourselves: nothing follows from it
        parsed = _parse_media_context(event.client_context)
        if parsed is None:
            return
        await self._with_call(event.tenant_id, event.call_id, self._on_media_done(event, *parsed))

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
        binding = await self._bindings.get(
            (tenant_id, event.target_id),
            lambda: self._value(self._repo.bindings.get(tenant_id, event.target_id)),
        )
        if binding is None:
            await self._reject(event, now, f"no queue is bound to {event.target_id}")
            return
        try:
            await self._repo.call_records.get(tenant_id, event.call_id)
        except NotFound:
            pass
        else:
            # The call ended already (its live document is gone): a very late redelivery.
            _LOGGER.info("Incoming call already recorded", extra=_ctx(event))
            return
        verdict = check_caller(await self._caller_list(tenant_id), event.caller)
        if verdict.blocked:
            await self._reject(event, now, f"blocked caller: {verdict.reason}")
            return
        if binding.target is BindingTarget.IVR:
            ivr = await self._ivr(tenant_id, binding.target_id)
            if ivr is None or find_menu(ivr, ivr.root_menu_id) is None:
                await self._reject(event, now, f"IVR {binding.target_id} does not exist")
                return
            await self._admit_to_ivr(event, ivr, verdict, now)
            return
        queue = await self._queue(tenant_id, binding.target_id)
        if queue is None:
            await self._reject(event, now, f"queue {binding.target_id} does not exist")
            return
        await self._admit_to_queue(event, queue, verdict, now)

    def _new_call(self, event: IncomingCall, now: datetime) -> Call:
        return Call(
            id=event.call_id,
            tenant_id=event.tenant_id,
            caller=event.caller,
            target_id=event.target_id,
            state=CallState.ANSWERING,
            chain_id=event.chain_id,
            received_at=now,
            due_at=now + timedelta(seconds=self._settings.answer_timeout_s),
            applied_notifications=(event.key,),
        )

    @staticmethod
    def _in_queue(call: Call, queue: Queue, boost: int) -> Call:
        """Return the call with the terms a queue sets when the call enters it."""
        return replace(
            call,
            queue_id=queue.id,
            priority=queue.priority + boost,
            vip=boost > 0,
            required_skills=dict(queue.required_skills),
            queue_name=queue.name,
            service_level_threshold_s=queue.service_level_threshold_s,
            wrap_up_s=queue.wrap_up_s,
            language=queue.language,
        )

    async def _admit_to_queue(
        self,
        event: IncomingCall,
        queue: Queue,
        verdict: CallerVerdict,
        now: datetime,
        *,
        closed_hop: bool = False,
    ) -> None:
        """Answer a call for a queue, or apply the queue's closed action."""
        hours = await self._hours_verdict(event.tenant_id, queue.hours, now)
        if not hours.is_open and not closed_hop:
            await self._closed(event, hours, verdict, now, queue=queue)
            return
        call = self._in_queue(self._new_call(event, now), queue, verdict.priority_boost)
        if not await self._create_and_answer(event, call, self._queue_prompts(queue)):
            return
        _LOGGER.info("Answered call for queue %s", queue.name, extra=_ctx(event))

    async def _admit_to_ivr(
        self, event: IncomingCall, ivr: Ivr, verdict: CallerVerdict, now: datetime
    ) -> None:
        """Answer a call for an IVR, or apply the IVR's closed action."""
        hours = await self._hours_verdict(event.tenant_id, ivr.hours, now)
        if not hours.is_open:
            await self._closed(event, hours, verdict, now, queue=None)
            return
        call = replace(
            self._new_call(event, now),
            ivr_id=ivr.id,
            menu_id=ivr.root_menu_id,
            # Until the call enters a queue its priority is the VIP boost alone.
            priority=verdict.priority_boost,
            vip=verdict.vip,
            language=ivr.language,
            ivr_path=(f"ivr:{ivr.id}",),
        )
        menu = find_menu(ivr, ivr.root_menu_id)
        slots = [_Slot(StandardPrompt.GREETING, ivr.greeting_prompt_id)] * bool(
            ivr.greeting_prompt_id
        )
        if menu is not None:
            slots.append(_Slot(StandardPrompt.CHOOSE, menu.prompt_id))
        if not await self._create_and_answer(event, call, self._media_prompts(call, slots)):
            return
        _LOGGER.info("Answered call for IVR %s", ivr.name, extra=_ctx(event))

    async def _create_and_answer(
        self, event: IncomingCall, call: Call, prefetch: Sequence[MediaPrompt]
    ) -> bool:
        """Create the call document and answer; False if known already or answering failed."""
        try:
            created = await self._repo.calls.create(call)
        except Conflict:
            _LOGGER.debug("Incoming call already known", extra=_ctx(event))
            return False
        self._hint_call(call)
        try:
            await self._calls.answer(
                call.id, callback_uri=self._settings.callback_uri, prefetch=prefetch
            )
        except DomainError as err:
            _LOGGER.warning("Answering failed: %s", err, extra=_ctx(event))
            with contextlib.suppress(_StaleCall):
                await self._finish(
                    created,
                    CallOutcome.FAILED,
                    f"answer failed: {err}",
                    call.received_at or self._clock.now(),
                    hang_up=False,
                )
            return False
        return True

    async def _hours_verdict(
        self, tenant_id: str, hours: BusinessHours | None, now: datetime
    ) -> HoursVerdict:
        if hours is None:
            return HoursVerdict(OpenState.OPEN)
        tenant = await self._tenant(tenant_id)
        try:
            return check_hours(hours, now, tenant.time_zone if tenant is not None else "UTC")
        except InvalidInput as err:
            # A schedule that slipped past validation must not keep callers out.
            _LOGGER.warning("Business hours unusable (%s): treating as open", err)
            return HoursVerdict(OpenState.OPEN)

    async def _closed(
        self,
        event: IncomingCall,
        hours: HoursVerdict,
        verdict: CallerVerdict,
        now: datetime,
        *,
        queue: Queue | None,
    ) -> None:
        """Apply a closed (holiday, closed-now) action to an incoming call."""
        action = hours.action or QueueAction()
        reason = {
            OpenState.CLOSED: "closed",
            OpenState.HOLIDAY: f"holiday: {hours.holiday}",
            OpenState.CLOSED_NOW: "closed now",
        }.get(hours.state, "closed")
        tenant_id = event.tenant_id
        if action.kind is ActionKind.QUEUE and action.target:
            target = await self._queue(tenant_id, action.target)
            if target is not None and (queue is None or target.id != queue.id):
                _LOGGER.info("%s: to queue %s", reason, target.name, extra=_ctx(event))
                await self._admit_to_queue(event, target, verdict, now, closed_hop=True)
                return
        if action.kind in (ActionKind.REDIRECT_USER, ActionKind.REDIRECT_NUMBER):
            party = _action_party(action)
            if party is not None:
                await self._redirect_incoming(event, party, now, f"{reason}: redirected")
                return
        language = queue.language if queue is not None else DEFAULT_LANGUAGE
        if action.kind is ActionKind.VOICEMAIL and self._can_record():
            box = action.target or (queue.id if queue is not None else None)
            if box is not None:
                leaving = Leaving(CallOutcome.REJECTED, reason, voicemail_queue_id=box)
                call = replace(self._new_call(event, now), leaving=leaving, language=language)
                await self._create_and_answer(event, call, ())
                return
        if not self._media_on:
            await self._reject(event, now, reason)
            return
        standard = (
            StandardPrompt.HOLIDAY if hours.state is OpenState.HOLIDAY else StandardPrompt.CLOSED
        )
        leaving = Leaving(
            CallOutcome.REJECTED,
            reason,
            prompt_ids=_ids(action.prompt_id),
            standard_prompts=(standard.value,),
        )
        call = replace(self._new_call(event, now), leaving=leaving, language=language)
        await self._create_and_answer(event, call, self._leave_prompts(call, leaving))

    async def _redirect_incoming(
        self, event: IncomingCall, target: Party, now: datetime, reason: str
    ) -> None:
        """Send an incoming call elsewhere without answering it (record first, then redirect)."""
        if not await self._record_unanswered(event, now, f"{reason} to {target.id}"):
            return
        try:
            await self._calls.redirect(
                event.call_id, target, callback_uri=self._settings.callback_uri
            )
        except DomainError as err:
            _LOGGER.warning("Redirect failed (%s): rejecting", err, extra=_ctx(event))
            with contextlib.suppress(DomainError):
                await self._calls.reject(event.call_id, RejectReason.NONE)

    async def _reject(self, event: IncomingCall, now: datetime, reason: str) -> None:
        if not await self._record_unanswered(event, now, reason):
            return  # rejected already: a redelivery
        _LOGGER.warning("Rejecting call: %s", reason, extra=_ctx(event))
        try:
            await self._calls.reject(event.call_id, RejectReason.NONE)
        except DomainError as err:
            _LOGGER.warning("Reject failed: %s", err, extra=_ctx(event))

    async def _record_unanswered(self, event: IncomingCall, now: datetime, reason: str) -> bool:
        """Record an incoming call turned away unanswered; False if it was recorded already."""
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
            return False
        return True

    @property
    def _media_on(self) -> bool:
        return bool(self._settings.prompt_base_url)

    def _can_record(self) -> bool:
        return self._media_on and self._media is not None and self._recordings is not None

    def _queue_prompts(self, queue: Queue) -> list[MediaPrompt]:
        """Return the prompts to prefetch when answering a queue's call."""
        slots = self._hold_slots(queue, greeting=True)
        return self._resolve(queue.tenant_id, queue.language, _CONFIGURED, slots)

    def _hold_slots(self, queue: Queue | None, *, greeting: bool) -> list[_Slot]:
        greeting_id = music_id = None
        if queue is not None:
            greeting_id = queue.greeting_prompt_id
            music_id = queue.music_prompt_id
        greeting_id = greeting_id or self._settings.default_greeting_prompt_id
        music_id = music_id or self._settings.default_music_prompt_id
        slots = [_Slot(StandardPrompt.MUSIC, music_id)]
        if greeting:
            slots.insert(0, _Slot(StandardPrompt.GREETING, greeting_id))
        return slots

    def _media_prompts(self, call: Call, slots: Sequence[_Slot]) -> list[MediaPrompt]:
        """Resolve slots into prompts at the call's fallback level (empty: silence)."""
        return self._resolve(call.tenant_id, call.language, call.media_fallback, slots)

    def _resolve(
        self, tenant_id: str, language: str, level: int, slots: Sequence[_Slot]
    ) -> list[MediaPrompt]:
        base = self._settings.prompt_base_url.rstrip("/")
        if not base or level >= _SILENT:
            return []
        prompts = []
        for slot in slots:
            if slot.custom and level == _CONFIGURED:
                prompt_id = slot.custom
            else:
                prompt_id = standard_prompt(slot.standard, language)
            prompts.append(
                MediaPrompt(uri=f"{base}/{tenant_id}/{prompt_id}.wav", resource_id=prompt_id)
            )
        return prompts[:_MAX_PROMPTS]

    def _leave_prompts(self, call: Call, leaving: Leaving) -> list[MediaPrompt]:
        """Return a leaving call's prompts: configured ones, else the standard parts."""
        if call.media_fallback == _CONFIGURED and leaving.prompt_ids:
            slots = [_Slot(StandardPrompt.GOODBYE, prompt_id) for prompt_id in leaving.prompt_ids]
        else:
            slots = [_Slot(name) for name in leaving.standard_prompts]
        return self._media_prompts(call, slots)

    # ---------------------------------------------------------- established
    def _on_established(
        self, event: CallStateChanged
    ) -> Callable[[Versioned[Call]], Awaitable[None]]:
        async def decide(current: Versioned[Call]) -> None:
            call = current.value
            now = self._clock.now()
            if call.state is CallState.ANSWERING:
                if call.leaving is not None:
                    await self._start_leaving(current, call, call.leaving, now, event.key)
                elif call.ivr_id is not None:
                    await self._enter_menu(
                        current, call.menu_id or "", now, event.key, greeting=True
                    )
                else:
                    await self._start_queueing(current, now, event.key)
            elif call.state is CallState.DIALING:
                await self._callback_answered(current, now, event.key)
            elif (
                call.state is CallState.LEAVING
                and call.leaving is not None
                and call.leaving.transferring
                and event.result_code is not None
            ):
                # Back with the bot: the transfer target did not take the call.
                leaving = call.leaving
                await self._finish(
                    current,
                    leaving.outcome,
                    f"{leaving.reason} (transfer failed: {event.result_code})",
                    now,
                    key=None,
                )
            # Otherwise a redelivery, or late.

        return decide

    async def _start_queueing(
        self,
        current: Versioned[Call],
        now: datetime,
        key: str | None,
        *,
        base: Call | None = None,
        queue: Queue | None = None,
        greeting: bool = True,
    ) -> None:
        """Put the call in its queue (``base``: what was decided about it so far)."""
        call = base or current.value
        if queue is None:
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
            menu_id=None,
        )
        waiting = self._with_hold(waiting, queue, now)
        saved = await self._enqueue(current, waiting, queue, now, key)
        if saved is not None:
            await self._start_hold(saved.value, queue, greeting=greeting, subscribe=not call.tones)

    def _with_hold(self, call: Call, queue: Queue, now: datetime) -> Call:
        """Return the call with its hold media started (next prompt operation, comfort timer)."""
        if not self._media_on:
            return call
        comfort = None
        if queue.comfort_interval_s > 0:
            comfort = now + timedelta(seconds=queue.comfort_interval_s)
        return replace(
            call,
            media_seq=call.media_seq + 1,
            next_comfort_at=comfort,
            tones=call.tones or self._wants_tones(call, queue),
        )

    def _wants_tones(self, call: Call, queue: Queue) -> bool:
        """Return whether the call must hear key presses while it waits (callbacks)."""
        if not _can_call_back(call):
            return False
        actions = (queue.overflow_action, queue.timeout_action, queue.no_agent_action)
        return queue.callback.offered or any(a.kind is ActionKind.CALLBACK for a in actions)

    async def _start_hold(
        self, call: Call, queue: Queue, *, greeting: bool, subscribe: bool, intro: bool = False
    ) -> None:
        """Play the greeting and music on hold (after the write that decided it)."""
        if not self._media_on:
            return
        if subscribe and call.tones:
            await self._subscribe_tones(call)
        slots = self._hold_slots(queue, greeting=greeting)
        if intro:
            slots.insert(0, _Slot(StandardPrompt.CALLBACK_INTRO))
        await self._play(call, slots, _Purpose.HOLD)

    async def _enqueue(
        self, current: Versioned[Call], call: Call, queue: Queue, now: datetime, key: str | None
    ) -> Versioned[Call] | None:
        """Place a call that has just entered ``queue``: ring an agent, or let it wait.

        Return the call as written while it stays in the queue; None when a queue action
        took it.
        """
        if queue.max_size <= 0:
            await self._run_action(current, call, queue, ActionTrigger.OVERFLOW, now, key)
            return None
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
                return result.committed
        waiting_now = await self._repo.calls.count(
            call.tenant_id,
            (
                Condition("queueId", Op.EQ, queue.id),
                Condition("state", Op.EQ, CallState.WAITING.value),
            ),
        )
        if waiting_now >= queue.max_size:
            await self._run_action(current, call, queue, ActionTrigger.OVERFLOW, now, key)
            return None
        if not ranked and not await self._anyone_signed_in(queue):
            await self._run_action(current, call, queue, ActionTrigger.NO_AGENT, now, key)
            return None
        saved = await self._commit(
            current, replace(call, due_at=self._waiting_due(call, queue, now)), key
        )
        await self._notify_queue(call)
        return saved

    def _waiting_due(self, call: Call, queue: Queue, now: datetime) -> datetime:
        """Return the next time a waiting call needs attention."""
        if call.callback is not None:
            # Nobody is on the line: no keepAlive, no maximum wait; look again now and then.
            return now + timedelta(seconds=self._settings.keep_alive_s)
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
        if call.callback is not None:
            return None  # a callback keeps its place however long it takes
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
        # A callback reserves one agent, who is called (or joins the caller) when reached.
        ring_all = queue.routing_method is RoutingMethod.ATTENDANT and call.callback is None
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
            card_first=queue.alerting_model is AlertingModel.CARD_FIRST and call.callback is None,
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
        if call.callback is not None:
            await self._dial_callback(saved, agents[0], now)
            return
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
                    participant_id=invitee_participant_id(call.id, offer.attempt, agent.id),
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
        if self._media_on:
            await self._cancel_media(call)
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
        if participant_id is None and offer.card_first:
            return  # never invited: the card was not accepted
        if not participant_id:
            # Perhaps invited, Graph's answer not recorded (yet): the id is known anyway.
            participant_id = invitee_participant_id(call.id, offer.attempt, agent_id)
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
            elif not _caller_present(call, offered, event.participants):
                # Once an agent joined, the call is a group call: Graph may tell of the
                # caller hanging up only by leaving them out of the roster.
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
            if call.state is CallState.DIALING:
                await self._callback_leg_failed(
                    current,
                    f"not answered ({event.result_code or 'ended'})",
                    now,
                    event.key,
                    hang_up=False,
                )
                return
            leaving = call.leaving
            if call.state in (CallState.LEAVING, CallState.VOICEMAIL) and leaving is not None:
                if leaving.step is LeaveStep.CALLBACK_CONFIRM:
                    await self._ensure_callback_line(call, now)
                reason = leaving.reason
                if call.state is CallState.VOICEMAIL:
                    reason = f"{reason}: hung up before leaving a message"
                await self._finish(
                    current, leaving.outcome, reason, now, key=event.key, hang_up=False
                )
                return
            if call.state is CallState.MENU:
                await self._finish(
                    current,
                    CallOutcome.ABANDONED,
                    "hung up in the IVR",
                    now,
                    key=event.key,
                    hang_up=False,
                )
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
            state = current.value.state
            if state is CallState.ENDED:
                await self._ended_found(current)
                return
            try:
                if state is CallState.CONNECTED:
                    await self._end_talk(current, now, None, hang_up=False)
                elif state in (CallState.WAITING, CallState.RINGING):
                    # A queued caller's call gone at Graph: the caller hung up, and the
                    # notification saying so has not come yet (it will find no call).
                    await self._finish(
                        current,
                        CallOutcome.ABANDONED,
                        "caller hung up (call gone at Graph)",
                        now,
                        hang_up=False,
                        offer_end=OfferEnd.CALLER_HUNG_UP,
                    )
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
            # Kept until the end is complete: whoever completes it withdraws the offer.
            offer=offer,
            ring_s=call.ring_s + (_seconds(offer.started_at, now) if offer else 0.0),
        )
        marked = await self._mark_ending(current, ended, now, key)
        _LOGGER.info("Call ended: %s (%s)", outcome.value, reason, extra=_ctx(call))
        await self._complete_end(marked, now, hang_up=hang_up, offer_end=offer_end)

    async def _end_talk(
        self, current: Versioned[Call], now: datetime, key: str | None, *, hang_up: bool
    ) -> None:
        """End an answered call: record it, hang up if needed, start the agent's wrap-up."""
        call = current.value
        ended = replace(
            call, state=CallState.ENDED, outcome=CallOutcome.ANSWERED, ended_at=now, offer=None
        )
        marked = await self._mark_ending(current, ended, now, key)
        _LOGGER.info("Talk ended after %.0f s", _seconds(call.answered_at, now), extra=_ctx(call))
        await self._complete_end(marked, now, hang_up=hang_up, offer_end=OfferEnd.WITHDRAWN)

    async def _mark_ending(
        self, current: Versioned[Call], ended: Call, now: datetime, key: str | None
    ) -> Versioned[Call]:
        """Write the call's end onto its live document: the point of no return.

        Compare-and-set: if the call changed since ``current`` was read, nothing is written
        and :class:`_StaleCall` sends the caller back to decide on the new state. Once the
        document says ENDED, the end only ever goes forward: the record, the hang-up, the
        agents' release and the removal of the document follow (:meth:`_complete_end`). The
        due time is a lease: should this host die midway, whoever fires the timer after it
        completes the end, and nobody else meddles before.
        """
        return await self._commit(current, replace(ended, due_at=now + _ENDING_LEASE), key)

    async def _complete_end(
        self,
        marked: Versioned[Call],
        now: datetime,
        *,
        hang_up: bool = True,
        offer_end: OfferEnd = OfferEnd.WITHDRAWN,
    ) -> None:
        """Take an ENDED call document through the steps that follow; each is idempotent.

        The record is created first (a conflict means another host wrote it, which is as
        good: a record, once written, is never taken back), then agents and Graph are told,
        and the live document goes last, so a crash anywhere leaves something to finish.
        """
        ended = marked.value
        created: Versioned[CallRecord] | None = None
        try:
            created = await self._repo.call_records.create(
                build_call_record(ended, ttl=await self._record_ttl(ended.tenant_id))
            )
        except Conflict:
            _LOGGER.info("Call already recorded", extra=_ctx(ended))
        freed: list[Versioned[Agent]] = []
        if ended.offer is not None:
            freed = await self._withdraw(
                ended, ended.offer, ended.offer.agent_ids, offer_end, now, match=False
            )
        if hang_up:
            await self._hang_up(ended)
        if ended.outcome is CallOutcome.ANSWERED and ended.agent_id is not None:
            after = await self._start_wrap_up(ended)
            if after is not None and after.value.activity is AgentActivity.IDLE:
                freed.append(after)
        await self._remove_ended(marked)
        self._mark_ended(ended)
        self._hint("calls", ended.tenant_id, ended.id, None)
        if created is not None and self._on_record is not None:
            # Interval aggregates and webhook export (contactcenter/finished_calls.py).
            await self._on_record(created.value)
        await self._notify_queue(ended)
        if freed:
            await self._match(ended.tenant_id, freed, now)

    async def _start_wrap_up(self, ended: Call) -> Versioned[Agent] | None:
        """Put the agent who took the call into wrap-up (or straight back to idle)."""
        agent_id = ended.agent_id
        talk_end = ended.ended_at
        if agent_id is None or talk_end is None:
            return None
        wrap_up = timedelta(seconds=ended.wrap_up_s)

        def after_talk(agent: Agent) -> Agent | None:
            if agent.current_call_id != ended.id:
                return None
            if wrap_up > timedelta(0):
                end = talk_end + wrap_up
                return replace(
                    agent,
                    activity=AgentActivity.WRAP_UP,
                    current_call_id=None,
                    wrap_up_until=end,
                    due_at=end,
                    # The idle period starts when wrap-up ends.
                    idle_since=end,
                    last_call_ended_at=talk_end,
                )
            return replace(
                agent,
                activity=AgentActivity.IDLE,
                current_call_id=None,
                wrap_up_until=None,
                due_at=None,
                idle_since=talk_end,
                last_call_ended_at=talk_end,
            )

        return await self._update_agent(ended.tenant_id, agent_id, after_talk)

    async def _remove_ended(self, marked: Versioned[Call]) -> None:
        """Delete an ENDED live document, whatever wrote it last."""
        current: Versioned[Call] | None = marked
        for _ in range(_ATTEMPTS):
            if current is None or current.value.state is not CallState.ENDED:
                return
            try:
                await self._repo.calls.delete(
                    current.value.tenant_id, current.value.id, etag=current.etag
                )
            except NotFound:
                return
            except Conflict:
                current = await self._read_call(current.value.tenant_id, current.value.id)
                continue
            return

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
        reason = f"{context.trigger.value}: disconnected"
        if not self._media_on:
            await self._end_for_action(context, reason)
            return
        leaving = Leaving(
            TRIGGER_OUTCOMES[context.trigger],
            reason,
            prompt_ids=_ids(context.action.prompt_id),
            standard_prompts=(StandardPrompt.UNAVAILABLE.value,),
        )
        await self._start_leaving(context.current, context.call, leaving, context.now, context.key)

    async def _action_end_call(self, context: ActionContext) -> None:
        # An action this engine has no handler for: the outcome is recorded and the caller
        # is released rather than left waiting.
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

    async def _action_transfer(self, context: ActionContext) -> None:
        """Send the caller to a person or a number (the call is answered: a transfer)."""
        party = _action_party(context.action)
        if party is None:
            _LOGGER.warning(
                "Cannot transfer to %r: disconnecting",
                context.action.target,
                extra=_ctx(context.call),
            )
            await self._action_disconnect(context)
            return
        leaving = Leaving(
            TRIGGER_OUTCOMES[context.trigger],
            f"{context.trigger.value}: transferred to {party.id}",
            step=LeaveStep.TRANSFER,
            prompt_ids=_ids(context.action.prompt_id),
            standard_prompts=(StandardPrompt.TRANSFERRING.value,),
            transfer_to=party,
        )
        await self._start_leaving(context.current, context.call, leaving, context.now, context.key)

    async def _action_voicemail(self, context: ActionContext) -> None:
        """Record a message for the shared voicemail of the target queue (or this one)."""
        leaving = Leaving(
            TRIGGER_OUTCOMES[context.trigger],
            f"{context.trigger.value}: voicemail",
            prompt_ids=_ids(context.action.prompt_id),
            standard_prompts=(StandardPrompt.VOICEMAIL.value,),
            voicemail_queue_id=context.action.target or context.queue.id,
        )
        await self._start_leaving(context.current, context.call, leaving, context.now, context.key)

    async def _action_offer_callback(self, context: ActionContext) -> None:
        """Offer to keep the caller's place and call back; without the key, goodbye."""
        call, queue = context.call, context.queue
        if not self._media_on or not _can_call_back(call):
            await self._action_disconnect(context)
            return
        leaving = Leaving(
            TRIGGER_OUTCOMES[context.trigger],
            f"{context.trigger.value}: callback offered, not taken",
            step=LeaveStep.CALLBACK_OFFER,
            prompt_ids=_ids(context.action.prompt_id),
            standard_prompts=(
                StandardPrompt.CALLBACK_OFFER.value,
                *key_parts(queue.callback.key)[1:],
            ),
        )
        subscribe = not call.tones
        await self._start_leaving(
            context.current, replace(call, tones=True), leaving, context.now, context.key
        )
        if subscribe:
            await self._subscribe_tones(call)

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

    # ================================================================== media
    async def _play(self, call: Call, slots: Sequence[_Slot], purpose: _Purpose) -> bool:
        """Play prompts on the call (its ``media_seq`` names the operation); False if none."""
        prompts = self._media_prompts(call, slots)
        return await self._play_prompts(call, prompts, purpose)

    async def _play_prompts(
        self, call: Call, prompts: Sequence[MediaPrompt], purpose: _Purpose
    ) -> bool:
        if not prompts:
            return False
        try:
            await self._calls.play_prompt(
                call.id, prompts, client_context=_media_context(call.media_seq, purpose)
            )
        except DomainError as err:
            _LOGGER.warning("playPrompt failed: %s", err, extra=_ctx(call))
            return False
        return True

    async def _cancel_media(self, call: Call) -> None:
        try:
            await self._calls.cancel_media_processing(call.id, client_context=f"cancel:{call.id}")
        except DomainError as err:
            _LOGGER.info("cancelMediaProcessing: %s", err, extra=_ctx(call))

    async def _subscribe_tones(self, call: Call) -> None:
        try:
            await self._calls.subscribe_to_tone(call.id, client_context=f"tones:{call.id}")
        except DomainError as err:
            _LOGGER.warning("subscribeToTone failed: %s", err, extra=_ctx(call))

    def _on_media_done(
        self, event: OperationFinished, seq: int, purpose: _Purpose
    ) -> Callable[[Versioned[Call]], Awaitable[None]]:
        async def decide(current: Versioned[Call]) -> None:
            call = current.value
            if seq != call.media_seq:
                return  # an older operation, or a redelivery
            failed = event.status is OperationStatus.FAILED
            level = call.media_fallback
            if failed:
                level = min(level + 1, _SILENT)
                _LOGGER.warning(
                    "Prompt failed (%s/%s: %s): falling back to level %s",
                    event.result_code,
                    event.result_subcode,
                    event.result_message,
                    level,
                    extra=_ctx(call),
                )
            now = self._clock.now()
            if purpose is _Purpose.HOLD:
                await self._next_hold(current, level, now)
            elif purpose is _Purpose.MENU:
                await self._menu_prompt_done(current, level, failed, now)
            elif purpose is _Purpose.LEAVE:
                await self._leave_prompt_done(current, level, failed, now)
            else:
                await self._recording_done(current, event, level, now)

        return decide

    async def _next_hold(self, current: Versioned[Call], level: int, now: datetime) -> None:
        """Music on hold ended: play it again, with a comfort message first when one is due."""
        call = current.value
        if call.state not in (CallState.WAITING, CallState.RINGING):
            return
        queue = await self._queue(call.tenant_id, call.queue_id)
        if queue is None:
            return
        slots = self._hold_slots(queue, greeting=False)
        next_comfort = call.next_comfort_at
        if (
            level < _SILENT
            and call.state is CallState.WAITING
            and next_comfort is not None
            and next_comfort <= now
        ):
            slots = [*await self._comfort_slots(call, queue, now), *slots]
            next_comfort = now + timedelta(seconds=max(1, queue.comfort_interval_s))
        new = replace(
            call, media_seq=call.media_seq + 1, media_fallback=level, next_comfort_at=next_comfort
        )
        saved = await self._commit(current, new)
        if level >= _SILENT:
            _LOGGER.warning("No playable prompt: the caller waits in silence", extra=_ctx(call))
            return
        await self._play(saved.value, slots, _Purpose.HOLD)

    async def _comfort_slots(self, call: Call, queue: Queue, now: datetime) -> list[_Slot]:
        """Return a comfort message: thanks, position, estimated wait, callback offer."""
        position: int | None = None
        wait_s: float | None = None
        if queue.announce_position or queue.announce_wait:
            position = await self._position(call)
        if queue.announce_wait and position is not None:
            wait_s = estimated_wait_s(position, await self._answer_rate(queue, now))
        callback_key = (
            queue.callback.key if queue.callback.offered and _can_call_back(call) else None
        )
        names = comfort_parts(
            position=position if queue.announce_position else None,
            wait_s=wait_s,
            callback_key=callback_key,
        )
        slots = [_Slot(name) for name in names]
        slots[0] = _Slot(StandardPrompt.COMFORT, queue.comfort_prompt_id)
        return slots

    async def _position(self, call: Call) -> int:
        """Return the call's place in its queue's line (1 = next)."""
        line = (
            Condition("queueId", Op.EQ, call.queue_id),
            Condition("state", Op.EQ, CallState.WAITING.value),
        )
        ahead = await self._repo.calls.count(
            call.tenant_id, (*line, Condition("priority", Op.GT, call.priority))
        )
        if call.offered_at is not None:
            ahead += await self._repo.calls.count(
                call.tenant_id,
                (
                    *line,
                    Condition("priority", Op.EQ, call.priority),
                    Condition("offeredAt", Op.LT, format_timestamp(call.offered_at)),
                ),
            )
        return ahead + 1

    async def _answer_rate(self, queue: Queue, now: datetime) -> AnswerRate:
        """Return how fast the queue answered calls lately (from its call records)."""
        key = (queue.tenant_id, queue.id)
        clock = self._clock.monotonic()
        cached = self._rates.get(key)
        if cached is not None and clock - cached[0] < self._settings.answer_rate_cache_s:
            return cached[1]
        counts = []
        for window in (SHORT_WINDOW_S, LONG_WINDOW_S):
            counts.append(
                await self._repo.call_records.count(
                    queue.tenant_id,
                    (
                        Condition("queueId", Op.EQ, queue.id),
                        Condition("outcome", Op.EQ, CallOutcome.ANSWERED.value),
                        Condition(
                            "endedAt", Op.GE, format_timestamp(now - timedelta(seconds=window))
                        ),
                    ),
                )
            )
        rate = AnswerRate(counts[0], counts[1])
        if len(self._rates) >= _QUEUES_CACHED:
            self._rates.clear()
        self._rates[key] = (clock, rate)
        return rate

    # ================================================================== tones
    def _on_tone(self, event: ToneReceived) -> Callable[[Versioned[Call]], Awaitable[None]]:
        async def decide(current: Versioned[Call]) -> None:
            call = current.value
            if event.key in call.applied_notifications:
                return
            now = self._clock.now()
            if call.state is CallState.MENU:
                ivr = await self._ivr(call.tenant_id, call.ivr_id)
                menu = find_menu(ivr, call.menu_id) if ivr is not None else None
                if ivr is None or menu is None:
                    return
                step = on_key(menu, event.tone, call.menu_tries)
                await self._menu_step(
                    current, ivr, menu, step, now, event.key, key_pressed=event.tone
                )
                return
            offer_pending = (
                call.state is CallState.LEAVING
                and call.leaving is not None
                and call.leaving.step is LeaveStep.CALLBACK_OFFER
            )
            waiting = call.state in (CallState.WAITING, CallState.RINGING)
            if not (offer_pending or waiting) or call.callback is not None:
                return
            queue = await self._queue(call.tenant_id, call.queue_id)
            if queue is None or event.tone != queue.callback.key:
                return
            if waiting and not queue.callback.offered:
                return
            if not _can_call_back(call):
                _LOGGER.info("Callback asked for by a caller we cannot call", extra=_ctx(call))
                return
            await self._request_callback(current, queue, now, event.key)

        return decide

    # =================================================================== IVR
    def _menu_slots(
        self, ivr: Ivr, menu: Menu, *, greeting: bool, notice: StandardPrompt | None
    ) -> list[_Slot]:
        slots = []
        if notice is not None:
            slots.append(_Slot(notice))
        if greeting and ivr.greeting_prompt_id:
            slots.append(_Slot(StandardPrompt.GREETING, ivr.greeting_prompt_id))
        slots.append(_Slot(StandardPrompt.CHOOSE, menu.prompt_id))
        return slots

    async def _enter_menu(
        self,
        current: Versioned[Call],
        menu_id: str,
        now: datetime,
        key: str | None,
        *,
        greeting: bool = False,
        notice: StandardPrompt | None = None,
        tries: int = 0,
        path: tuple[str, ...] = (),
        base: Call | None = None,
    ) -> None:
        """Put the caller in a menu: play it and wait for a key."""
        call = base or current.value
        ivr = await self._ivr(call.tenant_id, call.ivr_id)
        menu = find_menu(ivr, menu_id) if ivr is not None else None
        if ivr is None or menu is None:
            await self._finish(
                current, CallOutcome.FAILED, f"IVR menu {menu_id} is gone", now, key=key
            )
            return
        slots = self._menu_slots(ivr, menu, greeting=greeting, notice=notice)
        prompts = self._media_prompts(replace(call, media_seq=call.media_seq + 1), slots)
        wait = menu.timeout_s + (self._settings.prompt_allowance_s if prompts else 0)
        was_playing = call.state is CallState.MENU
        entering = call.state is not CallState.MENU or menu.id != call.menu_id
        new = replace(
            call,
            state=CallState.MENU,
            menu_id=menu.id,
            menu_tries=tries,
            ivr_path=(*call.ivr_path, *path, *((f"menu:{menu.id}",) if entering else ())),
            media_seq=call.media_seq + 1,
            tones=True,
            due_at=now + timedelta(seconds=wait),
        )
        saved = await self._commit(current, new, key)
        if not call.tones:
            await self._subscribe_tones(call)
        if was_playing and self._media_on:
            await self._cancel_media(call)
        if prompts and not await self._play_prompts(saved.value, prompts, _Purpose.MENU):
            await self._commit(
                saved, replace(saved.value, due_at=now + timedelta(seconds=menu.timeout_s))
            )

    async def _menu_prompt_done(
        self, current: Versioned[Call], level: int, failed: bool, now: datetime
    ) -> None:
        """The menu has played: wait for a key (replay it from the standard set if it failed)."""
        call = current.value
        if call.state is not CallState.MENU:
            return
        ivr = await self._ivr(call.tenant_id, call.ivr_id)
        menu = find_menu(ivr, call.menu_id) if ivr is not None else None
        if ivr is None or menu is None:
            return
        if failed and level < _SILENT:
            new = replace(call, media_fallback=level, media_seq=call.media_seq + 1)
            saved = await self._commit(current, new)
            if await self._play(
                saved.value, self._menu_slots(ivr, menu, greeting=False, notice=None), _Purpose.MENU
            ):
                return
            current, call = saved, saved.value
        new = replace(call, media_fallback=level, due_at=now + timedelta(seconds=menu.timeout_s))
        await self._commit(current, new)

    async def _menu_step(
        self,
        current: Versioned[Call],
        ivr: Ivr,
        menu: Menu,
        step: MenuStep,
        now: datetime,
        key: str | None,
        *,
        key_pressed: str | None = None,
    ) -> None:
        """Do what a key (or the lack of one) decided in a menu."""
        path = (f"key:{key_pressed}",) if key_pressed is not None else ("no-input",)
        if step.kind is StepKind.RETRY:
            await self._enter_menu(
                current, menu.id, now, key, notice=step.notice, tries=step.tries, path=path
            )
            return
        call = replace(current.value, ivr_path=(*current.value.ivr_path, *path))
        if step.kind is StepKind.DISCONNECT or step.option is None:
            leaving = Leaving(
                CallOutcome.REJECTED,
                "IVR: no valid choice",
                standard_prompts=_names(step.notice, StandardPrompt.GOODBYE),
            )
            await self._start_leaving(current, call, leaving, now, key)
            return
        await self._menu_option(current, call, ivr, menu, step.option, now, key, tries=step.tries)

    async def _menu_option(
        self,
        current: Versioned[Call],
        call: Call,
        ivr: Ivr,
        menu: Menu,
        option: MenuOption,
        now: datetime,
        key: str | None,
        *,
        tries: int,
    ) -> None:
        kind, target = option.action, option.target or ""
        if kind is MenuActionKind.MENU:
            await self._enter_menu(current, target, now, key, base=call)
        elif kind is MenuActionKind.REPEAT:
            await self._enter_menu(current, menu.id, now, key, tries=tries, base=call)
        elif kind is MenuActionKind.QUEUE:
            await self._ivr_to_queue(current, call, target, now, key)
        elif kind in (MenuActionKind.USER, MenuActionKind.NUMBER):
            party_kind = PartyKind.USER if kind is MenuActionKind.USER else PartyKind.PHONE
            leaving = Leaving(
                CallOutcome.TRANSFERRED,
                f"IVR: transferred to {target}",
                step=LeaveStep.TRANSFER,
                standard_prompts=(StandardPrompt.TRANSFERRING.value,),
                transfer_to=Party(party_kind, target),
            )
            await self._start_leaving(current, call, leaving, now, key)
        elif kind is MenuActionKind.VOICEMAIL:
            leaving = Leaving(
                CallOutcome.REJECTED,
                "IVR: voicemail",
                standard_prompts=(StandardPrompt.VOICEMAIL.value,),
                voicemail_queue_id=target,
            )
            await self._start_leaving(current, replace(call, queue_id=None), leaving, now, key)
        else:
            leaving = Leaving(
                CallOutcome.REJECTED,
                "IVR: disconnected",
                standard_prompts=(StandardPrompt.GOODBYE.value,),
            )
            await self._start_leaving(current, call, leaving, now, key)

    async def _ivr_to_queue(
        self, current: Versioned[Call], call: Call, queue_id: str, now: datetime, key: str | None
    ) -> None:
        """Send a caller from a menu into a queue (its hours apply)."""
        queue = await self._queue(call.tenant_id, queue_id)
        if queue is None:
            leaving = Leaving(
                CallOutcome.FAILED,
                f"IVR: queue {queue_id} does not exist",
                standard_prompts=(StandardPrompt.UNAVAILABLE.value,),
            )
            await self._start_leaving(current, call, leaving, now, key)
            return
        hours = await self._hours_verdict(call.tenant_id, queue.hours, now)
        if not hours.is_open:
            await self._closed_answered(current, call, queue, hours, now, key)
            return
        # Until now the priority held the VIP boost alone (see _admit_to_ivr).
        base = replace(
            self._in_queue(call, queue, call.priority),
            ivr_path=(*call.ivr_path, f"queue:{queue.id}"),
        )
        if self._media_on:
            await self._cancel_media(call)
        await self._start_queueing(current, now, key, base=base, queue=queue)

    async def _closed_answered(
        self,
        current: Versioned[Call],
        call: Call,
        queue: Queue,
        hours: HoursVerdict,
        now: datetime,
        key: str | None,
    ) -> None:
        """Apply a closed queue's action to a call already answered (it came from an IVR)."""
        action = hours.action or QueueAction()
        reason = "closed" if hours.state is not OpenState.HOLIDAY else f"holiday: {hours.holiday}"
        if action.kind is ActionKind.QUEUE and action.target and action.target != queue.id:
            target = await self._queue(call.tenant_id, action.target)
            if target is not None:
                base = replace(
                    self._in_queue(call, target, call.priority),
                    ivr_path=(*call.ivr_path, f"queue:{target.id}"),
                )
                if self._media_on:
                    await self._cancel_media(call)
                await self._start_queueing(current, now, key, base=base, queue=target)
                return
        party = _action_party(action)
        if party is not None:
            leaving = Leaving(
                CallOutcome.TRANSFERRED,
                f"{reason}: transferred to {party.id}",
                step=LeaveStep.TRANSFER,
                standard_prompts=(StandardPrompt.TRANSFERRING.value,),
                transfer_to=party,
            )
        elif action.kind is ActionKind.VOICEMAIL:
            leaving = Leaving(
                CallOutcome.REJECTED,
                reason,
                prompt_ids=_ids(action.prompt_id),
                standard_prompts=(StandardPrompt.VOICEMAIL.value,),
                voicemail_queue_id=action.target or queue.id,
            )
        else:
            standard = (
                StandardPrompt.HOLIDAY
                if hours.state is OpenState.HOLIDAY
                else StandardPrompt.CLOSED
            )
            leaving = Leaving(
                CallOutcome.REJECTED,
                reason,
                prompt_ids=_ids(action.prompt_id),
                standard_prompts=(standard.value,),
            )
        await self._start_leaving(
            current, replace(call, language=queue.language), leaving, now, key
        )

    # ================================================================ leaving
    async def _start_leaving(
        self,
        current: Versioned[Call],
        base: Call,
        leaving: Leaving,
        now: datetime,
        key: str | None,
    ) -> None:
        """Start a call's way out: its prompt, then what ``leaving.step`` says."""
        if leaving.voicemail_queue_id is not None:
            await self._begin_voicemail(current, base, leaving, now, key)
            return
        stored = current.value
        offer = stored.offer if stored.state is CallState.RINGING else None
        new = replace(
            base,
            state=CallState.LEAVING,
            leaving=leaving,
            offer=None,
            media_seq=base.media_seq + 1,
            due_at=now + timedelta(seconds=self._settings.prompt_allowance_s),
            ring_s=base.ring_s + (_seconds(offer.started_at, now) if offer else 0.0),
        )
        prompts = self._leave_prompts(new, leaving) if self._media_on else []
        if not prompts and leaving.step in (LeaveStep.HANG_UP, LeaveStep.CALLBACK_CONFIRM):
            if leaving.step is LeaveStep.CALLBACK_CONFIRM:
                await self._ensure_callback_line(base, now)
            await self._finish(current, leaving.outcome, leaving.reason, now, base=base, key=key)
            return
        saved = await self._commit(current, new, key)
        if offer is not None:
            await self._withdraw(
                stored, offer, offer.agent_ids, OfferEnd.WITHDRAWN, now, match=True
            )
        if stored.state in _MEDIA_PLAYING and self._media_on:
            await self._cancel_media(stored)
        if not await self._play_prompts(saved.value, prompts, _Purpose.LEAVE):
            await self._after_leave_prompt(saved, now)

    async def _leave_prompt_done(
        self, current: Versioned[Call], level: int, failed: bool, now: datetime
    ) -> None:
        call = current.value
        leaving = call.leaving
        if call.state is not CallState.LEAVING or leaving is None or leaving.prompt_done:
            return
        if failed and level < _SILENT:
            new = replace(call, media_fallback=level, media_seq=call.media_seq + 1)
            prompts = self._leave_prompts(new, leaving)
            saved = await self._commit(current, new)
            if await self._play_prompts(saved.value, prompts, _Purpose.LEAVE):
                return
            current = saved
        await self._after_leave_prompt(current, now)

    async def _after_leave_prompt(self, current: Versioned[Call], now: datetime) -> None:
        """The leaving prompt has played (or could not): take the next step."""
        call = current.value
        leaving = call.leaving
        assert leaving is not None
        if leaving.step is LeaveStep.TRANSFER and leaving.transfer_to is not None:
            transferring = replace(leaving, prompt_done=True, transferring=True)
            due = now + timedelta(seconds=self._settings.transfer_timeout_s)
            saved = await self._commit(current, replace(call, leaving=transferring, due_at=due))
            try:
                await self._calls.transfer(call.id, leaving.transfer_to)
            except DomainError as err:
                _LOGGER.warning("Transfer failed: %s", err, extra=_ctx(call))
                await self._finish(
                    saved, leaving.outcome, f"{leaving.reason} (transfer failed)", now
                )
            return
        if leaving.step is LeaveStep.CALLBACK_OFFER:
            queue = await self._queue(call.tenant_id, call.queue_id)
            wait = queue.callback.offer_timeout_s if queue is not None else 10
            waiting = replace(leaving, prompt_done=True)
            await self._commit(
                current, replace(call, leaving=waiting, due_at=now + timedelta(seconds=wait))
            )
            return
        if leaving.step is LeaveStep.CALLBACK_CONFIRM:
            await self._ensure_callback_line(call, now)
        await self._finish(current, leaving.outcome, leaving.reason, now)

    async def _leaving_due(self, current: Versioned[Call], now: datetime) -> None:
        call = current.value
        leaving = call.leaving
        if leaving is None:
            await self._finish(current, CallOutcome.FAILED, "left without a plan", now)
            return
        if leaving.transferring:
            await self._finish(
                current, leaving.outcome, f"{leaving.reason} (transfer not completed)", now
            )
        elif leaving.step is LeaveStep.CALLBACK_OFFER and leaving.prompt_done:
            await self._finish(current, leaving.outcome, leaving.reason, now)
        else:
            # The prompt's completion never came: go on as if it had.
            await self._after_leave_prompt(current, now)

    # ============================================================== voicemail
    async def _begin_voicemail(
        self, current: Versioned[Call], base: Call, leaving: Leaving, now: datetime, key: str | None
    ) -> None:
        """Record a message for a queue's shared voicemail."""
        if not self._can_record():
            await self._finish(
                current,
                leaving.outcome,
                f"{leaving.reason}: voicemail unavailable",
                now,
                base=base,
                key=key,
            )
            return
        stored = current.value
        offer = stored.offer if stored.state is CallState.RINGING else None
        new = replace(
            base,
            state=CallState.VOICEMAIL,
            leaving=leaving,
            offer=None,
            media_seq=base.media_seq + 1,
            due_at=now + timedelta(seconds=MAX_RECORDING_S + self._settings.prompt_allowance_s),
            ring_s=base.ring_s + (_seconds(offer.started_at, now) if offer else 0.0),
        )
        saved = await self._commit(current, new, key)
        if offer is not None:
            await self._withdraw(
                stored, offer, offer.agent_ids, OfferEnd.WITHDRAWN, now, match=True
            )
        await self._record(saved, now)

    async def _record(self, current: Versioned[Call], now: datetime) -> None:
        call = current.value
        leaving = call.leaving
        assert leaving is not None
        prompts = self._leave_prompts(call, leaving)
        try:
            # The recording barges in: music still queued on the call is cancelled.
            await self._calls.record_response(
                call.id,
                prompt=prompts[0] if prompts else None,
                max_duration_s=MAX_RECORDING_S,
                client_context=_media_context(call.media_seq, _Purpose.RECORD),
            )
        except DomainError as err:
            _LOGGER.warning("recordResponse failed: %s", err, extra=_ctx(call))
            await self._finish(current, leaving.outcome, f"{leaving.reason}: not recorded", now)

    async def _recording_done(
        self, current: Versioned[Call], event: OperationFinished, level: int, now: datetime
    ) -> None:
        """Keep the message: fetch it, store it, write the voicemail, alert the agents."""
        call = current.value
        leaving = call.leaving
        if call.state is not CallState.VOICEMAIL or leaving is None:
            return
        if event.status is OperationStatus.FAILED:
            if level < _SILENT:
                # Again with the standard prompt, then with none: a caller can always speak.
                retry = replace(call, media_fallback=level, media_seq=call.media_seq + 1)
                await self._record(await self._commit(current, retry), now)
                return
            await self._finish(current, leaving.outcome, f"{leaving.reason}: not recorded", now)
            return
        location, token = event.recording_location, event.recording_access_token
        data = b""
        if location and token and self._recordings is not None and self._media is not None:
            try:
                data = await self._recordings.fetch(location, token)
                if data:
                    await self._media.put(call.tenant_id, recording_media_id(call.id), data)
            except DomainError as err:
                _LOGGER.warning("Voicemail not saved: %s", err, extra=_ctx(call))
                data = b""
        if not data:
            await self._finish(current, leaving.outcome, f"{leaving.reason}: no message", now)
            return
        box_id = leaving.voicemail_queue_id or ""
        box = await self._queue(call.tenant_id, box_id)
        message = Voicemail(
            id=voicemail_id(call.id),
            tenant_id=call.tenant_id,
            queue_id=box_id,
            call_id=call.id,
            caller=call.caller,
            recorded_at=now,
            media_id=recording_media_id(call.id),
            queue_name=box.name if box is not None else "",
            duration_s=wav_duration_s(data),
            size_bytes=len(data),
            ivr_path=call.ivr_path,
        )
        try:
            await self._repo.voicemails.create(message)
            created = True
        except Conflict:
            created = False
        thanks = Leaving(
            CallOutcome.VOICEMAIL,
            f"{leaving.reason}: message left",
            standard_prompts=(StandardPrompt.VOICEMAIL_THANKS.value,),
        )
        await self._start_leaving(
            current, replace(call, voicemail_id=message.id), thanks, now, None
        )
        if created:
            _LOGGER.info("Voicemail left for %s", message.queue_name, extra=_ctx(call))
            try:
                await self._notifier.voicemail_left(message, box.members if box else ())
            except DomainError as err:
                _LOGGER.warning("Voicemail alert: %s", err, extra=_ctx(call))

    # ============================================================== callbacks
    async def _request_callback(
        self, current: Versioned[Call], queue: Queue, now: datetime, key: str | None
    ) -> None:
        """The caller keeps their place in line and hangs up; they are called back."""
        call = current.value
        request_id = callback_id(call.id)
        leaving = Leaving(
            CallOutcome.CALLBACK_REQUESTED,
            "callback requested",
            step=LeaveStep.CALLBACK_CONFIRM,
            standard_prompts=(StandardPrompt.CALLBACK_CONFIRMED.value,),
        )
        base = replace(call, callback_request_id=request_id)
        _LOGGER.info("Callback requested", extra=_ctx(call))
        await self._start_leaving(current, base, leaving, now, key)
        await self._ensure_callback_line(base, now)

    async def _ensure_callback_line(self, call: Call, now: datetime) -> None:
        """Create the callback that keeps the caller's place (once; a retry finds it)."""
        request_id = call.callback_request_id
        if request_id is None:
            return
        queue = await self._queue(call.tenant_id, call.queue_id)
        settings = queue.callback if queue is not None else CallbackSettings()
        line = Call(
            id=request_id,
            tenant_id=call.tenant_id,
            caller=Party(PartyKind.PHONE, call.caller.id, call.caller.display_name),
            target_id=call.target_id,
            state=CallState.SCHEDULED,
            chain_id=call.chain_id,
            direction="callback",
            queue_id=call.queue_id,
            priority=call.priority,
            vip=call.vip,
            required_skills=dict(call.required_skills),
            received_at=now,
            offered_at=call.offered_at,
            queued_at=call.queued_at,
            queue_name=call.queue_name,
            service_level_threshold_s=call.service_level_threshold_s,
            wrap_up_s=call.wrap_up_s,
            language=call.language,
            ivr_path=call.ivr_path,
            callback=CallbackState(
                request_id=request_id,
                origin_call_id=call.id,
                requested_at=now,
                settings=settings,
            ),
            due_at=now + timedelta(seconds=self._settings.callback_start_delay_s),
        )
        try:
            await self._repo.calls.create(line)
        except Conflict:
            return
        self._hint_call(line)
        try:
            await self._notifier.callback_waiting(line, queue.members if queue else ())
        except DomainError as err:
            _LOGGER.warning("Callback alert: %s", err, extra=_ctx(line))

    async def _callback_due(self, current: Versioned[Call], now: datetime) -> None:
        """A callback's wait for its next attempt is over: back in line, in its old place."""
        call = current.value
        queue = await self._queue(call.tenant_id, call.queue_id)
        if queue is None:
            await self._close_line(
                call.tenant_id, call.id, CallbackStatus.CANCELLED, now, reason="queue deleted"
            )
            return
        waiting = replace(call, state=CallState.WAITING, due_at=self._waiting_due(call, queue, now))
        saved = await self._commit(current, waiting)
        await self._notify_queue(call)
        await self._route_on(saved, queue, [], now)

    async def _dial_callback(self, saved: Versioned[Call], agent: Agent, now: datetime) -> None:
        """An agent is reserved for a callback: place the outbound call."""
        line = saved.value
        state = line.callback
        assert state is not None
        settings = state.settings
        number = len(state.attempts) + 1
        order = settings.order
        target = (
            line.caller
            if order is CallbackOrder.CALLER_FIRST
            else Party(PartyKind.USER, agent.id, agent.display_name, agent.tenant_id)
        )
        source = settings.source_application_instance_id or line.target_id
        prefetch = (
            self._media_prompts(
                line,
                [_Slot(StandardPrompt.CALLBACK_INTRO), *self._hold_slots(None, greeting=False)],
            )
            if order is CallbackOrder.CALLER_FIRST
            else []
        )
        self._placing += 1
        self._placed.clear()
        try:
            try:
                placed = await self._calls.place_call(
                    tenant_id=line.tenant_id,
                    source_application_instance_id=source,
                    target=target,
                    callback_uri=self._settings.callback_uri,
                    prefetch=prefetch,
                )
            except DomainError as err:
                _LOGGER.warning("Placing callback %s failed: %s", number, err, extra=_ctx(line))
                failed = CallbackAttempt(
                    number, now, agent_id=agent.id, ended_at=now, result=f"not placed: {err}"
                )
                await self._update_line(line.tenant_id, line.id, failed, now, add=True)
                await self._attempt_ended(line.tenant_id, line.id, "", f"not placed: {err}", now)
                return
            leg = replace(
                line,
                id=placed.call_id,
                state=CallState.DIALING,
                chain_id="",
                direction="outbound",
                callback=None,
                callback_request_id=line.id,
                callback_agent_id=agent.id,
                callback_order=order,
                offer=None,
                offers_made=0,
                missed_agent_ids=(),
                ring_s=0.0,
                applied_notifications=(),
                media_seq=0,
                received_at=now,
                due_at=now + timedelta(seconds=settings.dial_timeout_s),
            )
            try:
                await self._repo.calls.create(leg)
            except Conflict:
                _LOGGER.warning("Callback call %s known already", leg.id, extra=_ctx(line))
            self._hint_call(leg)
        finally:
            self._placing -= 1
            if self._placing == 0:
                self._placed.set()
        _LOGGER.info("Callback attempt %s: calling %s", number, order.value, extra=_ctx(leg))
        attempt = CallbackAttempt(number, now, call_id=leg.id, agent_id=agent.id)
        await self._update_line(
            line.tenant_id,
            line.id,
            attempt,
            now,
            add=True,
            expires=now + timedelta(seconds=settings.dial_timeout_s + self._settings.claim_grace_s),
        )

    async def _update_line(
        self,
        tenant_id: str,
        line_id: str,
        attempt: CallbackAttempt,
        now: datetime,
        *,
        add: bool = False,
        expires: datetime | None = None,
    ) -> Versioned[Call] | None:
        """Add or update an attempt on a callback (compare-and-set, no lock: see _match)."""
        for _ in range(_ATTEMPTS):
            current = await self._read_call(tenant_id, line_id)
            if current is None or current.value.callback is None:
                return None
            line = current.value
            state = line.callback
            assert state is not None
            others = tuple(a for a in state.attempts if a.number != attempt.number)
            if not add and len(others) == len(state.attempts):
                return current  # not an attempt of this callback
            attempts = tuple(sorted((*others, attempt), key=lambda a: a.number))
            new = replace(line, callback=replace(state, attempts=attempts))
            if expires is not None and line.state is CallState.RINGING and line.offer is not None:
                new = replace(new, offer=replace(line.offer, expires_at=expires), due_at=expires)
            try:
                return await self._commit(current, new)
            except _StaleCall:
                continue
        return None

    async def _callback_answered(self, current: Versioned[Call], now: datetime, key: str) -> None:
        """The outbound callback call was answered (by the caller, or agent first)."""
        leg = current.value
        line_id = leg.callback_request_id or ""
        agent_id = leg.callback_agent_id or ""
        if leg.callback_order is CallbackOrder.AGENT_FIRST:
            if leg.agent_id is not None:
                return  # the agent is on; the caller is being invited
            await self._agent_first_answered(current, now, key)
            return
        queue = await self._queue(leg.tenant_id, leg.queue_id)
        if queue is None:
            await self._finish(current, CallOutcome.FAILED, "queue deleted", now, key=key)
            await self._close_line(
                leg.tenant_id, line_id, CallbackStatus.CANCELLED, now, reason="queue deleted"
            )
            return
        waiting = self._with_hold(
            replace(leg, state=CallState.WAITING, queued_at=now, due_at=None), queue, now
        )
        committed: Versioned[Call] | None = None
        agent = await self._read_agent(leg.tenant_id, agent_id)
        if (
            agent is not None
            and agent.value.current_call_id == line_id
            and agent.value.activity is AgentActivity.RINGING
        ):
            # The reserved agent's claim moves to this call in the compare-and-set.
            result = await self._offer(current, waiting, queue, [agent], now, key)
            if result.stale:
                raise _StaleCall
            committed = result.committed
        if committed is None:
            committed = await self._enqueue(current, waiting, queue, now, key)
        await self._close_line(
            leg.tenant_id,
            line_id,
            CallbackStatus.CONNECTED,
            now,
            connected_call_id=leg.id,
            agent_id=agent_id,
            result="answered",
        )
        if committed is not None:
            await self._start_hold(
                committed.value, queue, greeting=False, subscribe=True, intro=True
            )

    async def _agent_first_answered(
        self, current: Versioned[Call], now: datetime, key: str
    ) -> None:
        """Agent first: the agent picked up; now invite the caller."""
        leg = current.value
        line_id = leg.callback_request_id or ""
        agent_id = leg.callback_agent_id or ""
        moved = await self._update_agent(
            leg.tenant_id,
            agent_id,
            lambda a: (
                replace(
                    a,
                    activity=AgentActivity.ON_CALL,
                    current_call_id=leg.id,
                    missed_in_a_row=0,
                    due_at=now + timedelta(seconds=self._settings.keep_alive_s),
                )
                if a.current_call_id == line_id
                else None
            ),
        )
        if moved is None:
            await self._callback_leg_failed(
                current, "agent no longer reserved", now, key, hang_up=True
            )
            return
        line = await self._read_call(leg.tenant_id, line_id)
        dial_s = line.value.callback.settings.dial_timeout_s if line and line.value.callback else 45
        joined = replace(
            leg,
            agent_id=agent_id,
            agent_name=moved.value.display_name,
            due_at=now + timedelta(seconds=dial_s),
        )
        saved = await self._commit(current, joined, key)
        try:
            await self._calls.invite(
                leg.id, leg.caller, client_context=f"{_CALLBACK_INVITE}{leg.id}"
            )
        except DomainError as err:
            _LOGGER.warning("Inviting the caller failed: %s", err, extra=_ctx(leg))
            await self._callback_leg_failed(
                saved, f"caller not invited: {err}", now, None, hang_up=True
            )

    def _on_callback_invite(
        self, event: OperationFinished
    ) -> Callable[[Versioned[Call]], Awaitable[None]]:
        async def decide(current: Versioned[Call]) -> None:
            leg = current.value
            if leg.state is not CallState.DIALING or leg.agent_id is None:
                return
            if event.status not in (OperationStatus.COMPLETED, OperationStatus.FAILED):
                return
            now = self._clock.now()
            if event.status is OperationStatus.FAILED:
                await self._callback_leg_failed(
                    current,
                    f"caller did not answer ({event.result_code})",
                    now,
                    event.key,
                    hang_up=True,
                )
                return
            connected = replace(
                leg,
                state=CallState.CONNECTED,
                answered_at=now,
                queued_at=now,
                due_at=now + timedelta(seconds=self._settings.keep_alive_s),
            )
            await self._commit(current, connected, event.key)
            await self._close_line(
                leg.tenant_id,
                leg.callback_request_id or "",
                CallbackStatus.CONNECTED,
                now,
                connected_call_id=leg.id,
                agent_id=leg.agent_id,
                result="answered",
            )
            await self._notify_queue(leg)

        return decide

    async def _callback_leg_failed(
        self,
        current: Versioned[Call],
        reason: str,
        now: datetime,
        key: str | None,
        *,
        hang_up: bool,
    ) -> None:
        """An outbound callback call did not reach the caller: record it, try again later."""
        leg = current.value
        await self._finish(
            current, CallOutcome.FAILED, f"callback: {reason}", now, key=key, hang_up=hang_up
        )
        if leg.callback_order is CallbackOrder.AGENT_FIRST and leg.agent_id is not None:
            freed = await self._update_agent(
                leg.tenant_id,
                leg.agent_id,
                lambda a: (
                    replace(a, activity=AgentActivity.IDLE, current_call_id=None, due_at=None)
                    if a.current_call_id == leg.id
                    else None
                ),
            )
            if freed is not None:
                await self._match(leg.tenant_id, [freed], now)
        await self._attempt_ended(leg.tenant_id, leg.callback_request_id or "", leg.id, reason, now)

    async def _attempt_ended(
        self, tenant_id: str, line_id: str, leg_id: str, result: str, now: datetime
    ) -> None:
        """Close a callback's current attempt: schedule the next one, or give up."""
        for _ in range(_ATTEMPTS):
            current = await self._read_call(tenant_id, line_id)
            if current is None or current.value.callback is None:
                return
            line = current.value
            state = line.callback
            assert state is not None
            last = state.attempts[-1] if state.attempts else None
            if last is None or last.call_id != leg_id or line.state is not CallState.RINGING:
                return  # an attempt that is over already
            attempts = (*state.attempts[:-1], replace(last, ended_at=now, result=result))
            ended_line = replace(line, callback=replace(state, attempts=attempts))
            offer = line.offer
            if len(attempts) >= state.settings.max_attempts:
                try:
                    await self._commit(current, ended_line)
                except _StaleCall:
                    continue
                await self._close_line(
                    tenant_id,
                    line_id,
                    CallbackStatus.FAILED,
                    now,
                    reason=f"not reached after {len(attempts)} attempts",
                )
                return
            scheduled = replace(
                ended_line,
                state=CallState.SCHEDULED,
                offer=None,
                due_at=now + timedelta(seconds=state.settings.retry_s),
            )
            try:
                await self._commit(current, scheduled)
            except _StaleCall:
                continue
            _LOGGER.info("Callback attempt %s failed: %s", last.number, result, extra=_ctx(line))
            if offer is not None:
                await self._release_reserved(line, offer, now)
            return

    async def _release_reserved(self, line: Call, offer: Offer, now: datetime) -> None:
        """Free the agents a callback had reserved (not their miss) and give them work."""
        freed = []
        for agent_id in offer.agent_ids:
            released = await self._release(line.tenant_id, agent_id, line.id, None)
            if released is not None:
                freed.append(released)
        if freed:
            await self._match(line.tenant_id, freed, now)

    async def _close_line(
        self,
        tenant_id: str,
        line_id: str,
        status: CallbackStatus,
        now: datetime,
        *,
        reason: str = "",
        connected_call_id: str | None = None,
        agent_id: str | None = None,
        result: str = "",
    ) -> None:
        """End a callback: write its request record, remove it from the line."""
        for _ in range(_ATTEMPTS):
            current = await self._read_call(tenant_id, line_id)
            if current is None or current.value.callback is None:
                return
            line = current.value
            state = line.callback
            assert state is not None
            attempts = tuple(
                replace(a, ended_at=a.ended_at or now, result=a.result or result)
                if connected_call_id is None or a.call_id == connected_call_id
                else a
                for a in state.attempts
            )
            ended = replace(
                line,
                state=CallState.ENDED,
                ended_at=now,
                offer=None,
                due_at=None,
                callback=replace(state, attempts=attempts),
            )
            record = build_callback_request(
                ended,
                status,
                reason=reason,
                connected_call_id=connected_call_id,
                agent_id=agent_id,
            )
            # The request's record is final once written, and never taken back: a host
            # that finds it written (a retry, another host) only removes the line.
            try:
                await self._repo.callbacks.create(record)
            except Conflict:
                with contextlib.suppress(NotFound):
                    await self._repo.calls.delete(tenant_id, line_id)
                return
            with contextlib.suppress(NotFound):
                await self._repo.calls.delete(tenant_id, line_id)
            try:
                await self._notifier.callback_ended(record)
            except DomainError as err:
                _LOGGER.warning("Callback alert: %s", err, extra=_ctx(line))
            self._mark_ended(line)
            self._hint("calls", tenant_id, line_id, None)
            _LOGGER.info("Callback %s: %s", status.value, reason or result, extra=_ctx(line))
            await self._notify_queue(line)
            if line.state is CallState.RINGING and line.offer is not None:
                await self._release_reserved(line, line.offer, now)
            return

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
            if call.state in _STATE_TIMERS:
                await _STATE_TIMERS[call.state](self, current, now)
                return
            queue = await self._queue(call.tenant_id, call.queue_id)
            if queue is None:
                await self._finish(current, CallOutcome.FAILED, "queue deleted", now)
                return
            deadline = self._deadline(call, queue)
            timed_out = deadline is not None and now >= deadline
            if call.state is CallState.RINGING and call.callback is not None:
                await self._callback_offer_due(current, now)
                return
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
            if call.callback is None and not await self._keep_alive_waiting(call):
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

    async def _menu_due(self, current: Versioned[Call], now: datetime) -> None:
        """No key came in time."""
        call = current.value
        ivr = await self._ivr(call.tenant_id, call.ivr_id)
        menu = find_menu(ivr, call.menu_id) if ivr is not None else None
        if ivr is None or menu is None:
            await self._finish(current, CallOutcome.FAILED, "IVR menu is gone", now)
            return
        await self._menu_step(current, ivr, menu, on_timeout(menu, call.menu_tries), now, None)

    async def _voicemail_due(self, current: Versioned[Call], now: datetime) -> None:
        leaving = current.value.leaving
        outcome = leaving.outcome if leaving is not None else CallOutcome.FAILED
        reason = leaving.reason if leaving is not None else "voicemail"
        await self._finish(current, outcome, f"{reason}: the recording did not complete", now)

    async def _dialing_due(self, current: Versioned[Call], now: datetime) -> None:
        await self._callback_leg_failed(current, "no answer in time", now, None, hang_up=True)

    async def _callback_offer_due(self, current: Versioned[Call], now: datetime) -> None:
        """A callback's reserved agent waited for an attempt that never settled."""
        line = current.value
        offer = line.offer
        state = line.callback
        assert state is not None
        if offer is not None and offer.expires_at > now:
            await self._commit(current, replace(line, due_at=offer.expires_at))
            return
        last = state.attempts[-1] if state.attempts else None
        if last is not None and last.ended_at is None:
            if last.call_id:
                with contextlib.suppress(DomainError):
                    await self._calls.hang_up(last.call_id)
            await self._attempt_ended(line.tenant_id, line.id, last.call_id, "no result", now)
            return
        # The call was never placed (a crash between the reservation and the dial).
        scheduled = replace(line, state=CallState.SCHEDULED, offer=None, due_at=now)
        await self._commit(current, scheduled)
        if offer is not None:
            await self._release_reserved(line, offer, now)

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
        if (
            value is not None
            and value.state in (CallState.CONNECTED, CallState.DIALING)
            and value.agent_id == agent.id
        ):
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
        self._queues.forget((tenant_id, queue_id))  # membership must be current
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
        self._queues.forget((tenant_id, queue_id))
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
                    participant_id=invitee_participant_id(call_id, offer.attempt, agent_id),
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
            deadline = self._deadline(target.value, queue)
            if deadline is not None and deadline <= now:
                # Its maximum wait is over (its timer not fired yet: a host was down, or
                # is busy): the timeout action is due, not an offer.
                placed.add(target.value.id)
                continue
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
                if current is None and self._placing:
                    # Perhaps a callback call this instance is placing: Graph can notify
                    # before it has answered us, and so before the call is written.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._placed.wait(), _PLACING_WAIT_S)
                    current = await self._read_call(tenant_id, call_id)
                if current is None:
                    return
                if current.value.state is CallState.ENDED:
                    await self._ended_found(current)
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

    async def _ended_found(self, current: Versioned[Call]) -> None:
        """Complete an end another host began, once its lease is over (else leave it be)."""
        now = self._clock.now()
        due = current.value.due_at
        if due is not None and due > now:
            return
        _LOGGER.warning(
            "Completing the end of a call its host left unfinished", extra=_ctx(current.value)
        )
        await self._complete_end(current, now)

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
        return await self._queues.get(
            (tenant_id, queue_id), lambda: self._value(self._repo.queues.get(tenant_id, queue_id))
        )

    @staticmethod
    async def _value(read: Awaitable[Versioned[T]]) -> T:
        return (await read).value

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

    async def _tenant(self, tenant_id: str) -> Tenant | None:
        """Return the tenant's settings (retention, time zone), read at most every few minutes."""
        return await self._tenants.get(
            tenant_id, lambda: self._value(self._repo.tenants.get(tenant_id, tenant_id))
        )

    async def _record_ttl(self, tenant_id: str) -> int | None:
        tenant = await self._tenant(tenant_id)
        return None if tenant is None else tenant.retention_days * 86_400

    async def _caller_list(self, tenant_id: str) -> CallerList | None:
        """Return the tenant's blocked and VIP callers (cached; see ``caller_list_changed``)."""
        return await self._caller_lists.get(
            tenant_id, lambda: self._value(self._repo.caller_lists.get(tenant_id, CALLER_LIST_ID))
        )

    def caller_list_changed(self, tenant_id: str) -> None:
        """Forget the cached caller list (whoever saves one calls this; other hosts expire it)."""
        self._caller_lists.forget(tenant_id)

    def binding_changed(self, tenant_id: str, identity: str) -> None:
        """Forget the cached binding of a number or resource account (as caller lists)."""
        self._bindings.forget((tenant_id, identity))

    def ivr_changed(self, tenant_id: str, ivr_id: str) -> None:
        """Forget the cached IVR (as caller lists)."""
        self._ivrs.forget((tenant_id, ivr_id))

    def queue_changed(self, tenant_id: str, queue_id: str) -> None:
        """Forget the cached queue (as caller lists)."""
        self._queues.forget((tenant_id, queue_id))

    async def _ivr(self, tenant_id: str, ivr_id: str | None) -> Ivr | None:
        """Return an IVR's configuration, re-read at most every ``queue_cache_s``."""
        if ivr_id is None:
            return None
        return await self._ivrs.get(
            (tenant_id, ivr_id), lambda: self._value(self._repo.ivrs.get(tenant_id, ivr_id))
        )

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


_StateTimer = Callable[[RoutingEngine, Versioned[Call], datetime], Awaitable[None]]
# What a due timer does for the states that have their own (see _on_call_due).
_STATE_TIMERS: Mapping[CallState, _StateTimer] = {
    CallState.MENU: RoutingEngine._menu_due,
    CallState.LEAVING: RoutingEngine._leaving_due,
    CallState.VOICEMAIL: RoutingEngine._voicemail_due,
    CallState.SCHEDULED: RoutingEngine._callback_due,
    CallState.DIALING: RoutingEngine._dialing_due,
}
