"""The caller-experience configuration routes of the tab API (part of the one route table)."""

from __future__ import annotations

from tab.endpoints import Endpoint

CONFIG_ENDPOINTS: tuple[Endpoint, ...] = ()
