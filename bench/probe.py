"""Routing overhead, measured inside the host (design.md section 8).

The overhead of one call is the host's wall time from receiving its incoming-call
notification to sending the request that rings the agent, minus the time spent awaiting
Graph's (the simulator's) answers on that path. The path spans several notifications
(``incoming`` → the bot answers → ``establishing``, ``established`` → the bot invites an
agent), so the probe keeps, per call:

- the intervals during which the host handled one of the call's notifications, from the
  moment the webhook request reached the host's middleware until the host answered it;
- the intervals during which a Graph request about the call was in flight, measured at
  the HTTP transport under msgraph-sdk (so building and parsing the request in the SDK
  counts as host work, not as waiting);
- when the invitation request left, at that same transport.

overhead = |union of handling intervals, cut at the invite| - |Graph waits inside them|.
Between two notifications the host is not busy with the call, and that gap (the
simulator deciding and delivering the next notification) is not counted.

Everything here runs only in the benchmark host (``python -m bench.host``); the product's
code paths are the same objects, wrapped.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from aiohttp import web

from contactcenter.events import RosterEntry
from contactcenter.model import Party
from contactcenter.ports import (
    CallControl,
    Invitation,
    MediaPrompt,
    OutboundCall,
    RejectReason,
)
from graph.notifications import canonical_id

_T = TypeVar("_T")

CALLING_PATH = "/api/calling"
"""The webhook whose requests the probe times."""

SYNTHETIC_PREFIX = "bench-synthetic-"
"""Calls made up inside the host (memory phase): Graph actions on them are not sent."""

_CALL_PATH = re.compile(r"/communications/calls/([^/?#]+)")
_RESOURCE_CALL = re.compile(rb'"resourceUrl"\s*:\s*"[^"]*?/calls/([^/"?#]+)')
_INVITE_SUFFIX = "/participants/invite"

_OPEN = math.inf


def _union(intervals: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Merge overlapping intervals; drop empty ones."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _length(intervals: Sequence[tuple[float, float]]) -> float:
    return sum(end - start for start, end in intervals)


def _overlap(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> float:
    """Return the total length of the intersection of two merged interval lists."""
    total = 0.0
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if end > start:
            total += end - start
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _cut(
    intervals: Sequence[list[float] | tuple[float, float]], at: float
) -> list[tuple[float, float]]:
    return [(start, min(end, at)) for start, end in intervals if start < at]


@dataclass(slots=True)
class _Trace:
    """What the probe saw of one call until its first invitation."""

    handling: list[list[float]] = field(default_factory=list)
    graph: list[tuple[float, float]] = field(default_factory=list)
    call_control: list[tuple[float, float]] = field(default_factory=list)
    invite_requested: float | None = None


@dataclass(frozen=True, slots=True)
class RoutingSample:
    """One call's routing overhead and what it is made of (milliseconds)."""

    overhead_ms: float
    # The same, counting only awaits of whole CallControl actions as waiting: the time
    # msgraph-sdk spends building requests and parsing answers is then left out.
    overhead_call_control_ms: float
    wall_ms: float
    handling_ms: float
    graph_wait_ms: float
    notifications: int

    def to_json(self) -> dict[str, Any]:
        return {
            "overheadMs": round(self.overhead_ms, 4),
            "overheadCallControlMs": round(self.overhead_call_control_ms, 4),
            "wallMs": round(self.wall_ms, 4),
            "handlingMs": round(self.handling_ms, 4),
            "graphWaitMs": round(self.graph_wait_ms, 4),
            "notifications": self.notifications,
        }


