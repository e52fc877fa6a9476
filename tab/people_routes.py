"""The people routes of the tab API: the directory, adding agents, licences."""

from __future__ import annotations

from tab import api_people
from tab.endpoints import Access, Endpoint
from tab.people_schemas import (
    AddAgentsBody,
    AddAgentsView,
    GroupsQuery,
    GroupsView,
    LicencesView,
    PeopleQuery,
    PeopleView,
)

ADMIN = "/api/tab/admin"

PEOPLE_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        f"{ADMIN}/directory/people",
        api_people.search_people,
        "Find people of the organization's directory by name, mail or sign-in name",
        Access.ADMIN,
        "admin",
        query=PeopleQuery,
        response=PeopleView,
        errors=(503,),
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/directory/groups",
        api_people.search_groups,
        "Find teams and groups of the organization's directory by name",
        Access.ADMIN,
        "admin",
        query=GroupsQuery,
        response=GroupsView,
        errors=(503,),
    ),
    Endpoint(
        "POST",
        f"{ADMIN}/agents",
        api_people.add_agents,
        "Make people of the directory agents: a seat, queues, signed in or not",
        Access.ADMIN,
        "admin",
        body=AddAgentsBody,
        response=AddAgentsView,
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/agents/licences",
        api_people.agent_licences,
        "Whether each agent's licences let them take Teams calls",
        Access.ADMIN,
        "admin",
        response=LicencesView,
    ),
)
