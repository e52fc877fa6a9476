"""The composition root: ``create_app`` builds the whole host from one Settings object.

It adds every route, then lists, in order, what the host opens while it runs: each part
is given what the parts before it opened, and everything is closed in the reverse order.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot import keys
from bot.background import Background
from bot.calling import (
    SLOW_NOTIFICATIONS,
    TENANT_CACHE,
    SlowNotifications,
    TenantCache,
    calling_webhook,
)
from bot.demo import (
    DEMO_AGENT_BEHAVIOUR,
    DEMO_CALLBACK_BEHAVIOUR,
    demo_simulator_directory,
    place_demo_calls,
    seed_demo_tenant,
)
from bot.demo_history import seed_demo_history
from bot.graph_credentials import close_credential, graph_credential
from bot.http import MAX_BODY_BYTES, error_middleware, error_response
from bot.media_routes import (
    MEDIA_STORE,
    PROMPT_CONVERTER,
    MediaOptions,
    add_media_routes,
    convert_prompts_on_start,
    open_media_store,
    prompt_base_url,
    recording_source,
)
from bot.messaging import MESSAGING, TeamsNotifier, add_messaging_routes, running_messaging
from bot.messaging.app_installs import APP_INSTALLS, AppInstalls
from bot.messaging.documents import MessagingDocuments
from bot.messaging.host import demo_openid_url
from bot.notifications import change_notifications
from bot.presence import PresencePoller
from bot.settings import DEFAULT_TAB_OPENID_URL, AppType, Settings
from bot.stores import open_store, store_kind
from bot.timer_loop import TimerLoop
from contactcenter.aggregates import IntervalAggregator
from contactcenter.clock import Clock, SystemClock
from contactcenter.engine import EngineSettings, RoutingEngine
from contactcenter.errors import DomainError
from contactcenter.ports import CallControl, Directory, Notifier, Presence, Store
from contactcenter.repository import Repository
from contactcenter.retention import PURGE_INTERVAL, purge_expired
from graph.calling import (
    GraphCallControl,
    GraphHttpClient,
    GraphPresence,
    build_graph_client,
)
from graph.consent import AppConsent
from graph.directory import GraphDirectory
from graph.identity.calling import CallingTokenValidator
from graph.identity.demo_sign_in import DemoTokenIssuer
from graph.identity.openid_keys import SigningKeys
from graph.identity.tab_sso import TabTokenValidator
from graph.teams_apps import TeamsAppInstaller
from simulator import SimulatorClient, SimulatorConfig, SimulatorThread
from simulator.signing import load_or_create_signing_key
from storage.scratch import open_scratch_store
from tab import TAB, TabDependencies, TabOptions, TabSettings, add_tab, running_tab
from tab.analytics import ANALYTICS, AnalyticsOptions, running_analytics
from tab.demo import KEYS_PATH, OPENID_PATH

_LOGGER = logging.getLogger(__name__)

CleanupContext = Callable[[web.Application], AsyncIterator[None]]

# How often this host looks for due timers (ring timeouts, wrap-up ends, max waits).
TIMER_INTERVAL_S = 0.25
# How often a host looks for queues whose members are due to be synced with their team.
MEMBERSHIP_SYNC_CHECK_S = 30.0


@dataclass(slots=True)
class Services:
    """Collaborators a caller may supply instead of the ones built from settings."""

    store: Store | None = None
    clock: Clock | None = None
    call_control: CallControl | None = None
    presence: Presence | None = None
    # The organization's directory; None: Graph's.
    directory: Directory | None = None
    # What the routing engine tells agents and supervisors (default: the Teams notifier).
    notifier: Notifier | None = None
    # The notifier that sends Teams cards through the messaging bot.
    teams_notifier: TeamsNotifier | None = None
    # Tests drive timers and demo calls themselves.
    run_timers: bool = True
    # How parts behave, where a caller needs other than a deployment's defaults.
    media_options: MediaOptions | None = None
    tab_options: TabOptions | None = None
    analytics_options: AnalyticsOptions | None = None


def create_app(settings: Settings, services: Services | None = None) -> web.Application:
    """Build the host: its routes, and everything it opens while it runs, in order."""
    services = services or Services()
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[error_middleware])
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = services.clock or SystemClock()
    app[keys.TIMER_LOOP] = TimerLoop(app[keys.CLOCK], interval_s=TIMER_INTERVAL_S)
    app[keys.READY] = asyncio.Event()
    # Ready once every context below has opened; not ready from the start of shutdown.
    app.on_startup.append(_mark_ready)
    app.on_shutdown.append(_mark_not_ready)
    teams_notifier = services.teams_notifier or TeamsNotifier()
    tab_options = services.tab_options or TabOptions()
    analytics_options = services.analytics_options or AnalyticsOptions(
        allow_loopback_http=settings.demo
    )

    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/calling", calling_webhook)
    app.router.add_post("/api/notifications", change_notifications)
    add_messaging_routes(app, demo=settings.demo)
    add_media_routes(app, services.media_options or MediaOptions())
    add_tab(app)

    # Opened in this order at start-up, closed in the reverse order at shutdown.
    app.cleanup_ctx.extend(
        [
            # Demo mode: the local Teams; where Graph and its keys are.
            _simulator_ctx,
            # The HTTP session, and the validator of Graph's calling notifications.
            _http_session_ctx,
            # Prompts and voicemail recordings.
            _media_ctx,
            # The store, the repository over it, the webhook's tenant cache.
            _store_ctx(services),
            # Prompts stored at another format than Graph plays, converted once.
            convert_prompts_on_start,
            # The host's one Graph client: call control, presence, app installs.
            _graph_ctx(services),
            # The host's background tasks.
            _background_ctx,
            # Aggregates, exports, what-if runs: before the engine, which feeds them.
            _analytics_ctx(analytics_options),
            _engine_ctx(services, teams_notifier),
            # The messaging bot, which binds the Teams notifier the engine holds.
            _messaging_ctx(teams_notifier),
            # The Teams app installed for agents given a seat.
            _app_installs_ctx,
            # The tab, with its sign-in.
            _tab_ctx(tab_options),
            # Demo mode: the seeded tenant and simulated callers.
            _demo_ctx,
            # Timers, the retention purge, presence polling.
            _workers_ctx(services),
        ]
    )
    return app


async def healthz(request: web.Request) -> web.Response:
    """Answer 200 once every part of the host is up, 503 before and while shutting down."""
    if not request.app[keys.READY].is_set():
        return error_response(503, "starting up", code="notReady")
    return web.json_response({"status": "ok", "store": store_kind(request.app[keys.SETTINGS])})


async def _mark_ready(app: web.Application) -> None:
    app[keys.READY].set()
    settings = app[keys.SETTINGS]
    _LOGGER.info(
        "contact center ready on %s (%s mode, %s store)",
        settings.public_base_url,
        "demo" if settings.demo else "production",
        "Cosmos DB" if settings.uses_cosmos else "SQLite",
    )


async def _mark_not_ready(app: web.Application) -> None:
    app[keys.READY].clear()


async def _simulator_ctx(app: web.Application) -> AsyncIterator[None]:
    """In demo mode without an external simulator, run one in its own thread."""
    settings = app[keys.SETTINGS]
    simulator: SimulatorThread | None = None
    if settings.demo and not settings.graph_base_url:
        simulator = SimulatorThread(
            SimulatorConfig(
                data_dir=settings.data_dir,
                bot_url=f"{settings.public_base_url}/api/calling",
                app_id=settings.microsoft_app_id,
                port=settings.simulator_port,
                seed_tenants=demo_simulator_directory(),
                # Simulated agents pick up after a few seconds and talk for a minute or so,
                # so the demo shows calls moving through every state.
                default_user_behaviour=DEMO_AGENT_BEHAVIOUR,
                default_phone_behaviour=DEMO_CALLBACK_BEHAVIOUR,
            )
        )
        await asyncio.to_thread(simulator.start)
        app[keys.GRAPH_BASE_URL] = f"{simulator.base_url}/v1.0"
        app[keys.CALLING_OPENID_URL] = f"{simulator.base_url}/.well-known/OpenIdConfiguration"
    else:
        app[keys.GRAPH_BASE_URL] = settings.graph_base_url
        app[keys.CALLING_OPENID_URL] = settings.calling_openid_config_url
    app[keys.SIMULATOR] = simulator
    try:
        yield
    finally:
        if simulator is not None:
            await asyncio.to_thread(simulator.stop)


async def _http_session_ctx(app: web.Application) -> AsyncIterator[None]:
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        app[keys.HTTP_SESSION] = session
        app[keys.CALLING_TOKENS] = CallingTokenValidator(
            app[keys.CALLING_OPENID_URL],
            app[keys.SETTINGS].microsoft_app_id,
            session=session,
        )
        yield


async def _media_ctx(app: web.Application) -> AsyncIterator[None]:
    store = await open_media_store(app[keys.SETTINGS])
    app[MEDIA_STORE] = store
    try:
        yield
    finally:
        await store.close()


def _store_ctx(services: Services) -> CleanupContext:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        store = services.store
        owned = store is None
        if store is None:
            settings = app[keys.SETTINGS]
            if not settings.demo and not settings.uses_cosmos:
                _LOGGER.warning(
                    "No COSMOS_ENDPOINT: this host keeps its state in the SQLite file %s, "
                    "which only this one host can use (a single-host pilot); set "
                    "COSMOS_ENDPOINT to run on Cosmos DB and several hosts",
                    settings.database_path,
                )
            store = await open_store(settings)
        app[keys.STORE] = store
        app[keys.REPOSITORY] = Repository(store)
        app[TENANT_CACHE] = TenantCache(app[keys.REPOSITORY], app[keys.CLOCK])
        app[SLOW_NOTIFICATIONS] = SlowNotifications(app[keys.CLOCK])
        try:
            yield
        finally:
            if owned:
                await store.close()

    return ctx


def _graph_ctx(services: Services) -> CleanupContext:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        credential = graph_credential(settings)
        async with GraphHttpClient() as http:
            client = build_graph_client(
                base_url=app[keys.GRAPH_BASE_URL], credential=credential, httpx_client=http
            )
            app[keys.GRAPH_CLIENT] = client
            app[keys.DIRECTORY] = services.directory or GraphDirectory(client)
            if services.call_control is not None:
                # The caller's call control (the benchmark's) comes with its own Graph client.
                app[keys.CALL_CONTROL] = services.call_control
                if services.presence is not None:
                    app[keys.PRESENCE] = services.presence
            else:
                app[keys.CALL_CONTROL] = GraphCallControl(client)
                app[keys.PRESENCE] = services.presence or GraphPresence(client)
                app[APP_INSTALLS] = AppInstalls(
                    lambda sleep: TeamsAppInstaller(client, sleep=sleep),
                    teams_app_id=settings.teams_app_catalog_id,
                    manifest_id=settings.microsoft_app_id,
                )
            try:
                yield
            finally:
                await close_credential(credential)

    return ctx


async def _background_ctx(app: web.Application) -> AsyncIterator[None]:
    background = Background()
    app[keys.BACKGROUND] = background
    try:
        yield
    finally:
        await background.close()


def _analytics_ctx(options: AnalyticsOptions) -> CleanupContext:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        async with running_analytics(
            options,
            store=app[keys.STORE],
            repository=app[keys.REPOSITORY],
            clock=app[keys.CLOCK],
            session=app[keys.HTTP_SESSION],
            background=app[keys.BACKGROUND],
            scratch_stores=open_scratch_store,
        ) as state:
            app[ANALYTICS] = state
            yield

    return ctx


def _engine_ctx(services: Services, teams_notifier: TeamsNotifier) -> CleanupContext:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        notifier = services.notifier or teams_notifier
        app[keys.NOTIFIER] = notifier
        app[keys.ENGINE] = RoutingEngine(
            app[keys.REPOSITORY],
            app[keys.CALL_CONTROL],
            notifier,
            app[keys.CLOCK],
            EngineSettings(
                callback_uri=f"{settings.public_base_url}/api/calling",
                prompt_base_url=prompt_base_url(settings),
            ),
            media=app[MEDIA_STORE],
            recordings=recording_source(app),
            on_record=app[ANALYTICS].feed.record_finished,
            timers=app[keys.TIMER_LOOP],
        )
        yield

    return ctx


def _messaging_ctx(teams_notifier: TeamsNotifier) -> CleanupContext:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        async with running_messaging(
            settings,
            openid_url=demo_openid_url(app) if settings.demo else settings.bot_openid_config_url,
            teams_notifier=teams_notifier,
            notifier=app[keys.NOTIFIER],
            store=app[keys.STORE],
            repository=app[keys.REPOSITORY],
            engine=app[keys.ENGINE],
            clock=app[keys.CLOCK],
            background=app[keys.BACKGROUND],
        ) as messaging:
            app[MESSAGING] = messaging
            yield

    return ctx


async def _app_installs_ctx(app: web.Application) -> AsyncIterator[None]:
    """Install the Teams app for agents given a seat (with a Graph client only)."""
    installs = app.get(APP_INSTALLS)
    if installs is None:
        yield
        return
    installs.bind(documents=MessagingDocuments(app[keys.STORE]), background=app[keys.BACKGROUND])
    try:
        yield
    finally:
        await installs.close()


def _tab_ctx(options: TabOptions) -> CleanupContext:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        clock = app[keys.CLOCK]
        validator = _tab_token_validator(settings, options, app[keys.HTTP_SESSION], clock)
        app[keys.TAB_TOKENS] = validator
        sign_in = await _demo_sign_in(settings, options, clock) if settings.demo else None
        deps = TabDependencies(
            settings=tab_settings(settings),
            clock=clock,
            store=app[keys.STORE],
            repository=app[keys.REPOSITORY],
            engine=app[keys.ENGINE],
            notifier=app[keys.NOTIFIER],
            media=app[MEDIA_STORE],
            prompt_converter=app[PROMPT_CONVERTER],
            validator=validator,
            consent=AppConsent(app[keys.GRAPH_CLIENT], app_id=settings.microsoft_app_id),
            seat_assigned=app.get(APP_INSTALLS),
            demo_sign_in=sign_in,
            directory=app[keys.DIRECTORY],
        )
        _LOGGER.info(
            "Tab ready: SSO keys from %s%s",
            validator.keys.openid_config_url,
            " (demo sign-in issuer)" if sign_in is not None else "",
        )
        async with running_tab(deps, options) as state:
            app[TAB] = state
            yield

    return ctx


def tab_settings(settings: Settings) -> TabSettings:
    """Return the settings the tab reads, as plain values."""
    return TabSettings(
        demo=settings.demo,
        public_base_url=settings.public_base_url,
        app_id=settings.microsoft_app_id,
        tenant_id=settings.microsoft_app_tenant_id,
        single_tenant=settings.microsoft_app_type is AppType.SINGLE_TENANT,
        admin_object_ids=settings.admin_object_ids,
    )


def _tab_token_validator(
    settings: Settings, options: TabOptions, session: aiohttp.ClientSession, clock: Clock
) -> TabTokenValidator:
    """Return the validator of the tab's SSO tokens (the demo issuer's, in demo mode)."""
    return TabTokenValidator(
        SigningKeys(
            tab_openid_config_url(settings),
            session=session,
            purpose="tab",
            clock=clock,
            refresh_floor_s=options.key_refresh_floor_s,
        ),
        client_id=settings.bot_client_id,
        app_id_uri_host=(urlsplit(settings.public_base_url).hostname or "").lower(),
        clock=clock,
    )


def tab_openid_config_url(settings: Settings) -> str:
    """Return where the tab's signing keys are published for these settings.

    In demo mode, unless another URL was configured, that is the host's own demo issuer.
    """
    if settings.demo and settings.tab_openid_config_url == DEFAULT_TAB_OPENID_URL:
        return f"{settings.public_base_url}{OPENID_PATH}"
    return settings.tab_openid_config_url


async def _demo_sign_in(settings: Settings, options: TabOptions, clock: Clock) -> DemoTokenIssuer:
    """Return demo mode's token issuer; its key is kept in the data dir like the simulator's."""
    key_path = options.demo_key_path or settings.data_dir / "tab" / "demo-signing-key.pem"
    return DemoTokenIssuer(
        await asyncio.to_thread(load_or_create_signing_key, key_path),
        client_id=settings.bot_client_id,
        jwks_url=f"{settings.public_base_url}{KEYS_PATH}",
        clock=clock,
        lifetime_s=options.demo_token_lifetime_s,
    )


async def _demo_ctx(app: web.Application) -> AsyncIterator[None]:
    """Seed the demo tenant on first start, and let simulated callers dial in.

    With simulated callers, the demo also makes up its past month in the background (the
    host is ready meanwhile), so reports have history on the first run.
    """
    settings = app[keys.SETTINGS]
    if settings.demo:
        await seed_demo_tenant(app[keys.REPOSITORY], app[keys.CLOCK])
        simulator = app[keys.SIMULATOR]
        if simulator is not None and settings.demo_call_rate > 0:
            client = SimulatorClient(app[keys.HTTP_SESSION], simulator.base_url)
            app[keys.BACKGROUND].spawn(
                place_demo_calls(client, settings.demo_call_rate, random.Random()),  # noqa: S311
                name="demo-calls",
            )
            analytics = app.get(ANALYTICS)
            if analytics is not None:
                app[keys.BACKGROUND].spawn(
                    _demo_history(app[keys.REPOSITORY], analytics.aggregator, app[keys.CLOCK]),
                    name="demo-history",
                )
    yield


async def _demo_history(repo: Repository, aggregator: IntervalAggregator, clock: Clock) -> None:
    """Make up the demo's past month; a store that fails leaves it for the next start."""
    try:
        await seed_demo_history(repo, aggregator, clock)
    except DomainError as err:
        _LOGGER.warning("Demo history not made up (the next start goes on): %s", err)


def _workers_ctx(services: Services) -> CleanupContext:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if services.run_timers:
            engine = app[keys.ENGINE]
            app[keys.BACKGROUND].spawn(
                app[keys.TIMER_LOOP].run(engine.fire_due_timers, engine.fire_own_timers),
                name="timers",
            )
            repository, clock = app[keys.REPOSITORY], app[keys.CLOCK]
            app[keys.BACKGROUND].every(
                PURGE_INTERVAL.total_seconds(),
                lambda: purge_expired(repository, clock, media=app[MEDIA_STORE]),
                name="retention-purge",
            )
            app[keys.BACKGROUND].every(
                MEMBERSHIP_SYNC_CHECK_S, app[TAB].membership_syncs.run_due, name="membership-sync"
            )
            if keys.PRESENCE in app:
                poller = PresencePoller(app[keys.REPOSITORY], app[keys.PRESENCE], engine)
                app[keys.BACKGROUND].spawn(poller.run(), name="presence")
        yield

    return ctx
