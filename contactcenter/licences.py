"""Whether a person's licences let them take calls in Teams.

The contact center rings agents in Teams: an agent needs the Microsoft Teams service
plan; calls from phone numbers reach them through the bot, and Teams Phone (the "Phone
System" plan) also lets them be reached on a number of their own. Which service plans count
is the table below, from Microsoft's "Product names and service plan identifiers for
licensing" (docs/decisions/0026-directory-and-licences.md). The simulated directory uses
the same table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from contactcenter.ports import ServicePlan


@dataclass(frozen=True, slots=True)
class CountedPlan:
    """A service plan that counts, by its name and id in Microsoft's table."""

    name: str
    plan_id: str
    label: str


TEAMS = CountedPlan("TEAMS1", "57ff2da0-773e-42df-b2af-ffb7a2317929", "Microsoft Teams")
TEAMS_PHONE = CountedPlan(
    "MCOEV", "4828c8ec-dc2e-4779-b502-87ac9ce28ab7", "Microsoft 365 Phone System (Teams Phone)"
)
# A plan counts only once it is provisioned.
PROVISIONED = "Success"


class CallingLicence(StrEnum):
    """What a person's licences say about taking calls in Teams."""

    TEAMS_PHONE = "teams-phone"
    TEAMS = "teams"
    NONE = "none"
    UNKNOWN = "unknown"


def calling_licence(plans: Iterable[ServicePlan]) -> CallingLicence:
    """Return whether the plans let a person take Teams calls (with Teams Phone or not)."""
    ready: set[str] = set()
    for plan in plans:
        if plan.provisioning_status == PROVISIONED:
            ready |= {plan.name, plan.plan_id}
    if not {TEAMS.name, TEAMS.plan_id} & ready:
        return CallingLicence.NONE
    if {TEAMS_PHONE.name, TEAMS_PHONE.plan_id} & ready:
        return CallingLicence.TEAMS_PHONE
    return CallingLicence.TEAMS


def can_take_calls(licence: CallingLicence) -> bool:
    """Tell whether a licence lets the person be rung in Teams (unknown: assumed so)."""
    return licence is not CallingLicence.NONE
