"""The seeded demo tenant: two queues, six agents, an admin and a supervisor, and an IVR.

Callers reach Sales and Support directly on their lines, or through the main line's IVR
("press 1 for Sales, 2 for Support, 9 to leave a voicemail"), which keeps business hours
in the tenant's time zone and closes on holidays. Both queues announce the caller's place
and estimated wait; Support offers callbacks, and when nobody is signed in it takes
voicemail. One number is a VIP, one is blocked.

Ids are derived from names (uuid5), so a demo started twice, or by several hosts at once,
seeds the same documents, and links into the demo stay valid across restarts.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass
from typing import Literal

from bot.settings import DEMO_TENANT_ID
from contactcenter.callers import CALLER_LIST_ID
from contactcenter.clock import Clock
from contactcenter.errors import NotFound
from contactcenter.media import StandardPrompt, standard_prompt
from contactcenter.model import (
    ActionKind,
    Agent,
    AgentStatus,
    Binding,
    BindingTarget,
    BusinessHours,
    CallbackSettings,
    CallerList,
    CallerListEntry,
    CallerListKind,
    Holiday,
    HolidaySet,
    HoursMode,
    Ivr,
    Menu,
    MenuActionKind,
    MenuOption,
    OpenRange,
    PartyKind,
    Queue,
    QueueAction,
    Role,
    RoutingMethod,
    Tenant,
    User,
    Weekday,
)
from contactcenter.repository import Repository
from simulator import (
    ApplicationInstanceEntry,
    ChannelEntry,
    GroupEntry,
    InviteeBehaviour,
    SimulatorClient,
    SimulatorRequestError,
    TenantEntry,
    UserEntry,
)

_LOGGER = logging.getLogger(__name__)

_NAMESPACE = uuid.UUID("7f1d6a52-61a4-4a8e-9d3c-3c1f0c0de000")


def demo_id(name: str) -> str:
    """Return the stable GUID of a named demo object."""
    return str(uuid.uuid5(_NAMESPACE, name))


@dataclass(frozen=True, slots=True)
class DemoPerson:
    name: str
    upn: str
    roles: frozenset[Role]
    skills: dict[str, int]

    @property
    def id(self) -> str:
        return demo_id(f"user:{self.upn}")


@dataclass(frozen=True, slots=True)
class DemoLine:
    """A resource account (application instance) with a phone number, bound to a queue."""

    name: str
    phone: str
    queue_name: str

    @property
    def application_instance_id(self) -> str:
        return demo_id(f"line:{self.name}")


AGENT = frozenset({Role.AGENT})

PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("Grace Lee", "grace@contoso.example", frozenset({Role.ADMIN}), {}),
    DemoPerson("Hiro Tanaka", "hiro@contoso.example", frozenset({Role.SUPERVISOR}), {}),
    DemoPerson("Ana Ruiz", "ana@contoso.example", AGENT, {"spanish": 5, "billing": 3}),
    DemoPerson("Ben Okafor", "ben@contoso.example", AGENT, {"billing": 4}),
    DemoPerson("Chloe Martin", "chloe@contoso.example", AGENT, {"french": 4, "hardware": 2}),
    DemoPerson("Dev Patel", "dev@contoso.example", AGENT, {"hardware": 5}),
    DemoPerson("Eva Novak", "eva@contoso.example", AGENT, {"hardware": 3, "software": 4}),
    DemoPerson("Femi Adeyemi", "femi@contoso.example", AGENT, {"software": 5}),
)


@dataclass(frozen=True, slots=True)
class DirectoryPerson:
    """Someone of the demo organization's directory who is not in the contact center yet."""

    name: str
    upn: str
    # What their licences hold (the simulator's licenseDetails report it).
    licences: Literal["teams-phone", "teams", "none"] = "teams-phone"

    @property
    def id(self) -> str:
        return demo_id(f"user:{self.upn}")


