"""Calls as the simulated cloud sees them, and the book that holds them."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class GraphCallState(StrEnum):
    """Graph's ``callState`` values the simulator uses so far."""

    INCOMING = "incoming"
    ESTABLISHING = "establishing"
    ESTABLISHED = "established"
    HOLD = "hold"
    TRANSFERRING = "transferring"
    TRANSFER_ACCEPTED = "transferAccepted"
    REDIRECTING = "redirecting"
    TERMINATING = "terminating"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class ResultInfo:
    """Why a call ended, as Graph's ``resultInfo`` carries it."""

    code: int
    subcode: int
    message: str

    def to_json(self) -> dict[str, Any]:
        """Return Graph's JSON for it."""
        return {
            "@odata.type": "#microsoft.graph.resultInfo",
            "code": self.code,
            "subcode": self.subcode,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request the bot made on a call, kept so tests can assert on it."""

    method: str
    path: str
    body: Any
    status: int
    at: datetime

    def to_json(self) -> dict[str, Any]:
        """Return the control API's JSON for it."""
        return {
            "method": self.method,
            "path": self.path,
            "body": self.body,
            "status": self.status,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class DeliveredNotification:
    """A notification the simulator posted about a call, and how the bot answered it."""

    change_type: str
    resource_url: str
    state: str | None
    url: str
    status: int | None
    error: str | None
    at: datetime

    def to_json(self) -> dict[str, Any]:
        """Return the control API's JSON for it."""
        return {
            "changeType": self.change_type,
            "resourceUrl": self.resource_url,
            "state": self.state,
            "url": self.url,
            "status": self.status,
            "error": self.error,
            "at": self.at.isoformat(),
        }


@dataclass(slots=True)
class SimCall:
    """One call leg of the bot, with everything the simulator knows about it."""

    id: str
    tenant_id: str
    call_chain_id: str
    direction: str
    source: dict[str, Any]
    targets: list[dict[str, Any]]
    requested_modalities: list[str]
    created_at: datetime
    state: GraphCallState = GraphCallState.INCOMING
    callback_uri: str | None = None
    prefetched: list[dict[str, Any]] = field(default_factory=list)
    result_info: ResultInfo | None = None
    ended_at: datetime | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    notifications: list[DeliveredNotification] = field(default_factory=list)

    @property
    def resource_url(self) -> str:
        """Return the call's Graph resource path."""
        return f"/communications/calls/{self.id}"

    @property
    def ended(self) -> bool:
        """Return whether the call is over (Graph forgets it then)."""
        return self.state is GraphCallState.TERMINATED

    def graph_resource(self) -> dict[str, Any]:
        """Return the call as Graph's ``call`` resource JSON."""
        resource: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.call",
            "@odata.id": self.resource_url,
            "id": self.id,
            "state": self.state.value,
            "direction": self.direction,
            "callChainId": self.call_chain_id,
            "tenantId": self.tenant_id,
            "source": self.source,
            "targets": self.targets,
            "requestedModalities": self.requested_modalities,
        }
        if self.callback_uri is not None:
            resource["callbackUri"] = self.callback_uri
        if self.result_info is not None:
            resource["resultInfo"] = self.result_info.to_json()
        return resource

    def view(self) -> dict[str, Any]:
        """Return the simulator's view: the resource plus what the bot did and was told."""
        return {
            "id": self.id,
            "tenantId": self.tenant_id,
            "callChainId": self.call_chain_id,
            "state": self.state.value,
            "direction": self.direction,
            "source": self.source,
            "targets": self.targets,
            "requestedModalities": self.requested_modalities,
            "callbackUri": self.callback_uri,
            "prefetched": self.prefetched,
            "resultInfo": self.result_info.to_json() if self.result_info else None,
            "createdAt": self.created_at.isoformat(),
            "endedAt": self.ended_at.isoformat() if self.ended_at else None,
            "requests": [request.to_json() for request in self.requests],
            "notifications": [note.to_json() for note in self.notifications],
        }


class CallBook:
    """Every call the simulator knows, with a way to wait for one to change."""

    def __init__(self, *, max_ended_calls: int) -> None:
        self._calls: dict[str, SimCall] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._max_ended = max_ended_calls
        self._changed = asyncio.Event()

    def add(self, call: SimCall) -> None:
        """Start keeping a call."""
        self._calls[call.id] = call
        self.touch()

    def get(self, call_id: str) -> SimCall | None:
        """Return a call, ended or not, or None."""
        return self._calls.get(call_id)

    def all(self) -> list[SimCall]:
        """Return every call kept, oldest first."""
        return list(self._calls.values())

    def mark_ended(self, call: SimCall) -> None:
        """Note that a call ended, forgetting the oldest ended calls beyond the limit."""
        self._ended[call.id] = None
        while len(self._ended) > self._max_ended:
            oldest, _ = self._ended.popitem(last=False)
            self._calls.pop(oldest, None)
        self.touch()

    def touch(self) -> None:
        """Wake everyone waiting for a change."""
        # Swap the event rather than clear it: a waiter woken by this change must not miss
        # the next one while it re-checks its condition.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate`` holds, re-checking after every change."""
        while not predicate():
            await self._changed.wait()
