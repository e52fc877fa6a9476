"""The admin console's API: queues, bindings, users and roles, seats, and the audit log.

Every change is checked against the rest of the tenant's configuration before it is
stored (members are agents of the tenant, names are unique, actions point at things that
exist), is one compare-and-set on one document, and leaves an audit entry with the
document before and after.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from typing import Any

from contactcenter.errors import (
    CallControlError,
    Conflict,
    InvalidInput,
    NotFound,
    Throttled,
    Unavailable,
)
from contactcenter.membership_sync import MembershipSync
from contactcenter.model import (
    ActionKind,
    Agent,
    Binding,
    BindingTarget,
    MembershipSource,
    Queue,
    QueueAction,
    Role,
    User,
)
from contactcenter.repository import KEEP, Decision, Repository, Versioned
from contactcenter.seats import SeatsExhausted, TooFewSeats
from tab.api_config import (
    TenantTargets,
    action_from,
    action_problems,
    action_prompts,
    callback_from,
    check_callback,
    check_hours,
    domain_problems,
    hours_actions,
    hours_from,
    ivr_queue_ids,
    prompt_problems,
)
from tab.api_people import directory_unavailable
from tab.appkeys import TAB
from tab.crud import (
    binding_kind,
    live_call_problems,
    record_change,
    repository,
    require_if_match,
    save_replacement,
    store_binding,
)
from tab.derived_shapes import changes, fill
from tab.endpoints import ApiError, TabRequest, validation_failed
from tab.schemas import (
    AgentSkillsBody,
    AuditEntryView,
    AuditPageView,
    AuditQuery,
    BindingBody,
    BindingListView,
    BindingView,
    BusinessHoursBody,
    CallbackBody,
    MembershipSourceBody,
    MembershipSyncListView,
    MembershipSyncView,
    QueueActionBody,
    QueueBody,
    QueueListView,
    QueueView,
    RolesBody,
    SeatAgentView,
    SeatCountBody,
    SeatsView,
    SupervisedQueuesBody,
    UserAdminView,
    UserAgentView,
    UserBody,
    UserListView,
)

_LOGGER = logging.getLogger(__name__)

_ACTION_FIELDS = (
    ("overflowAction", "overflow_action"),
    ("timeoutAction", "timeout_action"),
    ("noAgentAction", "no_agent_action"),
)


# ===================================================================== queues
def queue_view(found: Versioned[Queue]) -> QueueView:
    return fill(QueueView, found.value, etag=found.etag)


def _queue_setting(value: object, stored: Any) -> object:
    """Return a body's value of a queue setting as the queue holds it."""
    if isinstance(value, QueueActionBody):
        return action_from(value, stored)
    if isinstance(value, BusinessHoursBody):
        return hours_from(value, stored)
    if isinstance(value, CallbackBody):
        return callback_from(value)
    if isinstance(value, MembershipSourceBody):
        return MembershipSource(value.kind, value.source_id, value.display_name)
    return value


def queue_from(body: QueueBody, queue_id: str, tenant_id: str, base: Queue | None) -> Queue:
    """Return the queue a body describes: ``base`` with the body's changes, or a new queue."""
    queue = base or Queue(id=queue_id, tenant_id=tenant_id, name=body.name)
    return replace(queue, **changes(body, queue, _queue_setting))


