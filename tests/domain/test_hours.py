"""Business hours and holidays, in the schedule's time zone, across DST transitions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contactcenter.errors import InvalidInput
from contactcenter.hours import OpenState, check_hours, validate_hours
from contactcenter.model import (
    ActionKind,
    BusinessHours,
    Holiday,
    HolidaySet,
    HoursMode,
    OpenRange,
    QueueAction,
    Weekday,
)

NEW_YORK = "America/New_York"
WEEKDAYS = (Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY)
NINE_TO_FIVE = BusinessHours(
    mode=HoursMode.SET_TIMES,
    time_zone=NEW_YORK,
    weekly=tuple(OpenRange(day, "09:00", "17:00") for day in WEEKDAYS),
    closed_action=QueueAction(ActionKind.VOICEMAIL),
)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def is_open(hours: BusinessHours, moment: datetime, tenant_zone: str = "UTC") -> bool:
    return check_hours(hours, moment, tenant_zone).is_open


def test_no_schedule_is_always_open() -> None:
    assert check_hours(None, utc(2026, 3, 1, 3, 0), "UTC").state is OpenState.OPEN
    assert is_open(BusinessHours(), utc(2026, 3, 1, 3, 0))


def test_always_open_is_open_at_night_and_at_weekends() -> None:
    always = BusinessHours(mode=HoursMode.ALWAYS_OPEN, time_zone=NEW_YORK)
    assert is_open(always, utc(2026, 3, 2, 7, 0))  # Monday 02:00 in New York
    assert is_open(always, utc(2026, 3, 7, 15, 0))  # a Saturday


def test_set_times_without_a_range_is_refused_with_a_message() -> None:
    with pytest.raises(InvalidInput, match="at least one opening time"):
        validate_hours(BusinessHours(mode=HoursMode.SET_TIMES))


def test_holidays_close_an_always_open_schedule_too() -> None:
    always = BusinessHours(
        holiday_sets=(HolidaySet("US", (Holiday("Xmas", "2026-12-25", "2026-12-26"),)),)
    )
    assert check_hours(always, utc(2026, 12, 25, 12, 0), "UTC").state is OpenState.HOLIDAY
    assert is_open(always, utc(2026, 12, 26, 12, 0))


def test_open_from_the_first_minute_to_the_last() -> None:
    # Monday 2 March 2026; New York is UTC-5 (standard time).
    assert not is_open(NINE_TO_FIVE, utc(2026, 3, 2, 13, 59))
    assert is_open(NINE_TO_FIVE, utc(2026, 3, 2, 14, 0))
    assert is_open(NINE_TO_FIVE, utc(2026, 3, 2, 21, 59))
    assert not is_open(NINE_TO_FIVE, utc(2026, 3, 2, 22, 0))


def test_closed_returns_the_closed_action() -> None:
    verdict = check_hours(NINE_TO_FIVE, utc(2026, 3, 7, 15, 0), "UTC")  # a Saturday
    assert verdict.state is OpenState.CLOSED
    assert verdict.action == QueueAction(ActionKind.VOICEMAIL)


def test_opening_follows_local_time_across_the_spring_transition() -> None:
    # Clocks went forward on Sunday 8 March 2026: 09:00 is 13:00 UTC from then on.
    assert is_open(NINE_TO_FIVE, utc(2026, 3, 6, 14, 0))  # Friday, UTC-5
    assert not is_open(NINE_TO_FIVE, utc(2026, 3, 6, 13, 30))
    assert is_open(NINE_TO_FIVE, utc(2026, 3, 9, 13, 0))  # Monday, UTC-4
    assert not is_open(NINE_TO_FIVE, utc(2026, 3, 9, 21, 0))  # 17:00 local


def test_opening_follows_local_time_across_the_autumn_transition() -> None:
    # Clocks went back on Sunday 1 November 2026.
    assert is_open(NINE_TO_FIVE, utc(2026, 10, 30, 13, 0))  # Friday 09:00, UTC-4
    assert not is_open(NINE_TO_FIVE, utc(2026, 11, 2, 13, 0))  # Monday 08:00, UTC-5
    assert is_open(NINE_TO_FIVE, utc(2026, 11, 2, 14, 0))


def test_a_night_range_over_the_skipped_hour_is_an_hour_shorter() -> None:
    night = BusinessHours(
        mode=HoursMode.SET_TIMES,
        time_zone=NEW_YORK,
        weekly=(OpenRange(Weekday.SUNDAY, "01:00", "04:00"),),
    )
    # 8 March 2026: 01:00 EST is 06:00 UTC; 02:00-03:00 local does not exist; 04:00 EDT is
    # 08:00 UTC. Open for two real hours.
    assert not is_open(night, utc(2026, 3, 8, 5, 59))
    assert is_open(night, utc(2026, 3, 8, 6, 0))
    assert is_open(night, utc(2026, 3, 8, 6, 59))  # 01:59 EST, next minute is 03:00 EDT
    assert is_open(night, utc(2026, 3, 8, 7, 0))  # 03:00 EDT
    assert not is_open(night, utc(2026, 3, 8, 8, 0))


def test_a_night_range_over_the_repeated_hour_is_an_hour_longer() -> None:
    night = BusinessHours(
        mode=HoursMode.SET_TIMES,
        time_zone=NEW_YORK,
        weekly=(OpenRange(Weekday.SUNDAY, "01:00", "02:00"),),
    )
    # 1 November 2026: 01:00-02:00 happens twice, 05:00-06:00 and 06:00-07:00 UTC.
    assert not is_open(night, utc(2026, 11, 1, 4, 59))
    assert is_open(night, utc(2026, 11, 1, 5, 30))
    assert is_open(night, utc(2026, 11, 1, 6, 30))
    assert not is_open(night, utc(2026, 11, 1, 7, 0))


def test_the_tenant_time_zone_applies_when_the_schedule_names_none() -> None:
    hours = BusinessHours(
        mode=HoursMode.SET_TIMES, weekly=(OpenRange(Weekday.MONDAY, "09:00", "17:00"),)
    )
    moment = utc(2026, 3, 2, 8, 30)  # 09:30 in Paris, 03:30 in New York
    assert is_open(hours, moment, "Europe/Paris")
    assert not is_open(hours, moment, NEW_YORK)


def test_a_range_may_end_at_midnight() -> None:
    late = BusinessHours(
        mode=HoursMode.SET_TIMES,
        time_zone="UTC",
        weekly=(OpenRange(Weekday.MONDAY, "20:00", "24:00"),),
    )
    assert is_open(late, utc(2026, 3, 2, 23, 59))
    assert not is_open(late, utc(2026, 3, 3, 0, 0))


def test_a_holiday_closes_with_the_holiday_action_and_its_name() -> None:
    hours = BusinessHours(
        mode=HoursMode.SET_TIMES,
        time_zone=NEW_YORK,
        weekly=NINE_TO_FIVE.weekly,
        holiday_sets=(
            HolidaySet("US", (Holiday("Christmas Day", "2026-12-25", "2026-12-26"),)),
            HolidaySet(
                "Office",
                (Holiday("Move", "2026-06-01T12:00", "2026-06-01T15:00"),),
                action=QueueAction(ActionKind.QUEUE, target="q2"),
            ),
        ),
        holiday_action=QueueAction(ActionKind.DISCONNECT, prompt_id="std.en-US.holiday"),
    )
    christmas = check_hours(hours, utc(2026, 12, 25, 15, 0), "UTC")
    assert christmas.state is OpenState.HOLIDAY
    assert christmas.holiday == "Christmas Day"
    assert christmas.action == QueueAction(ActionKind.DISCONNECT, prompt_id="std.en-US.holiday")
    # The day starts at local midnight, not UTC midnight.
    assert check_hours(hours, utc(2026, 12, 24, 21, 59), "UTC").state is OpenState.OPEN
    assert check_hours(hours, utc(2026, 12, 25, 4, 59), "UTC").state is OpenState.CLOSED
    assert check_hours(hours, utc(2026, 12, 25, 5, 0), "UTC").state is OpenState.HOLIDAY
    # A holiday of a few hours, with its own action.
    move = check_hours(hours, utc(2026, 6, 1, 16, 30), "UTC")  # 12:30 EDT
    assert move.state is OpenState.HOLIDAY
    assert move.action == QueueAction(ActionKind.QUEUE, target="q2")
    assert is_open(hours, utc(2026, 6, 1, 19, 0))  # 15:00 EDT: over


def test_the_closed_now_switch_wins_over_everything() -> None:
    hours = BusinessHours(
        closed_now=True, closed_now_action=QueueAction(ActionKind.REDIRECT_NUMBER, "+14255550177")
    )
    verdict = check_hours(hours, utc(2026, 3, 2, 15, 0), "UTC")
    assert verdict.state is OpenState.CLOSED_NOW
    assert verdict.action == QueueAction(ActionKind.REDIRECT_NUMBER, "+14255550177")
    fallback = BusinessHours(closed_now=True, closed_action=QueueAction(ActionKind.VOICEMAIL))
    assert check_hours(fallback, utc(2026, 3, 2, 15, 0), "UTC").action == QueueAction(
        ActionKind.VOICEMAIL
    )


# ------------------------------------------------------------------ validation
def test_a_valid_schedule_passes() -> None:
    validate_hours(NINE_TO_FIVE)
    split = BusinessHours(
        mode=HoursMode.SET_TIMES,
        weekly=(
            OpenRange(Weekday.MONDAY, "08:00", "12:00"),
            OpenRange(Weekday.MONDAY, "12:00", "17:00"),
            OpenRange(Weekday.TUESDAY, "00:00", "24:00"),
        ),
    )
    validate_hours(split)


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        (
            BusinessHours(
                mode=HoursMode.SET_TIMES, weekly=(OpenRange(Weekday.MONDAY, "17:00", "09:00"),)
            ),
            "hours.weekly[0]",
        ),
        (
            BusinessHours(
                mode=HoursMode.SET_TIMES, weekly=(OpenRange(Weekday.MONDAY, "09:00", "09:00"),)
            ),
            "hours.weekly[0]",
        ),
        (
            BusinessHours(
                mode=HoursMode.SET_TIMES,
                weekly=(
                    OpenRange(Weekday.MONDAY, "09:00", "13:00"),
                    OpenRange(Weekday.TUESDAY, "09:00", "13:00"),
                    OpenRange(Weekday.MONDAY, "12:00", "17:00"),
                ),
            ),
            "hours.weekly[2]",
        ),
        (
            BusinessHours(
                mode=HoursMode.SET_TIMES, weekly=(OpenRange(Weekday.MONDAY, "9:00", "17:00"),)
            ),
            "hours.weekly[0].start",
        ),
        (
            BusinessHours(
                mode=HoursMode.SET_TIMES, weekly=(OpenRange(Weekday.MONDAY, "09:00", "24:30"),)
            ),
            "hours.weekly[0].end",
        ),
        (
            BusinessHours(
                mode=HoursMode.SET_TIMES, weekly=(OpenRange(Weekday.MONDAY, "24:00", "24:00"),)
            ),
            "hours.weekly[0].start",
        ),
        (BusinessHours(time_zone="Mars/Olympus_Mons"), "hours.timeZone"),
        (BusinessHours(mode=HoursMode.SET_TIMES), "hours.weekly"),
        (
            BusinessHours(
                mode=HoursMode.ALWAYS_OPEN, weekly=(OpenRange(Weekday.MONDAY, "09:00", "17:00"),)
            ),
            "hours.weekly",
        ),
        (
            BusinessHours(
                holiday_sets=(HolidaySet("US", (Holiday("Oops", "2026-12-26", "2026-12-25"),)),)
            ),
            "hours.holidaySets[0].holidays[0]",
        ),
        (
            BusinessHours(
                holiday_sets=(HolidaySet("US", (Holiday("Oops", "25/12/2026", "2026-12-26"),)),)
            ),
            "hours.holidaySets[0].holidays[0].start",
        ),
        (BusinessHours(holiday_sets=(HolidaySet(" "),)), "hours.holidaySets[0].name"),
        (
            BusinessHours(closed_action=QueueAction(ActionKind.CALLBACK)),
            "hours.closedAction.kind",
        ),
        (
            BusinessHours(holiday_action=QueueAction(ActionKind.REDIRECT_USER)),
            "hours.holidayAction.target",
        ),
    ],
    ids=[
        "inverted",
        "empty",
        "overlapping",
        "bad start",
        "bad end",
        "starts at 24:00",
        "unknown zone",
        "set times without a range",
        "always open with ranges",
        "holiday inverted",
        "holiday date",
        "unnamed set",
        "callback while closed",
        "redirect nowhere",
    ],
)
def test_bad_schedules_are_refused_with_the_field(hours: BusinessHours, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_hours(hours)
    assert refused.value.field == field
