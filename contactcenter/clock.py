"""Clocks: the wall clock for production and a virtual one for tests and simulation."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tell the time; always timezone-aware UTC."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


EPOCH = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


class VirtualClock:
    """A clock that moves only when told to, for deterministic tests and simulations."""

    def __init__(self, start: datetime = EPOCH) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start")
        self._start = start.astimezone(UTC)
        self._elapsed = 0.0

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not run backwards")
        self._elapsed += seconds

    def set(self, when: datetime) -> None:
        target = (when - self._start).total_seconds()
        if target < self._elapsed:
            raise ValueError("time does not run backwards")
        self._elapsed = target
