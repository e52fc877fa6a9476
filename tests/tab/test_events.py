"""The live event stream: my state and my queues, pushed as the store changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp

from contactcenter.clock import VirtualClock
from tab.appkeys import TAB
from tests.tab.support import ANA, BEN, TabStack

TIMEOUT_S = 5.0


class EventReader:
    """Read server-sent events from a streamed response."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def next(self, wanted: str | None = None) -> tuple[str, Any]:
        """Return the next event (of that name), skipping comments and other events."""
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                name, data = "message", []
                while True:
                    raw = await self._response.content.readline()
                    if not raw:
                        raise EOFError("the stream ended")
                    line = raw.decode().rstrip("\n")
                    if not line:
                        break
                    if line.startswith("event:"):
                        name = line.removeprefix("event:").strip()
                    elif line.startswith("data:"):
                        data.append(line.removeprefix("data:").strip())
                if data and (wanted is None or name == wanted):
                    return name, json.loads("\n".join(data))


@asynccontextmanager
async def events(tab: TabStack, user: str, **claims: Any) -> AsyncIterator[EventReader]:
    async with tab.host.get("/api/tab/events", headers=tab.auth(user, **claims)) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        yield EventReader(response)


async def test_the_stream_starts_with_my_state_and_my_queues(tab: TabStack) -> None:
    async with events(tab, ANA.id) as stream:
        _, me = await stream.next("me")
        assert me["user"]["id"] == ANA.id
        assert me["agent"]["status"] == "available"
        _, live = await stream.next("queues")
        assert [q["name"] for q in live["queues"]] == ["Sales"]


async def test_a_status_change_is_pushed(tab: TabStack) -> None:
    async with events(tab, ANA.id) as stream:
        await stream.next("me")
        await tab.call("POST", "/api/tab/me/status", user=ANA.id, json={"status": "away"})
        _, me = await stream.next("me")
        assert me["agent"]["status"] == "away"


async def test_another_agents_change_updates_my_queue_numbers(tab: TabStack) -> None:
    async with events(tab, ANA.id) as stream:
        _, live = await stream.next("queues")
        assert live["queues"][0]["agents"]["available"] == 3
        await tab.call("POST", "/api/tab/me/status", user=BEN.id, json={"status": "away"})
        _, live = await stream.next("queues")
        assert live["queues"][0]["agents"]["available"] == 2
        assert live["queues"][0]["agents"]["notReady"] == 1


async def test_the_stream_needs_a_token(tab: TabStack) -> None:
    async with tab.host.get("/api/tab/events") as response:
        assert response.status == 401


async def test_the_stream_ends_when_the_token_expires(tab: TabStack, clock: VirtualClock) -> None:
    async with events(tab, ANA.id, lifetime=timedelta(minutes=1)) as stream:
        await stream.next("me")
        clock.advance(61)
        name, _ = await stream.next("expired")
        assert name == "expired"


async def test_a_tenant_nobody_watches_is_not_polled(tab: TabStack) -> None:
    hub = tab.app[TAB].hub
    async with events(tab, ANA.id) as first, events(tab, BEN.id) as second:
        await first.next("me")
        await second.next("me")
        assert hub.watched_tenants == 1

    async with asyncio.timeout(TIMEOUT_S):
        # The server notices a closed stream at its next write (at the latest, the heartbeat).
        await hub.wait_unwatched(tab.settings.microsoft_app_tenant_id)
    assert hub.watched_tenants == 0
