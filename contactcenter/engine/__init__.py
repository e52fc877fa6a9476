"""The routing engine: a queue call's life from the incoming notification to its record.

Every state change that must be atomic is a compare-and-set on one document: the call
document decides what happens to a call (the first handler to change it wins, the others
re-read and decide again), and the agent document decides who an agent is claimed by.
Side effects (Graph actions, agent cards) follow a winning write, so a redelivered
notification or a timer fired twice changes nothing.

The package is built in layers, each calling only the layers below it (the order is
pinned by ``tests/test_layout.py``):

``settings``, ``codecs``, ``context``, ``timing``
    configuration, the strings Graph echoes back, what the layers share, pure timing rules;
``store``, ``prompts``, ``alerts``
    reads and compare-and-set writes, what callers hear, what people are told;
``endings``, ``offers``, ``matching``
    the call lifecycle core: ending calls, claiming and ringing agents, free agents
    taking waiting calls;
``unknown``
    calls no host knows, recorded once;
``leaving``, ``voicemail``, ``queueing``, ``answers``, ``handover``, ``reconciling``,
``callbacks``, ``menus``, ``incoming``
    the ways a call goes: out, to voicemail, into a queue, to the agent who answers (or
    takes it by a transfer), kept honest by reading who is in a talk, back to a caller,
    through an IVR, in at all;
``events``, ``timers``, ``agents``
    what drives it all: Graph's notifications, due timers, agents' own actions.

Where a lower layer needs what an upper one does, it names a small Protocol and the
engine wires the upper layer in: who matches freed agents (``Endings.matcher``), what
follows a finished call (``Endings.after_finish``), how a callback is rung
(``Offers.callback_ringer``) and who records voicemail (``Departures.recorder``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from contactcenter.clock import Clock
from contactcenter.engine.agents import AgentActions
from contactcenter.engine.alerts import Alerts
from contactcenter.engine.answers import Answers
from contactcenter.engine.callbacks import Callbacks
from contactcenter.engine.codecs import invitee_participant_id
from contactcenter.engine.context import EngineContext
from contactcenter.engine.endings import Endings
from contactcenter.engine.events import Events
from contactcenter.engine.handover import Handover
from contactcenter.engine.incoming import Incoming
from contactcenter.engine.leaving import Departures
from contactcenter.engine.matching import Matching
from contactcenter.engine.menus import Menus
from contactcenter.engine.offers import Offers
from contactcenter.engine.prompts import Prompts
from contactcenter.engine.queueing import ActionContext, ActionHandler, Queueing
from contactcenter.engine.reconciling import Reconciler
from contactcenter.engine.settings import (
    CANCELLED_MEDIA_SUBCODE,
    DECLINED_CODE,
    TRIGGER_OUTCOMES,
    ActionTrigger,
    EngineSettings,
)
from contactcenter.engine.store import CallStore
from contactcenter.engine.timers import Timers
from contactcenter.engine.transfers import NotYourTalk, Transfers
from contactcenter.engine.unknown import UnknownCalls
from contactcenter.engine.voicemail import VoicemailRecorder
from contactcenter.engine.wrapups import WrapUps
from contactcenter.events import CallEvent
from contactcenter.model import (
    ActionKind,
    Agent,
    AgentStatus,
    AgentTransfer,
    Call,
    CallRecord,
    Party,
    Queue,
)
from contactcenter.ports import (
    CallControl,
    MediaStore,
    Notifier,
    RecordingSource,
    Store,
    TimerSchedule,
)
from contactcenter.repository import Repository

__all__ = [
    "CANCELLED_MEDIA_SUBCODE",
    "DECLINED_CODE",
    "TRIGGER_OUTCOMES",
    "ActionContext",
    "ActionHandler",
    "ActionTrigger",
    "EngineSettings",
    "NotYourTalk",
    "RoutingEngine",
    "invitee_participant_id",
]


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
        ctx = EngineContext(
            repository if isinstance(repository, Repository) else Repository(repository),
            call_control,
            notifier,
            clock,
            settings,
            timers=timers,
            media=media,
            recordings=recordings,
            on_record=on_record,
        )
        self._ctx = ctx
        store = CallStore(ctx)
        prompts = Prompts(ctx)
        alerts = Alerts(ctx, store)
        wrapups = WrapUps(ctx, store)
        endings = Endings(ctx, store, alerts, wrapups)
        offers = Offers(ctx, store, alerts, endings)
        matching = Matching(ctx, store, offers)
        departures = Departures(ctx, store, prompts, endings)
        voicemail = VoicemailRecorder(ctx, store, prompts, alerts, endings, departures)
        queueing = Queueing(ctx, store, prompts, alerts, endings, offers, departures)
        answers = Answers(ctx, store, prompts, alerts, endings, matching, queueing)
        handover = Handover(ctx, store, endings, answers)
        reconciler = Reconciler(ctx, store, endings, handover)
        callbacks = Callbacks(
            ctx, store, prompts, alerts, endings, offers, matching, departures, queueing
        )
        menus = Menus(ctx, store, prompts, endings, departures, queueing)
        transfers = Transfers(ctx, store, prompts, alerts, endings, queueing, wrapups)
        incoming = Incoming(ctx, store, prompts, endings)
        # The seams where a lower layer reaches an upper one.
        endings.matcher = matching
        endings.after_finish = callbacks.after_finish
        offers.callback_ringer = callbacks
        departures.recorder = voicemail
        self._events = Events(
            ctx,
            store,
            prompts,
            endings,
            departures,
            voicemail,
            queueing,
            answers,
            callbacks,
            menus,
            incoming,
            handover,
            reconciler,
            UnknownCalls(ctx, store),
            transfers,
        )
        self._timers = Timers(
            ctx,
            store,
            endings,
            matching,
            departures,
            voicemail,
            queueing,
            answers,
            callbacks,
            menus,
            reconciler,
            wrapups,
            transfers,
        )
        self._agents = AgentActions(
            ctx, store, endings, offers, matching, answers, handover, wrapups
        )
        self._endings = endings
        self._transfers = transfers
        self._callbacks = callbacks
        # What each kind of queue action does (``ActionKind`` → handler).
        self.action_handlers: dict[ActionKind, ActionHandler] = queueing.action_handlers

    @property
    def repository(self) -> Repository:
        """The collections the engine keeps its state in."""
        return self._ctx.repository

    @property
    def settings(self) -> EngineSettings:
        return self._ctx.settings

    async def handle(self, event: CallEvent) -> None:
        """Apply one call event; duplicates and stale events change nothing."""
        await self._events.handle(event)

    async def fire_due_timers(self, now: datetime | None = None) -> int:
        """Handle every call and agent timer due by ``now``; return how many were due.

        Timers are handled in the order they fell due. Any host may run this at any time:
        each document is re-checked (still due, still in the state the timer was set for)
        and changed by compare-and-set, so a timer fired twice, or by two hosts, acts once.
        """
        return await self._timers.fire_due(now)

    async def fire_own_timers(self, now: datetime | None = None) -> int:
        """Handle the timers this instance set that fell due by ``now``; return how many.

        Each is read by its id, without the queries of :meth:`fire_due_timers`, which is
        still to be run every few seconds: for other hosts' timers, and those of a host
        that stopped.
        """
        return await self._timers.fire_own(now)

    async def end_talk(self, tenant_id: str, call_id: str) -> bool:
        """End a talk from the contact center; False if the call is not a talk now.

        Everyone else is removed from the call, then the bot leaves it: once an agent
        joined, the call is a group call, which the bot's hanging up alone would not end.
        """
        return await self._endings.end_talk_now(tenant_id, call_id)

    async def transfer_to_queue(
        self, tenant_id: str, call_id: str, agent_id: str, queue_id: str
    ) -> None:
        """Hand the agent's talk to another queue: the caller waits there, first in line.

        Raises NotYourTalk, NotFound (no such call) or InvalidInput (no such queue).
        """
        await self._transfers.to_queue(tenant_id, call_id, agent_id, queue_id)

    async def transfer_to_agent(
        self, tenant_id: str, call_id: str, agent_id: str, target_id: str
    ) -> AgentTransfer:
        """Invite another agent into the agent's talk; they take it over when they join.

        Raises NotYourTalk, NotFound (no such call), Conflict (a transfer is under way)
        or InvalidInput (the target is not free).
        """
        return await self._transfers.to_agent(tenant_id, call_id, agent_id, target_id)

    async def call_back(self, queue: Queue, number: Party, origin_call_id: str) -> Call:
        """Have the queue call a caller back (an agent asked: a missed call, a voicemail)."""
        return await self._callbacks.call_back(queue, number, origin_call_id, self._ctx.clock.now())

    # ------------------------------------------------------------ agents
    async def sign_in(self, tenant_id: str, agent_id: str, queue_id: str) -> Agent:
        """Sign the agent in to a queue they are a member of (available if they were offline)."""
        return await self._agents.sign_in(tenant_id, agent_id, queue_id)

    async def sign_out(self, tenant_id: str, agent_id: str, queue_id: str | None = None) -> Agent:
        """Sign the agent out of one queue, or out of every queue (and offline)."""
        return await self._agents.sign_out(tenant_id, agent_id, queue_id)

    async def set_status(
        self, tenant_id: str, agent_id: str, status: AgentStatus, reason: str | None = None
    ) -> Agent:
        """Set what the agent chose (available, away...); available agents get waiting calls."""
        return await self._agents.set_status(tenant_id, agent_id, status, reason)

    async def update_presence(
        self, tenant_id: str, agent_id: str, availability: str, *, activity: str | None = None
    ) -> Agent:
        """Record the agent's Teams presence; one that now allows calls gets waiting calls."""
        return await self._agents.update_presence(
            tenant_id, agent_id, availability, activity=activity
        )

    async def end_wrap_up(self, tenant_id: str, agent_id: str) -> Agent:
        """End the agent's wrap-up now (they are ready before the queue's wrap-up time)."""
        return await self._agents.end_wrap_up(tenant_id, agent_id)

    async def extend_wrap_up(self, tenant_id: str, agent_id: str) -> Agent:
        """Give the agent their queue's extra wrap-up time, once per wrap-up."""
        return await self._agents.extend_wrap_up(tenant_id, agent_id)

    async def accept_offer(self, tenant_id: str, call_id: str, agent_id: str) -> bool:
        """Accept a card-first offer: ring the agent's Teams client; False if it is gone."""
        return await self._agents.accept_offer(tenant_id, call_id, agent_id)

    async def decline_offer(self, tenant_id: str, call_id: str, agent_id: str) -> bool:
        """Decline an offer from the card: release the agent and ring the next one."""
        return await self._agents.decline_offer(tenant_id, call_id, agent_id)

    async def route_waiting_calls(self, tenant_id: str, queue_id: str) -> None:
        """Offer the queue's waiting calls to its idle agents (after a configuration change).

        Membership, skills, presence rules or the routing method may now let idle agents
        take calls that wait; nothing else would tell the engine.
        """
        await self._agents.route_waiting_calls(tenant_id, queue_id)

    # ------------------------------------------------------------ caches
    def caller_list_changed(self, tenant_id: str) -> None:
        """Forget the cached caller list (whoever saves one calls this; other hosts expire it)."""
        self._ctx.caller_lists.forget(tenant_id)

    def binding_changed(self, tenant_id: str, identity: str) -> None:
        """Forget the cached binding of a number or resource account (as caller lists)."""
        self._ctx.bindings.forget((tenant_id, identity))

    def ivr_changed(self, tenant_id: str, ivr_id: str) -> None:
        """Forget the cached IVR (as caller lists)."""
        self._ctx.ivrs.forget((tenant_id, ivr_id))

    def queue_changed(self, tenant_id: str, queue_id: str) -> None:
        """Forget the cached queue (as caller lists)."""
        self._ctx.queues.forget((tenant_id, queue_id))
