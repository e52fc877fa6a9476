"""JSON shapes of the people screens: the directory search, adding agents, licences."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from contactcenter.enrolment import EnrolmentOutcome
from contactcenter.licences import CallingLicence
from contactcenter.model import Role
from tab.schemas import ApiModel, Identifier, RequestModel, is_guid


def _object_id(value: str) -> str:
    if not is_guid(value):
        raise ValueError("not an Entra object id (GUID)")
    return value.lower()


ObjectId = Annotated[Identifier, AfterValidator(_object_id)]


def _listed_once(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("listed twice")
    return values


class PeopleQuery(RequestModel):
    """A search of the organization's directory."""

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] = (
        Field(description="Part of a name, mail or sign-in name (each word matches a prefix).")
    )
    next_page: Annotated[str, StringConstraints(max_length=4096)] | None = Field(
        default=None, description="The nextPage of the previous answer, for the next page."
    )


class GroupsQuery(RequestModel):
    """A search of the directory's teams and groups."""

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class DirectoryGroupView(ApiModel):
    id: str
    display_name: str
    team: bool = Field(description="The group has a Teams team (same id).")


class GroupsView(ApiModel):
    groups: list[DirectoryGroupView]


class DirectoryPersonView(ApiModel):
    id: str
    display_name: str
    mail: str
    upn: str
    roles: list[Role] = Field(
        description="The person's roles in the contact center (empty: not a user yet)."
    )


class PeopleView(ApiModel):
    people: list[DirectoryPersonView]
    next_page: str | None


class AddAgentsBody(RequestModel):
    """People of the directory to make agents: a seat, queues, signed in or not."""

    people: Annotated[list[ObjectId], AfterValidator(_listed_once)] = Field(
        min_length=1, max_length=50, description="Entra object ids, from the directory search."
    )
    seat: bool = Field(default=True, description="Give each a seat if one is free.")
    queue_ids: Annotated[list[Identifier], AfterValidator(_listed_once)] = Field(
        default_factory=list, max_length=50, description="The queues they take calls from."
    )
    signed_in: bool = Field(
        default=False, description="Sign them in to those queues (only with a seat)."
    )


class EnrolmentView(ApiModel):
    id: str
    display_name: str
    outcome: EnrolmentOutcome
    licence: CallingLicence
    has_seat: bool
    queue_ids: list[str]
    signed_in_queue_ids: list[str]
    warnings: list[str] = Field(description="What the admin should know, in plain words.")
    problem: str | None = Field(default=None, description="Why the person was refused.")


class AddAgentsView(ApiModel):
    results: list[EnrolmentView]


class AgentLicenceView(ApiModel):
    id: str
    licence: CallingLicence


class LicencesView(ApiModel):
    agents: list[AgentLicenceView]
