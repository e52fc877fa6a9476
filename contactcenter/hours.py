"""Business hours and holidays: is a queue or IVR open at an instant, and if not, why.

Schedules are local wall-clock times in an IANA time zone (the schedule's, or else the
tenant's), read with :mod:`zoneinfo`, so they follow daylight-saving time: "09:00-17:00"
opens at 09:00 local time on both sides of a transition. On the day clocks jump forward,
a range that spans the missing hour is shorter; on the day they fall back, the repeated
hour is inside a range once for each time it happens. Holidays are local too, end
exclusive.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from contactcenter.errors import InvalidInput
from contactcenter.model import (
    ActionKind,
    BusinessHours,
    Holiday,
    HoursMode,
    OpenRange,
    QueueAction,
    Weekday,
)

_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")
_DAYS = tuple(Weekday)
_HOLIDAY_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d")
# Teams' auto attendant limits.
MAX_HOLIDAY_SETS = 20
MAX_HOLIDAYS_PER_SET = 50


class OpenState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    HOLIDAY = "holiday"
    CLOSED_NOW = "closed-now"


@dataclass(frozen=True, slots=True)
class HoursVerdict:
    """Whether calls are taken now; when not, why and what to do with the call."""

    state: OpenState
    action: QueueAction | None = None
    # The holiday's name, when closed for one.
    holiday: str = ""

    @property
    def is_open(self) -> bool:
        return self.state is OpenState.OPEN


def minutes_of(value: str, *, field: str) -> int:
    """Parse "HH:MM" (or "24:00") into minutes since midnight."""
    if not _TIME.fullmatch(value):
        raise InvalidInput(f"{value!r} is not a time of day as HH:MM", field=field)
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def zone(name: str, *, field: str = "timeZone") -> ZoneInfo:
    """Return the time zone called ``name``, or raise InvalidInput."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise InvalidInput(f"{name!r} is not a known time zone", field=field) from err


@cache
def time_zone_names() -> tuple[str, ...]:
    """Return the IANA time zone names a schedule or tenant may name, sorted."""
    # Read once from the tz database; without the entries that are not places.
    return tuple(sorted(available_timezones() - _NOT_PLACES))


def is_time_zone_name(name: str) -> bool:
    """Tell whether ``name`` is one of :func:`time_zone_names`."""
    return name in _time_zone_set()


@cache
def _time_zone_set() -> frozenset[str]:
    return frozenset(time_zone_names())


_NOT_PLACES = frozenset({"Factory", "localtime", "posixrules"})


def holiday_bounds(holiday: Holiday, *, field: str) -> tuple[datetime, datetime]:
    """Return a holiday's local (naive) start and end."""
    return _local(holiday.start, field=f"{field}.start"), _local(holiday.end, field=f"{field}.end")


def _local(value: str, *, field: str) -> datetime:
    for layout in _HOLIDAY_FORMATS:
        try:
            return datetime.strptime(value, layout)  # noqa: DTZ007 - local wall-clock time
        except ValueError:
            continue
    raise InvalidInput(f"{value!r} is not a date (YYYY-MM-DD) or YYYY-MM-DDTHH:MM", field=field)


