"""Live updates for the tab: a server-sent event stream fed by polling the store.

State lives in the store and any host may change it, so the store is what is watched:
while at least one page of a tenant is connected, one task per tenant (per host) reads
the tenant's queues, agents and live calls every ``poll_interval_s`` and hands the
snapshot to that tenant's streams. Each stream sends an event only when what *its* user
sees changed. A tenant nobody watches costs nothing.

The stream is ``GET /api/tab/events`` with the usual bearer token in the Authorization
header (the page reads it with ``fetch``, which can send headers, unlike EventSource):
events ``me`` (the user's own agent state and offer, as ``GET /api/tab/me``) and
``queues`` (as ``GET /api/tab/queues/live``). The stream ends when the token expires or
the host shuts down; the page then reconnects with a fresh token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from contactcenter.clock import Clock
from contactcenter.errors import DomainError
from contactcenter.repository import Repository
from tab.appkeys import TAB
from tab.endpoints import ApiError, TabRequest
from tab.live import TenantSnapshot, me_view, queue_live, read_snapshot, visible_queue_ids
from tab.schemas import QueuesLiveView

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class _Feed:
    """The live snapshots of one tenant, and who is waiting for the next one."""

    tenant_id: str
    subscribers: int = 0
    snapshot: TenantSnapshot | None = None
    version: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None


class Subscription:
    """One stream's view of a tenant feed."""

    def __init__(self, hub: LiveHub, feed: _Feed) -> None:
        self._hub = hub
        self._feed = feed
        self._seen = -1

    async def next(self, timeout_s: float) -> TenantSnapshot | None:
        """Return a snapshot newer than the last one returned, or None after ``timeout_s``."""
        feed = self._feed
        async with feed.changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    feed.changed.wait_for(
                        lambda: (
                            self._hub.closing
                            or (feed.snapshot is not None and feed.version != self._seen)
                        )
                    ),
                    timeout_s,
                )
            if self._hub.closing or feed.snapshot is None or feed.version == self._seen:
                return None
            self._seen = feed.version
            return feed.snapshot


class TooManyStreams(DomainError):
    """A user, or the host, has as many live streams open as allowed."""


class StreamQuota:
    """How many live streams one user, and the whole host, may hold open at once.

    Each stream holds a connection and a task for as long as it lasts; without a limit one
    signed-in user could open thousands and starve everyone else.
    """

    def __init__(self, *, per_user: int, per_host: int) -> None:
        self._per_user = per_user
        self._per_host = per_host
        self._open: dict[tuple[str, str], int] = {}
        self._total = 0

    @property
    def open_streams(self) -> int:
        return self._total

    @contextlib.contextmanager
    def admit(self, tenant_id: str, user_id: str) -> Iterator[None]:
        """Hold one stream's place while the context is open; raise TooManyStreams if full."""
        key = (tenant_id, user_id)
        if self._total >= self._per_host:
            raise TooManyStreams(
                f"this host serves at most {self._per_host} live streams: try again shortly"
            )
        if self._open.get(key, 0) >= self._per_user:
            raise TooManyStreams(
                f"at most {self._per_user} live streams per user: close another page first"
            )
        self._open[key] = self._open.get(key, 0) + 1
        self._total += 1
        try:
            yield
        finally:
            self._total -= 1
            left = self._open[key] - 1
            if left:
                self._open[key] = left
            else:
                del self._open[key]


