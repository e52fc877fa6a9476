"""The webhook's warning about slow notifications: the first at once, then a count now and then."""

from __future__ import annotations

import logging

import pytest

from bot.calling import SLOW_NOTICE_INTERVAL_S, SlowNotifications
from contactcenter.clock import VirtualClock


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_an_overloaded_host_warns_once_per_interval_with_the_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    slow = SlowNotifications(clock)
    caplog.set_level(logging.WARNING, logger="bot.calling")

    for _ in range(500):
        slow.note()
        clock.advance(0.01)
    assert len(_warnings(caplog)) == 1
    assert "answered 1 notification(s)" in _warnings(caplog)[0]

    clock.advance(SLOW_NOTICE_INTERVAL_S)
    slow.note()

    assert len(_warnings(caplog)) == 2
    assert "answered 500 notification(s)" in _warnings(caplog)[1]


def test_a_slow_notification_after_a_quiet_interval_is_reported_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    slow = SlowNotifications(clock, interval_s=5.0)
    caplog.set_level(logging.WARNING, logger="bot.calling")

    slow.note()
    clock.advance(60)
    slow.note()

    assert len(_warnings(caplog)) == 2
    assert "answered 1 notification(s)" in _warnings(caplog)[1]