def validate_hours(hours: BusinessHours, *, field: str = "hours") -> None:
    """Raise InvalidInput naming the first bad part: unknown zone, set times without a
    range (or ranges on an always-open schedule), inverted or overlapping ranges, bad
    holidays, or an action that cannot run while closed."""
    if hours.time_zone:
        zone(hours.time_zone, field=f"{field}.timeZone")
    if hours.mode is HoursMode.SET_TIMES and not hours.weekly:
        raise InvalidInput(
            "open at set times needs at least one opening time: add one, or choose always open",
            field=f"{field}.weekly",
        )
    if hours.mode is HoursMode.ALWAYS_OPEN and hours.weekly:
        raise InvalidInput(
            "an always-open schedule has no opening times: choose set times to keep them",
            field=f"{field}.weekly",
        )
    by_day: dict[Weekday, list[tuple[int, int, int]]] = {}
    for index, open_range in enumerate(hours.weekly):
        where = f"{field}.weekly[{index}]"
        start = minutes_of(open_range.start, field=f"{where}.start")
        end = minutes_of(open_range.end, field=f"{where}.end")
        if start == 24 * 60:
            raise InvalidInput("a range cannot start at 24:00", field=f"{where}.start")
        if end <= start:
            raise InvalidInput(
                f"{open_range.day.value} {open_range.start}-{open_range.end} ends before it starts",
                field=where,
            )
        by_day.setdefault(open_range.day, []).append((start, end, index))
    for day, ranges in by_day.items():
        ranges.sort()
        for (_, end, _), (start, _, index) in itertools.pairwise(ranges):
            if start < end:
                raise InvalidInput(
                    f"two ranges on {day.value} overlap", field=f"{field}.weekly[{index}]"
                )
    if len(hours.holiday_sets) > MAX_HOLIDAY_SETS:
        raise InvalidInput(f"at most {MAX_HOLIDAY_SETS} holiday sets", field=f"{field}.holidaySets")
    for set_index, holiday_set in enumerate(hours.holiday_sets):
        where_set = f"{field}.holidaySets[{set_index}]"
        if not holiday_set.name.strip():
            raise InvalidInput("a holiday set needs a name", field=f"{where_set}.name")
        if len(holiday_set.holidays) > MAX_HOLIDAYS_PER_SET:
            raise InvalidInput(
                f"at most {MAX_HOLIDAYS_PER_SET} holidays per set", field=f"{where_set}.holidays"
            )
        for index, holiday in enumerate(holiday_set.holidays):
            where = f"{where_set}.holidays[{index}]"
            begins, ends = holiday_bounds(holiday, field=where)
            if ends <= begins:
                raise InvalidInput(f"holiday {holiday.name!r} ends before it starts", field=where)
        if holiday_set.action is not None:
            _check_closed_action(holiday_set.action, field=f"{where_set}.action")
    _check_closed_action(hours.closed_action, field=f"{field}.closedAction")
    _check_closed_action(hours.holiday_action, field=f"{field}.holidayAction")
    if hours.closed_now_action is not None:
        _check_closed_action(hours.closed_now_action, field=f"{field}.closedNowAction")


def _check_closed_action(action: QueueAction, *, field: str) -> None:
    if action.kind is ActionKind.CALLBACK:
        raise InvalidInput("a callback cannot be offered while closed", field=f"{field}.kind")
    targeted = (ActionKind.QUEUE, ActionKind.REDIRECT_USER, ActionKind.REDIRECT_NUMBER)
    if action.kind in targeted and not action.target:
        raise InvalidInput(f"{action.kind.value} needs a target", field=f"{field}.target")


def _in_weekly(ranges: Sequence[OpenRange], local: datetime) -> bool:
    day = _DAYS[local.weekday()]
    minute = local.hour * 60 + local.minute
    for open_range in ranges:
        if open_range.day is not day:
            continue
        start = minutes_of(open_range.start, field="start")
        end = minutes_of(open_range.end, field="end")
        if start <= minute < end:
            return True
    return False


def check_hours(hours: BusinessHours | None, now: datetime, tenant_time_zone: str) -> HoursVerdict:
    """Return whether calls are taken at ``now`` (aware) under ``hours``.

    The emergency switch wins, then holidays (the first set listing the moment), then the
    weekly set times. No schedule at all, or an always-open one, is open.
    """
    if hours is None:
        return HoursVerdict(OpenState.OPEN)
    if hours.closed_now:
        return HoursVerdict(OpenState.CLOSED_NOW, hours.closed_now_action or hours.closed_action)
    local = now.astimezone(zone(hours.time_zone or tenant_time_zone or "UTC"))
    naive = local.replace(tzinfo=None)
    for holiday_set in hours.holiday_sets:
        for holiday in holiday_set.holidays:
            start, end = holiday_bounds(holiday, field="holiday")
            if start <= naive < end:
                return HoursVerdict(
                    OpenState.HOLIDAY,
                    holiday_set.action or hours.holiday_action,
                    holiday=holiday.name,
                )
    if hours.mode is HoursMode.ALWAYS_OPEN or _in_weekly(hours.weekly, local):
        return HoursVerdict(OpenState.OPEN)
    return HoursVerdict(OpenState.CLOSED, hours.closed_action)