async def _check_queue(call: TabRequest, body: QueueBody, queue_id: str) -> None:
    """Refuse a queue that does not fit the tenant's configuration (422 with details)."""
    repo = repository(call)
    tenant_id = call.caller.tenant_id
    queues = [q.value for q in await repo.queues.find(tenant_id)]
    agents = {a.value.id for a in await repo.agents.find(tenant_id)}
    users = {u.value.id: u.value for u in await repo.users.find(tenant_id)}
    details: list[dict[str, str]] = []
    clash = next(
        (q for q in queues if q.id != queue_id and q.name.casefold() == body.name.casefold()),
        None,
    )
    if clash is not None:
        details.append({"field": "name", "message": f"another queue is called {clash.name}"})
    for index, member in enumerate(body.members):
        user = users.get(member)
        if member not in agents or user is None or Role.AGENT not in user.roles:
            details.append(
                {"field": f"members[{index}]", "message": f"no agent {member} in this organization"}
            )
    targets = TenantTargets(queues={q.id: q for q in queues}, users=users)
    actions = [(wire_name, getattr(body, attribute)) for wire_name, attribute in _ACTION_FIELDS]
    actions += hours_actions(body.hours, "hours")
    details += action_problems(actions, targets, own_queue_id=queue_id)
    prompts: list[tuple[str, str | None]] = [
        ("greetingPromptId", body.greeting_prompt_id),
        ("musicPromptId", body.music_prompt_id),
        ("comfortPromptId", body.comfort_prompt_id),
        *action_prompts(actions),
    ]
    details += await prompt_problems(repo, tenant_id, prompts)
    details += await _membership_problems(call, body.membership)
    # The domain's own rules, on what would be stored.
    details += domain_problems(
        check_hours(hours_from(body.hours, None) if body.hours is not None else None),
        check_callback(callback_from(body.callback)),
    )
    if details:
        raise validation_failed(details)


async def _membership_problems(
    call: TabRequest, source: MembershipSourceBody | None
) -> list[dict[str, str]]:
    """Return what is wrong with a queue's team, channel or group (it must exist)."""
    if source is None:
        return []
    directory = call.deps.directory
    if directory is None:
        return [{"field": "membership", "message": "no directory is connected"}]
    try:
        await directory.members(call.caller.tenant_id, source.kind, source.source_id)
    except NotFound:
        return [
            {"field": "membership.sourceId", "message": f"no such {source.kind} in the directory"}
        ]
    except InvalidInput as err:
        return [{"field": "membership.sourceId", "message": str(err)}]
    except (Throttled, Unavailable, CallControlError) as err:
        raise directory_unavailable(err) from err
    return []


async def list_membership_syncs(call: TabRequest) -> MembershipSyncListView:
    """Return how the last sync of each queue fed by a team, channel or group went."""
    states = await call.app[TAB].membership_syncs.state(call.caller.tenant_id)
    return MembershipSyncListView(syncs=[_sync_view(s) for s in states])


def _sync_view(state: MembershipSync) -> MembershipSyncView:
    return MembershipSyncView(
        queue_id=state.id,
        last_synced_at=state.last_synced_at,
        next_sync_at=state.due_at,
        last_error=state.last_error,
        warnings=list(state.warnings),
        joined=state.joined,
        left=state.left,
    )


async def sync_queue_members(call: TabRequest) -> MembershipSyncView:
    """Sync a queue's members with its team, channel or group now."""
    tenant_id = call.caller.tenant_id
    queue = (await repository(call).queues.get(tenant_id, call.param("queueId"))).value
    if queue.membership is None:
        raise ApiError(409, "the queue's members are set by hand", code="noMembershipSource")
    syncs = call.app[TAB].membership_syncs
    try:
        state = await syncs.sync_now(tenant_id, queue.id, call.caller.actor)
    except NotFound:
        await syncs.schedule(queue)
        state = await syncs.sync_now(tenant_id, queue.id, call.caller.actor)
    return _sync_view(state)


async def list_queues(call: TabRequest) -> QueueListView:
    """List the tenant's queues."""
    found = await repository(call).queues.find(call.caller.tenant_id)
    found.sort(key=lambda q: q.value.name.casefold())
    return QueueListView(queues=[queue_view(q) for q in found])


async def get_queue(call: TabRequest) -> QueueView:
    """Return one queue (its etag goes back as If-Match on update)."""
    return queue_view(
        await repository(call).queues.get(call.caller.tenant_id, call.param("queueId"))
    )


async def create_queue(call: TabRequest) -> QueueView:
    """Create a queue."""
    body = call.body(QueueBody)
    caller = call.caller
    queue_id = str(uuid.uuid4())
    await _check_queue(call, body, queue_id)
    created = await repository(call).queues.create(
        queue_from(body, queue_id, caller.tenant_id, None)
    )
    await record_change(
        call, "queue.create", target_type="queue", target_id=queue_id, after=created.value
    )
    if created.value.membership is not None:
        await call.app[TAB].membership_syncs.schedule(created.value)
    return queue_view(created)


