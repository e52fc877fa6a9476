"""Wiring the messaging bot into the host: ``/api/messages`` and the Teams notifier.

The host adds the routes with :func:`add_messaging_routes` and runs the bot with
:func:`running_messaging`, which binds the Teams notifier it was given (the routing engine
holds it from the start; it sends once bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from botframework.connector.auth import JwtTokenExtractor

from bot import keys
from bot.background import Background
from bot.cards.links import TabLinks
from bot.http import error_response
from bot.messaging.adapter import BotChannel, build_authentication
from bot.messaging.demo_chats import add_demo_chats
from bot.messaging.documents import MessagingDocuments
from bot.messaging.notifier import TeamsNotifier
from bot.messaging.services import BotServices
from bot.messaging.teams_bot import ContactCenterBot
from bot.settings import DEFAULT_BOT_OPENID_URL, Settings, is_loopback_url
from contactcenter.clock import Clock
from contactcenter.engine import RoutingEngine
from contactcenter.errors import NotFound
from contactcenter.model import TenantStatus
from contactcenter.ports import Notifier, Store
from contactcenter.repository import Repository
from simulator.discovery import OPENID_CONFIGURATION_PATH

_LOGGER = logging.getLogger(__name__)

# botbuilder keeps signing keys a day; fetching them in a thread this often means its own
# blocking refresh on the event loop never comes due.
KEY_REFRESH_S = 12 * 3600.0


@dataclass(frozen=True, slots=True)
class Messaging:
    """The running messaging bot: the Bot Framework channel and the activity handler."""

    channel: BotChannel
    bot: ContactCenterBot
    openid_url: str


MESSAGING: web.AppKey[Messaging] = web.AppKey("messaging", Messaging)


def add_messaging_routes(app: web.Application, *, demo: bool) -> None:
    """Add ``/api/messages``, and in demo mode the simulator's chats in a browser."""
    app.router.add_post("/api/messages", messages_endpoint)
    if demo:
        add_demo_chats(app)


async def messages_endpoint(request: web.Request) -> web.StreamResponse:
    """``POST /api/messages``: Bot Framework activities from Teams."""
    messaging = request.app.get(MESSAGING)
    if messaging is None:
        return error_response(503, "the messaging bot is not running", code="notReady")
    return await messaging.channel.process(request, messaging.bot)


def demo_openid_url(app: web.Application) -> str:
    """Return the simulator's OpenID metadata URL, the only issuer demo mode trusts."""
    settings: Settings = app[keys.SETTINGS]
    simulator = app[keys.SIMULATOR]
    if simulator is not None:
        return f"{simulator.base_url}{OPENID_CONFIGURATION_PATH}"
    if settings.bot_openid_config_url != DEFAULT_BOT_OPENID_URL:
        url = settings.bot_openid_config_url
    else:
        graph = urlsplit(app[keys.GRAPH_BASE_URL])
        url = f"{graph.scheme}://{graph.netloc}{OPENID_CONFIGURATION_PATH}"
    if not is_loopback_url(url):
        raise ValueError(
            f"demo mode trusts only the local simulator's keys, not {url}: set "
            "BOT_OPENID_CONFIG_URL to the simulator's OpenID configuration"
        )
    return url


def _refresh_signing_keys(url: str) -> None:
    """Fetch botbuilder's signing keys for ``url`` (blocking: run it in a thread).

    botbuilder fetches them with blocking ``requests`` inside its async validation, which
    stalls the event loop (and deadlocks against a key server on the same loop). Filling its
    cache from a thread keeps that fetch off the loop, except for a key id never seen.
    """
    metadata: Any = JwtTokenExtractor.get_open_id_metadata(url)
    refresh = getattr(metadata, "_refresh", None)
    if refresh is None:
        return
    asyncio.run(refresh())


async def _keep_signing_keys(url: str) -> None:
    try:
        await asyncio.to_thread(_refresh_signing_keys, url)
    except Exception as err:  # noqa: BLE001 - botbuilder fetches them itself then
        _LOGGER.warning("Bot Framework signing keys not prefetched: %s", type(err).__name__)


def tab_links(settings: Settings) -> TabLinks | None:
    """Return how cards link into the tab: Teams deep links, or (demo) the web page."""
    if not settings.public_base_url:
        return None
    return TabLinks(
        web_url=f"{settings.public_base_url}/tab/",
        # Demo chats run in a browser, not in Teams: link to the page itself.
        teams_app_id="" if settings.demo else settings.microsoft_app_id,
    )


@contextlib.asynccontextmanager
async def running_messaging(
    settings: Settings,
    *,
    openid_url: str,
    teams_notifier: TeamsNotifier,
    notifier: Notifier,
    store: Store,
    repository: Repository,
    engine: RoutingEngine,
    clock: Clock,
    background: Background,
) -> AsyncIterator[Messaging]:
    """Run the messaging bot, trusting the activities signed by ``openid_url``'s keys.

    ``teams_notifier`` sends the cards, bound for as long as the context is open;
    ``notifier`` is the one the routing engine uses (the Teams notifier, unless a test
    records what the engine tells).
    """

    async def tenant_allowed(tenant_id: str) -> bool:
        try:
            tenant = (await repository.tenants.get(tenant_id, tenant_id)).value
        except NotFound:
            return False
        return tenant.status is TenantStatus.ACTIVE

    authentication = build_authentication(
        settings,
        tenant_allowed=tenant_allowed,
        demo_openid_url=openid_url if settings.demo else None,
    )
    channel = BotChannel(authentication, app_id=settings.microsoft_app_id)
    documents = MessagingDocuments(store)
    links = tab_links(settings)
    teams_notifier.bind(
        channel=channel,
        documents=documents,
        repository=repository,
        background=background,
        clock=clock,
        links=links,
    )
    services = BotServices(
        repository=repository,
        documents=documents,
        engine=engine,
        clock=clock,
        queue_cards=teams_notifier.queue_cards,
        notifier=notifier,
        links=links,
    )
    keys_task = background.every(
        KEY_REFRESH_S, lambda: _keep_signing_keys(openid_url), name="bot-signing-keys"
    )
    try:
        yield Messaging(channel, ContactCenterBot(services), openid_url)
    finally:
        teams_notifier.unbind()
        # Periodic: it would only hold up the shutdown's grace period.
        keys_task.cancel()
        await asyncio.gather(keys_task, return_exceptions=True)
