"""Outbound Bot Connector calls, paced and retried.

Teams limits each bot per conversation to 7 requests a second, 8 in 2 s, 60 in 30 s and
1,800 an hour, and an app to about 50 a second per tenant. :class:`RateLimiter` keeps a
sliding log per conversation (and one per tenant) and waits until a request fits.
Throttled and transient failures (429, 412, 502, 504) are retried with exponential
backoff and full jitter, or after ``Retry-After`` when Teams sends one.

Everything waits on a :class:`Timer`, so tests run the pacing on a virtual clock, and
:class:`WorkTracker` tells them when every piece of outbound work is done or parked.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from bot.messaging.adapter import BotChannel, ConnectorError, Message
from bot.messaging.documents import ConversationRef

_LOGGER = logging.getLogger(__name__)

_T = TypeVar("_T")


class Timer(Protocol):
    """Tell the time (seconds, monotonic) and wait."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class AsyncioTimer:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class WorkTracker:
    """Count outbound work that is running (not parked on a timer), and wait for none."""

    def __init__(self) -> None:
        self._busy = 0
        self._idle: asyncio.Event | None = None

    @property
    def busy(self) -> int:
        return self._busy

    def started(self) -> None:
        self._busy += 1

    def finished(self) -> None:
        self._busy -= 1
        if self._busy == 0 and self._idle is not None:
            self._idle.set()
            self._idle = None

    async def wait_idle(self) -> None:
        """Return once no work runs: all of it finished or waits on the timer."""
        while self._busy > 0:
            if self._idle is None:
                self._idle = asyncio.Event()
            await self._idle.wait()


class TrackedTimer:
    """A timer whose sleepers count as parked, not busy, for :class:`WorkTracker`."""

    def __init__(self, timer: Timer, tracker: WorkTracker) -> None:
        self._timer = timer
        self._tracker = tracker

    def monotonic(self) -> float:
        return self._timer.monotonic()

    async def sleep(self, seconds: float) -> None:
        self._tracker.finished()
        try:
            await self._timer.sleep(seconds)
        finally:
            self._tracker.started()


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``count`` requests in any ``per_s`` seconds."""

    count: int
    per_s: float


# Per bot per conversation (Teams).
CONVERSATION_LIMITS: tuple[Limit, ...] = (
    Limit(7, 1.0),
    Limit(8, 2.0),
    Limit(60, 30.0),
    Limit(1800, 3600.0),
)
# Per app per tenant, across conversations.
TENANT_LIMITS: tuple[Limit, ...] = (Limit(50, 1.0),)


class RateLimiter:
    """A sliding-window log per key; :meth:`acquire` waits until a request fits."""

    def __init__(self, limits: Sequence[Limit], timer: Timer) -> None:
        self._limits = tuple(limits)
        self._timer = timer
        self._longest = max(limit.per_s for limit in self._limits)
        self._kept = max(limit.count for limit in self._limits)
        self._sent: dict[str, deque[float]] = {}

    def delay(self, key: str) -> float:
        """Return how long a request for ``key`` must wait now (0: it may go)."""
        sent = self._sent.get(key)
        if not sent:
            return 0.0
        now = self._timer.monotonic()
        wait = 0.0
        for limit in self._limits:
            if len(sent) < limit.count:
                continue
            # The limit.count-th latest request must have left the window.
            oldest_in_window = sent[-limit.count]
            wait = max(wait, oldest_in_window + limit.per_s - now)
        return wait

    async def acquire(self, key: str) -> None:
        """Wait until a request for ``key`` fits every limit, and count it.

        The check and the count happen with no await between them, so concurrent callers
        cannot both take the last place in a window.
        """
        while (wait := self.delay(key)) > 0:
            await self._timer.sleep(wait)
        now = self._timer.monotonic()
        sent = self._sent.setdefault(key, deque(maxlen=self._kept))
        sent.append(now)
        # Forget keys that have been quiet for longer than the longest window.
        if len(self._sent) > 4096:
            horizon = now - self._longest
            for stale in [k for k, log in self._sent.items() if log and log[-1] < horizon]:
                self._sent.pop(stale, None)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry a connector request.

    ``max_attempts`` counts the first try; the delay before try n+1 is
    ``random() * min(max_delay_s, base_delay_s * 2**(n-1))`` unless Teams sends
    ``Retry-After``, which wins (capped at ``max_delay_s``).
    """

    max_attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0


RETRY_STATUSES = frozenset({412, 429, 502, 504})


class Outbox:
    """Send and update activities within Teams' limits, retrying what may be retried."""

    def __init__(
        self,
        channel: BotChannel,
        timer: Timer,
        *,
        retry: RetryPolicy | None = None,
        conversation_limits: Sequence[Limit] = CONVERSATION_LIMITS,
        tenant_limits: Sequence[Limit] = TENANT_LIMITS,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        self._channel = channel
        self._timer = timer
        self._retry = retry or RetryPolicy()
        self._conversations = RateLimiter(conversation_limits, timer)
        self._tenants = RateLimiter(tenant_limits, timer)
        self._random = random_fraction
        self.attempts = 0

    async def send(self, ref: ConversationRef, message: Message) -> str:
        """Post a message; return its activity id."""
        return await self._run(
            ref, lambda: self._channel.send(ref, message), "send", idempotent=False
        )

    async def update(self, ref: ConversationRef, activity_id: str, message: Message) -> None:
        """Replace a message sent earlier."""
        await self._run(
            ref,
            lambda: self._channel.update(ref, activity_id, message),
            "update",
            idempotent=True,
        )

    async def _run(
        self,
        ref: ConversationRef,
        request: Callable[[], Awaitable[_T]],
        action: str,
        *,
        idempotent: bool,
    ) -> _T:
        attempt = 0
        while True:
            attempt += 1
            await self._tenants.acquire(ref.tenant_id)
            await self._conversations.acquire(ref.conversation_id)
            self.attempts += 1
            try:
                return await request()
            except ConnectorError as err:
                # Without an answer a post may still have arrived: only an update (a PUT
                # of the same content) is safe to repeat then.
                retryable = err.status in RETRY_STATUSES or (err.status is None and idempotent)
                if not retryable or attempt >= self._retry.max_attempts:
                    raise
                delay = self._delay(attempt, err.retry_after)
                _LOGGER.info(
                    "Teams %s in %s failed (%s), attempt %d; retrying in %.2f s",
                    action,
                    ref.conversation_id,
                    err.status or "no answer",
                    attempt,
                    delay,
                )
                await self._timer.sleep(delay)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._retry.max_delay_s)
        ceiling = min(self._retry.max_delay_s, self._retry.base_delay_s * 2.0 ** (attempt - 1))
        return self._random() * ceiling
