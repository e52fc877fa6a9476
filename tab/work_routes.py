"""The agent's after-call work routes of the tab API (part of the one route table)."""

from __future__ import annotations

from tab.endpoints import Endpoint

WORK_ENDPOINTS: tuple[Endpoint, ...] = ()
