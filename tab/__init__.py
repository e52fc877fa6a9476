"""The Teams tab: the agent workspace and the admin console, their JSON API, SSO and live feed.

The host adds the routes with :func:`add_tab`: pages under ``/tab/``, the API under
``/api/tab/`` (described by ``/api/tab/openapi.json``), and in demo mode the demo sign-in
issuer's keys. While the host runs, :func:`running_tab` holds what the handlers share,
built from the :class:`~tab.dependencies.TabDependencies` the host hands over; the host
keeps it under :data:`~tab.appkeys.TAB`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from contactcenter.audit import AuditLog
from contactcenter.enrolment import Enrolment
from contactcenter.membership_sync import MembershipSyncs
from contactcenter.seats import Seats
from tab.appkeys import TAB, TabOptions, TabState
from tab.demo import KEYS_PATH, OPENID_PATH, openid_configuration, signing_keys
from tab.dependencies import TabDependencies, TabSettings
from tab.endpoints import add_endpoints
from tab.events import LiveHub, StreamQuota
from tab.pages import add_pages
from tab.routes import ENDPOINTS

__all__ = ["TAB", "TabDependencies", "TabOptions", "TabSettings", "add_tab", "running_tab"]


def add_tab(app: web.Application) -> None:
    """Add the tab's routes and pages to the host."""
    add_endpoints(app, ENDPOINTS)
    app.router.add_get(OPENID_PATH, openid_configuration)
    app.router.add_get(KEYS_PATH, signing_keys)
    add_pages(app)
    app.on_shutdown.append(_end_streams)


@contextlib.asynccontextmanager
async def running_tab(deps: TabDependencies, options: TabOptions) -> AsyncIterator[TabState]:
    """Hold what the tab's handlers share for as long as the context is open."""
    hub = LiveHub(
        deps.repository,
        deps.clock,
        interval_s=options.poll_interval_s,
        quota=StreamQuota(per_user=options.max_streams_per_user, per_host=options.max_streams),
    )
    audit = AuditLog(deps.store, deps.clock)
    seats = Seats(deps.store, deps.repository, deps.clock)
    follow_up = deps.seat_assigned
    enrolment = Enrolment(
        deps.repository,
        seats,
        deps.engine,
        audit,
        deps.directory,
        seat_assigned=follow_up.seat_assigned if follow_up is not None else None,
    )
    try:
        yield TabState(
            options=options,
            deps=deps,
            audit=audit,
            seats=seats,
            hub=hub,
            enrolment=enrolment,
            membership_syncs=MembershipSyncs(
                deps.store, deps.repository, deps.directory, enrolment, audit, deps.clock
            ),
        )
    finally:
        await hub.close()


async def _end_streams(app: web.Application) -> None:
    """End the live event streams first, so shutdown does not wait for them."""
    state = app.get(TAB)
    if state is not None:
        await state.hub.close()
