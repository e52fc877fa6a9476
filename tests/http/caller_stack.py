"""The host with prompts, IVRs and voicemail, against the simulator in manual media mode.

Prompts play until a test ends them (``complete_media``), so every step is the test's;
the simulator runs on its own virtual clock, so nothing rings out or times out unless a
test moves it. Graph fetches prompts for real: the simulator GETs them from the host.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bot.app import Services, create_app
from bot.demo import MAIN_LINE, PEOPLE, demo_simulator_directory, queue_id
from bot.settings import DEMO_APP_ID, Settings
from contactcenter.clock import VirtualClock
from contactcenter.model import AgentStatus, Call, CallbackRequest, Queue, Voicemail
from contactcenter.ports import CallAtHand, OfferAlert, OfferEnd
from simulator import SilentPoints, SimulatorClient, SimulatorConfig, create_simulator_app
from simulator.config import MediaMode
from tests.host_server import ReservedPort
from tests.http.host_view import DemoHostView

AGENT_IDS = {p.name.split()[0].lower(): p.id for p in PEOPLE}
SALES = queue_id("Sales")
SUPPORT = queue_id("Support")
CALLER = "+14255550123"


@dataclass
class RecordingNotifier:
    """Keeps what agents would be told (and sends no cards: nothing lingers at shutdown)."""

    started: list[OfferAlert] = field(default_factory=list)
    voicemails: list[tuple[Voicemail, tuple[str, ...]]] = field(default_factory=list)
    handled: list[Voicemail] = field(default_factory=list)
    callbacks_waiting: list[tuple[Call, tuple[str, ...]]] = field(default_factory=list)
    callbacks_ended: list[CallbackRequest] = field(default_factory=list)

    async def offer_started(self, alert: OfferAlert) -> None:
        self.started.append(alert)

    async def offer_ended(
        self, alert: OfferAlert, how: OfferEnd, *, at_hand: CallAtHand | None = None
    ) -> None:
        return None

    async def queue_changed(self, tenant_id: str, queue_id: str) -> None:
        return None

    async def voicemail_left(self, voicemail: Voicemail, agent_ids: Sequence[str]) -> None:
        self.voicemails.append((voicemail, tuple(agent_ids)))

    async def voicemail_handled(self, voicemail: Voicemail) -> None:
        self.handled.append(voicemail)

    async def callback_waiting(self, line: Call, agent_ids: Sequence[str]) -> None:
        self.callbacks_waiting.append((line, tuple(agent_ids)))

    async def callback_ended(self, request: CallbackRequest) -> None:
        self.callbacks_ended.append(request)


@dataclass
class CallerStack(DemoHostView):
    """A running host wired for the caller experience, and its simulator."""

    host: TestClient[web.Request, web.Application]
    simulator: SimulatorClient
    settings: Settings
    clock: VirtualClock
    simulator_clock: VirtualClock
    notifier: RecordingNotifier
    silent_points: SilentPoints = field(default_factory=SilentPoints)

    @property
    def main_line(self) -> str:
        return MAIN_LINE.application_instance_id

    # ------------------------------------------------------------ calls
    async def dial(self, line: str, caller: str = CALLER) -> str:
        """Place a call and wait until the bot has handled incoming..established."""
        placed = await self.simulator.place_call(
            self.tenant_id, application_instance_id=line, caller_phone=caller
        )
        assert placed.webhook_status == 202
        await self.simulator.wait_for_call(
            placed.id, state="established", notifications=3, timeout_s=10
        )
        await self.simulator.wait_until_delivered()
        return placed.id

    async def after(
        self, call_id: str, action: Awaitable[Any], notifications: int
    ) -> dict[str, Any]:
        """Run a simulator action; wait until its ``notifications``, and all they led to,
        were answered (rosters listing invitees still ringing, where Graph sends them, add
        more).
        """
        before = len((await self.simulator.call(call_id))["notifications"])
        await action
        await self.simulator.wait_for_call(
            call_id, notifications=before + notifications, timeout_s=10
        )
        await self.simulator.wait_until_delivered()
        return await self.simulator.call(call_id)

    async def sim_call(self, call_id: str) -> dict[str, Any]:
        return await self.simulator.call(call_id)

    async def live(self, call_id: str) -> Any:
        return (await self.repository.calls.get(self.tenant_id, call_id)).value

    async def record(self, call_id: str) -> Any:
        return (await self.repository.call_records.get(self.tenant_id, call_id)).value

    async def set_queue(self, queue: str, **changes: Any) -> None:
        def change(q: Queue) -> Queue:
            return replace(q, **changes)

        await self.repository.queues.update(self.tenant_id, queue, change)

    async def away(self, *names: str) -> None:
        for name in names:
            await self.engine.set_status(self.tenant_id, AGENT_IDS[name], AgentStatus.AWAY, "lunch")

    async def fire_timers(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.engine.fire_due_timers()


def prompt_requests(call: dict[str, Any], action: str = "playPrompt") -> list[dict[str, Any]]:
    """Return the bodies of the bot's media requests on a call, in order."""
    return [
        r["body"]
        for r in call["requests"]
        if r["method"] == "POST" and r["path"].endswith(f"/{action}")
    ]


def played(call: dict[str, Any]) -> list[list[str]]:
    """Return, per playPrompt request, the prompt ids (resource ids) it asked for."""
    return [
        [p["mediaInfo"]["resourceId"] for p in body["prompts"]] for body in prompt_requests(call)
    ]


def requested(call: dict[str, Any], suffix: str) -> list[dict[str, Any]]:
    """Return the bodies of the bot's POSTs on a call whose path ends with ``suffix``."""
    return [
        r["body"] for r in call["requests"] if r["method"] == "POST" and r["path"].endswith(suffix)
    ]


async def start_caller_stack(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    simulator_data_dir: Path,
    env: dict[str, str] | None = None,
    silent_points: SilentPoints | None = None,
) -> AsyncIterator[CallerStack]:
    """Start the simulator (manual media, virtual clock) and the wired host (demo tenant)."""
    reserved = ReservedPort()
    port = reserved.port
    # The simulator's clock starts now: the host checks its tokens against the real time.
    simulator_clock = VirtualClock(datetime.now(UTC))
    simulator_server = await aiohttp_server(
        create_simulator_app(
            SimulatorConfig(
                data_dir=simulator_data_dir,
                bot_url=f"http://127.0.0.1:{port}/api/calling",
                app_id=DEMO_APP_ID,
                seed_tenants=demo_simulator_directory(),
                media_mode=MediaMode.MANUAL,
                silent_points=silent_points or SilentPoints(),
            ),
            clock=simulator_clock,
        )
    )
    simulator_url = str(simulator_server.make_url("")).rstrip("/")
    settings = Settings.from_env(
        env or {},
        demo=True,
        dotenv=None,
        port=port,
        data_dir=tmp_path / "host",
        graph_base_url=f"{simulator_url}/v1.0",
        calling_openid_config_url=f"{simulator_url}/.well-known/OpenIdConfiguration",
        demo_call_rate=0.0,
    )
    # Monday 2 March 2026, 09:00 in New York (the demo tenant's time zone).
    clock = VirtualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    notifier = RecordingNotifier()
    app = create_app(settings, Services(clock=clock, notifier=notifier, run_timers=False))
    host = await aiohttp_client(
        app, server_kwargs={"port": port, "socket_factory": reserved.factory}
    )
    async with aiohttp.ClientSession() as session:
        yield CallerStack(
            host,
            SimulatorClient(session, simulator_url),
            settings,
            clock,
            simulator_clock,
            notifier,
            silent_points or SilentPoints(),
        )
