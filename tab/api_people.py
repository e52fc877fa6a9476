"""People from the directory: search, make them agents in one go, see their licences.

The directory (Entra ID through Graph, or the simulator's in demo mode) is reached through
the port the host hands over; a person the directory does not know is refused.
"""

from __future__ import annotations

import asyncio

from contactcenter.enrolment import EnrolmentOutcome, EnrolmentRequest
from contactcenter.errors import CallControlError, DomainError, NotFound, Throttled, Unavailable
from contactcenter.licences import CallingLicence
from contactcenter.model import Role
from contactcenter.ports import Directory
from tab.appkeys import TAB
from tab.crud import repository
from tab.endpoints import ApiError, TabRequest, validation_failed
from tab.people_schemas import (
    AddAgentsBody,
    AddAgentsView,
    AgentLicenceView,
    DirectoryGroupView,
    DirectoryPersonView,
    EnrolmentView,
    GroupsQuery,
    GroupsView,
    LicencesView,
    PeopleQuery,
    PeopleView,
)

# Licence look-ups at once: Graph throttles per app and tenant.
_LICENCE_LOOKUPS = 4


def directory_of(call: TabRequest) -> Directory:
    """Return the directory, or answer 503 when the host has none."""
    directory = call.deps.directory
    if directory is None:
        raise ApiError(503, "no directory is connected", code="noDirectory")
    return directory


def directory_unavailable(err: DomainError) -> ApiError:
    """Return the 503 for a directory that did not answer (throttled: when to try again)."""
    retry_after = err.retry_after if isinstance(err, Throttled) else None
    return ApiError(
        503,
        "the directory did not answer: try again in a moment",
        code="directoryUnavailable",
        headers={"Retry-After": str(round(retry_after or 5))},
    )


async def search_people(call: TabRequest) -> PeopleView:
    """Find people of the organization by part of their name, mail or sign-in name."""
    query = call.query(PeopleQuery)
    tenant_id = call.caller.tenant_id
    try:
        page = await directory_of(call).search_people(
            tenant_id, query.text, next_page=query.next_page
        )
    except (Throttled, Unavailable, CallControlError) as err:
        raise directory_unavailable(err) from err
    roles = {u.value.id: u.value.roles for u in await repository(call).users.find(tenant_id)}
    order = [Role.ADMIN, Role.SUPERVISOR, Role.AGENT]
    return PeopleView(
        people=[
            DirectoryPersonView(
                id=p.id,
                display_name=p.display_name,
                mail=p.mail,
                upn=p.upn,
                roles=sorted(roles.get(p.id, ()), key=order.index),
            )
            for p in page.people
        ],
        next_page=page.next_page,
    )


async def search_groups(call: TabRequest) -> GroupsView:
    """Find teams and groups of the organization by part of their name."""
    query = call.query(GroupsQuery)
    try:
        groups = await directory_of(call).search_groups(call.caller.tenant_id, query.text)
    except (Throttled, Unavailable, CallControlError) as err:
        raise directory_unavailable(err) from err
    return GroupsView(
        groups=[
            DirectoryGroupView(id=g.id, display_name=g.display_name, team=g.team) for g in groups
        ]
    )


async def add_agents(call: TabRequest) -> AddAgentsView:
    """Make people of the directory agents: a seat, queues, signed in or not; one result each."""
    body = call.body(AddAgentsBody)
    caller = call.caller
    tenant_id = caller.tenant_id
    known = {q.value.id for q in await repository(call).queues.find(tenant_id)}
    unknown = [
        {"field": f"queueIds[{index}]", "message": "no such queue"}
        for index, queue_id in enumerate(body.queue_ids)
        if queue_id not in known
    ]
    if unknown:
        raise validation_failed(unknown)
    enrolment = call.app[TAB].enrolment
    request = EnrolmentRequest(
        seat=body.seat, queue_ids=tuple(body.queue_ids), sign_in=body.signed_in
    )
    results: list[EnrolmentView] = []
    for person_id in body.people:
        try:
            person = await enrolment.find_person(tenant_id, person_id)
        except (Throttled, Unavailable, CallControlError) as err:
            raise directory_unavailable(err) from err
        except NotFound:
            results.append(
                EnrolmentView(
                    id=person_id,
                    display_name="",
                    outcome=EnrolmentOutcome.REFUSED,
                    licence=CallingLicence.UNKNOWN,
                    has_seat=False,
                    queue_ids=[],
                    signed_in_queue_ids=[],
                    warnings=[],
                    problem="not a person of this organization's directory",
                )
            )
            continue
        done = await enrolment.enrol(caller.tenant, caller.actor, person, request)
        results.append(
            EnrolmentView(
                id=done.person_id,
                display_name=done.display_name,
                outcome=done.outcome,
                licence=done.licence,
                has_seat=done.has_seat,
                queue_ids=list(done.queue_ids),
                signed_in_queue_ids=list(done.signed_in_queue_ids),
                warnings=list(done.warnings),
            )
        )
    return AddAgentsView(results=results)


async def agent_licences(call: TabRequest) -> LicencesView:
    """Return, for each agent, whether their licences let them take Teams calls."""
    tenant_id = call.caller.tenant_id
    enrolment = call.app[TAB].enrolment
    agent_ids = sorted(
        u.value.id
        for u in await repository(call).users.find(tenant_id)
        if Role.AGENT in u.value.roles
    )
    limit = asyncio.Semaphore(_LICENCE_LOOKUPS)

    async def look_up(agent_id: str) -> AgentLicenceView:
        async with limit:
            return AgentLicenceView(
                id=agent_id, licence=await enrolment.licence(tenant_id, agent_id)
            )

    return LicencesView(agents=list(await asyncio.gather(*(look_up(a) for a in agent_ids))))
