"""A discrete-event simulation of one queue, driving the real routing engine.

Callers arrive as a Poisson process, talk for exponentially distributed times and, when
patience is given, give up after an exponentially distributed wait. A simulated Teams
cloud turns the engine's actions into future events (an invited agent answers after the
ring time; a hang-up comes back as ``terminated``), and the engine's durable timers are
fired when they fall due. Everything runs on a virtual clock: no wall-clock sleeps, and
the same seed gives the same result.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from contactcenter.clock import EPOCH, VirtualClock
from contactcenter.engine import EngineSettings, RoutingEngine
from contactcenter.errors import NotFound
from contactcenter.events import (
    CallEvent,
    CallStateChanged,
    GraphCallState,
    IncomingCall,
    OperationFinished,
    OperationKind,
    OperationStatus,
    RosterEntry,
)
from contactcenter.model import (
    Agent,
    AgentStatus,
    Binding,
    BindingTarget,
    Call,
    CallbackRequest,
    CallOutcome,
    CallState,
    Party,
    PartyKind,
    Queue,
    RoutingMethod,
    Tenant,
    Voicemail,
)
from contactcenter.ports import (
    CallAtHand,
    Condition,
    Invitation,
    MediaPrompt,
    OfferAlert,
    OfferEnd,
    Op,
    OutboundCall,
    RejectReason,
    Store,
)
from contactcenter.repository import Repository

TENANT_ID = "simulation"
QUEUE_ID = "simulated-queue"
LINE_ID = "simulated-line"
# "No limit": far beyond any run, yet a valid due time.
_UNLIMITED_SIZE = 1_000_000_000
_UNLIMITED_WAIT_S = 10 * 365 * 86_400
# A stuck run (a call that never ends) stops after this much idle virtual time.
_STALL_S = 2 * 86_400.0
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to simulate (see ``contact-center simulate --help``)."""

    agents: int
    arrival_rate_per_hour: float
    handle_time_s: float
    calls: int
    routing: RoutingMethod = RoutingMethod.LONGEST_IDLE
    ring_time_s: float = 0.0
    wrap_up_s: int = 0
    # Mean patience (exponential); None: callers never give up.
    patience_s: float | None = None
    seed: int = 1
    service_level_threshold_s: int = 20
    max_queue: int | None = None
    max_wait_s: int | None = None

    def __post_init__(self) -> None:
        if self.agents < 0:
            raise ValueError("agents must be >= 0")
        if self.calls < 0:
            raise ValueError("calls must be >= 0")
        if not self.arrival_rate_per_hour > 0:
            raise ValueError("arrival rate must be > 0")
        if not self.handle_time_s > 0:
            raise ValueError("handle time must be > 0")
        if self.ring_time_s < 0 or self.wrap_up_s < 0:
            raise ValueError("ring time and wrap-up must be >= 0")
        if self.patience_s is not None and not self.patience_s > 0:
            raise ValueError("patience must be > 0 (or none)")
        if self.service_level_threshold_s < 0:
            raise ValueError("service level threshold must be >= 0")
        if self.max_queue is not None and self.max_queue < 0:
            raise ValueError("max queue must be >= 0")
        if self.max_wait_s is not None and self.max_wait_s < 0:
            raise ValueError("max wait must be >= 0")


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """The KPIs of a run, with the published definitions (docs/simulation.md)."""

    offered: int
    answered: int
    abandoned: int
    overflowed: int
    timed_out: int
    no_agent: int
    failed: int
    asa_seconds: float
    waited_fraction: float
    service_level: float
    occupancy: float
    max_queue_length: int
    double_assignments: int
    lost_calls: int
    run_length_seconds: float
    agents: int
    seed: int

    def as_json(self) -> dict[str, int | float]:
        """Return the result as the JSON object ``simulate --json`` prints."""
        return asdict(self)


class _Kind(Enum):
    ARRIVAL = 0
    EVENT = 1
    AGENT_JOINS = 2
    TALK_ENDS = 3
    PATIENCE_ENDS = 4
    TIMER = 5


@dataclass(slots=True)
class _Invitation:
    call_id: str
    agent_id: str
    client_context: str
    operation_id: str
    participant_id: str
    rung_at: int
    open: bool = True


@dataclass(slots=True)
class _SimulatedCall:
    """What the simulated Teams cloud knows about one call."""

    handle_time_s: float
    live: bool = True
    connected: bool = False
    invitations: list[_Invitation] = field(default_factory=list)


# The engine's keepAlive interval (its default), which a talk's timer need not beat here.
_KEEP_ALIVE_S = 900.0


