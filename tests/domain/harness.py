"""Fakes of the domain's Protocols and a harness that drives the routing engine like Graph."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contactcenter.clock import VirtualClock
from contactcenter.engine import EngineSettings, RoutingEngine
from contactcenter.errors import CallControlError, DomainError, NotFound
from contactcenter.events import (
    CallStateChanged,
    GraphCallState,
    IncomingCall,
    OperationFinished,
    OperationKind,
    OperationStatus,
    RosterEntry,
    RosterUpdated,
)
from contactcenter.model import (
    Agent,
    AgentStatus,
    Binding,
    BindingTarget,
    Call,
    CallbackRequest,
    CallRecord,
    Party,
    PartyKind,
    Queue,
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
    Page,
    RejectReason,
    Store,
    StoredDocument,
)
from contactcenter.repository import Repository
from storage.memory import MemoryStore

TENANT = "tenant-1"
LINE = "line-1"
CALLER = Party(PartyKind.PHONE, "+14255550100", "Caller")


@dataclass(frozen=True, slots=True)
class Invite:
    """One invitation the engine sent."""

    call_id: str
    agent_id: str
    client_context: str
    operation_id: str
    participant_id: str


@dataclass
class FakeCallControl:
    """Records every action; ``fail`` makes a method raise for the given call or agent."""

    actions: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    invites: list[Invite] = field(default_factory=list)
    failed_invites: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[str, DomainError] = field(default_factory=dict)
    # Who else is in each call, as Graph would list them (participant ids).
    participants: dict[str, list[str]] = field(default_factory=dict)
    # Who Graph lists in each call (``roster``), when a test says.
    rosters: dict[str, list[RosterEntry]] = field(default_factory=dict)
    # Refuse a second invitation while one rings on the call (409), as Graph may.
    one_invite_at_a_time: bool = False
    # Invitations not yet answered, declined or cancelled, per call (participant ids).
    pending: dict[str, set[str]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _check(self, method: str, *keys: str) -> None:
        for key in (method, *(f"{method}:{k}" for k in keys)):
            if key in self.fail:
                raise self.fail[key]

    def names(self) -> list[str]:
        return [name for name, _ in self.actions]

    def of(self, name: str) -> list[tuple[Any, ...]]:
        return [args for method, args in self.actions if method == name]

    async def answer(
        self, call_id: str, *, callback_uri: str, prefetch: Sequence[MediaPrompt] = ()
    ) -> None:
        self.actions.append(("answer", (call_id, callback_uri, tuple(prefetch))))
        self._check("answer", call_id)

    async def reject(self, call_id: str, reason: RejectReason = RejectReason.NONE) -> None:
        self.actions.append(("reject", (call_id, reason)))

    async def redirect(
        self, call_id: str, target: Party, *, timeout_s: int = 60, callback_uri: str
    ) -> None:
        self.actions.append(("redirect", (call_id, target)))

    async def transfer(self, call_id: str, target: Party) -> None:
        self.actions.append(("transfer", (call_id, target)))

    async def play_prompt(
        self, call_id: str, prompts: Sequence[MediaPrompt], *, client_context: str
    ) -> str:
        self.actions.append(("play_prompt", (call_id, tuple(prompts), client_context)))
        return f"op-{next(self._ids)}"

    async def cancel_media_processing(self, call_id: str, *, client_context: str) -> None:
        self.actions.append(("cancel_media_processing", (call_id,)))

    async def subscribe_to_tone(self, call_id: str, *, client_context: str) -> None:
        self.actions.append(("subscribe_to_tone", (call_id,)))

    async def record_response(
        self,
        call_id: str,
        *,
        prompt: MediaPrompt | None,
        max_duration_s: int,
        client_context: str,
    ) -> str:
        self.actions.append(("record_response", (call_id,)))
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
        self.actions.append(("invite", (call_id, agent.id, client_context)))
        pending = self.pending.setdefault(call_id, set())
        try:
            self._check("invite", call_id, agent.id)
            if self.one_invite_at_a_time and pending:
                raise CallControlError("another invitation is in progress", status=409)
        except DomainError:
            self.failed_invites.append((call_id, agent.id))
            raise
        number = next(self._ids)
        invite = Invite(
            call_id,
            agent.id,
            client_context,
            f"op-{number}",
            participant_id or f"p-{agent.id}-{number}",
        )
        self.invites.append(invite)
        pending.add(invite.participant_id)
        return Invitation(invite.operation_id, invite.participant_id)

    def settled(self, call_id: str, participant_id: str) -> None:
        """Forget an invitation that no longer rings (answered, declined, cancelled)."""
        self.pending.get(call_id, set()).discard(participant_id)

    async def remove_participant(self, call_id: str, participant_id: str) -> None:
        self.actions.append(("remove_participant", (call_id, participant_id)))
        self.settled(call_id, participant_id)

    async def other_participants(self, call_id: str) -> list[str]:
        self.actions.append(("other_participants", (call_id,)))
        self._check("other_participants", call_id)
        return list(self.participants.get(call_id, ()))

    async def roster(self, call_id: str) -> list[RosterEntry]:
        """Return who Graph lists in the call: nobody unless a test says (as Graph sometimes
        answers for a call it holds); ``fail["roster"]`` makes it raise (e.g. NotFound)."""
        self.actions.append(("roster", (call_id,)))
        self._check("roster", call_id)
        return list(self.rosters.get(call_id, ()))

    async def hang_up(self, call_id: str) -> None:
        self.actions.append(("hang_up", (call_id,)))
        self._check("hang_up", call_id)

    async def keep_alive(self, call_id: str) -> None:
        self.actions.append(("keep_alive", (call_id,)))
        self._check("keep_alive", call_id)

    async def place_call(
        self,
        *,
        tenant_id: str,
        source_application_instance_id: str,
        target: Party,
        callback_uri: str,
        prefetch: Sequence[MediaPrompt] = (),
    ) -> OutboundCall:
        self.actions.append(("place_call", (target,)))
        return OutboundCall(f"out-{next(self._ids)}", "establishing")


@dataclass
class FakeNotifier:
    """Records the cards the engine would send."""

    started: list[OfferAlert] = field(default_factory=list)
    ended: list[tuple[OfferAlert, OfferEnd]] = field(default_factory=list)
    queues: list[tuple[str, str]] = field(default_factory=list)
    voicemails: list[tuple[Voicemail, tuple[str, ...]]] = field(default_factory=list)
    handled: list[Voicemail] = field(default_factory=list)
    callbacks_waiting: list[tuple[Call, tuple[str, ...]]] = field(default_factory=list)
    callbacks_ended: list[CallbackRequest] = field(default_factory=list)

    async def offer_started(self, alert: OfferAlert) -> None:
        self.started.append(alert)

    async def offer_ended(
        self, alert: OfferAlert, how: OfferEnd, *, at_hand: CallAtHand | None = None
    ) -> None:
        self.ended.append((alert, how))

    async def queue_changed(self, tenant_id: str, queue_id: str) -> None:
        self.queues.append((tenant_id, queue_id))

    async def voicemail_left(self, voicemail: Voicemail, agent_ids: Sequence[str]) -> None:
        self.voicemails.append((voicemail, tuple(agent_ids)))

    async def voicemail_handled(self, voicemail: Voicemail) -> None:
        self.handled.append(voicemail)

    async def callback_waiting(self, line: Call, agent_ids: Sequence[str]) -> None:
        self.callbacks_waiting.append((line, tuple(agent_ids)))

    async def callback_ended(self, request: CallbackRequest) -> None:
        self.callbacks_ended.append(request)

    def endings(self, agent_id: str) -> list[OfferEnd]:
        return [how for alert, how in self.ended if alert.agent_id == agent_id]


class CountingStore:
    """A Store that counts requests (a point read, a write or one query each = 1).

    With ``interleave``, every request first yields to the event loop a random number of
    times, so concurrent handlers (two hosts) interleave between any two requests.
    """

    def __init__(self, inner: Store, *, interleave: random.Random | None = None) -> None:
        self.inner = inner
        self.counts: Counter[str] = Counter()
        self.interleave = interleave

    async def _count(self, name: str) -> None:
        self.counts[name] += 1
        if self.interleave is not None:
            for _ in range(self.interleave.randint(0, 3)):
                await asyncio.sleep(0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def reset(self) -> None:
        self.counts.clear()

    async def read(self, collection: str, tenant_id: str, doc_id: str) -> StoredDocument:
        await self._count(f"read {collection}")
        return await self.inner.read(collection, tenant_id, doc_id)

    async def create(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        await self._count(f"create {collection}")
        return await self.inner.create(collection, tenant_id, doc_id, body)

    async def replace(
        self,
        collection: str,
        tenant_id: str,
        doc_id: str,
        body: Mapping[str, Any],
        *,
        if_match: str,
    ) -> StoredDocument:
        await self._count(f"replace {collection}")
        return await self.inner.replace(collection, tenant_id, doc_id, body, if_match=if_match)

    async def upsert(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        await self._count(f"upsert {collection}")
        return await self.inner.upsert(collection, tenant_id, doc_id, body)

    async def delete(
        self, collection: str, tenant_id: str, doc_id: str, *, if_match: str | None = None
    ) -> None:
        await self._count(f"delete {collection}")
        await self.inner.delete(collection, tenant_id, doc_id, if_match=if_match)

    async def query(
        self,
        collection: str,
        tenant_id: str | None,
        where: Sequence[Condition] = (),
        *,
        order_by: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
        continuation: str | None = None,
    ) -> Page:
        await self._count(f"query {collection}")
        return await self.inner.query(
            collection,
            tenant_id,
            where,
            order_by=order_by,
            limit=limit,
            continuation=continuation,
        )

    async def count(
        self, collection: str, tenant_id: str | None, where: Sequence[Condition] = ()
    ) -> int:
        await self._count(f"count {collection}")
        return await self.inner.count(collection, tenant_id, where)

    async def close(self) -> None:
        await self.inner.close()


class Harness:
    """A routing engine on a memory store and a virtual clock, driven like Graph drives it."""

    def __init__(
        self, *, settings: EngineSettings | None = None, interleave: random.Random | None = None
    ) -> None:
        self.clock = VirtualClock()
        self.store = CountingStore(MemoryStore(), interleave=interleave)
        self.repo = Repository(self.store)
        self.calls = FakeCallControl()
        self.notifier = FakeNotifier()
        self.settings = settings or EngineSettings(callback_uri="https://bot.example/api/calling")
        self.engine = self.new_engine()

    def new_engine(self) -> RoutingEngine:
        """Return another engine instance on the same store (a restart, or a second host)."""
        return RoutingEngine(self.repo, self.calls, self.notifier, self.clock, self.settings)

    @property
    def now(self) -> datetime:
        return self.clock.now()

    # ------------------------------------------------------------ seeding
    async def seed(
        self,
        queue: Queue,
        agents: Sequence[Agent] = (),
        *,
        line: str = LINE,
        tenant: Tenant | None = None,
    ) -> None:
        await self.repo.tenants.put(tenant or Tenant(id=TENANT, name="Contoso"))
        await self.repo.queues.put(queue)
        await self.repo.bindings.put(
            Binding(id=line, tenant_id=TENANT, target=BindingTarget.QUEUE, target_id=queue.id)
        )
        for agent in agents:
            await self.repo.agents.put(agent)

    async def bind(self, line: str, queue_id: str) -> None:
        await self.repo.bindings.put(
            Binding(id=line, tenant_id=TENANT, target=BindingTarget.QUEUE, target_id=queue_id)
        )

    # ------------------------------------------------------------- events
    async def incoming(self, call_id: str, *, line: str = LINE, caller: Party = CALLER) -> None:
        await self.engine.handle(IncomingCall(TENANT, call_id, caller, line))

    async def established(self, call_id: str) -> None:
        await self.engine.handle(CallStateChanged(TENANT, call_id, GraphCallState.ESTABLISHED))

    async def arrive(self, call_id: str, *, line: str = LINE) -> None:
        """Have a caller dial in and the call become established."""
        await self.incoming(call_id, line=line)
        await self.established(call_id)

    def last_invite(self, call_id: str, agent_id: str) -> Invite:
        found = [i for i in self.calls.invites if i.call_id == call_id and i.agent_id == agent_id]
        assert found, f"{agent_id} was never invited to {call_id}"
        return found[-1]

    def invited(self, call_id: str) -> list[str]:
        return [i.agent_id for i in self.calls.invites if i.call_id == call_id]

    async def invite_result(
        self, call_id: str, agent_id: str, status: OperationStatus, code: int | None = None
    ) -> None:
        invite = self.last_invite(call_id, agent_id)
        self.calls.settled(call_id, invite.participant_id)
        await self.engine.handle(
            OperationFinished(
                TENANT,
                call_id,
                invite.operation_id,
                OperationKind.INVITE,
                status,
                client_context=invite.client_context,
                result_code=code,
                user_ids=(agent_id,),
            )
        )

    async def answers(self, call_id: str, agent_id: str) -> None:
        await self.invite_result(call_id, agent_id, OperationStatus.COMPLETED)

    async def declines(self, call_id: str, agent_id: str) -> None:
        await self.invite_result(call_id, agent_id, OperationStatus.FAILED, 603)

    async def roster(self, call_id: str, *agent_ids: str, lobby: bool = False) -> None:
        entries = [RosterEntry("p-bot", application_id="bot"), RosterEntry("p-caller", phone="+1")]
        for agent_id in agent_ids:
            participant = next(
                (
                    i.participant_id
                    for i in self.calls.invites
                    if i.agent_id == agent_id and i.call_id == call_id
                ),
                f"p-{agent_id}",
            )
            entries.append(RosterEntry(participant, user_id=agent_id, is_in_lobby=lobby))
        await self.engine.handle(RosterUpdated(TENANT, call_id, tuple(entries)))

    async def terminated(self, call_id: str) -> None:
        await self.engine.handle(CallStateChanged(TENANT, call_id, GraphCallState.TERMINATED))

    async def advance(self, seconds: float) -> int:
        """Move the clock, firing each timer at the moment it falls due (as a host would)."""
        target = self.now + timedelta(seconds=seconds)
        fired = 0
        while (due := await self.next_due()) is not None and due <= target:
            self.clock.set(max(due, self.now))
            fired += await self.engine.fire_due_timers(self.now)
            # A timer still due after firing would make a host fire it again and again.
            if (after := await self.next_due()) is not None and after <= self.now:
                raise AssertionError(f"a timer stays due at {after} after firing")
        self.clock.set(target)
        return fired + await self.engine.fire_due_timers(self.now)

    async def next_due(self) -> datetime | None:
        """Return the earliest due time on any call or agent."""
        times: list[datetime] = []
        for collection in (self.repo.calls, self.repo.agents):
            page, _ = await collection.page(
                None, (Condition("dueAt", Op.NE, None),), order_by=(("dueAt", False),), limit=1
            )
            times.extend(d.value.due_at for d in page if d.value.due_at is not None)
        return min(times, default=None)

    # -------------------------------------------------------------- state
    async def call(self, call_id: str) -> Call | None:
        try:
            return (await self.repo.calls.get(TENANT, call_id)).value
        except NotFound:
            return None

    async def record(self, call_id: str) -> CallRecord | None:
        try:
            return (await self.repo.call_records.get(TENANT, call_id)).value
        except NotFound:
            return None

    async def agent(self, agent_id: str) -> Agent:
        return (await self.repo.agents.get(TENANT, agent_id)).value

    async def agents(self) -> list[Agent]:
        return [a.value for a in await self.repo.agents.find(TENANT)]


def make_queue(queue_id: str = "q1", members: Sequence[str] = (), **changes: Any) -> Queue:
    """Return a queue of the test tenant."""
    return Queue(
        id=queue_id, tenant_id=TENANT, name=queue_id.upper(), members=tuple(members), **changes
    )


def make_agent(
    agent_id: str,
    queues: Sequence[str] = ("q1",),
    *,
    idle_since: datetime | None = None,
    **changes: Any,
) -> Agent:
    """Return an available, seated agent signed in to ``queues``."""
    values: dict[str, Any] = {
        "has_seat": True,
        "signed_in_queue_ids": frozenset(queues),
        "status": AgentStatus.AVAILABLE,
        "idle_since": idle_since,
    }
    values.update(changes)
    return Agent(id=agent_id, tenant_id=TENANT, display_name=agent_id.title(), **values)


def invite_error(status: int = 400) -> CallControlError:
    return CallControlError("Graph refused the invitation", status=status)
