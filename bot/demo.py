"""The seeded demo tenant: two queues, six agents, an admin and a supervisor.

Ids are derived from names (uuid5), so a demo started twice, or by several hosts at once,
seeds the same documents, and links into the demo stay valid across restarts.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass

from bot.settings import DEMO_TENANT_ID
from contactcenter.clock import Clock
from contactcenter.errors import Conflict, NotFound
from contactcenter.model import (
    Agent,
    AgentStatus,
    Binding,
    BindingTarget,
    Queue,
    Role,
    RoutingMethod,
    Tenant,
    User,
)
from contactcenter.repository import Repository
from graph.simulator import (
    ApplicationInstanceEntry,
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


def queue_id(name: str) -> str:
    return demo_id(f"queue:{name}")


def demo_documents(
    clock: Clock,
) -> tuple[Tenant, list[User], list[Queue], list[Agent], list[Binding]]:
    """Build every document of the demo tenant."""
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
        ),
        Queue(
            id=queue_id("Support"),
            tenant_id=tenant_id,
            name="Support",
            routing_method=RoutingMethod.ROUND_ROBIN,
            members=tuple(by_upn[u].id for u in QUEUE_MEMBERS["Support"]),
            alert_time_s=20,
            wrap_up_s=30,
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
    try:
        await repo.tenants.create(tenant)
    except Conflict:
        return False
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
            users=tuple(UserEntry(id=p.id, display_name=p.name) for p in PEOPLE),
            application_instances=tuple(
                ApplicationInstanceEntry(
                    id=line.application_instance_id, display_name=line.name, phone_number=line.phone
                )
                for line in LINES
            ),
        ),
    )


async def place_demo_calls(
    client: SimulatorClient, calls_per_hour: float, rng: random.Random
) -> None:
    """Have simulated callers dial the demo lines, Poisson arrivals at ``calls_per_hour``."""
    while True:
        await asyncio.sleep(rng.expovariate(calls_per_hour / 3600.0))
        line = rng.choice(LINES)
        caller = f"+1206555{rng.randrange(10000):04d}"
        try:
            await client.place_call(
                DEMO_TENANT_ID,
                application_instance_id=line.application_instance_id,
                caller_phone=caller,
            )
        except SimulatorRequestError as err:
            _LOGGER.warning("the simulator did not place a demo call: %s", err)
