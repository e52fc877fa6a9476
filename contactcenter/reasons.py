"""Not-ready reasons: the organization's list is the only one an agent may give."""

from __future__ import annotations

from collections.abc import Sequence


def match_reason(reasons: Sequence[str], given: str) -> str | None:
    """Return the organization's spelling of ``given`` (case-insensitive), or None."""
    wanted = given.strip().casefold()
    return next((r for r in reasons if r.casefold() == wanted), None)