DIRECTORY_ONLY: tuple[DirectoryPerson, ...] = (
    DirectoryPerson("Anika Sharma", "anika@contoso.example"),
    DirectoryPerson("Andrés Gómez", "andres@contoso.example", "none"),
    DirectoryPerson("Kofi Mensah", "kofi@contoso.example", "teams"),
    DirectoryPerson("Lena Fischer", "lena@contoso.example"),
    DirectoryPerson("Maximiliana Bartholomew-Featherstonehaugh", "max@contoso.example"),
)

# A team of the demo directory, with a channel: a queue can take its agents from either.
BILLING_TEAM = demo_id("team:Billing")
BILLING_TEAM_NAME = "Billing team"
ESCALATIONS_CHANNEL = "19:escalations@thread.tacv2"
BILLING_TEAM_MEMBERS = ("ben@contoso.example", "anika@contoso.example")

QUEUE_MEMBERS: dict[str, tuple[str, ...]] = {
    "Sales": ("ana@contoso.example", "ben@contoso.example", "chloe@contoso.example"),
    "Support": (
        "chloe@contoso.example",
        "dev@contoso.example",
        "eva@contoso.example",
        "femi@contoso.example",
    ),
}

# How the simulator's people behave in the demo: agents answer after a few seconds and
# talk for about a minute; a caller called back answers at once and talks briefly.
DEMO_AGENT_BEHAVIOUR = InviteeBehaviour(
    on_invite="answer", answer_after_s=4.0, hang_up_after_s=75.0
)
DEMO_CALLBACK_BEHAVIOUR = InviteeBehaviour(
    on_invite="answer", answer_after_s=2.0, hang_up_after_s=40.0
)

LINES: tuple[DemoLine, ...] = (
    DemoLine("Sales line", "+14255550100", "Sales"),
    DemoLine("Support line", "+14255550101", "Support"),
)
# The main line goes to the IVR rather than a queue.
MAIN_LINE = DemoLine("Main line", "+14255550199", "")
IVR_NAME = "Contoso main menu"
MAIN_MENU = "main"
VIP_NUMBER = "+14255550142"
BLOCKED_NUMBER = "+14255550666"


def ivr_id(name: str) -> str:
    return demo_id(f"ivr:{name}")


def queue_id(name: str) -> str:
    return demo_id(f"queue:{name}")


def demo_ivr(tenant_id: str) -> Ivr:
    """Return the main line's IVR: a menu in front of both queues and Support's voicemail."""
    weekdays = (Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY)
    weekly = (
        *(OpenRange(day, "07:00", "21:00") for day in (*weekdays, Weekday.FRIDAY)),
        OpenRange(Weekday.SATURDAY, "09:00", "17:00"),
        OpenRange(Weekday.SUNDAY, "09:00", "17:00"),
    )
    holidays = HolidaySet(
        name="US holidays",
        holidays=(
            Holiday("Independence Day", "2026-07-04", "2026-07-05"),
            Holiday("Thanksgiving", "2026-11-26", "2026-11-27"),
            Holiday("Christmas Day", "2026-12-25", "2026-12-26"),
            Holiday("New Year's Day", "2027-01-01", "2027-01-02"),
        ),
        action=QueueAction(
            ActionKind.DISCONNECT, prompt_id=standard_prompt(StandardPrompt.HOLIDAY)
        ),
    )
    return Ivr(
        id=ivr_id(IVR_NAME),
        tenant_id=tenant_id,
        name=IVR_NAME,
        root_menu_id=MAIN_MENU,
        menus=(
            Menu(
                id=MAIN_MENU,
                name="Main menu",
                prompt_id=standard_prompt("demo-main-menu"),
                options=(
                    MenuOption("1", MenuActionKind.QUEUE, queue_id("Sales"), "Sales"),
                    MenuOption("2", MenuActionKind.QUEUE, queue_id("Support"), "Support"),
                    MenuOption("9", MenuActionKind.VOICEMAIL, queue_id("Support"), "Voicemail"),
                    MenuOption("*", MenuActionKind.REPEAT, label="Repeat"),
                ),
                timeout_s=6,
                max_retries=1,
                # A caller who presses nothing is not left alone: Sales takes the call.
                fallback=MenuOption("", MenuActionKind.QUEUE, queue_id("Sales"), "Sales"),
            ),
        ),
        # Open long hours in the tenant's time zone; closed: leave Support a voicemail.
        hours=BusinessHours(
            mode=HoursMode.SET_TIMES,
            weekly=weekly,
            holiday_sets=(holidays,),
            closed_action=QueueAction(ActionKind.VOICEMAIL, target=queue_id("Support")),
        ),
    )