class SimulatedTeams:
    """The Teams cloud of the simulation: a CallControl and a Notifier for the engine.

    Each action the engine takes becomes a future event: an answered call is established
    at once, an invited agent joins after the ring time, a hung-up call terminates.
    """

    def __init__(self, simulation: Simulation) -> None:
        self._sim = simulation
        self._ids = itertools.count(1)
        self.calls: dict[str, _SimulatedCall] = {}
        self.invitations: dict[str, _Invitation] = {}
        # Agent id -> the call they are ringing for or talking on, as Teams sees it.
        self.holding: dict[str, str] = {}
        self.double_assignments = 0
        self.busy_us: dict[str, int] = {}

    # ------------------------------------------------------------- helpers
    def close_invitation(self, invitation: _Invitation, *, joined: bool = False) -> None:
        """End the ringing; an agent who did not join holds the call no more."""
        if not invitation.open:
            return
        invitation.open = False
        self.busy(invitation.agent_id, self._sim.now_us - invitation.rung_at)
        if not joined and self.holding.get(invitation.agent_id) == invitation.call_id:
            del self.holding[invitation.agent_id]

    def busy(self, agent_id: str, micros: int) -> None:
        """Count time the agent spent ringing, talking or wrapping up."""
        self.busy_us[agent_id] = self.busy_us.get(agent_id, 0) + micros

    def call_ended(self, call_id: str) -> None:
        """Mark the call gone: its invitations lapse and its agent is free (as Teams sees it)."""
        call = self.calls.get(call_id)
        if call is None or not call.live:
            return
        call.live = False
        for invitation in call.invitations:
            self.close_invitation(invitation)
            self.invitations.pop(invitation.participant_id, None)
        for agent_id, held in list(self.holding.items()):
            if held == call_id:
                del self.holding[agent_id]
        # Forgotten, so that a long run keeps no state per finished call: a call not found
        # is one that ended, for every later event about it.
        del self.calls[call_id]

    # --------------------------------------------------------- CallControl
    async def answer(
        self, call_id: str, *, callback_uri: str, prefetch: Sequence[MediaPrompt] = ()
    ) -> None:
        self._sim.schedule_event(
            0, CallStateChanged(TENANT_ID, call_id, GraphCallState.ESTABLISHED)
        )

    async def reject(self, call_id: str, reason: RejectReason = RejectReason.NONE) -> None:
        self._sim.schedule_event(0, CallStateChanged(TENANT_ID, call_id, GraphCallState.TERMINATED))

    async def redirect(
        self, call_id: str, target: Party, *, timeout_s: int = 60, callback_uri: str
    ) -> None:
        await self.hang_up(call_id)

    async def transfer(self, call_id: str, target: Party) -> None:
        await self.hang_up(call_id)

    async def play_prompt(
        self, call_id: str, prompts: Sequence[MediaPrompt], *, client_context: str
    ) -> str:
        return f"op-{next(self._ids)}"

    async def cancel_media_processing(self, call_id: str, *, client_context: str) -> None:
        return None

    async def subscribe_to_tone(self, call_id: str, *, client_context: str) -> None:
        return None

    async def record_response(
        self,
        call_id: str,
        *,
        prompt: MediaPrompt | None,
        max_duration_s: int,
        client_context: str,
    ) -> str:
        return f"op-{next(self._ids)}"

    async def invite(
        self,
        call_id: str,
        agent: Party,
        *,
        client_context: str,
        replaces_call_id: str | None = None,
        participant_id: str | None = None,
    ) -> Invitation:
        call = self.calls.get(call_id)
        if call is None or not call.live:
            raise NotFound(f"call {call_id} has ended")
        held = self.holding.get(agent.id)
        if held is not None and held != call_id:
            # Teams would ring an agent who is already on (or rung for) another call.
            self.double_assignments += 1
        self.holding[agent.id] = call_id
        number = next(self._ids)
        invitation = _Invitation(
            call_id,
            agent.id,
            client_context,
            f"op-{number}",
            f"participant-{number}",
            self._sim.now_us,
        )
        call.invitations.append(invitation)
        self.invitations[invitation.participant_id] = invitation
        self._sim.schedule(self._sim.ring_us, _Kind.AGENT_JOINS, invitation)
        return Invitation(invitation.operation_id, invitation.participant_id)

    async def remove_participant(self, call_id: str, participant_id: str) -> None:
        invitation = self.invitations.get(participant_id)
        if invitation is not None:
            self.close_invitation(invitation)

    async def other_participants(self, call_id: str) -> list[str]:
        # A simulated call is one leg: hanging up ends it for everyone.
        return []

    async def roster(self, call_id: str) -> list[RosterEntry]:
        # Nobody listed: the engine takes it to say nothing (no notification is lost here).
        call = self.calls.get(call_id)
        if call is None or not call.live:
            raise NotFound(f"call {call_id} has ended")
        return []

    async def hang_up(self, call_id: str) -> None:
        call = self.calls.get(call_id)
        if call is None or not call.live:
            raise NotFound(f"call {call_id} has ended")
        self._sim.schedule_event(0, CallStateChanged(TENANT_ID, call_id, GraphCallState.TERMINATED))

    async def keep_alive(self, call_id: str) -> None:
        call = self.calls.get(call_id)
        if call is None or not call.live:
            raise NotFound(f"call {call_id} has ended")

    async def place_call(
        self,
        *,
        tenant_id: str,
        source_application_instance_id: str,
        target: Party,
        callback_uri: str,
        prefetch: Sequence[MediaPrompt] = (),
    ) -> OutboundCall:
        return OutboundCall(f"outbound-{next(self._ids)}", "establishing")

    # ------------------------------------------------------------ Notifier
    async def offer_started(self, alert: OfferAlert) -> None:
        return None

    async def offer_ended(
        self, alert: OfferAlert, how: OfferEnd, *, at_hand: CallAtHand | None = None
    ) -> None:
        if how is OfferEnd.ANSWERED:
            call = self.calls.get(alert.call_id)
            if call is None:
                return
            call.connected = True
            self._sim.connected(alert.call_id, alert.agent_id, call.handle_time_s)
        elif how in (OfferEnd.MISSED, OfferEnd.DECLINED, OfferEnd.WITHDRAWN):
            self._sim.queue_may_have_grown = True

    async def queue_changed(self, tenant_id: str, queue_id: str) -> None:
        return None

    async def voicemail_left(self, voicemail: Voicemail, agent_ids: Sequence[str]) -> None:
        return None

    async def voicemail_handled(self, voicemail: Voicemail) -> None:
        return None

    async def callback_waiting(self, line: Call, agent_ids: Sequence[str]) -> None:
        return None

    async def callback_ended(self, request: CallbackRequest) -> None:
        return None

    # ------------------------------------------------------- TimerSchedule
    def due_changed(
        self, collection: str, tenant_id: str, doc_id: str, due_at: datetime | None
    ) -> None:
        self._sim.timer_changed((collection, doc_id), due_at)


