"""What the host hands the tab: its settings as plain values, the domain's objects, ports."""

from __future__ import annotations

from dataclasses import dataclass

from contactcenter.clock import Clock
from contactcenter.engine import RoutingEngine
from contactcenter.ports import Directory, MediaStore, Notifier, PromptConverter, Store
from contactcenter.repository import Repository
from tab.ports import AdminConsent, DemoSignIn, SeatAssigned, TokenValidator


@dataclass(frozen=True, slots=True)
class TabSettings:
    """The host's settings the tab reads."""

    demo: bool
    # The origin Teams and browsers reach (https in production).
    public_base_url: str
    # The bot's Entra app id: the app whose admin consent the console shows.
    app_id: str
    # The app's home tenant (the seeded demo tenant in demo mode); may be empty.
    tenant_id: str
    # Only users of ``tenant_id`` may sign in (a single-tenant app registration).
    single_tenant: bool
    # Entra object ids that become their tenant's first admin at sign-in.
    admin_object_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class TabDependencies:
    """Everything the tab uses that it does not make itself, built by the host."""

    settings: TabSettings
    clock: Clock
    store: Store
    repository: Repository
    engine: RoutingEngine
    notifier: Notifier
    # Uploaded prompts and voicemail recordings.
    media: MediaStore
    # Uploaded prompts are stored converted to what Graph plays.
    prompt_converter: PromptConverter
    validator: TokenValidator
    consent: AdminConsent
    # Installs the Teams app for an agent given a seat; None: nothing follows an assignment.
    seat_assigned: SeatAssigned | None = None
    # Demo mode only: the token issuer behind the sign-in picker.
    demo_sign_in: DemoSignIn | None = None
    # The organization's directory (people, teams and groups, licences); None: none.
    directory: Directory | None = None