async def update_queue(call: TabRequest) -> QueueView:
    """Replace a queue's configuration (If-Match: only if nobody changed it meanwhile)."""
    body = call.body(QueueBody)
    caller = call.caller
    repo = repository(call)
    current = await repo.queues.get(caller.tenant_id, call.param("queueId"))
    require_if_match(call, current.etag, "queue")
    await _check_queue(call, body, current.value.id)
    new = queue_from(body, current.value.id, caller.tenant_id, current.value)
    saved = await save_replacement(
        call, repo.queues, current, new, what="queue", target_type="queue", target_id=new.id
    )
    # Members, skills or the routing method may now let idle agents take waiting calls.
    await call.deps.engine.route_waiting_calls(caller.tenant_id, new.id)
    if saved.value.membership != current.value.membership:
        await call.app[TAB].membership_syncs.schedule(saved.value)
    return queue_view(saved)


async def delete_queue(call: TabRequest) -> None:
    """Delete a queue nothing refers to (no binding, no other queue's action, no call)."""
    caller = call.caller
    repo = repository(call)
    tenant_id = caller.tenant_id
    current = await repo.queues.get(tenant_id, call.param("queueId"))
    queue_id = current.value.id
    problems: list[dict[str, str]] = []
    for binding in await repo.bindings.find(tenant_id):
        if binding.value.target is BindingTarget.QUEUE and binding.value.target_id == queue_id:
            problems.append({"field": "bindings", "message": f"{binding.value.id} is bound to it"})
    for other in await repo.queues.find(tenant_id):
        for _, attribute in _ACTION_FIELDS:
            action: QueueAction = getattr(other.value, attribute)
            if action.kind is ActionKind.QUEUE and action.target == queue_id:
                problems.append(
                    {"field": "queues", "message": f"{other.value.name} sends calls to it"}
                )
                break
    for ivr in await repo.ivrs.find(tenant_id):
        if queue_id in ivr_queue_ids(ivr.value):
            problems.append({"field": "ivrs", "message": f"{ivr.value.name} sends calls to it"})
    problems += await live_call_problems(repo, tenant_id, "queueId", queue_id)
    if problems:
        raise ApiError(409, "the queue is in use", code="queueInUse", details=problems)
    await repo.queues.delete(tenant_id, queue_id, etag=current.etag)
    engine = call.deps.engine
    for agent in await repo.agents.find(tenant_id):
        if queue_id in agent.value.signed_in_queue_ids:
            await engine.sign_out(tenant_id, agent.value.id, queue_id)
    await record_change(
        call, "queue.delete", target_type="queue", target_id=queue_id, before=current.value
    )


# =================================================================== bindings
def _binding_view(binding: Binding, queue_names: dict[str, str]) -> BindingView:
    return BindingView(
        id=binding.id,
        kind=binding_kind(binding.id),
        queue_id=binding.target_id,
        queue_name=queue_names.get(binding.target_id, ""),
        display_name=binding.display_name,
    )


async def _queue_names(repo: Repository, tenant_id: str) -> dict[str, str]:
    return {q.value.id: q.value.name for q in await repo.queues.find(tenant_id)}


async def list_bindings(call: TabRequest) -> BindingListView:
    """List which resource accounts and numbers ring which queue."""
    repo = repository(call)
    tenant_id = call.caller.tenant_id
    names = await _queue_names(repo, tenant_id)
    found = sorted((b.value for b in await repo.bindings.find(tenant_id)), key=lambda b: b.id)
    return BindingListView(
        bindings=[_binding_view(b, names) for b in found if b.target is BindingTarget.QUEUE]
    )


async def create_binding(call: TabRequest) -> BindingView:
    """Bind a resource account (application instance id) or a phone number to a queue."""
    body = call.body(BindingBody)
    caller = call.caller
    repo = repository(call)
    names = await _queue_names(repo, caller.tenant_id)
    if body.queue_id not in names:
        raise validation_failed([{"field": "queueId", "message": "no such queue"}])
    binding = await store_binding(
        call,
        identity=body.identity,
        target=BindingTarget.QUEUE,
        target_id=body.queue_id,
        display_name=body.display_name,
    )
    return _binding_view(binding, names)