class RoutingProbe:
    """Collect per-call timings from the webhook, the Graph transport and call control.

    Off by default; while off, every hook returns after one attribute check. Memory is
    bounded: at most ``max_open`` calls are followed at once (the oldest are dropped) and
    at most ``max_samples`` results wait to be collected.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.perf_counter,
        max_open: int = 20_000,
        max_samples: int = 200_000,
    ) -> None:
        self.enabled = False
        self._clock = clock
        self._max_open = max_open
        self._max_samples = max_samples
        self._open: OrderedDict[str, _Trace] = OrderedDict()
        self._done: OrderedDict[str, None] = OrderedDict()
        self.samples: dict[str, RoutingSample] = {}
        self.dropped = 0

    def reset(self) -> None:
        """Forget every call followed and every sample not yet collected."""
        self._open.clear()
        self._done.clear()
        self.samples.clear()
        self.dropped = 0

    def take(self, call_ids: Sequence[str]) -> tuple[dict[str, RoutingSample], list[str]]:
        """Remove and return the samples of these calls, and the ids without one yet."""
        found: dict[str, RoutingSample] = {}
        missing: list[str] = []
        for call_id in call_ids:
            sample = self.samples.pop(canonical_id(call_id), None)
            if sample is None:
                missing.append(call_id)
            else:
                found[call_id] = sample
        return found, missing

    # ------------------------------------------------------------------ hooks
    def _trace(self, call_id: str) -> _Trace | None:
        if call_id in self._done:
            return None
        trace = self._open.get(call_id)
        if trace is None:
            trace = self._open[call_id] = _Trace()
            if len(self._open) > self._max_open:
                self._open.popitem(last=False)
                self.dropped += 1
        return trace

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Time the handling of each calling notification, per call it is about."""
        if not self.enabled or request.path != CALLING_PATH or request.method != "POST":
            return await handler(request)
        started = self._clock()
        # The webhook reads the body anyway; aiohttp keeps it for the handler.
        body = await request.read()
        intervals: list[list[float]] = []
        for raw in dict.fromkeys(_RESOURCE_CALL.findall(body)):
            trace = self._trace(canonical_id(raw.decode("ascii", "replace")))
            if trace is not None:
                interval = [started, _OPEN]
                trace.handling.append(interval)
                intervals.append(interval)
        try:
            return await handler(request)
        finally:
            ended = self._clock()
            for interval in intervals:
                interval[1] = ended

    def graph_request(self, call_id: str, started: float, ended: float) -> None:
        """A Graph request about the call was in flight from ``started`` to ``ended``."""
        trace = self._open.get(call_id)
        if trace is not None:
            trace.graph.append((started, ended))

    def call_control_awaited(self, call_id: str, started: float, ended: float) -> None:
        """A whole CallControl action on the call was awaited from ``started`` to ``ended``."""
        trace = self._open.get(call_id)
        if trace is not None:
            trace.call_control.append((started, ended))

    def invite_requested(self, call_id: str, at: float) -> None:
        """The engine asked call control to invite an agent into the call."""
        trace = self._open.get(call_id)
        if trace is not None and trace.invite_requested is None:
            trace.invite_requested = at

    def invite_sent(self, call_id: str, at: float) -> None:
        """The invitation request left the host: the call's routing is done."""
        trace = self._open.pop(call_id, None)
        if trace is None:
            return
        self._done[call_id] = None
        if len(self._done) > self._max_open:
            self._done.popitem(last=False)
        if not trace.handling or len(self.samples) >= self._max_samples:
            return
        handling = _union(_cut(trace.handling, at))
        graph = _union(_cut(trace.graph, at))
        graph_wait = _overlap(handling, graph)
        busy = _length(handling)
        requested = trace.invite_requested if trace.invite_requested is not None else at
        handling_cc = _union(_cut(trace.handling, requested))
        call_control = _union(_cut(trace.call_control, requested))
        overhead_cc = _length(handling_cc) - _overlap(handling_cc, call_control)
        self.samples[call_id] = RoutingSample(
            overhead_ms=(busy - graph_wait) * 1000.0,
            overhead_call_control_ms=overhead_cc * 1000.0,
            wall_ms=(at - trace.handling[0][0]) * 1000.0,
            handling_ms=busy * 1000.0,
            graph_wait_ms=graph_wait * 1000.0,
            notifications=len(trace.handling),
        )


class ProbeTransport(httpx.AsyncBaseTransport):
    """The Graph client's HTTP transport, telling the probe when each request is in flight."""

    def __init__(self, inner: httpx.AsyncBaseTransport, probe: RoutingProbe) -> None:
        self._inner = inner
        self._probe = probe

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        probe = self._probe
        if not probe.enabled:
            return await self._inner.handle_async_request(request)
        path = request.url.path
        found = _CALL_PATH.search(path)
        if found is None:
            return await self._inner.handle_async_request(request)
        call_id = canonical_id(found.group(1))
        started = time.perf_counter()
        if request.method == "POST" and path.endswith(_INVITE_SUFFIX):
            probe.invite_sent(call_id, started)
        try:
            return await self._inner.handle_async_request(request)
        finally:
            probe.graph_request(call_id, started, time.perf_counter())

    async def aclose(self) -> None:
        await self._inner.aclose()