class LiveHub:
    """In-process publish/subscribe of tenant snapshots, polled from the store."""

    def __init__(
        self,
        repository: Repository,
        clock: Clock,
        *,
        interval_s: float,
        quota: StreamQuota,
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._interval_s = interval_s
        self._feeds: dict[str, _Feed] = {}
        self._feeds_changed = asyncio.Condition()
        self.quota = quota
        self.closing = False
        self.polls = 0

    @property
    def watched_tenants(self) -> int:
        return len(self._feeds)

    async def wait_unwatched(self, tenant_id: str) -> None:
        """Return once no stream watches the tenant (its polling has stopped)."""
        async with self._feeds_changed:
            await self._feeds_changed.wait_for(lambda: tenant_id not in self._feeds)

    @contextlib.asynccontextmanager
    async def subscribe(self, tenant_id: str) -> AsyncIterator[Subscription]:
        """Watch a tenant for as long as the context is open."""
        feed = self._feeds.get(tenant_id)
        if feed is None:
            feed = _Feed(tenant_id)
            self._feeds[tenant_id] = feed
            feed.task = asyncio.get_running_loop().create_task(
                self._poll(feed), name=f"tab-live-{tenant_id}"
            )
        feed.subscribers += 1
        try:
            yield Subscription(self, feed)
        finally:
            feed.subscribers -= 1
            if feed.subscribers == 0:
                self._feeds.pop(tenant_id, None)
                if feed.task is not None:
                    feed.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await feed.task
                async with self._feeds_changed:
                    self._feeds_changed.notify_all()

    async def _poll(self, feed: _Feed) -> None:
        while not self.closing:
            try:
                snapshot = await read_snapshot(self._repository, feed.tenant_id, self._clock.now())
            except DomainError as err:
                _LOGGER.warning(
                    "Live feed could not read the store: %s",
                    err,
                    extra={"tenant_id": feed.tenant_id},
                )
            except Exception:
                # Keep polling: a document that cannot be read now may be fixed by its next write.
                _LOGGER.exception("Live feed failed", extra={"tenant_id": feed.tenant_id})
            else:
                self.polls += 1
                async with feed.changed:
                    feed.snapshot = snapshot
                    feed.version += 1
                    feed.changed.notify_all()
            await asyncio.sleep(self._interval_s)

    async def close(self) -> None:
        """End every stream (the host is shutting down) and stop polling."""
        self.closing = True
        for feed in list(self._feeds.values()):
            async with feed.changed:
                feed.changed.notify_all()
            if feed.task is not None:
                feed.task.cancel()
        tasks = [f.task for f in self._feeds.values() if f.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)


def _frame(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One event of a live stream, made from a snapshot of the tenant."""

    name: str
    data: dict[str, Any]
    # The part of ``data`` whose change is news: the event is sent again only when it differs.
    compared: object


LiveEvents = Callable[[TenantSnapshot], Awaitable[Sequence[LiveEvent]]]
_NOT_SENT = object()


async def stream_live(call: TabRequest, events: LiveEvents, *, stream: str) -> web.StreamResponse:
    """Stream the events made of each new snapshot of the caller's tenant, each once changed.

    The stream ends when the caller's token expires or the host shuts down; an idle
    stream gets a comment line every ``heartbeat_s`` so that proxies keep it open.
    """
    caller = call.caller
    state = call.app[TAB]
    hub = state.hub
    try:
        with hub.quota.admit(caller.tenant_id, caller.user_id):
            return await _stream(call, events, stream=stream)
    except TooManyStreams as err:
        raise ApiError(429, str(err), code="tooManyStreams", headers={"Retry-After": "10"}) from err


async def _stream(call: TabRequest, events: LiveEvents, *, stream: str) -> web.StreamResponse:
    caller = call.caller
    state = call.app[TAB]
    hub = state.hub
    clock = state.deps.clock
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            # Tell reverse proxies (nginx, App Service's front end) not to buffer the stream.
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(call.request)
    sent: dict[str, object] = {}
    try:
        await response.write(b"retry: 2000\n\n")
        async with hub.subscribe(caller.tenant_id) as subscription:
            while not hub.closing:
                if clock.now().timestamp() >= caller.identity.expires_at:
                    await response.write(_frame("expired", {"reason": "the sign-in token expired"}))
                    break
                snapshot = await subscription.next(state.options.heartbeat_s)
                if snapshot is None:
                    # Nothing new (or shutting down, which ends the loop).
                    await response.write(b": keep-alive\n\n")
                    continue
                for event in await events(snapshot):
                    if sent.get(event.name, _NOT_SENT) != event.compared:
                        sent[event.name] = event.compared
                        await response.write(_frame(event.name, event.data))
        await response.write_eof()
    except ConnectionResetError:
        # The page went away (closed, reloaded): nothing to clean up but the subscription.
        _LOGGER.debug(
            "%s stream closed by the client", stream, extra={"tenant_id": caller.tenant_id}
        )
    return response


async def stream_events(call: TabRequest) -> web.StreamResponse:
    """Stream the caller's own state and their queues' live numbers as they change."""
    caller = call.caller
    demo = call.deps.settings.demo

    async def events(snapshot: TenantSnapshot) -> Sequence[LiveEvent]:
        me = me_view(caller.user, caller.tenant, snapshot, demo=demo).model_dump(mode="json")
        queues = QueuesLiveView(
            queues=queue_live(snapshot, visible_queue_ids(caller.user, snapshot.queues)),
            at=snapshot.at,
        ).model_dump(mode="json")
        return (
            # The server's clock moves on every poll: not a reason to send an event.
            LiveEvent("me", me, compared={k: v for k, v in me.items() if k != "serverTime"}),
            # Longest waits grow by the second: sent when they change, which is each poll
            # while anyone waits, and not at all while nobody does.
            LiveEvent("queues", queues, compared=queues["queues"]),
        )

    return await stream_live(call, events, stream="Event")
