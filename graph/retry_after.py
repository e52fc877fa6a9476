"""How long a throttled service asks to be left alone: the ``Retry-After`` header.

Microsoft Graph and the Bot Connector answer a throttled request with 429 (or 503) and
``Retry-After``: a number of seconds, or an HTTP date (RFC 9110, section 10.2.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any


def retry_after_seconds(
    headers: Mapping[Any, Any] | None, *, now: datetime | None = None
) -> float | None:
    """Return the seconds a response's ``Retry-After`` asks to wait; None without a usable one.

    An HTTP date counts from ``now`` (default: the wall clock, which the date is set by).
    """
    if not headers:
        return None
    value = next(
        (str(v) for k, v in headers.items() if str(k).lower() == "retry-after"),
        None,
    )
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
