"""The live event stream: my state and my queues, pushed as the store changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from contactcenter.clock import VirtualClock
from simulator.signing import SigningKey
from storage.memory import MemoryStore
from tab.appkeys import TAB
from tests.analytics.support import eventually
from tests.tab.support import ANA, BEN, TabStack, options_for, start_stack

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


# ------------------------------------------------------------------- limits
@pytest.fixture
async def limited(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    simulator_dir: Path,
    demo_key_path: Path,
    demo_key: SigningKey,
    clock: VirtualClock,
) -> TabStack:
    """The tab with room for two live streams per user and three on the host."""
    return await start_stack(
        aiohttp_server,
        aiohttp_client,
        data_dir=tmp_path / "host",
        simulator_dir=simulator_dir,
        key=demo_key,
        clock=clock,
        options=options_for(demo_key_path, max_streams_per_user=2, max_streams=3),
        store=MemoryStore(),
    )


async def _refused_stream(tab: TabStack, user: str) -> dict[str, Any]:
    async with tab.host.get("/api/tab/events", headers=tab.auth(user)) as response:
        assert response.status == 429
        assert int(response.headers["Retry-After"]) > 0
        body: dict[str, Any] = await response.json()
        assert body["error"]["code"] == "tooManyStreams"
        return body


async def test_a_user_past_their_live_streams_gets_429_until_one_closes(limited: TabStack) -> None:
    hub = limited.app[TAB].hub
    async with events(limited, ANA.id) as first:
        await first.next("me")
        async with events(limited, ANA.id) as second:
            await second.next("me")
            body = await _refused_stream(limited, ANA.id)
            assert "per user" in body["error"]["message"]
        await eventually(lambda: _equals(hub.quota.open_streams, 1))
        async with events(limited, ANA.id) as again:
            await again.next("me")


async def test_the_host_past_its_live_streams_gets_429(limited: TabStack) -> None:
    async with events(limited, ANA.id) as one, events(limited, ANA.id) as two:
        await one.next("me")
        await two.next("me")
        async with events(limited, BEN.id) as three:
            await three.next("me")
            body = await _refused_stream(limited, BEN.id)
            assert "this host" in body["error"]["message"]


async def _equals(value: int, expected: int) -> bool:
    return value == expected
