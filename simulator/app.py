"""The simulator's aiohttp application: fake Graph, fake Bot Connector, discovery and control."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from contactcenter.clock import Clock, SystemClock
from simulator.appkeys import (
    CLOCK_KEY,
    CLOUD_KEY,
    CONFIG_KEY,
    CONVERSATIONS_KEY,
    DELIVERY_KEY,
    DIRECTORY_KEY,
    FAULTS_KEY,
    INSTALLATIONS_KEY,
    SERVICE_PRINCIPALS_KEY,
    SIGNING_KEY_KEY,
)
from simulator.cloud import SimulatedCloud
from simulator.config import SimulatorConfig
from simulator.connector import ActivityDelivery, Conversations
from simulator.connector_api import add_connector_routes
from simulator.control_api import add_control_routes
from simulator.directory import Directory
from simulator.directory_api import add_directory_routes
from simulator.discovery import add_discovery_routes
from simulator.entra import add_entra_routes
from simulator.errors import error_middleware
from simulator.faults import FaultPlan
from simulator.graph_api import add_graph_routes, graph_middleware
from simulator.installations import Installations, add_installation_routes
from simulator.media import HttpPromptSource
from simulator.notifications import NotificationSender
from simulator.service_principals import ServicePrincipals, add_service_principal_routes
from simulator.signing import ActivityTokenMinter, TokenMinter, load_or_create_signing_key

MAX_BODY_BYTES = 1024 * 1024


async def _cloud_context(app: web.Application) -> AsyncIterator[None]:
    """Load the signing key and run the cloud with its own HTTP client for notifications."""
    config = app[CONFIG_KEY]
    clock = app[CLOCK_KEY]
    key = await asyncio.to_thread(load_or_create_signing_key, config.signing_key_path)
    app[SIGNING_KEY_KEY] = key
    minter = TokenMinter(
        key,
        issuer=config.issuer,
        clock=clock,
        lifetime_s=config.token_lifetime_s,
        refresh_margin_s=config.token_refresh_margin_s,
    )
    async with aiohttp.ClientSession() as session:
        sender = NotificationSender(
            session,
            minter,
            audience=config.app_id,
            timeout_s=config.delivery_timeout_s,
            allow_remote=config.allow_remote_delivery,
        )
        prompts = (
            HttpPromptSource(
                session,
                allow_remote=config.allow_remote_delivery,
                timeout_s=config.delivery_timeout_s,
            )
            if config.fetch_prompts
            else None
        )
        cloud = SimulatedCloud(
            config,
            app[DIRECTORY_KEY],
            sender,
            clock=clock,
            prompts=prompts,
            faults=app[FAULTS_KEY],
        )
        app[CLOUD_KEY] = cloud
        app[DELIVERY_KEY] = ActivityDelivery(
            session,
            ActivityTokenMinter(
                key,
                clock=clock,
                lifetime_s=config.token_lifetime_s,
                refresh_margin_s=config.token_refresh_margin_s,
            ),
            app[CONVERSATIONS_KEY],
            app_id=config.app_id,
            messages_url=config.messages_url,
            clock=clock,
            timeout_s=config.delivery_timeout_s,
            allow_remote=config.allow_remote_delivery,
        )
        try:
            yield
        finally:
            await cloud.close()


def create_simulator_app(config: SimulatorConfig, *, clock: Clock | None = None) -> web.Application:
    """Build the simulator's application; it loads its key and opens its client on startup."""
    clock = clock or SystemClock()
    app = web.Application(
        middlewares=[error_middleware, graph_middleware], client_max_size=MAX_BODY_BYTES
    )
    app[CONFIG_KEY] = config
    app[CLOCK_KEY] = clock
    app[DIRECTORY_KEY] = Directory(config.seed_tenants)
    app[FAULTS_KEY] = FaultPlan()
    app[CONVERSATIONS_KEY] = Conversations(clock)
    app[INSTALLATIONS_KEY] = Installations()
    app[SERVICE_PRINCIPALS_KEY] = ServicePrincipals(config.app_id, config.granted_app_roles)
    app.cleanup_ctx.append(_cloud_context)
    add_discovery_routes(app)
    add_entra_routes(app)
    add_graph_routes(app)
    add_directory_routes(app)
    add_installation_routes(app)
    add_service_principal_routes(app)
    add_connector_routes(app)
    add_control_routes(app)
    return app
