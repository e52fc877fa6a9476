"""Install the Teams app for agents who get a seat, so that their alerts can reach them.

The bot can only message a user who has the app. When an admin gives an agent a seat,
the app is installed for them through Graph (``graph/teams_apps.py``); Teams then sends
the bot the new 1:1 chat, which the bot keeps. This runs in the background: the seat is
assigned whatever Graph answers. It is idempotent (an agent whose chat the bot already
has, or one being installed now, is skipped; Graph's "already installed" is success) and
retried with growing delays on failures other than an unknown user.

The app is named by its org catalog id: ``TEAMS_APP_CATALOG_ID`` when set; otherwise it is
looked up once in the org catalog by its manifest id (``MICROSOFT_APP_ID``, the catalog
app's ``externalId``), and a sideloaded app, which is not in the org catalog, is named by
its manifest id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from bot.background import Background
from bot.messaging.documents import MessagingDocuments
from bot.messaging.outbox import AsyncioTimer, Timer, TrackedTimer, WorkTracker
from contactcenter.errors import DomainError, NotFound
from graph.teams_apps import InstallOutcome

_LOGGER = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# Waits before the second, third... attempt after a failure: then give up (logged).
RETRY_DELAYS_S: tuple[float, ...] = (30.0, 120.0, 600.0, 1800.0)


class Installer(Protocol):
    """Installs the app for a user (``graph.teams_apps.TeamsAppInstaller``)."""

    async def find_catalog_id(self, external_id: str) -> str | None: ...

    async def install_for_user(self, user_id: str, teams_app_id: str) -> InstallOutcome: ...


@dataclass(slots=True)
class _Bound:
    documents: MessagingDocuments
    background: Background


class AppInstalls:
    """Install the app for agents given a seat, in the background.

    Made with the Graph client; :meth:`bind` hands it the store and the host's background
    tasks once the host runs. ``installer_for`` makes the installer with the sleep its own
    retries of throttling must use (so that waiting counts as idle for :meth:`wait_idle`).
    ``teams_app_id`` is the app's org catalog id when known (``TEAMS_APP_CATALOG_ID``);
    empty, the catalog is asked once for the app whose ``externalId`` is ``manifest_id``.
    """

    def __init__(
        self,
        installer_for: Callable[[Sleep], Installer],
        *,
        teams_app_id: str = "",
        manifest_id: str = "",
        timer: Timer | None = None,
        retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
    ) -> None:
        if not (teams_app_id or manifest_id):
            raise ValueError("a catalog id or a manifest id is needed to install the app")
        self._tracker = WorkTracker()
        self._timer = TrackedTimer(timer or AsyncioTimer(), self._tracker)
        self._installer = installer_for(self._timer.sleep)
        self._teams_app_id = teams_app_id
        self._manifest_id = manifest_id
        self._lookup: asyncio.Lock | None = None
        self._retry_delays_s = tuple(retry_delays_s)
        self._bound: _Bound | None = None
        self._running: dict[tuple[str, str], asyncio.Task[Any]] = {}

    def bind(self, *, documents: MessagingDocuments, background: Background) -> None:
        """Start installing (the host runs)."""
        self._bound = _Bound(documents, background)

    @property
    def installing(self) -> frozenset[tuple[str, str]]:
        """Return the (tenant id, agent id) pairs whose install is on its way."""
        return frozenset(self._running)

    def seat_assigned(self, tenant_id: str, agent_id: str) -> None:
        """Install the app for the agent unless it is installed or on its way; never raise."""
        bound = self._bound
        log = {"tenant_id": tenant_id, "agent_id": agent_id}
        if bound is None:
            _LOGGER.info("Not running: the app is not installed for %s", agent_id, extra=log)
            return
        key = (tenant_id, agent_id)
        if key in self._running:
            return
        self._tracker.started()
        try:
            task = bound.background.spawn(
                self._install(bound, tenant_id, agent_id), name=f"app-install-{agent_id}"
            )
        except RuntimeError:
            self._tracker.finished()
            _LOGGER.info("Shutting down: the app is not installed for %s", agent_id, extra=log)
            return
        self._running[key] = task

    async def wait_idle(self) -> None:
        """Return once no install runs: each is done or waits to be retried."""
        await self._tracker.wait_idle()

    async def close(self) -> None:
        """Cancel the installs still waiting (the host shuts down)."""
        self._bound = None
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _has_chat(self, bound: _Bound, tenant_id: str, agent_id: str) -> bool:
        return await bound.documents.references.get(tenant_id, agent_id) is not None

    async def catalog_id(self) -> str:
        """Return the app's org catalog id, looking it up once; DomainError: try again later.

        A lookup Graph refuses (the permission is not granted) names the app by its
        manifest id this time and is asked again on the next install.
        """
        if self._lookup is None:
            self._lookup = asyncio.Lock()
        async with self._lookup:
            # Another install may have looked it up while this one waited for the lock.
            if self._teams_app_id:
                return self._teams_app_id
            try:
                found = await self._installer.find_catalog_id(self._manifest_id)
            except NotFound as err:
                _LOGGER.warning(
                    "The org app catalog could not be read (%s): installing the app by its "
                    "manifest id; set TEAMS_APP_CATALOG_ID or grant AppCatalog.Read.All",
                    err,
                )
                return self._manifest_id
            if found is None:
                _LOGGER.info("The app is not in the org catalog: installing it by its manifest id")
                self._teams_app_id = self._manifest_id
            else:
                _LOGGER.info("The app's org catalog id is %s", found)
                self._teams_app_id = found
            return self._teams_app_id

    async def _install(self, bound: _Bound, tenant_id: str, agent_id: str) -> None:
        log = {"tenant_id": tenant_id, "agent_id": agent_id}
        try:
            for delay in (0.0, *self._retry_delays_s):
                if delay:
                    await self._timer.sleep(delay)
                if await self._has_chat(bound, tenant_id, agent_id):
                    _LOGGER.debug("The bot can reach %s already", agent_id, extra=log)
                    return
                try:
                    teams_app_id = await self.catalog_id()
                    outcome = await self._installer.install_for_user(agent_id, teams_app_id)
                except NotFound as err:
                    _LOGGER.warning(
                        "The app cannot be installed for %s: %s", agent_id, err, extra=log
                    )
                    return
                except DomainError as err:
                    _LOGGER.warning(
                        "Installing the app for %s failed: %s", agent_id, err, extra=log
                    )
                    continue
                _LOGGER.info("App for %s: %s", agent_id, outcome.value, extra=log)
                return
            _LOGGER.error(
                "Gave up installing the app for %s: install it in Teams admin",
                agent_id,
                extra=log,
            )
        finally:
            del self._running[(tenant_id, agent_id)]
            self._tracker.finished()


APP_INSTALLS: web.AppKey[AppInstalls] = web.AppKey("app_installs", AppInstalls)
