"""Test support: a stand-in bot webhook, a handle on a running simulator, demo data."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from graph.simulator import (
    ApplicationInstanceEntry,
    SimulatorClient,
    TenantEntry,
    UserEntry,
)

APP_ID = "5f0c3a7e-1111-4c1e-9a55-0123456789ab"
TENANT_ID = "9a1b2c3d-0000-4000-8000-00000000c0de"
SALES_ID = "0a5e1e5a-5a1e-4a5e-85a1-e5a1e5a1e5a1"
SALES_NUMBER = "+14255550123"
AGENT_ID = "a6e47000-0000-4000-8000-000000000001"
CALLER_NUMBER = "+14255550100"
# Fake Graph takes any bearer token; this stands for the bot's app token.
BOT_TOKEN = "bot-app-token"

DEMO_TENANT = TenantEntry(
    id=TENANT_ID,
    display_name="Contoso",
    users=(UserEntry(id=AGENT_ID, display_name="Avery Agent"),),
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
        state: str | None = self.notification["resourceData"].get("state")
        return state


@dataclass(slots=True)
class BotReceiver:
    """A stand-in for the bot's webhooks: records every POST and answers ``status``."""

    status: int = 202
    received: list[Received] = field(default_factory=list)
    base_url: str = ""
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

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Received]:
        """Wait until ``count`` notifications have arrived; return them all."""
        async with asyncio.timeout(timeout_s):
            while len(self.received) < count:
                await self._arrived.wait()
        return list(self.received)

    def app(self) -> web.Application:
        """Return the webhook application."""
        app = web.Application()
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
