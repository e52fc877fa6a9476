"""Making people of the directory agents of queues, and taking them out again.

The admin console's "add agent" dialog and the sync of queues fed by a team, channel or
group do the same thing: a person of the directory becomes a user with the agent role, an
agent, with a seat if one is asked for and free, a member of some queues, signed in to them
or not. Each step is one compare-and-set on one document, audited; the result says, per
person, what was done and what the admin should know (no seat left, no Teams licence,
signed out). Leaving a queue signs the agent out of it first, then takes them off it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from contactcenter.audit import Actor, AuditLog
from contactcenter.engine import RoutingEngine
from contactcenter.errors import DomainError, NotFound
from contactcenter.licences import CallingLicence, calling_licence
from contactcenter.model import Agent, Queue, Role, Tenant, User
from contactcenter.ports import Directory, DirectoryPerson
from contactcenter.repository import KEEP, Decision, Repository
from contactcenter.seats import Seats, SeatsExhausted

_LOGGER = logging.getLogger(__name__)


class EnrolmentOutcome(StrEnum):
    """What became of one person."""

    ADDED = "added"
    UPDATED = "updated"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class EnrolmentRequest:
    """What a person should become: a seat or not, members of queues, signed in or not."""

    seat: bool = True
    queue_ids: tuple[str, ...] = ()
    sign_in: bool = False


@dataclass(frozen=True, slots=True)
class EnrolmentResult:
    """What was done for one person, and what the admin should know."""

    person_id: str
    display_name: str
    outcome: EnrolmentOutcome
    licence: CallingLicence = CallingLicence.UNKNOWN
    has_seat: bool = False
    queue_ids: tuple[str, ...] = ()
    signed_in_queue_ids: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)


class Enrolment:
    """Turn people of the directory into agents of queues, and take agents off queues."""

    def __init__(
        self,
        repository: Repository,
        seats: Seats,
        engine: RoutingEngine,
        audit: AuditLog,
        directory: Directory | None,
        seat_assigned: Callable[[str, str], None] | None = None,
    ) -> None:
        self._repo = repository
        self._seats = seats
        self._engine = engine
        self._audit = audit
        self._directory = directory
        self._seat_assigned = seat_assigned

    async def licence(self, tenant_id: str, user_id: str) -> CallingLicence:
        """Return what the person's licences say about taking Teams calls (unknown: unread)."""
        if self._directory is None:
            return CallingLicence.UNKNOWN
        try:
            plans = await self._directory.service_plans(tenant_id, user_id)
        except DomainError as err:
            _LOGGER.info("No licence data for %s: %s", user_id, err, extra={"tenant_id": tenant_id})
            return CallingLicence.UNKNOWN
        return calling_licence(plans)

    async def find_person(self, tenant_id: str, person_id: str) -> DirectoryPerson:
        """Return the directory's person; raise NotFound when the directory does not know them."""
        if self._directory is None:
            raise NotFound("no directory is connected")
        return await self._directory.person(tenant_id, person_id)

    async def enrol(
        self, tenant: Tenant, actor: Actor, person: DirectoryPerson, request: EnrolmentRequest
    ) -> EnrolmentResult:
        """Make the person an agent as asked; return what was done and what to know."""
        warnings: list[str] = []
        name = person.display_name
        user, created = await self._agent_user(tenant.id, actor, person)
        agent = await self._agent(tenant.id, actor, user)
        licence = await self.licence(tenant.id, person.id)
        if licence is CallingLicence.NONE:
            warnings.append(f"{name} has no Microsoft Teams licence: they cannot take calls")
        if request.seat and not agent.has_seat:
            try:
                before, agent = await self._seats.assign(tenant, agent.id)
            except SeatsExhausted:
                warnings.append(f"No seat is free: {name} is not offered calls until they get one")
            else:
                await self._audit.record(
                    tenant.id, actor, "seat.assign", target_type="agent", target_id=agent.id,
                    before=before, after=agent,
                )  # fmt: skip
                if self._seat_assigned is not None:
                    self._seat_assigned(tenant.id, agent.id)
                if licence is CallingLicence.NONE:
                    warnings.append(f"A seat went to {name}, who cannot take Teams calls")
        joined: list[str] = []
        for queue_id in request.queue_ids:
            queue = await self.join_queue(tenant.id, actor, agent.id, queue_id)
            if queue is None:
                warnings.append(f"No queue {queue_id}: {name} was not added to it")
            else:
                joined.append(queue.id)
        signed_in: list[str] = []
        if request.sign_in and joined:
            if agent.has_seat:
                for queue_id in joined:
                    await self._engine.sign_in(tenant.id, agent.id, queue_id)
                    signed_in.append(queue_id)
            else:
                warnings.append(f"{name} is signed out: only agents with a seat can sign in")
        elif joined:
            warnings.append(f"{name} is signed out of their queues until they sign in")
        return EnrolmentResult(
            person_id=person.id,
            display_name=name,
            outcome=EnrolmentOutcome.ADDED if created else EnrolmentOutcome.UPDATED,
            licence=licence,
            has_seat=agent.has_seat,
            queue_ids=tuple(joined),
            signed_in_queue_ids=tuple(signed_in),
            warnings=tuple(warnings),
        )

    async def join_queue(
        self, tenant_id: str, actor: Actor, agent_id: str, queue_id: str
    ) -> Queue | None:
        """Make the agent a member of the queue (last in ring order); None: no such queue."""

        def add(queue: Queue) -> Decision[Queue]:
            if agent_id in queue.members:
                return KEEP
            return replace(queue, members=(*queue.members, agent_id))

        try:
            changed = await self._repo.queues.apply(tenant_id, queue_id, add)
        except NotFound:
            return None
        assert changed.after is not None
        if changed.changed and changed.before is not None:
            await self._audit.record(
                tenant_id, actor, "queue.update", target_type="queue", target_id=queue_id,
                before=changed.before.value, after=changed.after.value,
            )  # fmt: skip
            await self._engine.route_waiting_calls(tenant_id, queue_id)
        return changed.after.value

    async def leave_queue(self, tenant_id: str, actor: Actor, agent_id: str, queue_id: str) -> bool:
        """Sign the agent out of the queue and take them off it; return whether they were on it."""
        with contextlib.suppress(NotFound):
            await self._engine.sign_out(tenant_id, agent_id, queue_id)

        def remove(queue: Queue) -> Decision[Queue]:
            if agent_id not in queue.members:
                return KEEP
            return replace(queue, members=tuple(m for m in queue.members if m != agent_id))

        changed = await self._repo.queues.apply(tenant_id, queue_id, remove)
        if changed.changed and changed.before is not None and changed.after is not None:
            await self._audit.record(
                tenant_id, actor, "queue.update", target_type="queue", target_id=queue_id,
                before=changed.before.value, after=changed.after.value,
            )  # fmt: skip
            return True
        return False

    async def _agent_user(
        self, tenant_id: str, actor: Actor, person: DirectoryPerson
    ) -> tuple[User, bool]:
        """Return the person's user with the agent role (created if new) and whether it is new."""
        fresh = User(
            id=person.id,
            tenant_id=tenant_id,
            display_name=person.display_name,
            upn=person.upn or person.mail,
            roles=frozenset({Role.AGENT}),
        )

        def with_agent_role(user: User) -> Decision[User]:
            if user is fresh:
                return fresh  # not stored yet: create it
            if Role.AGENT in user.roles:
                return KEEP
            return replace(user, roles=user.roles | {Role.AGENT})

        changed = await self._repo.users.apply(
            tenant_id, person.id, with_agent_role, missing=lambda: fresh
        )
        assert changed.after is not None
        user = changed.after.value
        created = changed.before is None
        if changed.changed:
            await self._audit.record(
                tenant_id, actor, "user.create" if created else "user.roles",
                target_type="user", target_id=user.id,
                before=changed.before.value if changed.before is not None else None, after=user,
            )  # fmt: skip
        return user, created

    async def _agent(self, tenant_id: str, actor: Actor, user: User) -> Agent:
        profile = Agent(id=user.id, tenant_id=tenant_id, display_name=user.display_name)
        stored, created = await self._repo.agents.ensure(profile)
        if created:
            await self._audit.record(
                tenant_id, actor, "agent.create", target_type="agent", target_id=user.id,
                after=stored.value,
            )  # fmt: skip
        return stored.value