async def delete_binding(call: TabRequest) -> None:
    """Remove a binding: calls to that identity are no longer taken."""
    caller = call.caller
    repo = repository(call)
    current = await repo.bindings.get(caller.tenant_id, call.param("bindingId"))
    await repo.bindings.delete(caller.tenant_id, current.value.id, etag=current.etag)
    call.deps.engine.binding_changed(caller.tenant_id, current.value.id)
    await record_change(
        call,
        "binding.delete",
        target_type="binding",
        target_id=current.value.id,
        before=current.value,
    )


# ====================================================================== users
def _user_admin_view(user: User, agent: Agent | None) -> UserAdminView:
    return UserAdminView(
        id=user.id,
        display_name=user.display_name,
        upn=user.upn,
        roles=sorted(user.roles, key=[Role.ADMIN, Role.SUPERVISOR, Role.AGENT].index),
        agent=(
            UserAgentView(
                has_seat=agent.has_seat,
                status=agent.status,
                activity=agent.activity,
                skills=agent.skills,
            )
            if agent is not None and Role.AGENT in user.roles
            else None
        ),
        supervises_all_queues=user.supervises_all_queues,
        supervised_queue_ids=sorted(user.supervised_queue_ids),
    )


async def _agent(repo: Repository, tenant_id: str, agent_id: str) -> Agent | None:
    try:
        return (await repo.agents.get(tenant_id, agent_id)).value
    except NotFound:
        return None


async def _ensure_agent(call: TabRequest, user: User) -> Agent:
    """Return the user's agent document, creating it (without a seat) if needed."""
    profile = Agent(id=user.id, tenant_id=user.tenant_id, display_name=user.display_name)
    stored, created = await repository(call).agents.ensure(profile)
    agent = stored.value
    if created:
        await record_change(
            call, "agent.create", target_type="agent", target_id=agent.id, after=agent
        )
    return agent


async def list_users(call: TabRequest) -> UserListView:
    """List the tenant's users, their roles and, for agents, their seat and state."""
    repo = repository(call)
    tenant_id = call.caller.tenant_id
    agents = {a.value.id: a.value for a in await repo.agents.find(tenant_id)}
    users = sorted(
        (u.value for u in await repo.users.find(tenant_id)),
        key=lambda u: u.display_name.casefold(),
    )
    return UserListView(users=[_user_admin_view(u, agents.get(u.id)) for u in users])


async def create_user(call: TabRequest) -> UserAdminView:
    """Add a user (by Entra object id) with roles; an agent gets an agent profile."""
    body = call.body(UserBody)
    caller = call.caller
    repo = repository(call)
    try:
        person = await call.app[TAB].enrolment.find_person(caller.tenant_id, body.id)
    except NotFound:
        raise validation_failed(
            [{"field": "id", "message": "not a person of this organization's directory"}]
        ) from None
    except (Throttled, Unavailable, CallControlError) as err:
        raise directory_unavailable(err) from err
    user = User(
        id=body.id,
        tenant_id=caller.tenant_id,
        display_name=person.display_name or body.display_name,
        upn=person.upn or body.upn,
        roles=frozenset(body.roles),
    )
    try:
        await repo.users.create(user)
    except Conflict:
        raise ApiError(
            409,
            "this user exists already",
            code="userExists",
            details=[{"field": "id", "message": "a user with this id exists already"}],
        ) from None
    await record_change(call, "user.create", target_type="user", target_id=user.id, after=user)
    agent = await _ensure_agent(call, user) if Role.AGENT in user.roles else None
    return _user_admin_view(user, agent)


async def _check_roles_removable(repo: Repository, user: User, removed: frozenset[Role]) -> None:
    """Refuse (409) to take the last admin's admin role, or a queue member's agent role."""
    tenant_id = user.tenant_id
    if Role.ADMIN in removed:
        admins = [u for u in await repo.users.find(tenant_id) if Role.ADMIN in u.value.roles]
        if len(admins) <= 1:
            raise ApiError(
                409,
                "the last admin cannot stop being one: make someone else an admin first",
                code="lastAdmin",
                details=[{"field": "roles", "message": "the organization needs an admin"}],
            )
    if Role.AGENT in removed:
        member_of = [
            q.value.name for q in await repo.queues.find(tenant_id) if user.id in q.value.members
        ]
        if member_of:
            raise ApiError(
                409,
                "remove the agent from their queues first",
                code="agentInUse",
                details=[
                    {"field": "roles", "message": f"member of queue {name}"} for name in member_of
                ],
            )


