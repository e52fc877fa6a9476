"""A small async client for the simulator's control API, for tests, demo seeding and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from simulator.config import SilentPoints
from simulator.directory import GroupEntry, TenantEntry, UserEntry
from simulator.people import InviteeBehaviour, OnInvite


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


def _behaviour(
    on_invite: OnInvite, answer_after_s: float, hang_up_after_s: float | None
) -> dict[str, Any]:
    return InviteeBehaviour(
        on_invite=on_invite, answer_after_s=answer_after_s, hang_up_after_s=hang_up_after_s
    ).model_dump(by_alias=True)


def _completion(*, failed: bool, code: int, message: str | None) -> dict[str, Any]:
    if not failed:
        return {"status": "completed"}
    return {"status": "failed", "code": code, "message": message or "Action failed."}


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

    async def put_user(self, tenant_id: str, user: UserEntry) -> dict[str, Any]:
        """Create or replace a user of a tenant's directory."""
        body = user.model_dump(by_alias=True)
        path = f"/sim/tenants/{tenant_id}/users/{user.id}"
        result: dict[str, Any] = await self._request("PUT", path, json=body)
        return result

    async def put_group(self, tenant_id: str, group: GroupEntry) -> dict[str, Any]:
        """Create or replace a group or team of a tenant's directory."""
        body = group.model_dump(by_alias=True)
        path = f"/sim/tenants/{tenant_id}/groups/{group.id}"
        result: dict[str, Any] = await self._request("PUT", path, json=body)
        return result

    async def set_group_member(
        self, tenant_id: str, group_id: str, user_id: str, *, member: bool = True
    ) -> dict[str, Any]:
        """Add a user to a group or team (and its channels), or take them out."""
        path = f"/sim/tenants/{tenant_id}/groups/{group_id}/members/{user_id}"
        result: dict[str, Any] = await self._request("PUT" if member else "DELETE", path)
        return result

    async def place_call(
        self,
        tenant_id: str,
        *,
        application_instance_id: str | None = None,
        dialed_number: str | None = None,
        caller_phone: str | None = None,
        caller_user_id: str | None = None,
        notify: bool = True,
    ) -> PlacedCall:
        """Dial a resource account (by id or number) as a phone caller or a Teams user.

        ``notify=False`` places the call without telling the bot of it.
        """
        target = (
            {"applicationInstanceId": application_instance_id}
            if application_instance_id is not None
            else {"phone": dialed_number}
        )
        caller = {"phone": caller_phone} if caller_phone is not None else {"userId": caller_user_id}
        body = await self._request(
            "POST",
            "/sim/calls",
            json={"tenantId": tenant_id, "target": target, "caller": caller, "notify": notify},
        )
        return PlacedCall(
            call=body["call"],
            webhook_status=body["webhookStatus"],
            webhook_error=body["webhookError"],
        )

    async def calls(self) -> list[dict[str, Any]]:
        """Return the simulator's view of every call it keeps."""
        body = await self._request("GET", "/sim/calls")
        result: list[dict[str, Any]] = body["calls"]
        return result

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

    async def wait_until_delivered(self) -> None:
        """Wait until every notification the simulator queued has been delivered."""
        await self._request("POST", "/sim/notifications/delivered")

    async def hang_up(self, call_id: str) -> dict[str, Any]:
        """Hang up as the caller."""
        result: dict[str, Any] = await self._request("POST", f"/sim/calls/{call_id}/hangup")
        return result

    async def answer_call(self, call_id: str) -> dict[str, Any]:
        """Pick up as whom the bot called (an outbound call); return the call."""
        result: dict[str, Any] = await self._request("POST", f"/sim/calls/{call_id}/answer")
        return result

    async def answer_participant(self, call_id: str, participant: str) -> dict[str, Any]:
        """Answer as a ringing participant (participant id, user id or phone number)."""
        return await self._participant_action(call_id, participant, "answer")

    async def decline_participant(self, call_id: str, participant: str) -> dict[str, Any]:
        """Decline as a ringing participant (participant id, user id or phone number)."""
        return await self._participant_action(call_id, participant, "decline")

    async def hang_up_participant(self, call_id: str, participant: str) -> dict[str, Any]:
        """Hang up as a joined participant (participant id, user id or phone number)."""
        return await self._participant_action(call_id, participant, "hangup")

    async def _participant_action(
        self, call_id: str, participant: str, action: str
    ) -> dict[str, Any]:
        path = f"/sim/calls/{call_id}/participants/{quote(participant, safe='')}/{action}"
        result: dict[str, Any] = await self._request("POST", path)
        return result

    async def press_tones(self, call_id: str, tones: str) -> list[int]:
        """Press keys as the caller (``0-9``, ``*``, ``#``); return the sequence ids notified."""
        body = await self._request("POST", f"/sim/calls/{call_id}/tones", json={"tones": tones})
        result: list[int] = body["sequenceIds"]
        return result

    async def record(self, call_id: str, seconds: float) -> dict[str, Any]:
        """Speak ``seconds`` into the recording playing on the call; return its operation."""
        result: dict[str, Any] = await self._request(
            "POST", f"/sim/calls/{call_id}/record", json={"seconds": seconds}
        )
        return result

    async def complete_media(
        self, call_id: str, *, failed: bool = False, code: int = 500, message: str | None = None
    ) -> dict[str, Any]:
        """End the prompt or recording playing on the call now; return its operation."""
        result: dict[str, Any] = await self._request(
            "POST",
            f"/sim/calls/{call_id}/media/complete",
            json=_completion(failed=failed, code=code, message=message),
        )
        return result

    async def complete_operation(
        self,
        call_id: str,
        operation_id: str,
        *,
        failed: bool = False,
        code: int = 500,
        message: str | None = None,
    ) -> dict[str, Any]:
        """End a playing media operation by id; return it."""
        result: dict[str, Any] = await self._request(
            "POST",
            f"/sim/calls/{call_id}/operations/{operation_id}/complete",
            json=_completion(failed=failed, code=code, message=message),
        )
        return result

    async def set_user_behaviour(
        self,
        tenant_id: str,
        user_id: str,
        on_invite: OnInvite,
        *,
        answer_after_s: float = 0.0,
        hang_up_after_s: float | None = None,
    ) -> dict[str, Any]:
        """Set how a user responds to being rung."""
        result: dict[str, Any] = await self._request(
            "PUT",
            f"/sim/tenants/{tenant_id}/users/{user_id}/behaviour",
            json=_behaviour(on_invite, answer_after_s, hang_up_after_s),
        )
        return result

    async def user_behaviour(self, tenant_id: str, user_id: str) -> dict[str, Any]:
        """Return how a user responds to being rung."""
        result: dict[str, Any] = await self._request(
            "GET", f"/sim/tenants/{tenant_id}/users/{user_id}/behaviour"
        )
        return result

    async def set_phone_behaviour(
        self,
        number: str,
        on_invite: OnInvite,
        *,
        answer_after_s: float = 0.0,
        hang_up_after_s: float | None = None,
    ) -> dict[str, Any]:
        """Set how a phone number responds to being rung (callbacks, transfers to numbers)."""
        result: dict[str, Any] = await self._request(
            "PUT",
            f"/sim/phones/{quote(number, safe='')}/behaviour",
            json=_behaviour(on_invite, answer_after_s, hang_up_after_s),
        )
        return result

    async def set_presence(
        self, tenant_id: str, user_id: str, availability: str, activity: str
    ) -> dict[str, Any]:
        """Set a user's own presence; return the presence Graph reports now."""
        result: dict[str, Any] = await self._request(
            "PUT",
            f"/sim/tenants/{tenant_id}/users/{user_id}/presence",
            json={"availability": availability, "activity": activity},
        )
        return result

    async def presence(self, tenant_id: str, user_id: str) -> dict[str, Any]:
        """Return a user's presence as Graph reports it now."""
        result: dict[str, Any] = await self._request(
            "GET", f"/sim/tenants/{tenant_id}/users/{user_id}/presence"
        )
        return result

    async def settings(self) -> dict[str, Any]:
        """Return the simulator's runtime settings."""
        result: dict[str, Any] = await self._request("GET", "/sim/settings")
        return result

    async def update_settings(
        self,
        *,
        media_mode: str | None = None,
        prompt_duration_s: float | None = None,
        record_duration_s: float | None = None,
        invite_timeout_s: float | None = None,
        default_user_behaviour: InviteeBehaviour | None = None,
        default_phone_behaviour: InviteeBehaviour | None = None,
    ) -> dict[str, Any]:
        """Change runtime settings; the ones left None stay as they are."""
        body: dict[str, Any] = {
            "mediaMode": media_mode,
            "promptDurationS": prompt_duration_s,
            "recordDurationS": record_duration_s,
            "inviteTimeoutS": invite_timeout_s,
            "defaultUserBehaviour": (
                default_user_behaviour.model_dump(by_alias=True)
                if default_user_behaviour is not None
                else None
            ),
            "defaultPhoneBehaviour": (
                default_phone_behaviour.model_dump(by_alias=True)
                if default_phone_behaviour is not None
                else None
            ),
        }
        result: dict[str, Any] = await self._request(
            "PATCH", "/sim/settings", json={k: v for k, v in body.items() if v is not None}
        )
        return result

    async def silent_points(self) -> SilentPoints:
        """Return which way the simulator goes where Graph's documentation is silent."""
        result = await self._request("GET", "/sim/silent-points")
        return SilentPoints.model_validate(result)

    async def set_silent_points(self, points: SilentPoints) -> SilentPoints:
        """Choose which way the simulator goes where Graph's documentation is silent."""
        result = await self._request(
            "PUT", "/sim/silent-points", json=points.model_dump(by_alias=True)
        )
        return SilentPoints.model_validate(result)

    async def advance_clock(self, seconds: float) -> dict[str, Any]:
        """Move the simulator's virtual clock on, running the timers that fall due."""
        result: dict[str, Any] = await self._request(
            "POST", "/sim/clock/advance", json={"seconds": seconds}
        )
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

    async def drop_notifications(
        self,
        *,
        call_id: str | None = None,
        change_type: str | None = None,
        state: str | None = None,
        count: int | None = 1,
    ) -> dict[str, Any]:
        """Lose the next matching notifications for good (never sent to the bot)."""
        body = {"callId": call_id, "changeType": change_type, "state": state, "count": count}
        result: dict[str, Any] = await self._request("POST", "/sim/notification-drops", json=body)
        return result

    async def clear_faults(self) -> None:
        """Disarm every fault."""
        await self._request("DELETE", "/sim/faults")

    async def granted_app_roles(self) -> list[str]:
        """Return the Microsoft Graph app roles granted to the bot's app."""
        result = await self._request("GET", "/sim/service-principal/grants")
        return list(result["granted"])

    async def set_granted_app_roles(self, granted: list[str]) -> list[str]:
        """Replace the app roles granted to the bot's app (as an admin's consent would)."""
        result = await self._request(
            "PUT", "/sim/service-principal/grants", json={"granted": granted}
        )
        return list(result["granted"])

    async def conversations(self) -> list[dict[str, Any]]:
        """Return what the bot sent through the fake Bot Connector."""
        body = await self._request("GET", "/sim/conversations")
        result: list[dict[str, Any]] = body["conversations"]
        return result

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        """Return one conversation: the bot's activities, their history, what it was sent."""
        result: dict[str, Any] = await self._request(
            "GET", f"/sim/conversations/{quote(conversation_id, safe='')}"
        )
        return result

    async def send_activity(
        self,
        conversation_id: str,
        activity: dict[str, Any],
        *,
        tenant_id: str,
        user_id: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Deliver an activity to the bot as Teams would; return its answer and replies."""
        body: dict[str, Any] = {"tenantId": tenant_id, "activity": activity}
        if user_id is not None:
            body["userId"] = user_id
        if token is not None:
            body["token"] = token
        result: dict[str, Any] = await self._request(
            "POST", f"/sim/conversations/{quote(conversation_id, safe='')}/activities", json=body
        )
        return result

    async def wait_for_conversation(
        self, conversation_id: str, *, events: int = 1, incoming: int = 0, timeout_s: float = 10.0
    ) -> dict[str, Any]:
        """Wait until the bot sent or updated ``events`` activities in the conversation."""
        result: dict[str, Any] = await self._request(
            "GET",
            f"/sim/conversations/{quote(conversation_id, safe='')}/wait",
            params={"events": str(events), "incoming": str(incoming), "timeout": str(timeout_s)},
        )
        return result
