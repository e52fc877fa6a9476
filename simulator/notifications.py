"""Graph ``commsNotifications`` payloads and their signed, per-call ordered delivery."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from yarl import URL

from contactcenter.clock import Clock
from simulator.config import is_loopback_host
from simulator.signing import TokenMinter

_LOGGER = logging.getLogger(__name__)


def comms_notifications(*notifications: dict[str, Any]) -> dict[str, Any]:
    """Wrap notifications in the envelope Graph posts."""
    return {"@odata.type": "#microsoft.graph.commsNotifications", "value": list(notifications)}


def comms_notification(
    change_type: str, resource_url: str, resource_data: dict[str, Any] | list[dict[str, Any]]
) -> dict[str, Any]:
    """Return one ``commsNotification``."""
    return {
        "@odata.type": "#microsoft.graph.commsNotification",
        "changeType": change_type,
        "resourceUrl": resource_url,
        "resourceData": resource_data,
    }


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one POST to the bot went: its HTTP status, or why there was none."""

    url: str
    status: int | None
    error: str | None = None
    # No answer came back because the connection was refused or dropped before the bot
    # responded: a load balancer may send the request to another host.
    unanswered: bool = False

    @property
    def ok(self) -> bool:
        """Return whether the bot accepted the notification."""
        return self.status is not None and 200 <= self.status < 300


class Sender(Protocol):
    """Something that POSTs a notification and reports how it went."""

    async def send(self, url: str, payload: dict[str, Any], *, tenant_id: str) -> Delivery: ...


class NotificationSender:
    """POST notifications to the bot with the reused bearer token, as Graph does."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        minter: TokenMinter,
        *,
        audience: str,
        timeout_s: float,
        allow_remote: bool = False,
    ) -> None:
        self._session = session
        self._allow_remote = allow_remote
        self._minter = minter
        self._audience = audience
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send(self, url: str, payload: dict[str, Any], *, tenant_id: str) -> Delivery:
        """POST one payload; return the outcome instead of raising."""
        if not self._allow_remote and not is_loopback_host(URL(url).host):
            _LOGGER.warning("Not delivering to %s: only loopback hosts are allowed", url)
            return Delivery(url=url, status=None, error="not delivered: host is not loopback")
        token = self._minter.token_for(self._audience, tenant_id)
        try:
            async with self._session.post(
                url,
                json=payload,
                headers={"Authorization": f"Bearer {token}"},
                timeout=self._timeout,
            ) as response:
                await response.read()
                return Delivery(url=url, status=response.status)
        except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as err:
            _LOGGER.warning("Notification to %s got no answer: %r", url, err)
            return Delivery(url=url, status=None, error=repr(err), unanswered=True)
        except (aiohttp.ClientError, TimeoutError) as err:
            _LOGGER.warning("Notification to %s failed: %r", url, err)
            return Delivery(url=url, status=None, error=repr(err))


class LoadBalancer:
    """Spread notifications over several hosts of one bot, as a load balancer in front of them.

    In Graph, a bot's callbackUri is one URL, usually a load balancer's. A notification
    for any webhook in ``pool`` goes to the host next in turn (round robin, per
    notification, so one call's notifications land on different hosts). A host that
    refuses the connection, or drops it before answering, is taken out of the rotation
    for ``probe_interval_s`` (a failed health check) and the notification goes to the next
    host; a host that answers, whatever the status, is not retried, nor is one that timed
    out (it may still be working on it). Notifications for other URLs pass through.
    """

    def __init__(
        self,
        sender: Sender,
        pool: Sequence[str],
        *,
        clock: Clock,
        probe_interval_s: float = 5.0,
    ) -> None:
        self._sender = sender
        self._pool = tuple(dict.fromkeys(pool))
        self._members = frozenset(URL(url) for url in self._pool)
        self._clock = clock
        self._probe_interval_s = probe_interval_s
        self._turn = itertools.count()
        # Host -> when it may be tried again (clock.monotonic()).
        self._down_until: dict[str, float] = {}

    async def send(self, url: str, payload: dict[str, Any], *, tenant_id: str) -> Delivery:
        """Deliver to one host of the pool (or to ``url`` itself, if it is not in the pool)."""
        if len(self._pool) < 2 or URL(url) not in self._members:
            return await self._sender.send(url, payload, tenant_id=tenant_id)
        delivery: Delivery | None = None
        for host in self._order():
            delivery = await self._sender.send(host, payload, tenant_id=tenant_id)
            if not delivery.unanswered:
                self._down_until.pop(host, None)
                return delivery
            _LOGGER.info("Load balancer: %s did not answer; trying the next host", host)
            self._down_until[host] = self._clock.monotonic() + self._probe_interval_s
        assert delivery is not None
        return delivery

    def _order(self) -> list[str]:
        """Return the hosts to try, in turn from the next one, hosts marked down last."""
        start = next(self._turn) % len(self._pool)
        turn = [*self._pool[start:], *self._pool[:start]]
        now = self._clock.monotonic()
        up = [host for host in turn if self._down_until.get(host, 0.0) <= now]
        return up + [host for host in turn if host not in up]


@dataclass(slots=True)
class _Pending:
    url: str
    payload: dict[str, Any]
    tenant_id: str
    delivered: asyncio.Future[Delivery]


DeliveryHook = Callable[[str, dict[str, Any], Delivery], None]


class CallOutbox:
    """Deliver each call's notifications one at a time, in the order they were queued.

    Calls are independent: one slow bot response delays only that call's later notifications.
    """

    def __init__(self, sender: Sender, *, on_delivered: DeliveryHook) -> None:
        self._sender = sender
        self._on_delivered = on_delivered
        self._queues: dict[str, deque[_Pending]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    def enqueue(
        self, call_id: str, url: str, payload: dict[str, Any], *, tenant_id: str
    ) -> asyncio.Future[Delivery]:
        """Queue a notification about a call; the future resolves once the bot answered."""
        delivered: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(call_id, deque()).append(
            _Pending(url=url, payload=payload, tenant_id=tenant_id, delivered=delivered)
        )
        if call_id not in self._workers:
            self._workers[call_id] = asyncio.create_task(
                self._drain(call_id), name=f"simulator-outbox-{call_id}"
            )
        return delivered

    async def idle(self) -> None:
        """Wait until every queued notification has been delivered."""
        while self._workers:
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def close(self) -> None:
        """Stop delivering; pending notifications are dropped."""
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for queue in self._queues.values():
            for pending in queue:
                pending.delivered.cancel()
        self._queues.clear()
        self._workers.clear()

    async def _drain(self, call_id: str) -> None:
        queue = self._queues[call_id]
        try:
            while queue:
                pending = queue[0]
                delivery = await self._sender.send(
                    pending.url, pending.payload, tenant_id=pending.tenant_id
                )
                queue.popleft()
                self._on_delivered(call_id, pending.payload, delivery)
                if not pending.delivered.done():
                    pending.delivered.set_result(delivery)
        finally:
            # No await between the emptiness check above and this cleanup, so a notification
            # queued afterwards always finds no worker and starts a new one.
            if not queue:
                del self._queues[call_id]
            del self._workers[call_id]