def demo_caller_list(tenant_id: str) -> CallerList:
    """Return the demo's VIP and blocked callers."""
    return CallerList(
        id=CALLER_LIST_ID,
        tenant_id=tenant_id,
        entries=(
            CallerListEntry(
                CallerListKind.VIP, PartyKind.PHONE, VIP_NUMBER, "key account", priority_boost=10
            ),
            CallerListEntry(
                CallerListKind.BLOCKED, PartyKind.PHONE, BLOCKED_NUMBER, "repeated abuse"
            ),
        ),
    )


def demo_documents(
    clock: Clock,
) -> tuple[Tenant, list[User], list[Queue], list[Agent], list[Binding]]:
    """Build every document of the demo tenant (the IVR and caller list: see above)."""
    tenant_id = DEMO_TENANT_ID
    now = clock.now()
    by_upn = {p.upn: p for p in PEOPLE}
    tenant = Tenant(
        id=tenant_id,
        name="Contoso (demo)",
        time_zone="America/New_York",
        seat_count=10,
    )
    users = [
        User(
            id=p.id,
            tenant_id=tenant_id,
            display_name=p.name,
            upn=p.upn,
            roles=p.roles,
            supervised_queue_ids=(
                frozenset(queue_id(q) for q in QUEUE_MEMBERS)
                if Role.SUPERVISOR in p.roles
                else frozenset()
            ),
        )
        for p in PEOPLE
    ]
    queues = [
        Queue(
            id=queue_id("Sales"),
            tenant_id=tenant_id,
            name="Sales",
            routing_method=RoutingMethod.LONGEST_IDLE,
            members=tuple(by_upn[u].id for u in QUEUE_MEMBERS["Sales"]),
            alert_time_s=20,
            wrap_up_s=15,
            comfort_interval_s=30,
            # A full Sales line spills over to Support.
            overflow_action=QueueAction(ActionKind.QUEUE, target=queue_id("Support")),
        ),
        Queue(
            id=queue_id("Support"),
            tenant_id=tenant_id,
            name="Support",
            routing_method=RoutingMethod.ROUND_ROBIN,
            members=tuple(by_upn[u].id for u in QUEUE_MEMBERS["Support"]),
            alert_time_s=20,
            wrap_up_s=30,
            comfort_interval_s=45,
            callback=CallbackSettings(offered=True, key="1", max_attempts=3, retry_s=120),
            # Waited too long: offer a callback. Nobody signed in: take a voicemail.
            timeout_action=QueueAction(ActionKind.CALLBACK),
            no_agent_action=QueueAction(ActionKind.VOICEMAIL),
        ),
    ]
    agents = [
        Agent(
            id=p.id,
            tenant_id=tenant_id,
            display_name=p.name,
            has_seat=True,
            signed_in_queue_ids=frozenset(
                queue_id(q) for q, members in QUEUE_MEMBERS.items() if p.upn in members
            ),
            skills=dict(p.skills),
            status=AgentStatus.AVAILABLE,
            idle_since=now,
        )
        for p in PEOPLE
        if Role.AGENT in p.roles
    ]
    bindings = [
        Binding(
            id=key,
            tenant_id=tenant_id,
            target=BindingTarget.QUEUE,
            target_id=queue_id(line.queue_name),
            display_name=line.name,
        )
        for line in LINES
        for key in (line.application_instance_id, line.phone)
    ]
    bindings += [
        Binding(
            id=key,
            tenant_id=tenant_id,
            target=BindingTarget.IVR,
            target_id=ivr_id(IVR_NAME),
            display_name=MAIN_LINE.name,
        )
        for key in (MAIN_LINE.application_instance_id, MAIN_LINE.phone)
    ]
    return tenant, users, queues, agents, bindings