ProgressCallback = Callable[[int, int], None]


class Simulation:
    """One run: the event heap, the virtual clock and the engine under test."""

    def __init__(
        self,
        config: SimulationConfig,
        store: Store,
        *,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.config = config
        self._repo = Repository(store)
        self._progress = progress
        self._random = random.Random(config.seed)  # noqa: S311 - a seeded model, not secrets
        self._clock = VirtualClock(EPOCH)
        self._heap: list[tuple[int, int, _Kind, object]] = []
        self._sequence = itertools.count()
        self._due: dict[tuple[str, str], int] = {}
        self.now_us = 0
        self.ring_us = round(config.ring_time_s * 1_000_000)
        self.teams = SimulatedTeams(self)
        self.engine = RoutingEngine(
            self._repo,
            self.teams,
            self.teams,
            self._clock,
            EngineSettings(
                callback_uri="https://simulation.invalid/api/calling",
                # Nobody edits the simulated queue during a run.
                queue_cache_s=_UNLIMITED_WAIT_S,
                # No notification is lost here: reading a talk's participants would find
                # nothing new, so it is read only as often as the keepAlive is sent.
                reconcile_s=_KEEP_ALIVE_S,
            ),
            timers=self.teams,
        )
        self._ended = 0
        self._arrived = 0
        self._last_activity_us = 0
        self._talk_us = 0
        self._wrap_up_end_us = 0
        self.max_queue_length = 0
        self.queue_may_have_grown = False

    # ---------------------------------------------------------- scheduling
    def schedule(self, delay_us: int, kind: _Kind, payload: object) -> None:
        heapq.heappush(self._heap, (self.now_us + delay_us, next(self._sequence), kind, payload))

    def schedule_event(self, delay_us: int, event: CallEvent) -> None:
        self.schedule(delay_us, _Kind.EVENT, event)

    def timer_changed(self, key: tuple[str, str], due_at: datetime | None) -> None:
        if due_at is None:
            self._due.pop(key, None)
            return
        due_us = (due_at - EPOCH) // _MICROSECOND
        self._due[key] = due_us
        heapq.heappush(self._heap, (due_us, next(self._sequence), _Kind.TIMER, key))

    def connected(self, call_id: str, agent_id: str, handle_time_s: float) -> None:
        talk_us = round(handle_time_s * 1_000_000)
        self._talk_us += talk_us
        self.teams.busy(agent_id, talk_us + self.config.wrap_up_s * 1_000_000)
        self.schedule(talk_us, _Kind.TALK_ENDS, call_id)

    def _exponential(self, mean: float) -> float:
        return self._random.expovariate(1.0 / mean)

    # ----------------------------------------------------------------- run
    async def _seed(self) -> None:
        config = self.config
        members = tuple(f"agent-{n:04d}" for n in range(1, config.agents + 1))
        await self._repo.tenants.put(Tenant(id=TENANT_ID, name="Simulation"))
        await self._repo.queues.put(
            Queue(
                id=QUEUE_ID,
                tenant_id=TENANT_ID,
                name="Simulated queue",
                routing_method=config.routing,
                members=members,
                # Longer than the ring time, so every rung agent answers.
                alert_time_s=math.ceil(config.ring_time_s) + 30,
                wrap_up_s=config.wrap_up_s,
                max_size=_UNLIMITED_SIZE if config.max_queue is None else config.max_queue,
                max_wait_s=_UNLIMITED_WAIT_S if config.max_wait_s is None else config.max_wait_s,
                service_level_threshold_s=config.service_level_threshold_s,
                missed_offers_to_away=0,
            )
        )
        await self._repo.bindings.put(
            Binding(id=LINE_ID, tenant_id=TENANT_ID, target=BindingTarget.QUEUE, target_id=QUEUE_ID)
        )
        for agent_id in members:
            await self._repo.agents.put(
                Agent(
                    id=agent_id,
                    tenant_id=TENANT_ID,
                    display_name=agent_id,
                    has_seat=True,
                    signed_in_queue_ids=frozenset({QUEUE_ID}),
                    status=AgentStatus.AVAILABLE,
                    idle_since=EPOCH,
                )
            )

    async def run(self) -> SimulationResult:
        """Run until every call has ended; return the KPIs."""
        await self._seed()
        if self.config.calls > 0:
            self._schedule_arrival()
        while self._heap:
            at_us, _, kind, payload = heapq.heappop(self._heap)
            if kind is _Kind.TIMER and not self._timer_is_due(at_us, payload):
                continue
            if self._arrived >= self.config.calls and self._ended >= self.config.calls:
                break
            if kind is _Kind.TIMER and at_us - self._last_activity_us > _STALL_S * 1e6:
                break  # nothing but timers for days: a call is stuck; count it as lost
            self._advance(at_us)
            await self._dispatch(kind, payload)
        # Let the last wrap-ups end, so that every record has its wrap-up time.
        self._advance(self._wrap_up_end_us)
        await self.engine.fire_due_timers(self._clock.now())
        return await self._result()

    def _timer_is_due(self, at_us: int, key: object) -> bool:
        # A timer moved or cleared since it was scheduled is not due (any more).
        return isinstance(key, tuple) and self._due.get(key) == at_us

    def _advance(self, at_us: int) -> None:
        if at_us > self.now_us:
            self.now_us = at_us
            self._clock.set(EPOCH + timedelta(microseconds=at_us))

    def _schedule_arrival(self) -> None:
        gap_s = self._exponential(3600.0 / self.config.arrival_rate_per_hour)
        self.schedule(round(gap_s * 1_000_000), _Kind.ARRIVAL, None)

    async def _dispatch(self, kind: _Kind, payload: object) -> None:
        if kind is _Kind.TIMER:
            await self.engine.fire_due_timers(self._clock.now())
            return
        self._last_activity_us = self.now_us
        if kind is _Kind.ARRIVAL:
            await self._arrival()
        elif kind is _Kind.EVENT:
            assert isinstance(payload, CallStateChanged)
            await self._call_event(payload)
        elif kind is _Kind.AGENT_JOINS:
            assert isinstance(payload, _Invitation)
            await self._agent_joins(payload)
        elif kind is _Kind.TALK_ENDS:
            assert isinstance(payload, str)
            await self._hang_up(payload, talking=True)
        elif kind is _Kind.PATIENCE_ENDS:
            assert isinstance(payload, str)
            await self._hang_up(payload, talking=False)

    async def _arrival(self) -> None:
        number = self._arrived
        self._arrived += 1
        call_id = f"call-{number:07d}"
        # Draw everything about this caller now, so routing cannot shift the random stream.
        handle_s = self._exponential(self.config.handle_time_s)
        patience = self.config.patience_s
        patience_s = self._exponential(patience) if patience is not None else None
        self.teams.calls[call_id] = _SimulatedCall(handle_s)
        if self._arrived < self.config.calls:
            self._schedule_arrival()
        if patience_s is not None:
            self.schedule(round(patience_s * 1_000_000), _Kind.PATIENCE_ENDS, call_id)
        caller = Party(PartyKind.PHONE, f"+1555{number:07d}")
        await self.engine.handle(IncomingCall(TENANT_ID, call_id, caller, LINE_ID))

    async def _call_event(self, event: CallStateChanged) -> None:
        if event.state is GraphCallState.TERMINATED:
            call = self.teams.calls.get(event.call_id)
            if call is None or not call.live:
                return
            self.teams.call_ended(event.call_id)
            await self.engine.handle(event)
            self._call_over()
            return
        await self.engine.handle(event)
        call = self.teams.calls.get(event.call_id)
        waits = (
            event.state is GraphCallState.ESTABLISHED
            and call is not None
            and call.live
            and not call.invitations
        )
        if waits or self.queue_may_have_grown:
            # The queue grows only when a call starts (or goes back to) waiting.
            self.queue_may_have_grown = False
            await self._measure_queue()

    async def _agent_joins(self, invitation: _Invitation) -> None:
        call = self.teams.calls.get(invitation.call_id)
        if call is None or not invitation.open or not call.live:
            return
        self.teams.close_invitation(invitation, joined=True)
        await self.engine.handle(
            OperationFinished(
                TENANT_ID,
                invitation.call_id,
                invitation.operation_id,
                OperationKind.INVITE,
                OperationStatus.COMPLETED,
                client_context=invitation.client_context,
                user_ids=(invitation.agent_id,),
            )
        )

    async def _hang_up(self, call_id: str, *, talking: bool) -> None:
        call = self.teams.calls.get(call_id)
        if call is None or not call.live or (not talking and call.connected):
            return  # patience only runs out while waiting or ringing
        if talking:
            self._wrap_up_end_us = max(
                self._wrap_up_end_us, self.now_us + self.config.wrap_up_s * 1_000_000
            )
        self.teams.call_ended(call_id)
        await self.engine.handle(CallStateChanged(TENANT_ID, call_id, GraphCallState.TERMINATED))
        self._call_over()

    def _call_over(self) -> None:
        self._ended += 1
        if self._progress is not None:
            self._progress(self._ended, self.config.calls)

    async def _measure_queue(self) -> None:
        waiting = await self._repo.calls.count(
            TENANT_ID,
            (
                Condition("queueId", Op.EQ, QUEUE_ID),
                Condition("state", Op.EQ, CallState.WAITING.value),
            ),
        )
        self.max_queue_length = max(self.max_queue_length, waiting)

    # -------------------------------------------------------------- result
    async def _result(self) -> SimulationResult:
        records = [r.value for r in await self._repo.call_records.find(TENANT_ID)]
        outcomes = dict.fromkeys(CallOutcome, 0)
        for record in records:
            outcomes[record.outcome] += 1
        answered = [r for r in records if r.outcome is CallOutcome.ANSWERED]
        waits = [r.wait_s for r in answered]
        run_us = max(self.now_us, self._wrap_up_end_us)
        agents = self.config.agents
        busy_us = sum(self.teams.busy_us.values())
        occupancy = busy_us / (agents * run_us) if agents and run_us else 0.0
        count = len(answered)
        return SimulationResult(
            offered=self.config.calls,
            answered=count,
            abandoned=outcomes[CallOutcome.ABANDONED],
            overflowed=outcomes[CallOutcome.OVERFLOWED],
            timed_out=outcomes[CallOutcome.TIMED_OUT],
            no_agent=outcomes[CallOutcome.NO_AGENT],
            failed=outcomes[CallOutcome.FAILED] + outcomes[CallOutcome.REJECTED],
            asa_seconds=sum(waits) / count if count else 0.0,
            waited_fraction=sum(1 for w in waits if w > 0) / count if count else 0.0,
            service_level=sum(1 for r in answered if r.met_service_level) / count if count else 0.0,
            occupancy=occupancy,
            max_queue_length=self.max_queue_length,
            double_assignments=self.teams.double_assignments,
            lost_calls=self.config.calls - len(records),
            run_length_seconds=run_us / 1_000_000,
            agents=agents,
            seed=self.config.seed,
        )


async def simulate(
    config: SimulationConfig, store: Store, *, progress: ProgressCallback | None = None
) -> SimulationResult:
    """Run one simulation on ``store`` (empty) and return its KPIs."""
    return await Simulation(config, store, progress=progress).run()
