"""Retry-After is read as seconds or as an HTTP date, whatever the header's case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from graph.retry_after import retry_after_seconds


def test_seconds_are_read_in_any_case_of_the_header() -> None:
    assert retry_after_seconds({"retry-after": "7"}) == 7.0
    assert retry_after_seconds({"Retry-After": "2.5"}) == 2.5


NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def test_an_http_date_is_read_as_the_seconds_until_then() -> None:
    later = format_datetime(NOW + timedelta(seconds=120), usegmt=True)
    assert retry_after_seconds({"Retry-After": later}, now=NOW) == 120.0


@pytest.mark.parametrize(
    "headers", [None, {}, {"Content-Type": "text/plain"}, {"Retry-After": "soon"}]
)
def test_no_usable_header_is_none(headers: dict[str, str] | None) -> None:
    assert retry_after_seconds(headers) is None


def test_a_time_past_is_no_wait() -> None:
    assert retry_after_seconds({"Retry-After": "-3"}) == 0.0
    earlier = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert retry_after_seconds({"Retry-After": earlier}, now=NOW) == 0.0