async def seed_demo_tenant(repo: Repository, clock: Clock) -> bool:
    """Create the demo tenant on first start; return False when it already exists."""
    tenant, users, queues, agents, bindings = demo_documents(clock)
    try:
        await repo.tenants.get(tenant.id, tenant.id)
    except NotFound:
        _LOGGER.info("no demo tenant yet: seeding it", extra={"tenant_id": tenant.id})
    else:
        return False
    # The tenant document goes last: its presence means the seed is complete, so a crash
    # halfway re-seeds on the next start (every other write is an idempotent upsert).
    for user in users:
        await repo.users.put(user)
    for queue in queues:
        await repo.queues.put(queue)
    for agent in agents:
        await repo.agents.put(agent)
    for binding in bindings:
        await repo.bindings.put(binding)
    await repo.ivrs.put(demo_ivr(tenant.id))
    await repo.caller_lists.put(demo_caller_list(tenant.id))
    _, created = await repo.tenants.ensure(tenant)
    if not created:
        return False  # another host seeded it meanwhile
    _LOGGER.info(
        "seeded the demo tenant: %d queues, %d agents, %d users",
        len(queues),
        len(agents),
        len(users),
        extra={"tenant_id": tenant.id},
    )
    return True


def demo_simulator_directory() -> tuple[TenantEntry, ...]:
    """Describe the demo tenant to the simulator: its users and its resource accounts."""
    return (
        TenantEntry(
            id=DEMO_TENANT_ID,
            display_name="Contoso (demo)",
            users=(
                *(
                    UserEntry(id=p.id, display_name=p.name, mail=p.upn, user_principal_name=p.upn)
                    for p in PEOPLE
                ),
                *(
                    UserEntry(
                        id=p.id,
                        display_name=p.name,
                        mail=p.upn,
                        user_principal_name=p.upn,
                        licences=p.licences,
                    )
                    for p in DIRECTORY_ONLY
                ),
            ),
            groups=(
                GroupEntry(
                    id=BILLING_TEAM,
                    display_name=BILLING_TEAM_NAME,
                    team=True,
                    member_ids=tuple(demo_id(f"user:{upn}") for upn in BILLING_TEAM_MEMBERS),
                    channels=(
                        ChannelEntry(
                            id=ESCALATIONS_CHANNEL,
                            display_name="Escalations",
                            member_ids=tuple(
                                demo_id(f"user:{upn}") for upn in BILLING_TEAM_MEMBERS
                            ),
                        ),
                    ),
                ),
            ),
            application_instances=tuple(
                ApplicationInstanceEntry(
                    id=line.application_instance_id, display_name=line.name, phone_number=line.phone
                )
                for line in (*LINES, MAIN_LINE)
            ),
        ),
    )


async def place_demo_calls(
    client: SimulatorClient, calls_per_hour: float, rng: random.Random
) -> None:
    """Have simulated callers dial the demo lines, Poisson arrivals at ``calls_per_hour``."""
    while True:
        await asyncio.sleep(rng.expovariate(calls_per_hour / 3600.0))
        line = rng.choice((*LINES, MAIN_LINE))
        caller = f"+1206555{rng.randrange(10000):04d}"
        try:
            await client.place_call(
                DEMO_TENANT_ID,
                application_instance_id=line.application_instance_id,
                caller_phone=caller,
            )
        except SimulatorRequestError as err:
            _LOGGER.warning("the simulator did not place a demo call: %s", err)
