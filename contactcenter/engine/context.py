"""What every layer of the engine shares: its ports, settings, caches and local state."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from contactcenter.announcements import AnswerRate
from contactcenter.clock import Clock
from contactcenter.engine.settings import EngineSettings
from contactcenter.events import CallEvent
from contactcenter.model import Binding, Call, CallerList, CallRecord, Ivr, Queue, Tenant
from contactcenter.ports import CallControl, MediaStore, Notifier, RecordingSource, TimerSchedule
from contactcenter.recent import Recent
from contactcenter.repository import Repository
from contactcenter.routing import RoutingPolicy

RecordHook = Callable[[CallRecord], Awaitable[None]]


@dataclass(slots=True)
class EngineContext:
    """The routing engine's ports and settings, and what one instance keeps in memory.

    Everything here is per process: state that matters lives in the store, and the
    caches are only caches (another host reads the store and decides the same).
    """

    repository: Repository
    call_control: CallControl
    notifier: Notifier
    clock: Clock
    settings: EngineSettings
    timers: TimerSchedule | None = None
    # Voicemail is recorded only with both of these.
    media: MediaStore | None = None
    recordings: RecordingSource | None = None
    # Told of every call record written (aggregates, webhook export).
    on_record: RecordHook | None = None
    tenants: Recent[str, Tenant] = field(init=False)
    queues: Recent[tuple[str, str], Queue] = field(init=False)
    ivrs: Recent[tuple[str, str], Ivr] = field(init=False)
    bindings: Recent[tuple[str, str], Binding] = field(init=False)
    caller_lists: Recent[str, CallerList] = field(init=False)
    # A queue's recent answer rate, with the monotonic time it was measured.
    rates: dict[tuple[str, str], tuple[float, AnswerRate]] = field(default_factory=dict)
    # One lock per call this instance handles now, with how many hold or wait for it.
    locks: dict[str, tuple[asyncio.Lock, int]] = field(default_factory=dict)
    # Calls this instance ended: later notifications for them need no read. Only a
    # cache; another instance reads the store and finds nothing.
    ended: OrderedDict[tuple[str, str], None] = field(default_factory=OrderedDict)
    # Outbound calls being placed right now: a notification for a call this instance
    # does not know yet waits for them (Graph may notify before its answer arrives).
    placing: int = 0
    placed: asyncio.Event = field(default_factory=asyncio.Event)
    # Graph refused a second invitation while one rang on a peer-to-peer call, or refused
    # invitations altogether (agents are then rung by transfer): from then on this
    # instance rings one agent at a time, attendant queues too. Learned, never configured:
    # another instance learns it from its own first refusal.
    ring_one_at_a_time: bool = False
    policy: RoutingPolicy = field(init=False)
    # Whether the engine plays prompts (a prompt base URL is configured).
    media_on: bool = field(init=False)

    def __post_init__(self) -> None:
        clock, settings = self.clock, self.settings
        self.tenants = Recent(clock, settings.tenant_cache_s)
        self.queues = Recent(clock, settings.queue_cache_s)
        self.ivrs = Recent(clock, settings.queue_cache_s)
        self.bindings = Recent(clock, settings.queue_cache_s)
        self.caller_lists = Recent(clock, settings.caller_list_cache_s)
        self.placed.set()
        self.policy = settings.routing
        self.media_on = bool(settings.prompt_base_url)

    def can_record(self) -> bool:
        """Tell whether voicemail can be recorded and kept."""
        return self.media_on and self.media is not None and self.recordings is not None


def log_extra(item: Call | CallEvent) -> dict[str, str]:
    """Return the log extras naming the call and tenant."""
    if isinstance(item, Call):
        return {"call_id": item.id, "tenant_id": item.tenant_id}
    return {"call_id": item.call_id, "tenant_id": item.tenant_id}
