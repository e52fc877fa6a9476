"""Test support: a stand-in bot webhook, a handle on a running simulator, demo data."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from simulator import (
    ApplicationInstanceEntry,
    SimulatorClient,
    TenantEntry,
    UserEntry,
)
from simulator.media import wav_bytes

APP_ID = "5f0c3a7e-1111-4c1e-9a55-0123456789ab"
TENANT_ID = "9a1b2c3d-0000-4000-8000-00000000c0de"
SALES_ID = "0a5e1e5a-5a1e-4a5e-85a1-e5a1e5a1e5a1"
SALES_NUMBER = "+14255550123"
AGENT_ID = "a6e47000-0000-4000-8000-000000000001"
AGENT_2_ID = "a6e47000-0000-4000-8000-000000000002"
CALLER_NUMBER = "+14255550100"
# Fake Graph takes any bearer token; this stands for the bot's app token.
BOT_TOKEN = "bot-app-token"

DEMO_TENANT = TenantEntry(
    id=TENANT_ID,
    display_name="Contoso",
    users=(
        UserEntry(id=AGENT_ID, display_name="Avery Agent"),
        UserEntry(id=AGENT_2_ID, display_name="Blake Agent"),
    ),
    application_instances=(
        ApplicationInstanceEntry(id=SALES_ID, display_name="Sales", phone_number=SALES_NUMBER),
    ),
)


@dataclass(frozen=True, slots=True)
class Received:
    """One notification as the bot's webhook got it."""

    path: str
    authorization: str | None
    body: dict[str, Any]

    @property
    def notification(self) -> dict[str, Any]:
        """Return the single commsNotification in the envelope."""
        value: list[dict[str, Any]] = self.body["value"]
        assert len(value) == 1
        return value[0]

    @property
    def state(self) -> str | None:
        """Return the call state the notification reports."""
        data = self.notification["resourceData"]
        state: str | None = data.get("state") if isinstance(data, dict) else None
        return state

    @property
    def resource_url(self) -> str:
        """Return the notification's resource URL."""
        url: str = self.notification["resourceUrl"]
        return url

    @property
    def data(self) -> Any:
        """Return the notification's resource data (an object, or a list for a roster)."""
        return self.notification["resourceData"]

    @property
    def is_roster(self) -> bool:
        """Return whether this is a roster update on ``.../participants``."""
        return self.resource_url.endswith("/participants")

    def is_operation(self, operation_id: str) -> bool:
        """Return whether this is about the operation (ids compared as Graph writes them)."""
        return compact(self.resource_url).endswith(f"/operations/{compact(operation_id)}")


def compact(value: str) -> str:
    """Return an id without dashes, lower case, for comparing ids Graph writes two ways."""
    return value.replace("-", "").lower()


