"""The Teams tab: the agent workspace and the admin console, their JSON API, SSO and live feed.

The host adds it with :func:`setup_tab`: pages under ``/tab/``, the API under ``/api/tab/``
(described by ``/api/tab/openapi.json``), and in demo mode the demo sign-in issuer.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot import keys
from tab.appkeys import TAB, TAB_OPTIONS, TabOptions, TabState
from tab.audit import AuditLog
from tab.demo import KEYS_PATH, OPENID_PATH, openid_configuration, signing_keys
from tab.endpoints import add_endpoints
from tab.events import LiveHub
from tab.pages import add_pages
from tab.routes import ENDPOINTS
from tab.seats import Seats

_LOGGER = logging.getLogger(__name__)

__all__ = ["TabOptions", "setup_tab"]


def setup_tab(app: web.Application, *, options: TabOptions | None = None) -> None:
    """Add the tab to the host: its routes, and what it opens and closes with the app.

    Call it on the app ``create_app`` built, before the app starts: the tab relies on the
    settings, clock, store, repository, engine, token validator and demo sign-in the host
    provides.
    """
    app[TAB_OPTIONS] = options or TabOptions()
    app.cleanup_ctx.append(_tab_ctx)
    app.on_shutdown.append(_end_streams)
    add_endpoints(app, ENDPOINTS)
    app.router.add_get(OPENID_PATH, openid_configuration)
    app.router.add_get(KEYS_PATH, signing_keys)
    add_pages(app)


async def _tab_ctx(app: web.Application) -> AsyncIterator[None]:
    options = app[TAB_OPTIONS]
    clock = app[keys.CLOCK]
    hub = LiveHub(app[keys.REPOSITORY], clock, interval_s=options.poll_interval_s)
    app[TAB] = TabState(
        options=options,
        validator=app[keys.TAB_TOKENS],
        audit=AuditLog(app[keys.STORE], clock),
        seats=Seats(app[keys.STORE], app[keys.REPOSITORY]),
        hub=hub,
        demo_sign_in=app[keys.DEMO_SIGN_IN],
    )
    try:
        yield
    finally:
        await hub.close()


async def _end_streams(app: web.Application) -> None:
    """End the live event streams first, so shutdown does not wait for them."""
    state = app.get(TAB)
    if state is not None:
        await state.hub.close()
