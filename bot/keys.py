"""Typed application keys: everything the host shares between handlers lives under one."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from contactcenter.clock import Clock
from contactcenter.ports import CallControl, Directory, Notifier, Presence, Store
from contactcenter.repository import Repository

if TYPE_CHECKING:
    from msgraph import GraphServiceClient

    from bot.background import Background
    from bot.settings import Settings
    from bot.timer_loop import TimerLoop
    from contactcenter.engine import RoutingEngine
    from graph.identity.calling import CallingTokenValidator
    from graph.identity.tab_sso import TabTokenValidator
    from simulator import SimulatorThread

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
CLOCK: web.AppKey[Clock] = web.AppKey("clock", Clock)
READY: web.AppKey[asyncio.Event] = web.AppKey("ready", asyncio.Event)
HTTP_SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("http_session", aiohttp.ClientSession)
STORE: web.AppKey[Store] = web.AppKey("store", Store)
REPOSITORY: web.AppKey[Repository] = web.AppKey("repository", Repository)
CALL_CONTROL: web.AppKey[CallControl] = web.AppKey("call_control", CallControl)
PRESENCE: web.AppKey[Presence] = web.AppKey("presence", Presence)
DIRECTORY: web.AppKey[Directory] = web.AppKey("directory", Directory)
NOTIFIER: web.AppKey[Notifier] = web.AppKey("notifier", Notifier)
ENGINE: web.AppKey[RoutingEngine] = web.AppKey("engine")
CALLING_TOKENS: web.AppKey[CallingTokenValidator] = web.AppKey("calling_tokens")
# The validator of the tab's single sign-on tokens (the tab holds it as a port).
TAB_TOKENS: web.AppKey[TabTokenValidator] = web.AppKey("tab_tokens")
SIMULATOR: web.AppKey[SimulatorThread | None] = web.AppKey("simulator")
BACKGROUND: web.AppKey[Background] = web.AppKey("background")
# The engine's timer schedule and the loop that fires due timers (run with run_timers).
TIMER_LOOP: web.AppKey[TimerLoop] = web.AppKey("timer_loop")
# Where the simulator (demo) or Graph (production) is: the base URL the Graph client uses.
GRAPH_BASE_URL: web.AppKey[str] = web.AppKey("graph_base_url", str)
# The host's one Microsoft Graph client (the simulator's fake Graph in demo mode).
GRAPH_CLIENT: web.AppKey[GraphServiceClient] = web.AppKey("graph_client")
# Where the keys of Graph's calling notifications are published (the simulator in demo mode).
CALLING_OPENID_URL: web.AppKey[str] = web.AppKey("calling_openid_url", str)
