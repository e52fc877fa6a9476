"""Notifications about one call go out one at a time, in order; calls do not wait on each other."""

from __future__ import annotations

import asyncio
from typing import Any

from simulator.notifications import CallOutbox, Delivery


class GatedSender:
    """Holds every delivery until the test opens its gate."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}
        self._changed = asyncio.Event()

    async def send(self, url: str, payload: dict[str, Any], *, tenant_id: str) -> Delivery:
        name = payload["name"]
        self.started.append(name)
        self._changed.set()
        await self.gates.setdefault(name, asyncio.Event()).wait()
        return Delivery(url=url, status=202)

    def open(self, name: str) -> None:
        self.gates.setdefault(name, asyncio.Event()).set()

    async def wait_started(self, name: str) -> None:
        async with asyncio.timeout(5):
            while name not in self.started:
                self._changed.clear()
                await self._changed.wait()


def _outbox(sender: GatedSender, log: list[str]) -> CallOutbox:
    return CallOutbox(sender, on_delivered=lambda _call, payload, _d: log.append(payload["name"]))


async def _let_the_loop_run() -> None:
    # Enough turns of the loop for a wrongly parallel delivery to have started.
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_calls_next_notification_waits_for_the_bot_to_answer_the_previous() -> None:
    sender, delivered = GatedSender(), list[str]()
    outbox = _outbox(sender, delivered)
    first = outbox.enqueue("call-1", "http://bot", {"name": "establishing"}, tenant_id="t")
    second = outbox.enqueue("call-1", "http://bot", {"name": "established"}, tenant_id="t")

    await sender.wait_started("establishing")
    await _let_the_loop_run()
    assert sender.started == ["establishing"]

    sender.open("establishing")
    sender.open("established")
    assert (await first).status == 202
    assert (await second).status == 202
    assert delivered == ["establishing", "established"]
    await outbox.close()


async def test_a_slow_call_does_not_hold_up_another() -> None:
    sender, delivered = GatedSender(), list[str]()
    outbox = _outbox(sender, delivered)
    outbox.enqueue("call-1", "http://bot", {"name": "slow"}, tenant_id="t")
    other = outbox.enqueue("call-2", "http://bot", {"name": "quick"}, tenant_id="t")

    sender.open("quick")

    assert (await other).status == 202
    assert delivered == ["quick"]
    await outbox.close()


async def test_closing_drops_undelivered_notifications() -> None:
    sender, delivered = GatedSender(), list[str]()
    outbox = _outbox(sender, delivered)
    pending = outbox.enqueue("call-1", "http://bot", {"name": "stuck"}, tenant_id="t")
    await sender.wait_started("stuck")

    await outbox.close()

    assert pending.cancelled()
    assert delivered == []
