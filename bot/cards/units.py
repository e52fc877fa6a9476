"""How cards write durations, shares and times.

Times follow the tab's one rule (``tab/static/assets/js/format.js`` writes the same
strings): the tenant's time zone, labelled, ``10:18 AM EST``, with the date as
``Mar 2, 10:18 AM EST``. The label is the one browsers give in US English: a US zone's
abbreviation, ``UTC``, or else the offset from GMT (``GMT+1``, ``GMT+5:30``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

# What a card shows where there is no figure yet (an en dash).
NO_FIGURE = "\u2013"


def duration(seconds: float) -> str:
    """Write a duration as ``m:ss`` (``h:mm:ss`` from an hour on)."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def percent(share: float | None) -> str:
    """Write a share in 0..1 as a whole percentage; None (nothing to divide by) as a dash."""
    if share is None:
        return NO_FIGURE
    return f"{round(share * 100)}%"


def seconds_or_dash(seconds: float | None) -> str:
    """Write a duration, or a dash when there is none."""
    return NO_FIGURE if seconds is None else duration(seconds)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# The abbreviations US English names zones by (the rest are written as offsets).
_US_ABBREVIATIONS = frozenset(
    {"EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT", "AKST", "AKDT", "HST", "HDT"}
    | {"AST", "ADT"}
)
_US_ZONE_PREFIXES = ("America/", "US/", "Canada/", "Pacific/Honolulu")
# Zones of the Americas whose abbreviations US English does not use (Cuba's CST).
_OWN_NAMES = frozenset({"America/Havana", "Cuba"})
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Zulu"})


def _zone_key(zone: tzinfo) -> str:
    return str(getattr(zone, "key", zone))


def zone_label(when: datetime, zone: tzinfo) -> str:
    """Write the zone's label at ``when`` (``EST``, ``UTC``, ``GMT+1``, ``GMT-3:30``)."""
    key = _zone_key(zone)
    if key in _UTC_NAMES:
        return "UTC"
    local = when.astimezone(zone)
    name = local.tzname() or ""
    if name in _US_ABBREVIATIONS and key.startswith(_US_ZONE_PREFIXES) and key not in _OWN_NAMES:
        return name
    offset = local.utcoffset() or timedelta(0)
    minutes = round(offset.total_seconds() / 60)
    if minutes == 0:
        return "GMT"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"GMT{sign}{hours}" + (f":{rest:02d}" if rest else "")


def clock_time(when: datetime, zone: tzinfo) -> str:
    """Write the local time of day, labelled (``10:18 AM EST``)."""
    local = when.astimezone(zone)
    hour = local.hour % 12 or 12
    period = "AM" if local.hour < 12 else "PM"
    return f"{hour}:{local.minute:02d} {period} {zone_label(when, zone)}"


def day_time(when: datetime, zone: tzinfo, *, now: datetime | None = None) -> str:
    """Write the local day and time, labelled (``Mar 2, 10:18 AM EST``).

    The year is written too when ``now`` (in the same zone) falls in another year.
    """
    local = when.astimezone(zone)
    day = f"{_MONTHS[local.month - 1]} {local.day}"
    if now is not None and now.astimezone(zone).year != local.year:
        day = f"{day}, {local.year}"
    return f"{day}, {clock_time(when, zone)}"