@dataclass(slots=True)
class BotReceiver:
    """A stand-in for the bot's webhooks: records every POST and answers ``status``."""

    status: int = 202
    received: list[Received] = field(default_factory=list)
    base_url: str = ""
    # Prompt names the simulator fetched from /prompts/{name}.
    fetched: list[str] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def calling_url(self) -> str:
        """Return the calling webhook URL."""
        return f"{self.base_url}/api/calling"

    @property
    def callback_url(self) -> str:
        """Return a per-call callback URL, as a bot would pass to answer."""
        return f"{self.base_url}/api/calling/callback"

    async def handle(self, request: web.Request) -> web.Response:
        """Record a notification."""
        self.received.append(
            Received(request.path, request.headers.get("Authorization"), await request.json())
        )
        arrived, self._arrived = self._arrived, asyncio.Event()
        arrived.set()
        return web.Response(status=self.status)

    def prompt_url(self, name: str) -> str:
        """Return the URL of a prompt this stand-in serves.

        ``missing.wav`` answers 404, ``page.wav`` an HTML page and ``narrowband.wav`` an
        8 kHz WAV file (which Graph does not play); any other name a 16 kHz WAV file.
        """
        return f"{self.base_url}/prompts/{name}"

    async def serve_prompt(self, request: web.Request) -> web.Response:
        """Serve a prompt as the bot's media endpoint would."""
        name = request.match_info["name"]
        self.fetched.append(name)
        if name == "missing.wav":
            return web.Response(status=404)
        if name == "page.wav":
            return web.Response(text="<html>not audio</html>", content_type="text/html")
        if name == "narrowband.wav":
            return web.Response(body=wav_bytes(0.2, rate=8000), content_type="audio/wav")
        return web.Response(body=wav_bytes(0.2), content_type="audio/wav")

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Received]:
        """Wait until ``count`` notifications have arrived; return them all."""
        async with asyncio.timeout(timeout_s):
            while len(self.received) < count:
                await self._arrived.wait()
        return list(self.received)

    async def wait_until(
        self, matches: Callable[[Received], bool], timeout_s: float = 5.0
    ) -> Received:
        """Wait for a notification that ``matches``; return the first one."""
        async with asyncio.timeout(timeout_s):
            while True:
                found = next((note for note in self.received if matches(note)), None)
                if found is not None:
                    return found
                await self._arrived.wait()

    def app(self) -> web.Application:
        """Return the webhook application."""
        app = web.Application()
        app.router.add_get("/prompts/{name}", self.serve_prompt)
        app.router.add_post("/{tail:.*}", self.handle)
        return app


@dataclass(frozen=True, slots=True)
class Simulator:
    """A running simulator and the ways to talk to it."""

    base_url: str
    session: aiohttp.ClientSession
    control: SimulatorClient

    def url(self, path: str) -> str:
        """Return an absolute URL on the simulator."""
        return f"{self.base_url}{path}"

    async def graph(
        self, method: str, path: str, body: Any = None, *, token: str | None = BOT_TOKEN
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        """Call fake Graph as the bot would; return status, JSON body (or None), response."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        async with self.session.request(
            method, self.url(f"/v1.0{path}"), json=body, headers=headers
        ) as response:
            payload = await response.json() if response.content_type == "application/json" else None
            return response.status, payload, response


def answer_body(callback_uri: str) -> dict[str, Any]:
    """Return a valid answer request body with service-hosted media."""
    return {
        "callbackUri": callback_uri,
        "acceptedModalities": ["audio"],
        "mediaConfig": {
            "@odata.type": "#microsoft.graph.serviceHostedMediaConfig",
            "preFetchMedia": [
                {"uri": "https://bot.example/prompts/greeting.wav", "resourceId": "greeting"}
            ],
        },
    }


def user_invitee(user_id: str, **extra: Any) -> dict[str, Any]:
    """Return an invitationParticipantInfo for a Teams user."""
    return {
        "@odata.type": "#microsoft.graph.invitationParticipantInfo",
        "identity": {
            "@odata.type": "#microsoft.graph.identitySet",
            "user": {"@odata.type": "#microsoft.graph.identity", "id": user_id},
        },
        **extra,
    }


def invite_body(*user_ids: str, client_context: str = "offer:1") -> dict[str, Any]:
    """Return a participants/invite body for Teams users."""
    return {
        "participants": [user_invitee(user_id) for user_id in user_ids],
        "clientContext": client_context,
    }


def media_prompt(uri: str, resource_id: str = "prompt") -> dict[str, Any]:
    """Return a mediaPrompt."""
    return {
        "@odata.type": "#microsoft.graph.mediaPrompt",
        "mediaInfo": {"uri": uri, "resourceId": resource_id},
    }


async def established_call(simulator: Simulator, receiver: BotReceiver) -> str:
    """Place a call, answer it as the bot, and return its id once it is established."""
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )
    status, _, _ = await simulator.graph(
        "POST", f"/communications/calls/{placed.id}/answer", answer_body(receiver.callback_url)
    )
    assert status == 202
    await simulator.control.wait_for_call(placed.id, state="established", notifications=3)
    return placed.id
