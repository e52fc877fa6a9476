"""The simulator as the load balancer in front of several hosts of the bot."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import unused_port
from pytest_aiohttp import AiohttpServer

from contactcenter.clock import VirtualClock
from simulator import SimulatorClient, SimulatorConfig, create_simulator_app
from simulator.notifications import Delivery, LoadBalancer, NotificationSender
from simulator.signing import TokenMinter, load_or_create_signing_key
from tests.simulator.support import (
    APP_ID,
    CALLER_NUMBER,
    DEMO_TENANT,
    SALES_ID,
    TENANT_ID,
    BotReceiver,
    Simulator,
    answer_body,
)


async def _receiver(aiohttp_server: AiohttpServer) -> BotReceiver:
    bot = BotReceiver()
    server = await aiohttp_server(bot.app())
    bot.base_url = str(server.make_url("")).rstrip("/")
    return bot


@pytest.fixture
async def hosts(aiohttp_server: AiohttpServer) -> list[BotReceiver]:
    """Two stand-in hosts of the bot."""
    return [await _receiver(aiohttp_server), await _receiver(aiohttp_server)]


@contextlib.asynccontextmanager
async def _simulator(
    aiohttp_server: AiohttpServer, tmp_path: Path, pool: list[str]
) -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        data_dir=tmp_path,
        bot_url=pool[0],
        bot_urls=tuple(pool[1:]),
        app_id=APP_ID,
        seed_tenants=(DEMO_TENANT,),
    )
    server = await aiohttp_server(create_simulator_app(config))
    base_url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        yield Simulator(base_url, session, SimulatorClient(session, base_url))


async def _place(simulator: Simulator) -> tuple[str, int | None]:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )
    return placed.id, placed.webhook_status


def _incoming(host: BotReceiver) -> int:
    return sum(1 for note in host.received if note.state == "incoming")


async def test_incoming_calls_go_to_the_hosts_in_turn(
    aiohttp_server: AiohttpServer, tmp_path: Path, hosts: list[BotReceiver]
) -> None:
    pool = [host.calling_url for host in hosts]
    async with _simulator(aiohttp_server, tmp_path, pool) as simulator:
        for _ in range(4):
            assert (await _place(simulator))[1] == 202

    assert [_incoming(host) for host in hosts] == [2, 2]


async def test_one_call_s_notifications_land_on_different_hosts(
    aiohttp_server: AiohttpServer, tmp_path: Path, hosts: list[BotReceiver]
) -> None:
    pool = [host.calling_url for host in hosts]
    async with _simulator(aiohttp_server, tmp_path, pool) as simulator:
        call_id, _ = await _place(simulator)
        # The host answers with its own URL as callbackUri: the balancer owns it too.
        status, _, _ = await simulator.graph(
            "POST", f"/communications/calls/{call_id}/answer", answer_body(pool[0])
        )
        assert status == 202
        call = await simulator.control.wait_for_call(call_id, notifications=3)

    # incoming, establishing, established: host 1, host 2, host 1.
    assert [note["url"] for note in call["notifications"]] == [pool[0], pool[1], pool[0]]
    assert all(note["status"] == 202 for note in call["notifications"])


async def test_a_host_that_refuses_connections_is_skipped(
    aiohttp_server: AiohttpServer, tmp_path: Path, hosts: list[BotReceiver]
) -> None:
    down = f"http://127.0.0.1:{unused_port()}/api/calling"
    pool = [down, hosts[0].calling_url]
    async with _simulator(aiohttp_server, tmp_path, pool) as simulator:
        placed = [await _place(simulator) for _ in range(3)]

    assert [status for _, status in placed] == [202, 202, 202]
    assert _incoming(hosts[0]) == 3


async def test_a_host_that_answers_with_an_error_is_not_retried(
    aiohttp_server: AiohttpServer, tmp_path: Path, hosts: list[BotReceiver]
) -> None:
    hosts[0].status = 500
    pool = [host.calling_url for host in hosts]
    async with _simulator(aiohttp_server, tmp_path, pool) as simulator:
        _, status = await _place(simulator)

    assert status == 500
    assert [_incoming(host) for host in hosts] == [1, 0]


async def test_a_callback_url_outside_the_pool_is_not_balanced(
    aiohttp_server: AiohttpServer, tmp_path: Path, hosts: list[BotReceiver]
) -> None:
    elsewhere = await _receiver(aiohttp_server)
    pool = [host.calling_url for host in hosts]
    async with _simulator(aiohttp_server, tmp_path, pool) as simulator:
        call_id, _ = await _place(simulator)
        await simulator.graph(
            "POST",
            f"/communications/calls/{call_id}/answer",
            answer_body(elsewhere.callback_url),
        )
        call = await simulator.control.wait_for_call(call_id, notifications=3)

    assert [note["url"] for note in call["notifications"][1:]] == [elsewhere.callback_url] * 2


# ------------------------------------------------------------- health checks
@dataclass
class _Hosts:
    """A sender standing in for hosts: ``down`` ones refuse, the others answer 202."""

    down: set[str] = field(default_factory=set)
    tried: list[str] = field(default_factory=list)

    async def send(self, url: str, payload: dict[str, Any], *, tenant_id: str) -> Delivery:
        self.tried.append(url)
        if url in self.down:
            return Delivery(url=url, status=None, error="refused", unanswered=True)
        return Delivery(url=url, status=202)


async def test_a_host_marked_down_is_tried_again_after_the_probe_interval() -> None:
    clock = VirtualClock()
    hosts = _Hosts(down={"http://a/api/calling"})
    balancer = LoadBalancer(
        hosts, ["http://a/api/calling", "http://b/api/calling"], clock=clock, probe_interval_s=5
    )

    first = await balancer.send("http://a/api/calling", {}, tenant_id=TENANT_ID)
    hosts.tried.clear()
    for _ in range(4):
        await balancer.send("http://a/api/calling", {}, tenant_id=TENANT_ID)
    skipped = list(hosts.tried)
    hosts.down.clear()
    clock.advance(5)
    hosts.tried.clear()
    for _ in range(2):
        await balancer.send("http://b/api/calling", {}, tenant_id=TENANT_ID)

    assert first.url == "http://b/api/calling"
    assert skipped == ["http://b/api/calling"] * 4
    assert sorted(hosts.tried) == ["http://a/api/calling", "http://b/api/calling"]


async def test_when_every_host_is_down_the_last_failure_is_reported() -> None:
    hosts = _Hosts(down={"http://a/api/calling", "http://b/api/calling"})
    balancer = LoadBalancer(
        hosts, ["http://a/api/calling", "http://b/api/calling"], clock=VirtualClock()
    )

    delivery = await balancer.send("http://b/api/calling", {}, tenant_id=TENANT_ID)

    assert delivery.unanswered
    assert sorted(hosts.tried) == ["http://a/api/calling", "http://b/api/calling"]


async def test_a_refused_connection_is_reported_as_unanswered(tmp_path: Path) -> None:
    key = load_or_create_signing_key(tmp_path / "key.pem")
    minter = TokenMinter(key, issuer="https://graph.microsoft.com", clock=VirtualClock())
    async with aiohttp.ClientSession() as session:
        sender = NotificationSender(session, minter, audience=APP_ID, timeout_s=5)
        delivery = await sender.send(
            f"http://127.0.0.1:{unused_port()}/api/calling", {}, tenant_id=TENANT_ID
        )

    assert delivery.status is None
    assert delivery.unanswered


def test_the_pool_starts_with_bot_url_and_holds_each_host_once(tmp_path: Path) -> None:
    config = SimulatorConfig(
        data_dir=tmp_path,
        bot_url="http://127.0.0.1:1/api/calling",
        bot_urls=("http://127.0.0.1:2/api/calling", "http://127.0.0.1:1/api/calling"),
        app_id=APP_ID,
    )

    assert config.webhook_pool == (
        "http://127.0.0.1:1/api/calling",
        "http://127.0.0.1:2/api/calling",
    )
    with pytest.raises(ValueError, match="absolute http"):
        SimulatorConfig(data_dir=tmp_path, bot_urls=("ftp://x/api",), app_id=APP_ID)