async def set_user_roles(call: TabRequest) -> UserAdminView:
    """Replace a user's roles; the last admin stays an admin, a queue member an agent."""
    body = call.body(RolesBody)
    repo = repository(call)
    tenant_id = call.caller.tenant_id
    roles = frozenset(body.roles)

    async def change(user: User) -> Decision[User]:
        await _check_roles_removable(repo, user, user.roles - roles)
        return KEEP if roles == user.roles else replace(user, roles=roles)

    changed = await repo.users.apply(tenant_id, call.param("userId"), change)
    assert changed.before is not None
    assert changed.after is not None
    before, updated = changed.before.value, changed.after.value
    if not changed.changed:
        return _user_admin_view(updated, await _agent(repo, tenant_id, updated.id))
    removed = before.roles - roles
    await record_change(
        call, "user.roles", target_type="user", target_id=updated.id, before=before, after=updated
    )
    agent: Agent | None = None
    if Role.AGENT in roles:
        agent = await _ensure_agent(call, updated)
    elif Role.AGENT in removed:
        agent = await _agent(repo, tenant_id, updated.id)
        if agent is not None:
            await call.deps.engine.sign_out(tenant_id, agent.id)
            if agent.has_seat:
                await _release_seat(call, agent.id)
    return _user_admin_view(updated, agent)


async def set_agent_skills(call: TabRequest) -> UserAdminView:
    """Replace an agent's skills; waiting calls that need them may now reach the agent."""
    body = call.body(AgentSkillsBody)
    repo = repository(call)
    tenant_id = call.caller.tenant_id
    agent_id = call.param("agentId")
    user = (await repo.users.get(tenant_id, agent_id)).value
    if Role.AGENT not in user.roles:
        raise ApiError(404, "no such agent")
    skills = dict(body.skills)

    def change(agent: Agent) -> Decision[Agent]:
        return KEEP if agent.skills == skills else replace(agent, skills=skills)

    changed = await repo.agents.apply(tenant_id, agent_id, change)
    assert changed.after is not None
    agent = changed.after.value
    if changed.changed and changed.before is not None:
        await record_change(
            call,
            "agent.skills",
            target_type="agent",
            target_id=agent_id,
            before=changed.before.value,
            after=agent,
        )
        for queue in await repo.queues.find(tenant_id):
            if agent_id in queue.value.members:
                await call.deps.engine.route_waiting_calls(tenant_id, queue.value.id)
    return _user_admin_view(user, agent)


async def set_supervised_queues(call: TabRequest) -> UserAdminView:
    """Set the queues a supervisor watches: every queue (new ones too), or those named."""
    body = call.body(SupervisedQueuesBody)
    repo = repository(call)
    tenant_id = call.caller.tenant_id
    known = {q.value.id for q in await repo.queues.find(tenant_id)}
    unknown = [
        {"field": f"queueIds[{index}]", "message": "no such queue"}
        for index, queue_id in enumerate(body.queue_ids)
        if queue_id not in known
    ]
    if unknown:
        raise validation_failed(unknown)
    named = frozenset() if body.all_queues else frozenset(body.queue_ids)

    async def change(user: User) -> Decision[User]:
        if Role.SUPERVISOR not in user.roles:
            raise ApiError(
                409,
                "only a supervisor watches queues: give them the supervisor role first",
                code="notSupervisor",
            )
        if (user.supervises_all_queues, user.supervised_queue_ids) == (body.all_queues, named):
            return KEEP
        return replace(user, supervises_all_queues=body.all_queues, supervised_queue_ids=named)

    changed = await repo.users.apply(tenant_id, call.param("userId"), change)
    assert changed.after is not None
    updated = changed.after.value
    if changed.changed and changed.before is not None:
        await record_change(
            call,
            "user.scope",
            target_type="user",
            target_id=updated.id,
            before=changed.before.value,
            after=updated,
        )
    return _user_admin_view(updated, await _agent(repo, tenant_id, updated.id))


