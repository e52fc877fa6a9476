"""The tab's options, what its handlers share, and the typed application key it lives under."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from contactcenter.floor import StateWatch

if TYPE_CHECKING:
    from contactcenter.audit import AuditLog
    from contactcenter.enrolment import Enrolment
    from contactcenter.membership_sync import MembershipSyncs
    from contactcenter.seats import Seats
    from tab.dependencies import TabDependencies
    from tab.events import LiveHub


def _static_dir() -> Path:
    """Return the installed folder of the tab's pages, assets and vendored library."""
    folder = resources.files(__package__) / "static"
    # aiohttp serves files from disk; pip installs packages unzipped, so this always holds.
    if isinstance(folder, Path):
        return folder
    raise RuntimeError(f"the tab's static files are not on the file system: {folder}")


STATIC_DIR = _static_dir()
# The Teams JavaScript client library, vendored from npm (tools/vendored.json).
DEFAULT_TEAMS_JS = STATIC_DIR / "vendor" / "teams_js" / "MicrosoftTeams.min.js"


@dataclass(frozen=True, slots=True)
class TabOptions:
    """How the tab behaves; the defaults are what a deployment uses.

    The sign-in fields are read by the host, which builds the tab's token validator and
    (demo mode) its token issuer.
    """

    # How often the live feed reads a watched tenant's agents, queues and calls.
    poll_interval_s: float = 1.0
    # A comment line on an idle event stream this often keeps proxies from closing it.
    heartbeat_s: float = 15.0
    # Live event streams one user may hold open (a few pages or windows), and the host.
    max_streams_per_user: int = 5
    max_streams: int = 5_000
    # Signing keys are fetched again on an unknown key id at most this often.
    key_refresh_floor_s: float = 300.0
    # The Teams JavaScript client library's browser bundle; None: not served.
    teams_js: Path | None = DEFAULT_TEAMS_JS
    # Demo mode's token signing key; None: ``<data dir>/tab/demo-signing-key.pem``.
    demo_key_path: Path | None = None
    # Lifetime of the demo issuer's tokens (Entra's are about an hour).
    demo_token_lifetime_s: int = 3600


@dataclass(frozen=True, slots=True)
class TabState:
    """What the tab's handlers share, built when the app starts."""

    options: TabOptions
    deps: TabDependencies
    audit: AuditLog
    seats: Seats
    hub: LiveHub
    enrolment: Enrolment
    membership_syncs: MembershipSyncs
    # When each agent's state began, as far as this host has seen (time in state).
    watch: StateWatch = field(default_factory=StateWatch)


TAB: web.AppKey[TabState] = web.AppKey("tab", TabState)
