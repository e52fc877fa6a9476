"""Fault injection: make fake Graph throttle, fail or stall on chosen requests, or lose
chosen notifications on their way to the bot."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from simulator.errors import error_response

_LOGGER = logging.getLogger(__name__)

FaultStatus = Literal[429, 500, 502, 503, 504]

_CODES: dict[int, str] = {
    429: "activityLimitReached",
    500: "generalException",
    502: "generalException",
    503: "serviceNotAvailable",
    504: "generalException",
}


class FaultSpec(BaseModel):
    """A fault as ``POST /sim/faults`` takes it.

    Fields are camelCase, snake_case also accepted (``path_pattern``, ``retry_after``,
    ``delay_s``). ``pathPattern`` is a regular expression searched in the request path (e.g.
    ``/answer$``); ``count`` is how many matching requests it hits (null: all of them);
    ``delaySeconds`` stalls each hit before answering, with ``status`` or normally.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra="forbid"
    )

    path_pattern: str = Field(min_length=1, max_length=500)
    method: str | None = None
    status: FaultStatus | None = None
    retry_after: int | None = Field(default=None, ge=0, le=3600)
    count: int | None = Field(default=1, ge=1)
    delay_s: float = Field(default=0.0, ge=0.0, le=120.0, alias="delaySeconds")

    @field_validator("path_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"pathPattern is not a regular expression: {err}") from err
        return value

    @model_validator(mode="after")
    def _does_something(self) -> FaultSpec:
        if self.status is None and self.delay_s == 0:
            raise ValueError("a fault needs a status, a delaySeconds, or both")
        return self


@dataclass(slots=True)
class Fault:
    """An armed fault and how often it has fired."""

    id: int
    spec: FaultSpec
    pattern: re.Pattern[str]
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        """Return whether it has fired as often as it may."""
        return self.spec.count is not None and self.fired >= self.spec.count

    def to_json(self) -> dict[str, Any]:
        """Return the control API's JSON for it."""
        return {"id": self.id, **self.spec.model_dump(by_alias=True), "fired": self.fired}


class DropSpec(BaseModel):
    """A notification loss as ``POST /sim/notification-drops`` takes it.

    Graph delivers at least once, but a notification can still be lost for good (the bot
    unreachable past Graph's retries). A drop matches notifications about ``callId`` (any
    call when null) whose ``changeType`` and ``resourceData.state`` match when given, and
    loses ``count`` of them: never sent, recorded on the call as dropped.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra="forbid"
    )

    call_id: str | None = Field(default=None, max_length=100)
    change_type: Literal["created", "updated", "deleted"] | None = None
    state: str | None = Field(default=None, max_length=40)
    count: int | None = Field(default=1, ge=1)


@dataclass(slots=True)
class Drop:
    """An armed notification loss and how often it has fired."""

    id: int
    spec: DropSpec
    fired: int = 0

    def matches(self, call_id: str, change_type: str, state: str | None) -> bool:
        """Return whether a notification with these properties is to be lost."""
        spec = self.spec
        if spec.count is not None and self.fired >= spec.count:
            return False
        return (
            (spec.call_id is None or spec.call_id.lower() == call_id.lower())
            and (spec.change_type is None or spec.change_type == change_type)
            and (spec.state is None or spec.state == state)
        )

    def to_json(self) -> dict[str, Any]:
        """Return the control API's JSON for it."""
        return {"id": self.id, **self.spec.model_dump(by_alias=True), "fired": self.fired}


class FaultPlan:
    """The armed faults, matched in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._drops: list[Drop] = []
        self._ids = itertools.count(1)

    def add_drop(self, spec: DropSpec) -> Drop:
        """Arm a notification loss."""
        drop = Drop(id=next(self._ids), spec=spec)
        self._drops.append(drop)
        return drop

    def drops(self) -> list[Drop]:
        """Return every notification loss, spent ones included."""
        return list(self._drops)

    def take_drop(self, call_id: str, change_type: str, state: str | None) -> Drop | None:
        """Return the first live drop matching the notification, counting it as fired."""
        for drop in self._drops:
            if drop.matches(call_id, change_type, state):
                drop.fired += 1
                return drop
        return None

    def add(self, spec: FaultSpec) -> Fault:
        """Arm a fault."""
        fault = Fault(id=next(self._ids), spec=spec, pattern=re.compile(spec.path_pattern))
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Disarm every fault and notification loss."""
        self._faults.clear()
        self._drops.clear()

    def all(self) -> list[Fault]:
        """Return every fault, spent ones included."""
        return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """Return the first live fault matching the request, counting it as fired."""
        for fault in self._faults:
            if fault.exhausted:
                continue
            if fault.spec.method is not None and fault.spec.method.upper() != method.upper():
                continue
            if fault.pattern.search(path):
                fault.fired += 1
                return fault
        return None

    async def apply(self, request: web.Request) -> web.Response | None:
        """Stall or fail the request if a fault matches; None lets it through."""
        fault = self.take(request.method, request.path)
        if fault is None:
            return None
        _LOGGER.info("Fault %s hits %s %s", fault.id, request.method, request.path)
        if fault.spec.delay_s:
            await asyncio.sleep(fault.spec.delay_s)
        status = fault.spec.status
        if status is None:
            return None
        headers = {}
        if fault.spec.retry_after is not None:
            headers["Retry-After"] = str(fault.spec.retry_after)
        return error_response(
            status, _CODES[status], f"Injected fault {fault.id}.", headers=headers
        )