# ====================================================================== seats
async def _seats_view(call: TabRequest) -> SeatsView:
    repo = repository(call)
    tenant_id = call.caller.tenant_id
    tenant = (await repo.tenants.get(tenant_id, tenant_id)).value
    ledger = await call.app[TAB].seats.ledger(tenant)
    agents = sorted(
        (a.value for a in await repo.agents.find(tenant_id)),
        key=lambda a: a.display_name.casefold(),
    )
    agent_users = {
        u.value.id for u in await repo.users.find(tenant_id) if Role.AGENT in u.value.roles
    }
    return SeatsView(
        seat_count=ledger.seat_count,
        assigned=len(ledger.assigned),
        agents=[
            SeatAgentView(id=a.id, display_name=a.display_name, has_seat=a.has_seat)
            for a in agents
            if a.id in agent_users or a.has_seat
        ],
    )


async def get_seats(call: TabRequest) -> SeatsView:
    """Return the tenant's seat count, how many are assigned, and who holds one."""
    return await _seats_view(call)


async def set_seat_count(call: TabRequest) -> SeatsView:
    """Set how many agent seats the tenant has (not fewer than are assigned)."""
    body = call.body(SeatCountBody)
    caller = call.caller
    try:
        before, after = await call.app[TAB].seats.set_count(caller.tenant, body.seat_count)
    except TooFewSeats as err:
        raise validation_failed(
            [
                {
                    "field": "seatCount",
                    "message": f"{err.assigned} seats are assigned: release some first",
                }
            ]
        ) from None
    if before != after:
        await record_change(
            call,
            "tenant.seats",
            target_type="tenant",
            target_id=caller.tenant_id,
            before=before,
            after=after,
        )
    return await _seats_view(call)


async def assign_seat(call: TabRequest) -> SeatsView:
    """Give an agent a seat: only agents with a seat are offered calls."""
    caller = call.caller
    repo = repository(call)
    agent_id = call.param("agentId")
    user = (await repo.users.get(caller.tenant_id, agent_id)).value
    if Role.AGENT not in user.roles or await _agent(repo, caller.tenant_id, agent_id) is None:
        raise ApiError(404, "no such agent")
    try:
        before, after = await call.app[TAB].seats.assign(caller.tenant, agent_id)
    except SeatsExhausted as err:
        raise ApiError(409, str(err), code="noSeatsLeft") from None
    # Install the Teams app for them (in the background) so that alerts reach them.
    follow_up = call.deps.seat_assigned
    if follow_up is not None:
        follow_up.seat_assigned(caller.tenant_id, agent_id)
    if before != after:
        await record_change(
            call, "seat.assign", target_type="agent", target_id=agent_id, before=before, after=after
        )
    return await _seats_view(call)


async def _release_seat(call: TabRequest, agent_id: str) -> None:
    caller = call.caller
    before, after = await call.app[TAB].seats.release(caller.tenant, agent_id)
    if before != after:
        await record_change(
            call,
            "seat.release",
            target_type="agent",
            target_id=agent_id,
            before=before,
            after=after,
        )


async def release_seat(call: TabRequest) -> SeatsView:
    """Take an agent's seat back: they are no longer offered calls."""
    caller = call.caller
    agent_id = call.param("agentId")
    if await _agent(repository(call), caller.tenant_id, agent_id) is None:
        raise ApiError(404, "no such agent")
    await _release_seat(call, agent_id)
    return await _seats_view(call)


# ====================================================================== audit
async def audit_log(call: TabRequest) -> AuditPageView:
    """Return configuration changes, newest first, a page at a time."""
    query = call.query(AuditQuery)
    entries, continuation = await call.app[TAB].audit.page(
        call.caller.tenant_id, limit=query.limit, continuation=query.continuation
    )
    return AuditPageView(
        entries=[fill(AuditEntryView, e) for e in entries],
        continuation=continuation,
    )
