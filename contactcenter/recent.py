"""Configuration read lately: each entry trusted for a few seconds, then read again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from contactcenter.clock import Clock
from contactcenter.errors import NotFound

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """Values read lately, each trusted for ``ttl_s`` seconds; "not found" is kept too.

    Bounded: once ``size`` entries are kept, the next new one starts afresh (configuration
    of a few hundred queues fits; a flood of unknown keys cannot grow it).
    """

    def __init__(self, clock: Clock, ttl_s: float, *, size: int = 1024) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._size = size
        self._entries: dict[K, tuple[float, V | None]] = {}

    async def get(self, key: K, read: Callable[[], Awaitable[V]]) -> V | None:
        """Return the value for ``key``, calling ``read`` when none is trusted any more.

        ``read`` raising :class:`NotFound` is remembered as None.
        """
        now = self._clock.monotonic()
        cached = self._entries.get(key)
        if cached is not None and 0 <= now - cached[0] < self._ttl_s:
            return cached[1]
        try:
            value: V | None = await read()
        except NotFound:
            value = None
        if len(self._entries) >= self._size:
            self._entries.clear()
        self._entries[key] = (now, value)
        return value

    def forget(self, key: K) -> None:
        """Read ``key`` again next time (this process changed it, or must see it current)."""
        self._entries.pop(key, None)
