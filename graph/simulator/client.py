"""A small async client for the simulator's control API, for tests, demo seeding and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from graph.simulator.directory import TenantEntry


class SimulatorRequestError(Exception):
    """The control API refused a request; ``status`` and ``body`` say how."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"simulator answered {status}: {body}")
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class PlacedCall:
    """A call the simulator placed and how the bot's webhook answered its notification."""

    call: dict[str, Any]
    webhook_status: int | None
    webhook_error: str | None

    @property
    def id(self) -> str:
        """Return the Graph call id."""
        return str(self.call["id"])


class SimulatorClient:
    """Drive a running simulator over HTTP; the caller owns ``session``."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        async with self._session.request(
            method, f"{self._base_url}{path}", json=json, params=params
        ) as response:
            body = await response.json() if response.content_type == "application/json" else None
            if response.status >= 400:
                raise SimulatorRequestError(response.status, body)
            return body

    async def put_tenant(self, tenant: TenantEntry) -> dict[str, Any]:
        """Create or replace a tenant with its users and resource accounts."""
        body = tenant.model_dump(by_alias=True)
        result: dict[str, Any] = await self._request("PUT", f"/sim/tenants/{tenant.id}", json=body)
        return result

    async def place_call(
        self,
        tenant_id: str,
        *,
        application_instance_id: str | None = None,
        dialed_number: str | None = None,
        caller_phone: str | None = None,
        caller_user_id: str | None = None,
    ) -> PlacedCall:
        """Dial a resource account (by id or number) as a phone caller or a Teams user."""
        target = (
            {"applicationInstanceId": application_instance_id}
            if application_instance_id is not None
            else {"phone": dialed_number}
        )
        caller = {"phone": caller_phone} if caller_phone is not None else {"userId": caller_user_id}
        body = await self._request(
            "POST", "/sim/calls", json={"tenantId": tenant_id, "target": target, "caller": caller}
        )
        return PlacedCall(
            call=body["call"],
            webhook_status=body["webhookStatus"],
            webhook_error=body["webhookError"],
        )

    async def call(self, call_id: str) -> dict[str, Any]:
        """Return the simulator's view of a call."""
        result: dict[str, Any] = await self._request("GET", f"/sim/calls/{call_id}")
        return result

    async def wait_for_call(
        self,
        call_id: str,
        *,
        state: str | None = None,
        notifications: int | None = None,
        requests: int | None = None,
        timeout_s: float = 5.0,
    ) -> dict[str, Any]:
        """Wait until a call is in ``state`` with that many notifications and requests."""
        params = {"timeout": str(timeout_s)}
        if state is not None:
            params["state"] = state
        if notifications is not None:
            params["notifications"] = str(notifications)
        if requests is not None:
            params["requests"] = str(requests)
        result: dict[str, Any] = await self._request(
            "GET", f"/sim/calls/{call_id}/wait", params=params
        )
        return result

    async def hang_up(self, call_id: str) -> dict[str, Any]:
        """Hang up as the caller."""
        result: dict[str, Any] = await self._request("POST", f"/sim/calls/{call_id}/hangup")
        return result

    async def add_fault(
        self,
        path_pattern: str,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        count: int | None = 1,
        delay_s: float = 0.0,
        method: str | None = None,
    ) -> dict[str, Any]:
        """Arm a fault on fake Graph requests whose path matches ``path_pattern``."""
        body = {
            "pathPattern": path_pattern,
            "status": status,
            "retryAfter": retry_after,
            "count": count,
            "delaySeconds": delay_s,
            "method": method,
        }
        result: dict[str, Any] = await self._request("POST", "/sim/faults", json=body)
        return result

    async def list_faults(self) -> list[dict[str, Any]]:
        """Return every armed fault with how often it fired."""
        body = await self._request("GET", "/sim/faults")
        result: list[dict[str, Any]] = body["faults"]
        return result

    async def clear_faults(self) -> None:
        """Disarm every fault."""
        await self._request("DELETE", "/sim/faults")

    async def conversations(self) -> list[dict[str, Any]]:
        """Return what the bot sent through the fake Bot Connector."""
        body = await self._request("GET", "/sim/conversations")
        result: list[dict[str, Any]] = body["conversations"]
        return result
