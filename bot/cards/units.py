"""How cards write durations, shares and times."""

from __future__ import annotations

from datetime import datetime, tzinfo

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


def clock_time(when: datetime, zone: tzinfo) -> str:
    """Write the local time of day (``14:05``)."""
    return when.astimezone(zone).strftime("%H:%M")


def day_time(when: datetime, zone: tzinfo) -> str:
    """Write the local day and time (``Mon 2 Mar, 14:05``)."""
    local = when.astimezone(zone)
    return f"{local.strftime('%a')} {local.day} {local.strftime('%b, %H:%M')}"