class BenchCallControl:
    """The host's CallControl, timed per call; Graph is not asked about synthetic calls.

    Calls whose id starts with :data:`SYNTHETIC_PREFIX` exist only in the host's store (the
    memory phase makes them up to fill a queue quickly): their actions succeed at once
    without a request.
    """

    def __init__(self, inner: CallControl, probe: RoutingProbe) -> None:
        self._inner = inner
        self._probe = probe

    @property
    def probe(self) -> RoutingProbe:
        """The probe this call control reports to."""
        return self._probe

    async def _timed(self, call_id: str, action: Awaitable[_T]) -> _T:
        if not self._probe.enabled:
            return await action
        started = time.perf_counter()
        try:
            return await action
        finally:
            self._probe.call_control_awaited(canonical_id(call_id), started, time.perf_counter())

    async def answer(
        self, call_id: str, *, callback_uri: str, prefetch: Sequence[MediaPrompt] = ()
    ) -> None:
        if call_id.startswith(SYNTHETIC_PREFIX):
            return
        await self._timed(
            call_id, self._inner.answer(call_id, callback_uri=callback_uri, prefetch=prefetch)
        )

    async def reject(self, call_id: str, reason: RejectReason = RejectReason.NONE) -> None:
        if call_id.startswith(SYNTHETIC_PREFIX):
            return
        await self._timed(call_id, self._inner.reject(call_id, reason))

    async def redirect(
        self, call_id: str, target: Party, *, timeout_s: int = 60, callback_uri: str
    ) -> None:
        if call_id.startswith(SYNTHETIC_PREFIX):
            return
        await self._timed(
            call_id,
            self._inner.redirect(call_id, target, timeout_s=timeout_s, callback_uri=callback_uri),
        )

    async def transfer(self, call_id: str, target: Party) -> None:
        if call_id.startswith(SYNTHETIC_PREFIX):
            return
        await self._timed(call_id, self._inner.transfer(call_id, target))

    async def play_prompt(
        self, call_id: str, prompts: Sequence[MediaPrompt], *, client_context: str
    ) -> str:
        if call_id.startswith(SYNTHETIC_PREFIX):
            return str(uuid.uuid4())
        return await self._timed(
            call_id, self._inner.play_prompt(call_id, prompts, client_context=client_context)
        )

    async def cancel_media_processing(self, call_id: str, *, client_context: str) -> None:
        if call_id.startswith(SYNTHETIC_PREFIX):
            return
        await self._timed(
            call_id, self._inner.cancel_media_processing(call_id, client_context=client_context)
        )

    async def subscribe_to_tone(self, call_id: str, *, client_context: str) -> None:
        if call_id.startswith(SYNTHETIC_PREFIX):
            return
        await self._timed(
            call_id, self._inner.subscribe_to_tone(call_id, client_context=client_context)
        )

    async def record_response(
        self,
        call_id: str,
        *,
        prompt: MediaPrompt | None,
        max_duration_s: int,
        client_context: str,
    ) -> str:
        if call_id.startswith(SYNTHETIC_PREFIX):
            return str(uuid.uuid4())
        return await self._timed(
            call_id,
            self._inner.record_response(
                call_id,
                prompt=prompt,
                max_duration_s=max_duration_s,
                client_context=client_context,
            ),
        )

    async def invite(
        self,
        call_id: str,
        agent: Party,
        *,
        client_context: str,
        replaces_call_id: str | None = None,
        participant_id: str | None = None,
    ) -> Invitation:
        if call_id.startswith(SYNTHETIC_PREFIX):
            return Invitation(operation_id=str(uuid.uuid4()), participant_id=str(uuid.uuid4()))
        if self._probe.enabled:
            self._probe.invite_requested(canonical_id(call_id), time.perf_counter())
        return await self._timed(
            call_id,
            self._inner.invite(
                call_id,
                agent,
                client_context=client_context,
                replaces_call_id=replaces_call_id,
                participant_id=participant_id,
            ),
        )

    async def remove_participant(self, call_id: str, participant_id: str) -> None:
        if call_id.startswith(SYNTHETIC_PREFIX):
            return
        await self._timed(call_id, self._inner.remove_participant(call_id, participant_id))

    async def other_participants(self, call_id: str) -> list[str]:
        if call_id.startswith(SYNTHETIC_PREFIX):
            return []
        return await self._timed(call_id, self._inner.other_participants(call_id))

    async def roster(self, call_id: str) -> list[RosterEntry]:
        if call_id.startswith(SYNTHETIC_PREFIX):
            return []
        return await self._timed(call_id, self._inner.roster(call_id))

    async def hang_up(self, call_id: str) -> None:
        if call_id.startswith(SYNTHETIC_PREFIX):
            return
        await self._timed(call_id, self._inner.hang_up(call_id))

    async def keep_alive(self, call_id: str) -> None:
        if call_id.startswith(SYNTHETIC_PREFIX):
            return
        await self._timed(call_id, self._inner.keep_alive(call_id))

    async def place_call(
        self,
        *,
        tenant_id: str,
        source_application_instance_id: str,
        target: Party,
        callback_uri: str,
        prefetch: Sequence[MediaPrompt] = (),
    ) -> OutboundCall:
        return await self._inner.place_call(
            tenant_id=tenant_id,
            source_application_instance_id=source_application_instance_id,
            target=target,
            callback_uri=callback_uri,
            prefetch=prefetch,
        )
